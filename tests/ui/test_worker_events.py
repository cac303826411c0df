"""The workers route each engine event to its own signal through one handler per event kind."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import (
    EpochResult,
    FoldResult,
    PreparationProgress,
    RunNotice,
    StepProgress,
)
from dmtl_studio.workers.crossval import CrossValidationThread
from dmtl_studio.workers.registry import LIVE_THREADS
from dmtl_studio.workers.training import TrainingThread


def test_the_training_thread_emits_each_event_on_its_own_signal(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    thread = TrainingThread(tmp_path, TrainConfig())
    got: dict[str, list[object]] = {"progress": [], "preparing": [], "epoch": [], "notice": []}
    thread.progress.connect(got["progress"].append)
    thread.preparing.connect(got["preparing"].append)
    thread.epoch_finished.connect(got["epoch"].append)
    thread.notice.connect(got["notice"].append)
    step = StepProgress(1, 1, 3, 3, 0.5, 1e-3, 10.0)  # the last step: never throttled away
    preparing = PreparationProgress(done=4, total=4, seconds=1.0)
    epoch = EpochResult(1, 1, 0.5, 0.8, None, None, 1e-3)
    for event in (step, preparing, epoch, RunNotice("fell back to the CPU"), FoldResult(1, 2, 1, 1, 1.0, "")):
        thread._on_event(event)  # noqa: SLF001 - what the engine calls
    assert got == {
        "progress": [step],
        "preparing": [preparing],
        "epoch": [epoch],
        "notice": ["fell back to the CPU"],
    }
    LIVE_THREADS.discard(thread)


def test_the_cross_validation_thread_counts_steps_over_the_folds(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    thread = CrossValidationThread(tmp_path, TrainConfig(), folds=2)
    progress: list[tuple[int, int, str]] = []
    thread.progress.connect(lambda *args: progress.append(args))
    thread._progress_due = lambda final: True  # noqa: SLF001 - no throttling in a test
    thread._on_event(StepProgress(1, 1, 2, 4, 0.5, 1e-3, 10.0))  # noqa: SLF001
    thread._on_event(FoldResult(1, 2, 4, 2, 0.5, ""))  # noqa: SLF001
    thread._on_event(StepProgress(1, 1, 2, 4, 0.5, 1e-3, 10.0))  # noqa: SLF001
    assert progress == [(2, 8, "fold 1/2 · epoch 1/1"), (6, 8, "fold 2/2 · epoch 1/1")]
    LIVE_THREADS.discard(thread)
