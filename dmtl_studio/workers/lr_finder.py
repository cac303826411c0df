"""Learning-rate finder thread: a thin adapter over :func:`dmtl_studio.core.lr_finder.find_learning_rate`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from dmtl_studio.core.config import TrainConfig
from dmtl_studio.workers.registry import LIVE_THREADS, PROGRESS_INTERVAL_S

log = logging.getLogger(__name__)


class LRFinderThread(QThread):
    """Runs a learning-rate range test off the GUI thread; Stop is ``requestInterruption()``."""

    progress = Signal(int, int)  # steps done, steps planned (throttled)
    curve = Signal(object, object)  # the rates and smoothed losses measured so far (tuples), with progress
    result_ready = Signal(object)  # LRFinderResult: tuples of floats and the suggestion
    failed = Signal(str)

    def __init__(self, project_dir: Path, config: TrainConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.config = config
        self._last_progress = 0.0
        self._rates: list[float] = []
        self._losses: list[float] = []
        LIVE_THREADS.add(self)

    def _on_point(self, rate: float, loss: float) -> None:
        self._rates.append(rate)
        self._losses.append(loss)

    def _on_progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.progress.emit(done, total)
            self.curve.emit(tuple(self._rates), tuple(self._losses))

    def run(self) -> None:
        from dmtl_studio.core.cancel import Cancelled
        from dmtl_studio.core.lr_finder import find_learning_rate

        try:
            result = find_learning_rate(
                self.project_dir,
                self.config,
                on_progress=self._on_progress,
                should_stop=self.isInterruptionRequested,
                on_point=self._on_point,
            )
        except Cancelled:
            self.failed.emit("The learning-rate search was stopped.")
        except Exception as exc:  # every failure reaches the window as a message
            log.exception("learning-rate finder failed")
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.result_ready.emit(result)
