"""A full disk or a read-only folder ends every write in one plain message and leaves no broken file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from tests.core.trained_run import trained_project
from tests.disk_faults import (
    full_disk,
    immutable_folder,
    read_only_folder,
    run_cli_with_file_limit,
    user_files,
)
from tests.e2e.cli import run_cli


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=600)


def _one_plain_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    progress = re.compile(r"^[\w /]+ \[[#.]+\] \d+/\d+")  # the progress bar is not a message
    lines = [line for line in result.stderr.splitlines() if line.strip() and not progress.match(line)]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "terminate called" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(("fmt", "name"), [("onnx", "m.onnx"), ("torchscript", "m.pt"), ("safetensors", "m")])
def test_export_to_a_full_disk_leaves_nothing(tmp_path_factory, tmp_path: Path, fmt: str, name: str) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    with full_disk(tmp_path / "disk", free_kib=8) as disk:
        result = _cli("export", str(run_dir), "--format", fmt, "--out", str(disk / name))
        _one_plain_line(result, str(disk), "disk is full")
        assert user_files(disk) == []


@pytest.mark.parametrize(("fmt", "name"), [("onnx", "m.onnx"), ("torchscript", "m.pt"), ("safetensors", "m")])
def test_export_past_a_file_size_limit_leaves_nothing(
    tmp_path_factory, tmp_path: Path, fmt: str, name: str
) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli_with_file_limit(
        64 * 1024, "export", str(run_dir), "--format", fmt, "--out", str(out / name)
    )
    _one_plain_line(result, str(out))
    assert user_files(out) == []


def test_backup_to_a_full_disk_leaves_nothing(tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    project, _run_dir = trained_project(tmp_path_factory)
    with full_disk(tmp_path / "disk", free_kib=4) as disk:
        result = _cli("backup", str(project), str(disk / "copy.sqlite"))
        _one_plain_line(result, str(disk / "copy.sqlite"), "disk is full", "unchanged")
        assert user_files(disk) == []


@pytest.mark.parametrize("free_kib", [16, 48, 96], ids=["at-open", "early", "later"])
def test_import_into_a_project_on_a_full_disk_ends_plainly_and_keeps_the_project(
    tmp_path: Path, shapes_dir: Path, free_kib: int
) -> None:
    def new_project(disk: Path) -> None:
        ProjectStore.create(disk / "project").close()

    with full_disk(tmp_path / "disk", free_kib=free_kib, prepare=new_project, size_kib=1024) as disk:
        result = _cli("import", str(disk / "project"), str(shapes_dir))
        _one_plain_line(result, "disk is full", "kept")
        (disk / ".filler-kept").unlink()
        with ProjectStore.open(disk / "project") as store:
            assert store.integrity_check() == "ok"


@pytest.mark.parametrize("fault", ["full", "read-only", "no-permission"])
def test_label_exports_end_plainly_and_leave_no_broken_file(
    project: Path, tmp_path: Path, fault: str
) -> None:
    folder = tmp_path / "target"
    folder.mkdir()
    fault_of = {
        "full": lambda: full_disk(folder, free_kib=0),
        "read-only": lambda: read_only_folder(folder),
        "no-permission": lambda: immutable_folder(folder),
    }
    words = {"full": "disk is full", "read-only": "read-only", "no-permission": "permission denied"}[fault]
    with fault_of[fault]():
        result = _cli("labels", "export-csv", str(project), str(folder / "labels.csv"))
        _one_plain_line(result, str(folder / "labels.csv"), words)
        result = _cli("labels", "export-folders", str(project), str(folder / "classes"))
        _one_plain_line(result, str(folder / "classes"), words)
        for path in folder.rglob("*"):
            assert path.name.startswith(".filler") or path.is_dir(), f"left behind: {path}"


def test_a_project_on_a_full_disk_is_said_full_not_damaged(tmp_path: Path, shapes_dir: Path) -> None:
    """After a command met the full disk, every next one said "the project database … is damaged (disk I/O
    error)", and nothing was (h30)."""

    def small_project(disk: Path) -> None:
        with ProjectStore.create(disk / "project") as store:
            store.add_class("circle")

    with full_disk(tmp_path / "disk", free_kib=0, prepare=small_project, size_kib=2048) as disk:
        labels = tmp_path / "labels.csv"
        labels.write_text(
            "path,label\n" + "".join(f"{p},circle\n" for p in sorted(shapes_dir.rglob("*.png"))[:40])
        )
        _cli("labels", "import-csv", str(disk / "project"), str(labels))
        for args in (
            ("info", str(disk / "project")),
            ("labels", "export-csv", str(disk / "project"), str(tmp_path / "out.csv")),
        ):
            result = _cli(*args)
            assert "damaged" not in result.stderr, result.stderr[-2000:]
            if result.returncode:
                _one_plain_line(result, "the disk is full")
        (disk / ".filler-kept").unlink()
        with ProjectStore.open(disk / "project") as store:
            assert store.integrity_check() == "ok"
