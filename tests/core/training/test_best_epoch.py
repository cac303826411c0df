"""Which epoch a run keeps: the highest validation accuracy, and on a tie the lower validation loss (h28: two
epochs at 96.3 % kept the half-trained first, validation loss 0.523, over the second's 0.386)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME
from dmtl_studio.core.training.callbacks import Checkpointing
from dmtl_studio.core.training.outputs import EpochOutput


def _kept_epoch(tmp_path: Path, epochs: list[tuple[float | None, float | None, float]]) -> int:
    """The epoch Checkpointing keeps of ``(val accuracy, val loss, train accuracy)`` per epoch."""
    checkpointing = Checkpointing(
        tmp_path, lambda metrics, calibration, model: {WEIGHTS_NAME: b"w", SIDECAR_NAME: b"{}"}
    )
    trainer = SimpleNamespace(averaged=None, notify=lambda event: None, state_dict=dict, saved_epoch=0)
    for number, (accuracy, loss, train_accuracy) in enumerate(epochs, 1):
        output = EpochOutput(
            number,
            len(epochs),
            1.0,
            train_accuracy,
            loss,
            accuracy,
            1e-3,
            val_scores=[(np.zeros((0, 2)), np.zeros(0))],
        )
        checkpointing.on_epoch_end(trainer, output)
    return checkpointing.best_metrics["epoch"]


def test_a_tie_in_validation_accuracy_keeps_the_epoch_of_lower_validation_loss(tmp_path: Path) -> None:
    assert _kept_epoch(tmp_path, [(0.963, 0.523, 0.62), (0.963, 0.386, 0.96)]) == 2
    assert _kept_epoch(tmp_path, [(0.963, 0.386, 0.62), (0.963, 0.523, 0.96)]) == 1  # a worse loss: not kept
    assert _kept_epoch(tmp_path, [(0.9, 0.3, 0.5), (0.95, 0.6, 0.7), (0.9, 0.1, 0.9)]) == 2  # accuracy first
    assert _kept_epoch(tmp_path, [(0.9, 0.5, 0.5), (0.9, 0.5, 0.9)]) == 1  # an exact tie: the earlier one


def test_without_validation_items_training_accuracy_decides_alone(tmp_path: Path) -> None:
    assert _kept_epoch(tmp_path, [(None, None, 0.8), (None, None, 0.8), (None, None, 0.7)]) == 1
