"""Training and import threads: thin adapters that call core and turn its callbacks into signals."""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from dmtl_studio.core.base.errors import failure_line
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EventHandlers, PreparationProgress, RunNotice, StepProgress
from dmtl_studio.workers.registry import LIVE_THREADS, ProgressThrottle, log_failure

log = logging.getLogger(__name__)


class TrainingThread(QThread):
    """Runs :func:`dmtl_studio.core.training.run.train` off the GUI thread."""

    progress = Signal(object)  # StepProgress, throttled
    preparing = Signal(object)  # PreparationProgress (feature cache), throttled
    epoch_finished = Signal(object)  # EpochResult
    run_finished = Signal(object)  # RunSummary
    notice = Signal(str)  # fallbacks, early stop, resumed
    phase_started = Signal(object)  # PhaseStarted: an Auto run's next phase
    failed = Signal(str)

    def __init__(
        self,
        project_dir: Path,
        config: TrainConfig,
        parent: QObject | None = None,
        resume_from: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.config = config
        self.resume_from = resume_from
        self._progress_due = ProgressThrottle().due
        self._paused = False
        self._on_event = EventHandlers(
            step=self._on_step,
            preparation=self._on_preparation,
            epoch=self.epoch_finished.emit,
            notice=self._on_notice,
            phase=self.phase_started.emit,
        )
        LIVE_THREADS.add(self)

    def set_paused(self, paused: bool) -> None:
        """Hold the run at the next batch boundary (or let it go on); Stop still works while paused."""
        self._paused = paused

    def _should_stop(self) -> bool:
        # Polled by the engine between batches: pausing is simply not returning until resumed or stopped.
        while self._paused and not self.isInterruptionRequested():
            time.sleep(0.05)
        return self.isInterruptionRequested()

    def _on_step(self, event: StepProgress) -> None:
        if self._progress_due(event.step >= event.steps):
            self.progress.emit(event)

    def _on_preparation(self, event: PreparationProgress) -> None:
        if self._progress_due(event.done >= event.total):
            self.preparing.emit(event)

    def _on_notice(self, event: RunNotice) -> None:
        self.notice.emit(event.message)

    def run(self) -> None:
        from dmtl_studio.core.training.run import train

        # The deep-learning libraries just imported are hundreds of thousands of long-lived objects; a full
        # garbage collection walking them holds the interpreter for up to ~0.25 s, which the window feels as
        # a freeze. Frozen objects are skipped by the collector (they live as long as the process anyway).
        gc.freeze()
        try:
            summary = train(
                self.project_dir, self.config, self._on_event, self._should_stop, resume_from=self.resume_from
            )
        except Exception as exc:  # every failure reaches the window as a message
            log_failure(exc, "training")
            self.failed.emit(failure_line(exc, "training"))
        else:
            self.run_finished.emit(summary)


class ImportThread(QThread):
    """Runs :func:`dmtl_studio.core.project.importer.import_folder` off the GUI thread."""

    progress = Signal(int, int, str)
    done = Signal(object)  # ImportSummary
    failed = Signal(str)

    def __init__(
        self, project_dir: Path, images_dir: Path, parent: QObject | None = None, split_folders: bool = True
    ) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.images_dir = Path(images_dir)
        self.split_folders = split_folders
        self._progress_due = ProgressThrottle().due
        LIVE_THREADS.add(self)

    def _on_progress(self, done: int, total: int, name: str) -> None:
        if self._progress_due(done == total):
            self.progress.emit(done, total, name)

    def run(self) -> None:
        from dmtl_studio.core.project.importer import import_folder
        from dmtl_studio.core.project.store import ProjectStore

        try:
            with ProjectStore.open(self.project_dir) as store:
                summary = import_folder(
                    store,
                    self.images_dir,
                    progress=self._on_progress,
                    should_stop=self.isInterruptionRequested,
                    split_folders=self.split_folders,
                )
        except Exception as exc:
            log_failure(exc, "the import")
            self.failed.emit(failure_line(exc, "the import"))
        else:
            self.done.emit(summary)
