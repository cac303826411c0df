"""predict and labels export-csv never write over an existing file; a model that cannot be used is said plainly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dmtl_studio.core.evaluation.export import export_run
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.store import DATABASE_NAME
from tests.core.trained_run import copy_project, trained_project
from tests.e2e.cli import run_cli


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=600)


def _refused(result: subprocess.CompletedProcess[str], command: str, *words: str) -> str:
    """The one error line of a refused command (exit 2, no traceback), checked to hold ``words``."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"dmtl-studio {command}: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_predict_refuses_an_existing_out_file_above_all_an_input(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 2, seed=3, size=64)
    picture = sorted(images.rglob("*.png"))[0]
    before = picture.read_bytes()
    line = _refused(
        _cli("predict", str(run_dir), str(images), "--out", str(picture)), "predict", str(picture), "exists"
    )
    assert "folder being predicted" in line and "choose another file name" in line
    assert picture.read_bytes() == before  # the image is intact

    earlier = tmp_path / "earlier.csv"
    earlier.write_text("my own notes\n")
    _refused(_cli("predict", str(run_dir), str(images), "--out", str(earlier)), "predict", "already exists")
    assert earlier.read_text() == "my own notes\n"

    sidecar = run_dir / "model.json"
    kept = sidecar.read_bytes()
    line = _refused(_cli("predict", str(run_dir), str(images), "--out", str(sidecar)), "predict", "model")
    assert sidecar.read_bytes() == kept

    inside = images / "predictions.csv"  # new, but inside the folder: the next predict would read it
    line = _refused(
        _cli("predict", str(run_dir), str(images), "--out", str(inside)), "predict", "choose a file outside"
    )
    assert not inside.exists()

    fresh = tmp_path / "new.csv"
    done = _cli("predict", str(run_dir), str(images), "--out", str(fresh))
    assert done.returncode == 0 and fresh.is_file(), done.stderr


def test_text_predict_refuses_to_write_over_the_text_it_predicts(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from tests.core.text_run import trained_text_project

    _project, run_dir = trained_text_project(tmp_path_factory)
    text = tmp_path / "note.txt"
    text.write_text("the cat sat on the mat and purred\n", encoding="utf-8")
    line = _refused(_cli("predict", str(run_dir), str(text), "--out", str(text)), "predict", str(text))
    assert "input being predicted" in line
    assert text.read_text(encoding="utf-8") == "the cat sat on the mat and purred\n"


def test_label_export_refuses_an_existing_file_and_the_database(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    project, _run_dir = copy_project(tmp_path_factory)
    database = project / DATABASE_NAME
    kept = database.read_bytes()
    line = _refused(
        _cli("labels", "export-csv", str(project), str(database)), "labels", "the project's database"
    )
    assert "choose another file name" in line
    assert database.read_bytes() == kept
    assert _cli("info", str(project)).returncode == 0  # the project still opens

    existing = tmp_path / "labels.csv"
    existing.write_text("keep me\n")
    _refused(_cli("labels", "export-csv", str(project), str(existing)), "labels", "already exists")
    assert existing.read_text() == "keep me\n"
    fresh = tmp_path / "fresh.csv"
    assert _cli("labels", "export-csv", str(project), str(fresh)).returncode == 0 and fresh.is_file()


def test_predict_says_what_is_wrong_with_a_model_it_cannot_use(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 1, seed=4, size=64)

    damaged = tmp_path / "damaged"
    shutil.copytree(run_dir, damaged)
    (damaged / "model.safetensors").write_bytes(b"not weights at all")
    line = _refused(
        _cli("predict", str(damaged), str(images), "--out", str(tmp_path / "a.csv")),
        "predict",
        "damaged",
        "train the run again",
    )
    assert str(damaged) in line

    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    sidecar = json.loads((other / "model.json").read_text())
    sidecar["classes"].append("extra")
    sidecar["model"]["num_classes"] += 1
    (other / "model.json").write_text(json.dumps(sidecar))
    _refused(
        _cli("predict", str(other), str(images), "--out", str(tmp_path / "b.csv")),
        "predict",
        "does not fit",
        "size mismatch",
    )

    folder = export_run(run_dir, "safetensors", tmp_path / "export").path
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copyfile(folder / "model.safetensors", lonely / "model.safetensors")
    _refused(
        _cli("predict", str(lonely / "model.safetensors"), str(images), "--out", str(tmp_path / "c.csv")),
        "predict",
        "model.json",
        "whole folder",
    )
    # The weights file of a whole export folder predicts as the folder does.
    done = _cli("predict", str(folder / "model.safetensors"), str(images), "--out", str(tmp_path / "d.csv"))
    assert done.returncode == 0, done.stderr
    assert not any((tmp_path / name).exists() for name in ("a.csv", "b.csv", "c.csv"))


def test_predict_on_cuda_without_a_gpu_says_so(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 1, seed=4, size=64)
    out = tmp_path / "p.csv"
    _refused(
        _cli("predict", str(run_dir), str(images), "--out", str(out), "--device", "cuda"),
        "predict",
        "--device cuda",
        "--device cpu",
    )
    assert not out.exists()
