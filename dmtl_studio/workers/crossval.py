"""Cross-validation thread: a thin adapter over :func:`dmtl_studio.core.training.crossval.cross_validate`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EventHandlers, FoldResult, StepProgress
from dmtl_studio.workers.registry import CoreThread


class CrossValidationThread(CoreThread):
    """Trains one run per fold off the GUI thread; Cancel is ``requestInterruption()``.

    ``result_ready`` gets ``CrossValidation.to_dict()``: plain data.
    """

    progress = Signal(int, int, str)  # steps done, steps planned (all folds), a caption (throttled)
    what = "cross-validation"
    stopped_message = "Cross-validation was cancelled."

    def __init__(
        self, project_dir: Path, config: TrainConfig, folds: int, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.config = config
        self.folds = folds
        self._fold = 1
        self._on_event = EventHandlers(step=self._on_step, fold=self._on_fold)

    def _on_fold(self, event: FoldResult) -> None:
        self._fold = event.fold + 1

    def _on_step(self, event: StepProgress) -> None:
        if not self._progress_due(False):
            return
        per_fold = event.epochs * event.steps
        done = (self._fold - 1) * per_fold + (event.epoch - 1) * event.steps + event.step
        self.progress.emit(
            done,
            self.folds * per_fold,
            f"fold {self._fold}/{self.folds} · epoch {event.epoch}/{event.epochs}",
        )

    def work(self) -> object:
        from dmtl_studio.core.training.crossval import cross_validate

        return cross_validate(
            self.project_dir,
            self.config,
            self.folds,
            on_event=self._on_event,
            should_stop=self.isInterruptionRequested,
        ).to_dict()
