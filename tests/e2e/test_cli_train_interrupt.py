"""Ctrl-C during ``train`` keeps the run as interrupted and says how to continue it; a finished run is not
trained again by ``--resume``."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from tests.e2e.cli import SOURCE_ROOT, ctrl_c_not_ignored, run_cli

#: A quick run on the frozen backbone's features with far more epochs than it lives: Ctrl-C lands in its middle.
RUN = (
    "--no-linear-probe",
    "--feature-views",
    "1",
    "--input-size",
    "64",
    "--device",
    "cpu",
    "--epochs",
    "5000",
)


def _ignore_ctrl_c() -> None:
    """A ``preexec_fn``: Ctrl-C ignored, as in a script's background job (``train … & wait``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ctrl_c_when(
    args: list[str],
    started: Callable[[str], bool],
    what: str,
    sent: int = signal.SIGINT,
    background: bool = False,
) -> tuple[int, str, str]:
    """Run ``dmtl-studio ARGS``, press Ctrl-C once a line of its standard error shows ``started`` (a progress
    bar's lines end in a carriage return, read as lines too); its exit status, stdout and stderr."""
    environment = {**os.environ, "PYTHONPATH": SOURCE_ROOT, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "dmtl_studio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        preexec_fn=_ignore_ctrl_c if background else ctrl_c_not_ignored,
    )
    try:
        assert child.stderr is not None
        seen = []
        for line in child.stderr:
            seen.append(line)
            if started(line):
                break
        else:
            pytest.fail(f"the command ended before {what}:\n" + "".join(seen))
        child.send_signal(sent)
        out, rest = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, out, rest


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="sends SIGINT to a child")
@pytest.mark.parametrize(
    ("sent", "background"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGTERM, True)],
    ids=["ctrl-c", "sigterm", "sigterm-in-a-background-job"],
)
def test_ctrl_c_keeps_the_run_interrupted_and_names_the_command_that_continues_it(
    project: Path, sent: int, background: bool
) -> None:
    """SIGTERM (a batch scheduler's time limit, `kill`) as Ctrl-C: it killed the run without a word (h26), also in
    a script's background job, which starts with Ctrl-C ignored (h27)."""
    # "epoch 1/5000:" is printed once the epoch's checkpoint is saved.
    status, out, rest = _ctrl_c_when(
        ["train", str(project), *RUN, "--json"],
        lambda line: line.startswith("epoch 1/5000:"),
        "its first epoch",
        sent,
        background,
    )
    assert status == 130, rest
    assert "Traceback" not in rest, rest
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["epochs_completed"] >= 1
    run_dir = summary["run_dir"]
    with ProjectStore.open(project, read_only=True) as store:
        (run,) = store.runs()
    assert run.status == "interrupted" and Path(run.run_dir) == Path(run_dir)
    hint = next(line for line in rest.splitlines() if line.startswith("dmtl-studio train: interrupted"))
    assert run_dir in hint
    continue_with = shlex.split(hint.split("continue it with: ", 1)[1])
    assert continue_with[:2] == ["dmtl-studio", "train"] and "--resume" in continue_with

    # The command it names continues the run (one more epoch is enough to finish it here).
    resumed = run_cli(*continue_with[1:], "--epochs", str(summary["epochs_completed"] + 1), "--json")
    assert resumed.returncode == 0, resumed.stderr
    finished = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert finished["status"] == "completed" and finished["run_dir"] == run_dir

    # A finished run is not trained again: the command says so and names what to do instead.
    again = run_cli("train", str(project), "--resume", run_dir, "--device", "cpu", "--json")
    assert again.returncode == 2, again.stderr
    assert f"run {Path(run_dir).name} is already completed" in again.stderr
    assert "nothing was trained" in again.stderr and "evaluate" in again.stderr and "--epochs" in again.stderr
    with ProjectStore.open(project, read_only=True) as store:
        (run,) = store.runs()
        assert run.status == "completed"
        assert len(store.epoch_metrics(run.id)) == finished["epochs_completed"]


def test_the_evaluate_command_named_for_a_finished_run_works_when_its_path_has_a_space(
    project: Path, tmp_path: Path
) -> None:
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.run import train

    spaced = tmp_path / "my project"
    project.rename(spaced)
    config = TrainConfig(epochs=1, input_size=32, device="cpu", feature_views=1, transfer="frozen")
    run_dir = train(spaced, config).run_dir
    again = run_cli("train", str(spaced), "--resume", run_dir, "--device", "cpu")
    assert again.returncode == 2 and "is already completed" in again.stderr
    named = shlex.split(again.stderr.split("to measure it: ", 1)[1].strip())
    assert named == ["dmtl-studio", "evaluate", run_dir]


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="sends SIGINT to a child")
def test_ctrl_c_during_a_text_encoders_contrastive_step_says_nothing_was_kept(tmp_path: Path) -> None:
    from tests.core.text_run import make_text_project

    texts = make_text_project(tmp_path / "texts")
    status, out, rest = _ctrl_c_when(
        ["train", str(texts), "--device", "cpu", "--json"],
        lambda line: "adapting the encoder" in line,
        "the contrastive step",
    )
    assert status == 130, rest
    assert json.loads(out.strip().splitlines()[-1]) == {
        "status": "interrupted",
        "run_dir": None,
        "epochs_completed": 0,
    }
    assert (
        "dmtl-studio train: interrupted while the run was prepared (the encoder's contrastive step or the feature "
        "pass), before its first epoch; no run was kept, so the next run prepares it again"
    ) in rest
    with ProjectStore.open(texts, read_only=True) as store:
        assert store.runs() == []


def test_a_linear_probe_run_is_not_continued_whatever_the_epochs(project: Path) -> None:
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.run import train

    config = TrainConfig(input_size=32, device="cpu", feature_views=1, transfer="frozen", linear_probe=True)
    run_dir = train(project, config).run_dir
    weights = (Path(run_dir) / "model.safetensors").read_bytes()
    again = run_cli("train", str(project), "--resume", run_dir, "--epochs", "5", "--device", "cpu")
    assert again.returncode == 2 and again.stderr.strip() == (
        f"dmtl-studio train: run {Path(run_dir).name} fitted its head as a linear probe, to convergence: it has no "
        "epochs to continue and nothing was trained. To fit it again, start a new run (leave out --resume); to "
        "train the head by epochs, start one with --no-linear-probe"
    )
    assert (Path(run_dir) / "model.safetensors").read_bytes() == weights


def test_resume_with_folds_and_resume_of_a_finished_fold_run_are_refused_as_such(project: Path) -> None:
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.crossval import cross_validate

    config = TrainConfig(epochs=1, input_size=32, device="cpu", feature_views=1, transfer="frozen")
    fold_run = cross_validate(project, config, 2).folds[0].run_dir
    both = run_cli("train", str(project), "--resume", fold_run, "--folds", "2", "--device", "cpu")
    assert both.returncode == 2 and "give one of them" in both.stderr, both.stderr
    longer = run_cli("train", str(project), "--resume", fold_run, "--epochs", "5", "--device", "cpu")
    finished = run_cli("train", str(project), "--resume", fold_run, "--device", "cpu")
    for refused in (longer, finished):  # a fold's run, not "give --epochs more than 1"
        assert refused.returncode == 2 and "cross-validation fold's run" in refused.stderr, refused.stderr
        assert "--epochs more than" not in refused.stderr


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="sends SIGINT to itself")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_that_python_drops_inside_a_finalizer_is_raised_at_the_next_check() -> None:
    from dmtl_studio.cli import _ctrl_c_never_lost

    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(
            signal.SIGINT, signal.default_int_handler
        )  # as in a terminal, whoever started the suite
        check = _ctrl_c_never_lost()
        assert check() is False

        class Finalised:
            def __del__(self) -> None:
                os.kill(os.getpid(), signal.SIGINT)  # its KeyboardInterrupt is raised here, and dropped

        Finalised()  # collected at once: the interrupt is lost, as it is when Ctrl-C lands in a finalizer
        with pytest.raises(KeyboardInterrupt):
            check()  # the engine's next check raises it again
        assert check() is False  # once
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # started with Ctrl-C ignored: it stays ignored
        assert _ctrl_c_never_lost()() is False and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def _import_with_ctrl_c_at(done_at: int, args: list[str], monkeypatch, capsys) -> tuple[int, dict, str]:  # noqa: ANN001
    """``dmtl-studio import ARGS --json`` in this process, with a real SIGINT (Ctrl-C, as a person presses it) once
    ``done_at`` items are read; its exit status, JSON summary and stderr."""
    from dmtl_studio import cli

    real_update = cli._Progress.update

    def update(self, done: int, total: int, *rest: object) -> None:  # noqa: ANN001
        real_update(self, done, total, *rest)
        if done == done_at < total:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cli._Progress, "update", update)
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = cli.main(["import", *args, "--json"])
    finally:
        signal.signal(signal.SIGINT, previous)
        monkeypatch.setattr(cli._Progress, "update", real_update)
    out, rest = capsys.readouterr()
    return status, json.loads(out.strip().splitlines()[-1]), rest


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="sends SIGINT to itself")
def test_ctrl_c_during_import_keeps_the_images_read_with_their_splits(
    tmp_path: Path, shapes_dir: Path, monkeypatch, capsys
) -> None:  # noqa: ANN001
    from dmtl_studio import cli

    status, summary, rest = _import_with_ctrl_c_at(
        20, [str(tmp_path / "p"), str(shapes_dir)], monkeypatch, capsys
    )
    assert status == 130 and summary["cancelled"] and 20 <= summary["added"] < summary["scanned"], rest
    assert "import the folder again to add the rest" in rest
    with ProjectStore.open(tmp_path / "p", read_only=True) as store:
        records = store.images()
        assert len(records) == summary["added"]
        assert all(im.split for im in records if im.label is not None and im.problem is None)
    assert cli.main(["import", str(tmp_path / "p"), str(shapes_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["added"] == summary["scanned"] - len(records)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="sends SIGINT to itself")
def test_ctrl_c_during_a_text_import_keeps_the_texts_read(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    table = tmp_path / "texts.csv"
    table.write_text(
        "text,label\n"
        + "".join(f"text number {i} about {'cats' if i % 2 else 'dogs'},{i % 2}\n" for i in range(600))
    )
    status, summary, rest = _import_with_ctrl_c_at(1, [str(tmp_path / "p"), str(table)], monkeypatch, capsys)
    assert status == 130 and summary["cancelled"], rest
    assert "import it again to add the rest" in rest
    with ProjectStore.open(tmp_path / "p", read_only=True) as store:
        assert 0 < store.image_count() < 600
