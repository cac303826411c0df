"""Qt thread adapters over core: they call core functions and turn callbacks into signals, nothing more.

Stop is ``requestInterruption()`` (polled by core as ``should_stop``), never ``terminate()``. Exceptions go to
a ``failed`` signal. What crosses threads is immutable plain data from :mod:`dmtl_studio.core.events`.
"""

from __future__ import annotations

import logging
import time
import weakref
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal
from PySide6.QtGui import QImage

from dmtl_studio.core.config import TrainConfig
from dmtl_studio.core.events import StepProgress
from dmtl_studio.core.imaging import ImageProblem, thumbnail

log = logging.getLogger(__name__)

#: Every thread this module started and that may still run; tests check that none is left running.
LIVE_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second


class TrainingThread(QThread):
    """Runs :func:`dmtl_studio.core.training.train` off the GUI thread."""

    progress = Signal(object)  # StepProgress, throttled
    epoch_finished = Signal(object)  # EpochResult
    run_finished = Signal(object)  # RunSummary
    failed = Signal(str)

    def __init__(self, project_dir: Path, config: TrainConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.config = config
        self._last_progress = 0.0
        LIVE_THREADS.add(self)

    def _on_event(self, event: object) -> None:
        if isinstance(event, StepProgress):
            now = time.monotonic()
            if event.step < event.steps and now - self._last_progress < PROGRESS_INTERVAL_S:
                return
            self._last_progress = now
            self.progress.emit(event)
        else:
            self.epoch_finished.emit(event)

    def run(self) -> None:
        from dmtl_studio.core.training import train

        try:
            summary = train(self.project_dir, self.config, self._on_event, self.isInterruptionRequested)
        except Exception as exc:  # every failure reaches the window as a message
            log.exception("training failed")
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.run_finished.emit(summary)


class ImportThread(QThread):
    """Runs :func:`dmtl_studio.core.importer.import_folder` off the GUI thread."""

    progress = Signal(int, int, str)
    done = Signal(object)  # ImportSummary
    failed = Signal(str)

    def __init__(self, project_dir: Path, images_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.images_dir = Path(images_dir)
        self._last_progress = 0.0
        LIVE_THREADS.add(self)

    def _on_progress(self, done: int, total: int, name: str) -> None:
        now = time.monotonic()
        if done == total or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.progress.emit(done, total, name)

    def run(self) -> None:
        from dmtl_studio.core.importer import import_folder
        from dmtl_studio.core.store import ProjectStore

        try:
            with ProjectStore.open(self.project_dir) as store:
                summary = import_folder(
                    store, self.images_dir, progress=self._on_progress, should_stop=self.isInterruptionRequested
                )
        except Exception as exc:
            log.exception("import failed")
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.done.emit(summary)


def array_to_qimage(array: np.ndarray) -> QImage:
    """An RGB uint8 array as a QImage that owns its pixels (safe to pass between threads)."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _ThumbnailSignals(QObject):
    ready = Signal(int, QImage)
    failed = Signal(int, str)


class _ThumbnailJob(QRunnable):
    def __init__(self, image_id: int, path: str, size: int, signals: _ThumbnailSignals) -> None:
        super().__init__()
        self.image_id, self.path, self.size, self.signals = image_id, path, size, signals

    def run(self) -> None:
        try:
            image = array_to_qimage(thumbnail(self.path, self.size))
        except ImageProblem as exc:
            self.signals.failed.emit(self.image_id, str(exc))
        else:
            self.signals.ready.emit(self.image_id, image)


class ThumbnailService(QObject):
    """Decodes thumbnails on a thread pool; the newest request runs first."""

    ready = Signal(int, QImage)
    failed = Signal(int, str)

    def __init__(self, size: int = 128, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, min(4, QThread.idealThreadCount())))
        self._signals = _ThumbnailSignals(self)
        self._signals.ready.connect(self.ready)
        self._signals.failed.connect(self.failed)
        self._priority = 0

    def request(self, items: list[tuple[int, str]]) -> None:
        """Queue ``(image id, path)`` pairs ahead of everything asked for before."""
        self._priority += 1
        for image_id, path in items:
            self.pool.start(_ThumbnailJob(image_id, path, self.size, self._signals), self._priority)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()
