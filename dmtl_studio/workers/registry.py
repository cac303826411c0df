"""What every worker shares: the registry of live threads and the progress signal rate."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QThread

#: Every thread the workers started and that may still run; tests check that none is left running.
LIVE_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second
