"""What every worker shares: the registry of live threads, the progress signal rate, and the thread that runs
one core function."""

from __future__ import annotations

import logging
import time
import weakref

from PySide6.QtCore import QObject, QThread, Signal

from dmtl_studio.core.base.errors import failure_line, is_user_error

log = logging.getLogger(__name__)


def log_failure(exc: BaseException, what: str) -> None:
    """Log a worker's failure: a refusal the window shows in words (a user error: a file that cannot be read,
    an export that would overwrite) as one line, anything else with its traceback (a bug)."""
    if is_user_error(exc):
        log.warning("%s refused: %s", what, exc)
    else:
        log.exception("%s failed", what)


#: Every thread the workers started and that may still run; tests check that none is left running.
LIVE_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second


class ProgressThrottle:
    """Lets progress reports through at most ~20 times a second, and always the last one of a stretch."""

    def __init__(self) -> None:
        self._last = 0.0

    def due(self, last: bool) -> bool:
        now = time.monotonic()
        if not last and now - self._last < PROGRESS_INTERVAL_S:
            return False
        self._last = now
        return True


class CoreThread(QThread):
    """Runs :meth:`work` (one core function) off the GUI thread; its return value goes to ``result_ready``.

    Stop is ``requestInterruption()``, polled by core as ``should_stop``; a stopped task reports
    ``stopped_message`` through ``failed``, and any other failure its message.
    """

    progress = Signal(int, int)  # done, total (throttled)
    result_ready = Signal(object)
    failed = Signal(str)
    what = "the task"
    stopped_message = ""  # default: "<What> was stopped."

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._progress_due = ProgressThrottle().due
        LIVE_THREADS.add(self)

    def _on_progress(self, done: int, total: int) -> None:
        if self._progress_due(done == total):
            self.progress.emit(done, total)

    def work(self) -> object:
        raise NotImplementedError

    def run(self) -> None:
        from dmtl_studio.core.base.cancel import Cancelled

        try:
            result = self.work()
        except Cancelled:
            self.failed.emit(self.stopped_message or f"{self.what.capitalize()} was stopped.")
        except Exception as exc:  # every failure reaches the window as a message
            log_failure(exc, self.what)
            self.failed.emit(failure_line(exc, self.what))
        else:
            self.result_ready.emit(result)
