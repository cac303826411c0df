"""The whole headless path as a user runs it: import, train, predict, through the real command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from dmtl_studio.core.project.demo import CLASSES, write_shapes_folder
from tests.conftest import TEST_INPUT_SIZE
from tests.e2e.cli import run_cli

_cli = run_cli


def test_import_train_predict_from_the_command_line(tmp_path: Path, shapes_dir: Path) -> None:
    project = tmp_path / "project"
    imported = _cli("import", str(project), str(shapes_dir), "--json")
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout.strip().splitlines()[-1])
    assert report["labelled"] == 72 and len(report["problems"]) == 3
    assert "empty" in imported.stderr and "notes.png" in imported.stderr

    trained = _cli(
        "train",
        str(project),
        "--no-linear-probe",  # epochs of the head, so the progress has two to report
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--lr",
        "3e-3",
        "--input-size",
        str(TEST_INPUT_SIZE),
        "--device",
        "cpu",
        "--json",
    )
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert "epoch 2/2" in trained.stderr  # progress goes to stderr
    run_dir = Path(summary["run_dir"])

    held_out = write_shapes_folder(tmp_path / "held_out", per_class=15, seed=12345, size=96)
    (held_out / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "preds.csv"
    predicted = _cli("predict", str(run_dir), str(held_out), "--out", str(out))
    assert predicted.returncode == 0, predicted.stderr
    assert "broken.png" in predicted.stderr

    assert "1 file(s) could not be read" in predicted.stdout

    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "path",
        "predicted_label",
        "confidence",
        *[f"p_{c}" for c in CLASSES],
        "error",
        "note",
    ]
    unread = [row for row in rows if row["error"]]
    assert [Path(row["path"]).name for row in unread] == ["broken.png"] and not unread[0]["predicted_label"]
    rows = [row for row in rows if not row["error"]]
    assert len(rows) == 45
    correct = sum(Path(row["path"]).parent.name == row["predicted_label"] for row in rows)
    assert correct / len(rows) > 0.6, f"accuracy {correct / len(rows):.2f} is too close to chance (0.33)"
    for row in rows:
        total = sum(float(row[f"p_{c}"]) for c in CLASSES)
        assert abs(total - 1.0) < 1e-3


def test_clear_errors_for_bad_input(tmp_path: Path) -> None:
    result = _cli("train", str(tmp_path / "missing"))
    assert result.returncode == 2 and "not a DMTL Studio project" in result.stderr
    result = _cli("predict", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2 and "no trained model" in result.stderr
    (tmp_path / "empty").mkdir()
    result = _cli("import", str(tmp_path / "project"), str(tmp_path / "empty"))
    assert result.returncode == 2 and "holds no image files" in result.stderr
    assert not (tmp_path / "project").exists()  # no empty project left behind
    for missing in ("nowhere", "nowhere.csv"):
        result = _cli("import", str(tmp_path / "project"), str(tmp_path / missing))
        assert result.returncode == 2 and result.stderr.strip().endswith(
            f"{tmp_path / missing} does not exist"
        )
    (tmp_path / "a.png").write_bytes(b"not a table")
    result = _cli("import", str(tmp_path / "project"), str(tmp_path / "a.png"))
    assert result.returncode == 2 and "is a file, not a folder of images" in result.stderr
    (tmp_path / "here").mkdir()
    result = _cli("new", "", cwd=tmp_path / "here")  # not a project in the current folder
    assert result.returncode == 2 and "an empty path" in result.stderr
    assert not (tmp_path / "project").exists() and not any((tmp_path / "here").iterdir())


def test_too_few_folds_are_refused_not_trained_as_an_ordinary_run(project: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main
    from dmtl_studio.core.project.store import ProjectStore

    for folds in ("0", "1", "-3"):  # --folds 0 trained an ordinary run
        assert main(["train", str(project), "--folds", folds, "--epochs", "1"]) == 2
        assert "cross-validation needs at least 2 folds" in capsys.readouterr().err
    with ProjectStore.open(project) as store:
        assert store.runs() == []


def test_info_counts_an_image_gone_from_disk_as_remove_problems_does(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.project.store import ProjectStore

    images = write_shapes_folder(tmp_path / "images", 2, seed=1, size=32)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, images, seed=0)
    (images / "circle" / "circle_000.png").unlink()
    assert main(["info", str(tmp_path / "p"), "--json"]) == 0
    captured = (
        capsys.readouterr()
    )  # --json: the JSON alone on stdout (`| jq` failed on the text before it, h28)
    report, out = json.loads(captured.out), captured.err.splitlines()
    assert "1 with a problem (1 of them gone from disk since import, 1 of those labelled)" in out[1]
    assert report["problems"] == 1 and report["gone_from_disk"] == 1 and report["gone_folders"] == []
    assert report["gone_labelled"] == 1
    with ProjectStore.open(
        tmp_path / "p"
    ) as store:  # a run marked it: still gone, its label still kept (h31)
        assert len(store.mark_missing_files()) == 1
    assert main(["info", str(tmp_path / "p"), "--json"]) == 0
    marked = json.loads(capsys.readouterr().out)
    assert (marked["problems"], marked["gone_from_disk"], marked["gone_labelled"]) == (1, 1, 1)
    # The folder it was imported from, to import again for the files put in it since.
    assert out[-2].startswith("imported from") and out[-1] == f"  {images.absolute()}"
    assert report["imported_from"] == [str(images.absolute())]
    # Each run on a line: which is which, and which one's folder is gone (only a count was printed, h26).
    with ProjectStore.open(tmp_path / "p") as store:
        kept = tmp_path / "p" / "runs" / "first"
        kept.mkdir(parents=True)
        first = store.create_run("first", kept, {"transfer": "frozen", "linear_probe": True})
        store.finish_run(first, "completed", {"best": {"epoch": 1, "out_of_fold_accuracy": 0.75}})
        second = store.create_run("second", tmp_path / "p" / "runs" / "second", {"transfer": "full"})
        store.finish_run(
            second,
            "completed",
            {"best": {"epoch": 3, "val_accuracy": 0.5}, "last": {"epoch": 5, "val_accuracy": 0.4}},
        )
    assert main(["info", str(tmp_path / "p"), "--json"]) == 0
    captured = capsys.readouterr()
    out = captured.err.splitlines() + captured.out.splitlines()
    assert "runs (oldest first):" in out, out
    runs = out[out.index("runs (oldest first):") + 1 : out.index("runs (oldest first):") + 3]
    assert runs[0].startswith("  first · ") and "frozen" in runs[0] and "gone" not in runs[0]
    assert runs[0] == "  first · completed · frozen · linear probe · out-of-fold validation accuracy 75.0%"
    assert runs[1].startswith(
        "  second · completed · full · 5 epoch(s), the best is epoch 3 · best validation accuracy 50.0%"
    )
    assert "its folder is gone" in runs[1]
    assert [r["folder_exists"] for r in json.loads(out[-1])["run_list"]] == [True, False]
    assert [(r["best_accuracy"], r["out_of_fold"]) for r in json.loads(out[-1])["run_list"]] == [
        (0.75, True),
        (0.5, False),
    ]
    assert main(["remove", str(tmp_path / "p"), "--problems", "--dry-run"]) == 0
    assert "would remove 1 image(s)" in capsys.readouterr().out


def _stopped_after_one_epoch(project: Path, **settings: object) -> object:
    """A run of ``project`` stopped once its first epoch is saved; its summary."""
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.events import EpochResult
    from dmtl_studio.core.training.run import train

    config = TrainConfig(input_size=TEST_INPUT_SIZE, device="cpu", batch_size=16, **settings)
    epochs: list[object] = []
    return train(
        project,
        config,
        on_event=lambda e: epochs.append(e) if isinstance(e, EpochResult) else None,
        should_stop=lambda: len(epochs) >= 1,
    )


def test_stop_then_resume_from_the_command_line(tmp_path: Path, project: Path) -> None:
    stopped = _stopped_after_one_epoch(project, epochs=2)
    assert stopped.status == "stopped" and stopped.epochs_completed == 1
    short = _cli("train", str(project), "--resume", stopped.run_dir, "--epochs", "1")
    assert (
        short.returncode == 2
        and "has done 1 epoch(s) already; --epochs 1 would leave nothing" in short.stderr
    )
    resumed = _cli(
        "train", str(project), "--resume", stopped.run_dir, "--device", "cpu", "--json", "--recipe", "strong",
        "--lr", "0.5",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert (
        "note: --lr, --recipe are not used: a continued run keeps its own settings and recipe"
        in resumed.stderr
    )
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert summary["run_dir"] == stopped.run_dir
    assert "resumed run" in resumed.stderr


def test_resume_with_fewer_epochs_than_planned_says_the_plan_changes(project: Path) -> None:
    """An interrupted 40-epoch run continued with --epochs 3 ended at 3 without a word (h26)."""
    stopped = _stopped_after_one_epoch(project, epochs=3, linear_probe=False, feature_views=1)
    resumed = _cli("train", str(project), "--resume", stopped.run_dir, "--epochs", "2", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    assert "was planned for 3 epochs; --epochs 2 ends it sooner" in resumed.stderr


def test_a_run_whose_progress_reader_went_away_still_completes(project: Path) -> None:
    """``dmtl-studio train P 2>&1 | head -4``: the progress lines meet a closed pipe; the run goes on and is kept
    as completed (it was marked failed)."""
    import os
    import subprocess
    import sys

    from tests.e2e.cli import SOURCE_ROOT

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dmtl_studio", "train", str(project), "--epochs", "1", "--no-linear-probe",
             "--input-size", str(TEST_INPUT_SIZE), "--device", "cpu"],
            stdout=write_end,
            stderr=write_end,
            env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
            timeout=600,
            check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 141  # its last line met the closed pipe too
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(project) as store:
        assert store.runs()[-1].status == "completed"


def test_output_to_a_reader_that_went_away_ends_quietly(project: Path) -> None:
    """``dmtl-studio info P | head -1``: the pipe's reader is gone when the command writes (Unix tools exit 141)."""
    import os
    import subprocess
    import sys

    from tests.e2e.cli import SOURCE_ROOT

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dmtl_studio", "info", str(project)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
            timeout=300,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


def test_ctrl_c_says_what_a_command_keeps(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """label-errors and audit said only "interrupted"."""
    import dmtl_studio.cli as cli

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_label_errors", interrupted)
    assert cli.main(["label-errors", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip() == (
        "dmtl-studio label-errors: interrupted; the features computed so far stay in the project's cache, and the "
        "next run reuses them"
    )


def test_import_refuses_wrong_split_fractions_before_it_writes_anything(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """The fractions were checked after the images were written (with no split), and a new project folder was
    left behind (h26)."""
    from dmtl_studio.cli import main
    from dmtl_studio.core.project.store import ProjectStore

    images = write_shapes_folder(tmp_path / "images", 2, seed=1, size=32)
    assert main(["import", str(tmp_path / "new"), str(images), "--test-fraction", "0.95"]) == 2
    assert "fractions must each be in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    # The values used are said: one not given is the project's (h27).
    assert main(["import", str(tmp_path / "new"), str(images), "--val-fraction", "0.9"]) == 2
    assert "(here validation 0.9 and test 0.1; test not given: the project's)" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "p"), str(images)]) == 0
    with ProjectStore.open(tmp_path / "p") as store:
        before = len(store.images())
    (images / "circle" / "circle_000.png").rename(images / "circle" / "late.png")
    assert (
        main(["import", str(tmp_path / "p"), str(images), "--val-fraction", "0.6", "--test-fraction", "0.6"])
        == 2
    )
    with ProjectStore.open(tmp_path / "p") as store:
        assert len(store.images()) == before  # nothing was read into it


def test_importing_a_projects_emptied_folder_marks_its_images_gone(tmp_path: Path) -> None:
    """The command line refused a folder with no image files before the project was asked, so a folder whose images
    were all deleted could not be imported again to mark them gone, as the window can (h36)."""
    from PIL import Image

    from dmtl_studio.core.project.store import ProjectStore

    folder = tmp_path / "images" / "cells"
    folder.mkdir(parents=True)
    for i in range(2):
        Image.new("RGB", (24, 24), (40 * i, 90, 200)).save(folder / f"{i}.png")
    assert _cli("import", str(tmp_path / "project"), str(tmp_path / "images")).returncode == 0
    for path in folder.iterdir():
        path.unlink()
    result = _cli("import", str(tmp_path / "project"), str(folder))
    assert result.returncode == 0, result.stderr
    assert "2 image(s) of this folder known to the project are no longer on disk" in result.stdout
    with ProjectStore.open(tmp_path / "project") as store:
        assert all(im.problem for im in store.images())
    (tmp_path / "other").mkdir()  # a folder the project never held: still refused
    result = _cli("import", str(tmp_path / "project"), str(tmp_path / "other"))
    assert result.returncode == 2 and "holds no image files" in result.stderr
