"""What a training run reports while it works: immutable plain data, safe to hand across threads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StepProgress:
    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based within the epoch
    steps: int
    loss: float
    learning_rate: float
    images_per_second: float
    #: ``loss`` is the supervised loss; with the DMTL objective on, the (unweighted) consistency term too.
    consistency_loss: float | None = None


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    confusion: np.ndarray | None = field(default=None, compare=False)
    classes: tuple[str, ...] = ()
    #: ``train_loss`` is the supervised loss; with the DMTL objective on, the mean consistency term and the
    #: fraction of samples confident enough to count in it.
    consistency_loss: float | None = None
    consistency_mask: float | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    run_dir: str
    status: str  # "completed" or "stopped"
    epochs_completed: int
    classes: tuple[str, ...]
    device: str
    metrics: dict

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "run_dir": self.run_dir,
            "status": self.status,
            "epochs_completed": self.epochs_completed,
            "classes": list(self.classes),
            "device": self.device,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class PreparationProgress:
    """Work before the first step: with a frozen backbone, computing every image's features once."""

    done: int  # images passed through the backbone so far (each view counts)
    total: int
    seconds: float  # since this preparation began


@dataclass(frozen=True)
class RunNotice:
    """Something the user should know about the run that is not an error (fallbacks, early stop, …)."""

    message: str
