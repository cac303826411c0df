"""Qt thread adapters over core: they call core functions and turn callbacks into signals, nothing more.

Stop is ``requestInterruption()`` (polled by core as ``should_stop``), never ``terminate()``. Exceptions go to
a ``failed`` signal. What crosses threads is immutable plain data from :mod:`dmtl_studio.core.training.events`.
"""

from dmtl_studio.workers.registry import LIVE_THREADS
from dmtl_studio.workers.thumbnails import ThumbnailService
from dmtl_studio.workers.training import ImportThread, TrainingThread

__all__ = ["LIVE_THREADS", "ImportThread", "ThumbnailService", "TrainingThread"]
