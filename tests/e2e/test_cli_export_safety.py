"""export never writes over an existing file: an earlier export, a model of the user's, a text export's tokenizer
files; every file it would write is checked before anything is written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.core.trained_run import trained_project
from tests.e2e.cli import run_cli


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=600)


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one error line of a refused export (exit 2, no traceback), checked to hold ``words``."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("dmtl-studio export: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_export_refuses_an_earlier_export_and_a_file_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _project, run_dir = trained_project(tmp_path_factory)
    onnx = tmp_path / "model.onnx"
    first = _cli("export", str(run_dir), "--format", "onnx", "--out", str(onnx))
    assert first.returncode == 0, first.stderr
    model, sidecar = onnx.read_bytes(), (tmp_path / "model.onnx.json").read_bytes()
    line = _refused(
        _cli("export", str(run_dir), "--format", "onnx", "--out", str(onnx)), str(onnx), "exported earlier"
    )
    assert "choose another file name" in line and "nothing was written" in line
    assert onnx.read_bytes() == model and (tmp_path / "model.onnx.json").read_bytes() == sidecar

    # A model file of the user's own (no sidecar), and a folder whose model.pt exists already.
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"my own model")
    _refused(_cli("export", str(run_dir), "--format", "torchscript", "--out", str(mine)), "already exists")
    assert mine.read_bytes() == b"my own model" and not (tmp_path / "mine.pt.json").exists()
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"kept")
    _refused(_cli("export", str(run_dir), "--format", "torchscript", "--out", str(folder)), "model.pt")
    assert (folder / "model.pt").read_bytes() == b"kept" and not (folder / "model.pt.json").exists()

    # Only the sidecar exists: the model is not written either.
    lone = tmp_path / "lone.onnx.json"
    lone.write_text("notes")
    _refused(
        _cli("export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "lone.onnx")), "sidecar"
    )
    assert lone.read_text() == "notes" and not (tmp_path / "lone.onnx").exists()

    # safetensors into a folder that holds something: refused, the folder untouched.
    full = tmp_path / "full"
    full.mkdir()
    (full / "model.json").write_text("keep")
    _refused(_cli("export", str(run_dir), "--format", "safetensors", "--out", str(full)), str(full))
    assert [p.name for p in full.iterdir()] == ["model.json"] and (full / "model.json").read_text() == "keep"


def test_text_export_refuses_to_write_over_a_tokenizer_file(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from tests.core.text_run import trained_text_project

    _project, run_dir = trained_text_project(tmp_path_factory)
    (tmp_path / "tokenizer.json").write_text("{}")
    out = tmp_path / "model.onnx"
    line = _refused(_cli("export", str(run_dir), "--format", "onnx", "--out", str(out)), "tokenizer.json")
    assert "export into another folder, or move that file away first" in line
    assert "another file name" not in line  # another name in this folder meets the same tokenizer files
    assert (tmp_path / "tokenizer.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json"]  # nothing else was written


def test_an_onnx_and_a_torchscript_export_of_a_text_run_share_its_tokenizer_files(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from tests.core.text_run import trained_text_project

    _project, run_dir = trained_text_project(tmp_path_factory)
    assert (
        _cli("export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "model.onnx")).returncode
        == 0
    )
    tokenizer = {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.startswith("model.")}
    assert "tokenizer.json" in tokenizer
    done = _cli("export", str(run_dir), "--format", "torchscript", "--out", str(tmp_path / "model.pt"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no library's warning about a language model's loss the encoder never has
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model.pt.json").is_file()
    assert {name: (tmp_path / name).read_bytes() for name in tokenizer} == tokenizer  # the same files, shared
    # a tokenizer file changed since: refused as before, nothing written
    (tmp_path / "tokenizer.json").write_bytes(tokenizer["tokenizer.json"] + b" ")
    _refused(
        _cli("export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "other.onnx")),
        "tokenizer.json",
    )
    assert not (tmp_path / "other.onnx").exists()
