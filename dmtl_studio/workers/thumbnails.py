"""Thumbnails decoded on a thread pool, newest request first."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal
from PySide6.QtGui import QImage

from dmtl_studio.core.imaging import ImageProblem, thumbnail


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
