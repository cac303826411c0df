"""One small trained run shared by the evaluation, export, suggestion and report tests (trained once)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train

INPUT_SIZE = 64
_CACHE: dict[str, tuple[Path, Path]] = {}


def trained_project(factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(project, run_dir)``: 3 shape classes x 12 images, 6 unlabelled, no test split, 2 frozen epochs."""
    if "run" not in _CACHE:
        root = factory.mktemp("trained")
        images = write_shapes_folder(root / "images", 12, unlabelled=6, seed=7, size=64)
        project = root / "project"
        with ProjectStore.create(project) as store:
            import_folder(store, images, val_fraction=0.25, test_fraction=0.0, seed=0)
        config = TrainConfig(
            epochs=3, batch_size=12, learning_rate=3e-3, input_size=INPUT_SIZE, device="cpu", feature_views=1
        )
        summary = train(project, config)
        _CACHE["run"] = (project, Path(summary.run_dir))
    return _CACHE["run"]


def copy_project(factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A private copy of the trained project (for tests that change labels or splits)."""
    project, run_dir = trained_project(factory)
    target = factory.mktemp("copy") / "project"
    shutil.copytree(project, target)
    return target, target / "runs" / run_dir.name
