"""Learning-rate finder thread: a thin adapter over :func:`dmtl_studio.core.training.lr_finder.find_learning_rate`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.workers.registry import CoreThread


class LRFinderThread(CoreThread):
    """Runs a learning-rate range test off the GUI thread; Stop is ``requestInterruption()``.

    ``progress`` is steps done of steps planned; ``result_ready`` gets the :class:`LRFinderResult`.
    """

    curve = Signal(object, object)  # the rates and smoothed losses measured so far (tuples), with progress
    preparing = Signal(
        int, int, float
    )  # the feature pass before the first step: views done, planned, seconds
    what = "the learning-rate search"

    def __init__(self, project_dir: Path, config: TrainConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.config = config
        self._rates: list[float] = []
        self._losses: list[float] = []

    def _on_point(self, rate: float, loss: float) -> None:
        self._rates.append(rate)
        self._losses.append(loss)

    def _on_progress(self, done: int, total: int) -> None:
        if self._progress_due(done == total):
            self.progress.emit(done, total)
            self.curve.emit(tuple(self._rates), tuple(self._losses))

    def _on_preparing(self, done: int, total: int, seconds: float) -> None:
        if self._progress_due(done >= total):
            self.preparing.emit(done, total, seconds)

    def work(self) -> object:
        from dmtl_studio.core.training.lr_finder import find_learning_rate

        return find_learning_rate(
            self.project_dir,
            self.config,
            on_progress=self._on_progress,
            should_stop=self.isInterruptionRequested,
            on_point=self._on_point,
            on_preparing=self._on_preparing,
        )
