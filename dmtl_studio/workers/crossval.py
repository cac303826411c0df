"""Cross-validation thread: a thin adapter over :func:`dmtl_studio.core.crossval.cross_validate`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from dmtl_studio.core.config import TrainConfig
from dmtl_studio.workers.registry import LIVE_THREADS, PROGRESS_INTERVAL_S

log = logging.getLogger(__name__)


class CrossValidationThread(QThread):
    """Trains one run per fold off the GUI thread; Cancel is ``requestInterruption()``."""

    progress = Signal(int, int, str)  # steps done, steps planned (all folds), a caption (throttled)
    result_ready = Signal(object)  # CrossValidation.to_dict(): plain data
    failed = Signal(str)

    def __init__(
        self, project_dir: Path, config: TrainConfig, folds: int, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.config = config
        self.folds = folds
        self._fold = 1
        self._last_progress = 0.0
        LIVE_THREADS.add(self)

    def _on_event(self, event: object) -> None:
        from dmtl_studio.core.crossval import FoldResult
        from dmtl_studio.core.events import StepProgress

        if isinstance(event, FoldResult):
            self._fold = event.fold + 1
            return
        if not isinstance(event, StepProgress):
            return
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        per_fold = event.epochs * event.steps
        done = (self._fold - 1) * per_fold + (event.epoch - 1) * event.steps + event.step
        self.progress.emit(
            done,
            self.folds * per_fold,
            f"fold {self._fold}/{self.folds} · epoch {event.epoch}/{event.epochs}",
        )

    def run(self) -> None:
        from dmtl_studio.core.cancel import Cancelled
        from dmtl_studio.core.crossval import cross_validate

        try:
            result = cross_validate(
                self.project_dir,
                self.config,
                self.folds,
                on_event=self._on_event,
                should_stop=self.isInterruptionRequested,
            )
        except Cancelled:
            self.failed.emit("Cross-validation was cancelled.")
        except Exception as exc:  # every failure reaches the window as a message
            log.exception("cross-validation failed")
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.result_ready.emit(result.to_dict())
