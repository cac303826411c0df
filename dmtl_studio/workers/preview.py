"""Augmentation previews on a thread pool: the newest request wins, older ones are dropped.

A thin adapter over :func:`dmtl_studio.core.augment.preview.render_preview` (images) and
:func:`dmtl_studio.core.augment.text_preview.render_text_preview` (texts); decoded images are kept in a small
cache so that moving a slider only re-runs the recipe.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from dmtl_studio.core.augment.preview import PreviewRequest, render_preview
from dmtl_studio.core.augment.resize import DEFAULT_RESIZE, fit_square
from dmtl_studio.core.augment.text_preview import TextPreviewRequest, render_text_preview
from dmtl_studio.core.models.preprocess import decode_to_fit
from dmtl_studio.core.project.imaging import thumbnail
from dmtl_studio.core.project.pixel_decoding import BACKGROUND_RGB

log = logging.getLogger(__name__)

CACHE_IMAGES = 32


class _PreviewSignals(QObject):
    ready = Signal(object)  # PreviewResult
    failed = Signal(int, str)


class _PreviewJob(QRunnable):
    def __init__(self, service: PreviewService, request: PreviewRequest | TextPreviewRequest) -> None:
        super().__init__()
        self.service, self.request = service, request

    def run(self) -> None:
        if not self.service.is_latest(self.request.request_id):
            return  # a newer request came in while this one waited
        try:
            if isinstance(self.request, TextPreviewRequest):
                result = render_text_preview(self.request)
            else:
                mode = self.request.resize_mode
                result = render_preview(
                    self.request,
                    lambda path, size: self.service.load(path, size, mode),
                    self.service.load_whole,
                )
        except Exception as exc:  # an unreadable image, a bad recipe, no WordNet: a message for the editor
            log.debug("preview failed", exc_info=True)
            self.service.signals.failed.emit(self.request.request_id, str(exc) or type(exc).__name__)
            return
        if self.service.is_latest(self.request.request_id):
            self.service.signals.ready.emit(result)


class PreviewService(QObject):
    """Runs preview requests one at a time on its own pool; only the newest request's result is emitted."""

    ready = Signal(object)  # PreviewResult
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        # One thread: previews are short, and a second thread would only compute results that are dropped.
        self.pool.setMaxThreadCount(1)
        self.signals = _PreviewSignals(self)
        self.signals.ready.connect(self.ready)
        self.signals.failed.connect(self.failed)
        self._latest = -1
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()

    def is_latest(self, request_id: int) -> bool:
        """Whether ``request_id`` is still the newest request (read from the pool's thread too)."""
        return request_id == self._latest

    def request(self, request: object) -> None:
        """Queue a :class:`PreviewRequest` or :class:`TextPreviewRequest`, dropping any request still waiting."""
        assert isinstance(request, (PreviewRequest, TextPreviewRequest))
        self._latest = request.request_id
        self.pool.clear()
        self.pool.start(_PreviewJob(self, request))

    def load(self, path: str, size: int, mode: str = DEFAULT_RESIZE) -> np.ndarray:
        """The image at ``path`` fitted into ``size x size`` as training fits it, by the resize ``mode`` (cached)."""
        # Bicubic, as the bundled backbones resize their inputs (shrinking uses area averaging either way).
        return self._cached(
            (path, size, mode),
            lambda: fit_square(decode_to_fit(path, size, mode), size, "bicubic", mode, BACKGROUND_RGB),
        )

    def load_whole(self, path: str, size: int) -> np.ndarray:
        """The whole image at ``path``, aspect ratio kept, at most ``size`` pixels (cached)."""
        return self._cached((path, size, "whole"), lambda: thumbnail(path, size))

    def _cached(self, key: tuple[str, int, str], make: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        image = make()
        with self._lock:
            self._cache[key] = image
            while len(self._cache) > CACHE_IMAGES:
                self._cache.popitem(last=False)
        return image

    def shutdown(self) -> None:
        """Drop waiting requests and wait for the running one (called when the window closes)."""
        self._latest = -1
        self.pool.clear()
        self.pool.waitForDone()
