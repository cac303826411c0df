"""What a training run reports while it works: immutable plain data, safe to hand across threads.

A caller who wants some of the events passes an :class:`EventHandlers` as ``on_event``: one handler per event
kind, looked up by the event's type in a table, instead of a chain of ``isinstance`` tests.
"""

from __future__ import annotations

from collections.abc import Callable
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
    #: Seconds left in the training phase, from the training steps' own rate (feature pass and pauses excluded);
    #: ``None`` until a rate is known.
    eta_seconds: float | None = None
    #: Epochs saved so far: what Stop keeps now (the current epoch's steps are lost).
    epochs_completed: int = 0
    phase: str = "training"


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
    #: A linear probe's epoch: the L2 strength C its cross-validation chose (``None`` for an epoch of steps).
    probe_c: float | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    run_dir: str
    status: str  # "completed", "stopped" or (Ctrl-C, see RunInterrupted) "interrupted"
    epochs_completed: int
    classes: tuple[str, ...]
    device: str
    metrics: dict
    #: True when the run ended before any epoch was saved and was therefore removed from the history (its
    #: computed features stay in the project's feature cache).
    removed: bool = False

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "run_dir": self.run_dir,
            "status": self.status,
            "epochs_completed": self.epochs_completed,
            "classes": list(self.classes),
            "device": self.device,
            "metrics": self.metrics,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class PhaseStarted:
    """An Auto run begins its ``phase``-th of ``phases`` phases (each an ordinary run with its own epochs)."""

    phase: int
    phases: int
    title: str  # what the phase trains, in plain words ("linear probe (frozen backbone)")


@dataclass(frozen=True)
class PreparationProgress:
    """Work before the first step: with a frozen backbone, computing every image's features once."""

    done: int  # images passed through the backbone so far (each view counts)
    total: int
    seconds: float  # since this preparation began
    #: Of ``done``, the views read from the project's feature cache instead of being computed.
    reused: int = 0
    #: Seconds left in the feature pass, from the rate of the views computed (not read) so far.
    eta_seconds: float | None = None
    #: Epochs saved so far (a continued run's earlier ones); what Stop keeps now, besides the cached features.
    epochs_completed: int = 0
    phase: str = "features"


@dataclass(frozen=True)
class RunNotice:
    """Something the user should know about the run that is not an error (fallbacks, early stop, …)."""

    message: str


@dataclass(frozen=True)
class FoldResult:
    """One fold's outcome (also emitted as an event when the fold ends)."""

    fold: int  # 1-based
    folds: int
    train_images: int
    test_images: int
    accuracy: float
    run_dir: str
    #: Mean recall over the classes held out in the fold (``None`` when its scores were not kept).
    balanced_accuracy: float | None = None
    #: The share of the fold's held-out items in its largest class: what always guessing that class scores.
    majority_rate: float | None = None
    #: How many classes the fold's held-out items belong to (0 when its scores were not kept).
    classes: int = 0


@dataclass(frozen=True)
class EventHandlers:
    """One handler per kind of event; called with an event, it runs the handler of that event's kind.

    Pass it wherever an ``on_event: Callable[[object], None]`` is taken (:func:`~dmtl_studio.core.training.run.
    train`, :func:`~dmtl_studio.core.training.crossval.cross_validate`). A kind left ``None`` is ignored, and so
    is an event of a kind this table does not know (a newer engine's), so that a caller only names what it
    shows. :meth:`dataclasses.replace` makes a variant (``replace(handlers, fold=print_fold)``).

    Attributes
    ----------
    step
        Gets each :class:`StepProgress` (one per training batch).
    preparation
        Gets each :class:`PreparationProgress` (the frozen backbone's feature pass).
    epoch
        Gets each :class:`EpochResult`.
    notice
        Gets each :class:`RunNotice`.
    fold
        Gets each :class:`FoldResult` (cross-validation only).
    phase
        Gets each :class:`PhaseStarted` (an Auto run only).
    """

    step: Callable[[StepProgress], None] | None = None
    preparation: Callable[[PreparationProgress], None] | None = None
    epoch: Callable[[EpochResult], None] | None = None
    notice: Callable[[RunNotice], None] | None = None
    fold: Callable[[FoldResult], None] | None = None
    phase: Callable[[PhaseStarted], None] | None = None

    def __call__(self, event: object) -> None:
        """Run the handler of ``event``'s kind, if there is one.

        Parameters
        ----------
        event
            One of the event dataclasses of this module; anything else is ignored.
        """
        kind = _HANDLER_OF.get(type(event))
        handler = getattr(self, kind) if kind is not None else None
        if handler is not None:
            handler(event)


#: Which handler of :class:`EventHandlers` each kind of event goes to.
_HANDLER_OF: dict[type, str] = {
    StepProgress: "step",
    PreparationProgress: "preparation",
    EpochResult: "epoch",
    RunNotice: "notice",
    FoldResult: "fold",
    PhaseStarted: "phase",
}


def stop_cost(event: StepProgress | PreparationProgress) -> str:
    """What pressing Stop now keeps and loses, in plain words (for a tooltip or a status line)."""
    if isinstance(event, PreparationProgress):
        kept = f"{event.done:,} feature views stay cached for the next run"
        if event.epochs_completed:
            return f"Stop keeps epoch {event.epochs_completed}; {kept}."
        return f"Stop saves no epoch yet; {kept}."
    lost = f"the {event.step} step(s) of epoch {event.epoch} are lost"
    if event.epochs_completed:
        return f"Stop keeps epoch {event.epochs_completed} (continue it later); {lost}."
    return f"Stop before the first epoch ends keeps no model; {lost}."
