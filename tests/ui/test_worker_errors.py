"""A worker's failure reaches the window as one plain sentence; a bug's traceback goes to a named log file."""

from __future__ import annotations

import errno
import logging
import re
from pathlib import Path

import pytest

from dmtl_studio.core.project.errors import ProjectError
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


@pytest.mark.parametrize(
    ("error", "traceback"),
    [(ProjectError("out.onnx exists and is not an empty folder"), False), (ZeroDivisionError("boom"), True)],
)
def test_a_refusal_is_logged_in_one_line_and_a_bug_with_its_traceback(
    qtbot,
    caplog,
    error: Exception,
    traceback: bool,  # noqa: ANN001
) -> None:
    thread = _Failing(error)
    thread.what = "the export"
    messages: list[str] = []
    thread.failed.connect(messages.append)
    with (
        caplog.at_level(logging.WARNING, logger="dmtl_studio.workers.registry"),
        qtbot.waitSignal(thread.finished, timeout=10_000),
    ):
        thread.start()
    qtbot.waitUntil(lambda: bool(messages), timeout=5_000)
    [record] = [r for r in caplog.records if r.name == "dmtl_studio.workers.registry"]
    assert (record.exc_info is not None) == traceback
    assert messages[0].startswith("out.onnx exists") if not traceback else "unexpected error" in messages[0]
