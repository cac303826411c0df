"""Thumbnails (from the project's disk cache) and full-size views, decoded on a thread pool.

The newest request runs first: what the user scrolled to last is what they are looking at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.imaging import load_rgb_for_longer_side
from dmtl_studio.core.project.thumbcache import ThumbnailCache

VIEW_MAX_SIDE = 4096  # the large view never holds more pixels than a 4K screen can use


def array_to_qimage(array: np.ndarray) -> QImage:
    """An RGB uint8 array as a QImage that owns its pixels (safe to pass between threads)."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _Signals(QObject):
    # Each with the project generation it was asked in: work that ends after a switch is dropped.
    ready = Signal(int, int, QImage)
    failed = Signal(int, int, str)
    view_ready = Signal(int, int, QImage)
    view_failed = Signal(int, int, str)


class _ThumbnailJob(QRunnable):
    def __init__(
        self,
        image_id: int,
        path: str,
        sha256: str | None,
        cache: ThumbnailCache,
        signals: _Signals,
        generation: int,
    ):
        super().__init__()
        self.image_id, self.path, self.sha256, self.cache, self.signals = (
            image_id,
            path,
            sha256,
            cache,
            signals,
        )
        self.generation = generation

    def run(self) -> None:
        try:
            image = array_to_qimage(self.cache.get(self.path, self.sha256))
        except ImageProblem as exc:
            self.signals.failed.emit(self.generation, self.image_id, str(exc))
        else:
            self.signals.ready.emit(self.generation, self.image_id, image)


class _ViewJob(QRunnable):
    def __init__(self, image_id: int, path: str, signals: _Signals, generation: int) -> None:
        super().__init__()
        self.image_id, self.path, self.signals, self.generation = image_id, path, signals, generation

    def run(self) -> None:
        try:
            array = load_rgb_for_longer_side(self.path, VIEW_MAX_SIDE)
        except ImageProblem as exc:
            self.signals.view_failed.emit(self.generation, self.image_id, str(exc))
            return
        image = array_to_qimage(array)
        if max(image.width(), image.height()) > VIEW_MAX_SIDE:
            image = image.scaled(
                VIEW_MAX_SIDE,
                VIEW_MAX_SIDE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.signals.view_ready.emit(self.generation, self.image_id, image)


class ThumbnailService(QObject):
    """Decodes thumbnails and views on a thread pool; the newest request runs first."""

    ready = Signal(int, QImage)
    failed = Signal(int, str)
    view_ready = Signal(int, QImage)
    view_failed = Signal(int, str)

    def __init__(self, size: int = 128, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, min(4, QThread.idealThreadCount())))
        self._signals = _Signals(self)
        self._generation = 0  # one per project shown: ids name other images in another project
        # Bound slots of this object: delivered on its (the window's) thread, where the generation changes.
        self._signals.ready.connect(self._ready)
        self._signals.failed.connect(self._failed)
        self._signals.view_ready.connect(self._view_ready)
        self._signals.view_failed.connect(self._view_failed)
        self._priority = 0
        self._cache: ThumbnailCache | None = None

    @Slot(int, int, QImage)
    def _ready(self, generation: int, image_id: int, image: QImage) -> None:
        if generation == self._generation:  # asked for the project shown, not one shown before
            self.ready.emit(image_id, image)

    @Slot(int, int, str)
    def _failed(self, generation: int, image_id: int, reason: str) -> None:
        if generation == self._generation:
            self.failed.emit(image_id, reason)

    @Slot(int, int, QImage)
    def _view_ready(self, generation: int, image_id: int, image: QImage) -> None:
        if generation == self._generation:
            self.view_ready.emit(image_id, image)

    @Slot(int, int, str)
    def _view_failed(self, generation: int, image_id: int, reason: str) -> None:
        if generation == self._generation:
            self.view_failed.emit(image_id, reason)

    def set_project(self, project_dir: Path) -> None:
        """Thumbnails are cached inside this project from now on; queued work for the old one is dropped, and
        what running work for it still finds is never delivered."""
        self.pool.clear()
        self._generation += 1
        self._cache = ThumbnailCache(project_dir, self.size)

    def request(self, items: list[tuple[int, str, str | None]]) -> None:
        """Queue ``(image id, path, sha256)`` triples ahead of everything asked for before."""
        if self._cache is None:
            return
        self._priority += 1
        for image_id, path, sha256 in items:
            job = _ThumbnailJob(image_id, path, sha256, self._cache, self._signals, self._generation)
            self.pool.start(job, self._priority)

    def request_view(self, image_id: int, path: str) -> None:
        """Decode one image for the large view, before any queued thumbnail."""
        self._priority += 1
        self.pool.start(_ViewJob(image_id, path, self._signals, self._generation), self._priority + 1_000_000)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()
