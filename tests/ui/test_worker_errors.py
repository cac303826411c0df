"""A worker's failure reaches the window as one plain sentence; a bug's traceback goes to a named log file."""

from __future__ import annotations

import errno
import re
from pathlib import Path

from dmtl_studio.workers.registry import CoreThread


class _Failing(CoreThread):
    what = "the test task"

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def work(self) -> object:
        raise self.error


def _failure(qtbot, error: Exception) -> str:  # noqa: ANN001
    thread = _Failing(error)
    with qtbot.waitSignal(thread.failed, timeout=10_000) as blocker:
        thread.start()
    thread.wait(5_000)
    return blocker.args[0]


def test_a_full_disk_is_said_in_plain_words(qtbot) -> None:  # noqa: ANN001
    message = _failure(qtbot, OSError(errno.ENOSPC, "No space left on device", "/data/project/runs/x"))
    assert message == "/data/project/runs/x: the disk is full"


def test_an_unexpected_error_names_its_log_file(qtbot) -> None:  # noqa: ANN001
    message = _failure(qtbot, IndexError("list index out of range"))
    assert message.startswith("unexpected error (IndexError: list index out of range); details in ")
    log = Path(re.sub(r"^.*details in ", "", message))
    assert log.is_file() and "Traceback" in log.read_text() and "the test task" in log.read_text()
