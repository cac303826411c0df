"""A run is the same whatever the number of data loader workers, in every epoch (not only the first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EpochResult, StepProgress
from dmtl_studio.core.training.run import train


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workers")
    images = write_shapes_folder(root / "images", 4, unlabelled=0, seed=11, size=40)
    project = root / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.0, seed=0)  # no validation loader to start
    return project


def _losses(project: Path, workers: int) -> tuple[list[float], list[float]]:
    steps: list[float] = []
    epochs: list[float] = []

    def record(event: object) -> None:
        if isinstance(event, StepProgress):
            steps.append(event.loss)
        elif isinstance(event, EpochResult):
            epochs.append(event.train_loss)

    config = TrainConfig(
        transfer="full", epochs=2, batch_size=4, input_size=32, device="cpu", seed=5, num_workers=workers
    )
    summary = train(project, config, on_event=record)
    assert summary.status == "completed"
    return steps, epochs


def test_zero_and_two_workers_give_the_same_losses_over_two_epochs(tiny_project: Path) -> None:
    steps_0, epochs_0 = _losses(tiny_project, 0)
    steps_2, epochs_2 = _losses(tiny_project, 2)
    assert len(epochs_0) == 2 and len(steps_0) == len(steps_2)
    assert steps_2 == steps_0  # every step of both epochs, bit for bit
    assert epochs_2 == epochs_0
