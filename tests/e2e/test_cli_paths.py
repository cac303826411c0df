"""Paths typed on the command line are resolved once, where they come in, and stored resolved."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.e2e.cli import run_cli


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def test_a_run_started_with_a_relative_path_resumes_from_another_folder(
    tmp_path: Path, project: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.move(str(project), work / "proj")
    first = _cli(
        work, "train", "proj", "--no-linear-probe", "--epochs", "1", "--input-size", "32", "--feature-views", "1",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    run_dir = Path(json.loads(first.stdout.strip().splitlines()[-1])["run_dir"])
    assert run_dir.is_absolute() and run_dir.is_dir()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative_run = Path("..") / "work" / "proj" / "runs" / run_dir.name
    resumed = _cli(
        elsewhere, "train", str(Path("..") / "work" / "proj"), "--resume", str(relative_run), "--epochs", "2",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert Path(summary["run_dir"]) == run_dir
    assert "resumed run" in resumed.stderr


def test_a_run_recorded_with_a_relative_folder_is_found_by_any_spelling(
    tmp_path: Path, project: Path, monkeypatch
) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.store import ProjectStore

    monkeypatch.chdir(project.parent)
    with ProjectStore.open(project) as store:
        (store.runs_dir / "old").mkdir()
        # What an older version wrote when the project was opened by a relative path.
        run_id = store.create_run("old", Path(project.name) / "runs" / "old", {})
        monkeypatch.chdir(tmp_path)
        for spelling in (project / "runs" / "old", Path("project") / "runs" / ".." / "runs" / "old"):
            found = store.run_at(spelling)
            assert found is not None and found.id == run_id
        assert store.run_at(tmp_path / "runs" / "old") is None


def test_evaluate_says_what_it_was_given_when_it_is_not_a_run_folder(
    tmp_path: Path, project: Path, capsys
) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    def refused(folder: Path) -> str:
        assert main(["evaluate", str(folder)]) == 2
        return capsys.readouterr().err.strip()

    missing = tmp_path / "no-such-run"
    assert refused(missing) == (
        f"dmtl-studio evaluate: {missing} does not exist; give a run folder (PROJECT/runs/NAME)"
    )
    assert refused(project) == (
        f"dmtl-studio evaluate: {project} is a project, not a run: it has no trained run yet; train one with: "
        f"dmtl-studio train {project}"
    )
    (project / "runs").mkdir(exist_ok=True)
    assert "holds no trained model (model.json is missing)" in refused(project / "runs")
    # With runs, the latest one that holds a model is named (a folder without one is no run to give).
    for name, written in (("20260101-090000", 1_000), ("20260102-090000", 3_000), ("20260103-090000", 2_000)):
        (project / "runs" / name).mkdir()
        (project / "runs" / name / "model.json").write_text("{}", encoding="utf-8")
        os.utime(project / "runs" / name / "model.json", (written, written))
    (project / "runs" / "20270101-090000").mkdir()  # stopped before its first model
    assert refused(project) == (
        f"dmtl-studio evaluate: {project} is a project, not a run: give one of its runs, the latest is "
        f"{project / 'runs' / '20260102-090000'} (or another of its 3 runs in {project / 'runs'})"
    )
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "model.json").write_text("{}", encoding="utf-8")  # a run folder outside any project
    assert refused(loose).endswith("is not inside a project; name the project with --project")


def test_a_copied_project_continues_its_own_run_and_leaves_the_original_alone(
    tmp_path: Path, project: Path
) -> None:
    from dmtl_studio.core.project.run_lock import unit_folders
    from dmtl_studio.core.project.store import ProjectStore

    first = _cli(
        tmp_path, "train", str(project), "--no-linear-probe", "--epochs", "1", "--input-size", "32",
        "--feature-views", "1", "--device", "cpu", "--json",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    name = Path(json.loads(first.stdout.strip().splitlines()[-1])["run_dir"]).name
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    with ProjectStore.open(copy) as store:  # the database still holds the original's path
        assert [Path(r.run_dir) for r in store.runs()] == [copy / "runs" / name]
        assert (
            store.run_at(copy / "runs" / name) is not None and store.run_at(project / "runs" / name) is None
        )

    resumed = _cli(
        tmp_path, "train", str(copy), "--resume", str(copy / "runs" / name), "--epochs", "2", "--device", "cpu",
        "--json",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert Path(json.loads(resumed.stdout.strip().splitlines()[-1])["run_dir"]) == copy / "runs" / name
    assert [epoch for epoch, _ in unit_folders(copy / "runs" / name / "checkpoints")] == [2]
    assert [epoch for epoch, _ in unit_folders(project / "runs" / name / "checkpoints")] == [1]
    with ProjectStore.open(project) as store:
        assert [len(store.epoch_metrics(r.id)) for r in store.runs()] == [1]


def test_export_report_and_audit_say_a_project_is_not_a_run(tmp_path: Path, project: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    commands = {
        "export": ["--format", "onnx", "--out", str(tmp_path / "m.onnx")],
        "report": [],
        "audit": ["--out", str(tmp_path / "a.zip")],
    }
    for command, options in commands.items():
        assert main([command, str(project), *options]) == 2
        assert capsys.readouterr().err.strip() == (
            f"dmtl-studio {command}: {project} is a project, not a run: it has no trained run yet; train one "
            f"with: dmtl-studio train {project}"
        )
    assert not (tmp_path / "a.zip").exists() and not (tmp_path / "m.onnx").exists()


def test_a_moved_project_is_said_in_the_commands_own_words(tmp_path: Path) -> None:
    from dmtl_studio.core.project.demo import create_demo_project

    create_demo_project(tmp_path / "lab" / "p", per_class=2, unlabelled=0)
    (tmp_path / "archive").mkdir()
    (tmp_path / "lab" / "p").rename(tmp_path / "archive" / "p")
    result = run_cli("info", str(tmp_path / "archive" / "p"))
    assert result.returncode == 0, result.stderr
    # It read "WARNING /…/p: the project was moved; …" among lines that all start "note:" or "warning:".
    assert (
        f"warning: {tmp_path / 'archive' / 'p'}: the project was moved; 6 image(s) found at their new place"
        in (result.stderr.splitlines())
    )
