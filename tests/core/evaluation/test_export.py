"""Export round trips: ONNX (onnxruntime), TorchScript and safetensors agree with PyTorch, and predict uses each."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.evaluation.export import export_run
from dmtl_studio.core.evaluation.exported_model import ExportError, load_exported, sidecar_path
from dmtl_studio.core.evaluation.predict import predict_folder, predict_with
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.project.demo import write_shapes_folder
from tests.core.trained_run import INPUT_SIZE, trained_project


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_project(tmp_path_factory)[1]


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_shapes_folder(tmp_path_factory.mktemp("held") / "images", 3, seed=99, size=64)
    (folder / "broken.png").write_bytes(b"not a picture")
    return folder


def _reference(run: Path, batch: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return load_checkpoint(run).model(torch.from_numpy(batch)).numpy()


def _batch(size: int) -> np.ndarray:
    return np.random.default_rng(5).standard_normal((size, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)


def _rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("fmt, name", [("onnx", "model.onnx"), ("torchscript", "model.pt")])
def test_single_file_export_matches_pytorch_at_another_batch_size(
    run: Path, held_out: Path, tmp_path: Path, fmt: str, name: str
) -> None:
    result = export_run(run, fmt, tmp_path / name)
    assert result.path.is_file() and result.max_abs_difference is not None
    assert result.max_abs_difference < 1e-4
    sidecar = json.loads(sidecar_path(result.path).read_text())
    assert sidecar["classes"] == ["circle", "square", "triangle"]
    assert sidecar["preprocessing"]["input_size"] == INPUT_SIZE
    assert sidecar["model"]["backbone"] == "efficientnet_lite0" and sidecar["recipe"]
    assert sidecar["check"]["max_abs_difference"] == result.max_abs_difference

    predictor = load_exported(result.path)
    assert predictor.kind == fmt
    for batch_size in (1, 5):  # traced with 1, checked with 3: the batch dimension is dynamic
        batch = _batch(batch_size)
        assert np.abs(predictor.logits(batch) - _reference(run, batch)).max() < 1e-4

    from_run = _rows(tmp_path / "run.csv") if predict_with(run, held_out, tmp_path / "run.csv") else []
    predict_with(result.path, held_out, tmp_path / "exported.csv")
    exported = _rows(tmp_path / "exported.csv")
    assert [Path(r["path"]).name for r in exported if r["error"]] == ["broken.png"]  # named, not predicted
    from_run = [r for r in from_run if not r["error"]]
    exported = [r for r in exported if not r["error"]]
    assert len(exported) == len(from_run) == 9
    for a, b in zip(from_run, exported, strict=True):
        assert a["path"] == b["path"] and a["predicted_label"] == b["predicted_label"]
        assert abs(float(a["confidence"]) - float(b["confidence"])) < 1e-4


def test_safetensors_folder_loads_like_a_run(run: Path, held_out: Path, tmp_path: Path) -> None:
    result = export_run(run, "safetensors", tmp_path / "exported")
    assert sorted(p.name for p in result.path.iterdir()) == ["model.json", "model.safetensors"]
    sidecar = json.loads((result.path / "model.json").read_text())
    assert {"classes", "preprocessing", "augmentation", "model", "config"} <= set(sidecar)
    batch = _batch(2)
    assert np.array_equal(load_exported(result.path).logits(batch), _reference(run, batch).astype(np.float64))
    summary = predict_with(result.path, held_out, tmp_path / "p.csv")
    assert len(summary.predictions) == 9 and len(summary.problems) == 1


def test_export_refuses_bad_requests(run: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format"):
        export_run(run, "tflite", tmp_path / "m.tflite")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_run(run, "safetensors", tmp_path / "full")


def test_single_file_exports_go_where_a_person_expects(run: Path, tmp_path: Path) -> None:
    from dmtl_studio.core.evaluation.export import export_file_path

    folder = tmp_path / "exports"
    folder.mkdir()
    assert export_file_path(folder, "onnx") == folder / "model.onnx"  # into an existing folder
    assert export_file_path(folder, "torchscript") == folder / "model.pt"
    assert export_file_path(tmp_path / "cells", "onnx") == tmp_path / "cells.onnx"  # the ending is added
    assert export_file_path(tmp_path / "cells.PTH", "torchscript") == tmp_path / "cells.PTH"
    with pytest.raises(
        ExportError, match=r"m.onnx ends in .onnx but the format is torchscript; name the file \*.pt"
    ):
        export_run(run, "torchscript", tmp_path / "m.onnx")
    assert not list(tmp_path.glob("m.onnx*"))
    with pytest.raises(
        ExportError, match="a safetensors export is a folder"
    ):  # it made a folder "m.onnx" (h26)
        export_run(run, "safetensors", tmp_path / "m.onnx")
    assert not list(tmp_path.glob("m.onnx*"))


def test_an_export_after_a_rename_and_a_merge_predicts_as_the_run_does_now(
    tmp_path_factory: pytest.TempPathFactory, held_out: Path, tmp_path: Path
) -> None:
    """The export kept the run's names: ``predict RUN_DIR`` wrote today's classes, ``predict model.onnx`` the
    old ones, and the export said nothing."""
    from dmtl_studio.core.project.store import ProjectStore
    from tests.core.trained_run import copy_project

    project, run = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        store.rename_class("circle", "round")
        store.merge_classes(["triangle"], "square")
    result = export_run(run, "onnx", tmp_path / "model.onnx")
    assert "'circle' is now 'round'" in result.note and "'triangle' is now 'square'" in result.note
    assert json.loads(sidecar_path(result.path).read_text())["classes"] == ["round", "square"]
    by_run = predict_folder(run, held_out, tmp_path / "run.csv")
    by_export = predict_with(result.path, held_out, tmp_path / "exported.csv")
    assert by_run.classes == by_export.classes == ("round", "square")
    for a, b in zip(_rows(tmp_path / "run.csv"), _rows(tmp_path / "exported.csv"), strict=True):
        assert a["predicted_label"] == b["predicted_label"] and a["p_square"][:5] == b["p_square"][:5]

    folder = export_run(run, "safetensors", tmp_path / "weights")  # the run's own weights: its three outputs
    assert json.loads((folder.path / "model.json").read_text())["classes"] == ["circle", "square", "triangle"]
    assert "'square' and 'triangle' are 'square' now" in folder.note
