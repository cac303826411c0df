"""What the training loop hands its callbacks after a batch and after an epoch (see
:mod:`dmtl_studio.core.training.engine`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dmtl_studio.core.training.out_of_fold import HeldOutLogits


@dataclass(frozen=True)
class BatchOutput:
    """What a training step did; given to :meth:`Callback.on_batch_end`."""

    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based within the epoch
    steps: int
    loss: float  # the whole objective that was minimised
    supervised_loss: float
    learning_rate: float  # the head's
    consistency_loss: float | None
    seen: int  # images of this epoch so far
    epoch_seconds: float  # since the epoch began (the feature pass included)
    fetched_at: float  # time.perf_counter() when the batch arrived from the loader
    #: "training", or "probe" when the step is one L2 strength of a linear-probe fit (``learning_rate`` is then
    #: that strength C and the losses its held-out log-loss).
    phase: str = "training"


@dataclass(frozen=True)
class EpochOutput:
    """An epoch's scores; given to :meth:`Callback.on_epoch_end` after validation."""

    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    confusion: np.ndarray | None = field(default=None, compare=False)
    val_scores: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, compare=False)
    consistency_loss: float | None = None
    consistency_mask: float | None = None
    #: A linear probe's epoch: the L2 strength C its cross-validation chose (``None`` for an epoch of steps).
    probe_c: float | None = None
    #: A linear probe's out-of-fold logits of the validation items that joined its fit (what calibrates it then).
    held_out: HeldOutLogits | None = field(default=None, compare=False)

    def metrics(self) -> dict:
        """The epoch as stored with a run and a checkpoint."""
        metrics = {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
        }
        if self.consistency_loss is not None:
            metrics["consistency_loss"] = self.consistency_loss
            metrics["consistency_mask"] = self.consistency_mask
        if self.probe_c is not None:
            metrics["probe_c"] = self.probe_c
        if self.held_out is not None and len(self.held_out.targets):
            # The joined validation items scored by the fold models that left them out: a probe run's figure to
            # compare runs by (its own validation accuracy is None: those items joined the fit).
            hits = self.held_out.logits.argmax(1) == self.held_out.targets
            metrics["out_of_fold_accuracy"] = float(hits.mean())
        return metrics
