"""The dataset map's thread: it delivers the map, and a stop ends it cleanly."""

from __future__ import annotations

import pytest

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.workers.dataset_map import DatasetMapThread
from tests.core.trained_run import INPUT_SIZE, trained_project


def test_the_thread_delivers_the_map_and_ends(qtbot, tmp_path_factory: pytest.TempPathFactory) -> None:  # noqa: ANN001
    project_dir, _ = trained_project(tmp_path_factory)
    thread = DatasetMapThread(project_dir, TrainConfig(input_size=INPUT_SIZE, device="cpu"))
    with qtbot.waitSignal(thread.result_ready, timeout=120_000) as signal:
        thread.start()
    assert thread.wait(30_000) and signal.args[0].points.shape[1] == 2


def test_a_stopped_thread_says_so_and_ends(qtbot, tmp_path_factory: pytest.TempPathFactory) -> None:  # noqa: ANN001
    project_dir, _ = trained_project(tmp_path_factory)
    thread = DatasetMapThread(project_dir, TrainConfig(input_size=INPUT_SIZE, device="cpu"))
    thread.requestInterruption()  # asked before the first batch: core stops at its first check
    with qtbot.waitSignal(thread.failed, timeout=120_000) as signal:
        thread.start()
        thread.requestInterruption()
    assert thread.wait(30_000) and "stopped" in signal.args[0]
