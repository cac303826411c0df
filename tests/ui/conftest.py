from __future__ import annotations

from collections.abc import Iterator

import pytest

from dmtl_studio import workers


@pytest.fixture(autouse=True)
def _no_dangling_threads() -> Iterator[None]:
    """Fail any test that leaves one of the product's threads running."""
    yield
    running = [thread for thread in list(workers.LIVE_THREADS) if thread.isRunning()]
    for thread in running:
        thread.requestInterruption()
        thread.wait(30_000)
    assert not running, f"{len(running)} thread(s) were left running"
