"""A full disk or a read-only folder ends every write in one plain message and leaves no broken file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.trained_run import trained_project
from tests.disk_faults import full_disk, run_cli_with_file_limit, user_files


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dmtl_studio", *args], capture_output=True, text=True, timeout=600, check=False
    )


def _one_plain_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
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
