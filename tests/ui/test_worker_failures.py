"""A worker's failure reaches the window as one line; the log keeps a traceback only for a bug."""

from __future__ import annotations

import logging

import pytest

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.workers.registry import CoreThread


class _Failing(CoreThread):
    what = "the export"

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def work(self) -> object:
        raise self.error


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
