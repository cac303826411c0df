"""Calibration in use: fitted at the end of training, stored in the sidecar, honoured by predict and exports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.evaluation.export import export_run
from dmtl_studio.core.evaluation.predict import predict_folder, predict_with
from dmtl_studio.core.models.calibration import UNSURE
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.reject import describe_threshold, validation_threshold
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train
from tests.core.trained_run import copy_project
from tests.e2e.cli import run_cli


def _rows(path: Path) -> dict[str, dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {Path(row["path"]).name: row for row in csv.DictReader(handle)}


def _probabilities(rows: dict[str, dict], classes: list[str]) -> np.ndarray:
    return np.array([[float(rows[name][f"p_{c}"]) for c in classes] for name in sorted(rows)])


def _some_images(project: Path, folder: Path, count: int) -> Path:
    with ProjectStore.open(project) as store:
        paths = sorted(Path(r.path) for r in store.images())[:count]
    folder.mkdir()
    for path in paths:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the shared trained run whose sidecar names a temperature of 2.5."""
    project, run_dir = copy_project(tmp_path_factory)
    side = run_dir / "model.json"
    sidecar = json.loads(side.read_text())
    sidecar["calibration"] = {
        "method": "temperature",
        "temperature": 2.5,
        "fitted_on": "validation",
        "images": 12,
        "ece_before": 0.2,
        "ece_after": 0.05,
        "bins": 15,
    }
    side.write_text(json.dumps(sidecar))
    return project, run_dir


def test_sidecar_carries_calibration_after_training(tmp_path: Path) -> None:
    images = write_shapes_folder(tmp_path / "images", 14, unlabelled=0, seed=3, size=32)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.3, test_fraction=0.0, seed=0)
        val = sum(1 for im in store.images() if im.split == "val")
    assert val >= 10
    config = TrainConfig(epochs=1, batch_size=16, input_size=32, device="cpu", feature_views=1)
    run_dir = Path(train(project, config).run_dir)
    entry = json.loads((run_dir / "model.json").read_text())["calibration"]
    assert entry["method"] == "temperature" and entry["fitted_on"] == "validation"
    assert entry["images"] == val and entry["bins"] == 15
    assert entry["temperature"] > 0 and 0 <= entry["ece_after"] <= 1 and 0 <= entry["ece_before"] <= 1
    assert float(load_checkpoint(run_dir).model.temperature) == pytest.approx(entry["temperature"])


def test_predict_and_onnx_export_give_the_same_calibrated_probabilities(
    calibrated: tuple[Path, Path], tmp_path: Path
) -> None:
    project, run_dir = calibrated
    folder = _some_images(project, tmp_path / "few", 6)
    classes = load_checkpoint(run_dir).classes
    predict_folder(run_dir, folder, tmp_path / "run.csv")
    from_run = _probabilities(_rows(tmp_path / "run.csv"), classes)
    result = export_run(run_dir, "onnx", tmp_path / "model.onnx")
    side = json.loads(result.sidecar.read_text())
    assert side["calibration"]["temperature"] == 2.5 and side["output"]["temperature_applied"] == 2.5
    predict_with(result.path, folder, tmp_path / "onnx.csv")
    from_onnx = _probabilities(_rows(tmp_path / "onnx.csv"), classes)
    np.testing.assert_allclose(from_onnx, from_run, atol=2e-5)
    # the temperature is applied: the same run without it is more confident
    plain = tmp_path / "plain"
    shutil.copytree(run_dir, plain)
    sidecar = json.loads((plain / "model.json").read_text())
    del sidecar["calibration"]
    (plain / "model.json").write_text(json.dumps(sidecar))
    predict_folder(plain, folder, tmp_path / "plain.csv")
    uncalibrated = _probabilities(_rows(tmp_path / "plain.csv"), classes)
    assert (uncalibrated.max(1) > from_run.max(1) + 1e-4).all()


def test_reject_below_writes_unsure(calibrated: tuple[Path, Path], tmp_path: Path) -> None:
    project, run_dir = calibrated
    folder = _some_images(project, tmp_path / "few", 8)
    predict_folder(run_dir, folder, tmp_path / "all.csv")
    confidences = sorted(float(r["confidence"]) for r in _rows(tmp_path / "all.csv").values())
    cut = (confidences[3] + confidences[4]) / 2
    done = run_cli(
        "predict", str(run_dir), str(folder), "--out", str(tmp_path / "p.csv"), "--reject-below", str(cut)
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(tmp_path / "p.csv")
    assert sum(r["predicted_label"] == UNSURE for r in rows.values()) == 4
    assert all((float(r["confidence"]) < cut) == (r["predicted_label"] == UNSURE) for r in rows.values())
    bad = run_cli(
        "predict", str(run_dir), str(folder), "--out", str(tmp_path / "b.csv"), "--reject-below", "1.5"
    )
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr


def test_target_accuracy_threshold_on_the_validation_split(
    calibrated: tuple[Path, Path], tmp_path: Path
) -> None:
    project, run_dir = calibrated
    chosen = validation_threshold(run_dir, 1.0)
    assert chosen.images > 0 and 0 < chosen.coverage <= 1
    assert chosen.reached and chosen.accuracy == 1.0
    folder = _some_images(project, tmp_path / "few", 5)
    done = run_cli(
        "predict", str(run_dir), str(folder), "--out", str(tmp_path / "t.csv"), "--target-accuracy", "1.0"
    )
    assert done.returncode == 0, done.stderr
    assert describe_threshold(chosen, 1.0) in done.stdout and "expected coverage" in done.stdout
    rows = _rows(tmp_path / "t.csv")
    assert all(
        (float(r["confidence"]) < chosen.threshold) == (r["predicted_label"] == UNSURE) for r in rows.values()
    )
