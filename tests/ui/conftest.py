from __future__ import annotations

from collections.abc import Iterator

import pytest
import shiboken6

from dmtl_studio import workers


@pytest.fixture
def text_studio(qtbot, tmp_path_factory):  # noqa: ANN001, ANN201
    """The window on a copy of the shared trained text project, its evaluation view in front with the run listed;
    ``(window, controller, project, run_dir)``."""
    from dmtl_studio.app import build_window
    from tests.core.text_run import copy_text_project

    project, run_dir = copy_text_project(tmp_path_factory)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    window.evaluation_dock.raise_()
    qtbot.waitUntil(lambda: window.evaluation.run_choice.count() == 1, timeout=5_000)
    yield window, controller, project, run_dir
    controller.shutdown()


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


@pytest.fixture
def small_backbone_config(monkeypatch):  # noqa: ANN001, ANN201
    """The Backbone panel's configuration at the tests' small input size on the CPU (feature passes in seconds)."""
    from dmtl_studio.ui.model_panel import ModelPanel
    from tests.conftest import TEST_INPUT_SIZE

    original = ModelPanel.config
    monkeypatch.setattr(
        ModelPanel,
        "config",
        lambda self: original(self).with_changes(input_size=TEST_INPUT_SIZE, device="cpu"),
    )
