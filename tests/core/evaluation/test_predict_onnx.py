"""``predict RUN_DIR`` on the CPU runs the run's model in onnxruntime from the product's cache: the same labels as
PyTorch, one export per weights, new weights never meet an old export, and a cached run needs no PyTorch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.evaluation import export
from dmtl_studio.core.evaluation.exported_model import run_onnx_cache_path
from dmtl_studio.core.evaluation.predict import predict_folder
from dmtl_studio.core.models.checkpoint import (
    SIDECAR_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    checkpoint_files,
    load_checkpoint,
)
from dmtl_studio.core.project.demo import write_shapes_folder
from tests.core.trained_run import trained_project

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counted = {"n": 0}
    real = export.export_run

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        counted["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "export_run", counting)
    return counted


def _by_path(summary: object) -> dict[str, tuple[str, tuple[float, ...]]]:
    return {p.path: (p.label, p.probabilities) for p in summary.predictions}


def test_onnx_prediction_gives_the_pytorch_labels_and_exports_once(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, exports: dict[str, int]
) -> None:
    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 8, unlabelled=8, seed=11, size=80)
    in_pytorch = _by_path(
        predict_folder(run_dir, images, tmp_path / "torch.csv", loaded=load_checkpoint(run_dir))
    )
    in_onnx = _by_path(predict_folder(run_dir, images, tmp_path / "onnx.csv"))
    assert exports["n"] == 1 and run_onnx_cache_path(run_dir).is_file()
    assert len(in_onnx) == 32 and in_onnx.keys() == in_pytorch.keys()
    assert {p: v[0] for p, v in in_onnx.items()} == {p: v[0] for p, v in in_pytorch.items()}
    for path, (_, probabilities) in in_onnx.items():
        np.testing.assert_allclose(probabilities, in_pytorch[path][1], atol=1e-4)
    again = _by_path(predict_folder(run_dir, images, tmp_path / "again.csv"))
    assert exports["n"] == 1 and again == in_onnx  # the cached model, not a second export


def test_changed_weights_get_their_own_export_and_replaced_ones_are_refused(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, exports: dict[str, int]
) -> None:
    _project, trained = trained_project(tmp_path_factory)
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    images = write_shapes_folder(tmp_path / "images", 4, seed=12, size=64)
    predict_folder(run_dir, images, tmp_path / "before.csv")
    before = run_onnx_cache_path(run_dir)

    loaded = load_checkpoint(run_dir)
    with torch.no_grad():
        loaded.model.head[-1].bias.copy_(
            torch.tensor([0.0, 0.0, 50.0])
        )  # every image becomes the third class
    sidecar = json.loads((run_dir / SIDECAR_NAME).read_text())
    files = checkpoint_files(
        loaded.model,
        spec=loaded.spec,
        preprocessing=loaded.preprocessing,
        classes=loaded.classes,
        config=sidecar["config"],
        augmentation=sidecar["augmentation"],
        metrics=sidecar["metrics"],
        calibration=sidecar.get("calibration"),
    )
    for name, data in files.items():
        (run_dir / name).write_bytes(data)
    summary = predict_folder(run_dir, images, tmp_path / "after.csv")
    assert run_onnx_cache_path(run_dir) != before and exports["n"] == 2
    assert {p.label for p in summary.predictions} == {loaded.classes[2]}

    (run_dir / WEIGHTS_NAME).write_bytes((trained / WEIGHTS_NAME).read_bytes())  # the sidecar names others
    with pytest.raises(CheckpointError, match="does not match its sidecar"):
        predict_folder(run_dir, images, tmp_path / "replaced.csv")


def test_a_cached_run_predicts_without_importing_pytorch(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 2, seed=13, size=64)
    predict_folder(run_dir, images, tmp_path / "first.csv")  # exports into this test's cache folder
    script = (
        "import sys\nfrom dmtl_studio import cli\n"
        f"code = cli.main(['predict', {str(run_dir)!r}, {str(images)!r}, '--out', {str(tmp_path / 'p.csv')!r}])\n"
        "print(code, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "0 False"
    assert (tmp_path / "p.csv").read_text() == (tmp_path / "first.csv").read_text()
