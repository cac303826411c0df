from __future__ import annotations

from collections.abc import Iterator

import pytest
import shiboken6

from dmtl_studio import workers


@pytest.fixture(autouse=True)
def _no_dangling_threads() -> Iterator[None]:
    """Fail any test that leaves one of the product's threads running."""
    yield
    # A thread whose C++ object Qt already deleted (with its parent window) is not running: Qt aborts the
    # process when a running QThread is destroyed, so only live objects need asking.
    running = [
        thread for thread in list(workers.LIVE_THREADS) if shiboken6.isValid(thread) and thread.isRunning()
    ]
    for thread in running:
        thread.requestInterruption()
        thread.wait(30_000)
    assert not running, f"{len(running)} thread(s) were left running"
