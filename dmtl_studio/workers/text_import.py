"""The import of texts off the GUI thread: a thin adapter over :func:`dmtl_studio.core.project.text_import.import_texts`."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from dmtl_studio.core.base.errors import failure_line
from dmtl_studio.workers.registry import LIVE_THREADS, ProgressThrottle, log_failure

log = logging.getLogger(__name__)


class TextImportThread(QThread):
    """Imports ``source`` (a folder of ``.txt`` files, a ``.txt`` file or a table) into the project with the
    ``columns`` chosen (keyword arguments of ``import_texts``: text, label and split column, delimiter,
    labels_from_file)."""

    progress = Signal(int, int, str)
    done = Signal(object)  # TextImportSummary
    failed = Signal(str)

    def __init__(
        self,
        project_dir: Path,
        source: Path,
        columns: dict[str, str | bool | None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.source = Path(source)
        self.columns = dict(columns or {})
        self._progress_due = ProgressThrottle().due
        LIVE_THREADS.add(self)

    def _on_progress(self, done: int, total: int, name: str) -> None:
        if self._progress_due(done == total):
            self.progress.emit(done, total, name)

    def run(self) -> None:
        from dmtl_studio.core.project.store import ProjectStore
        from dmtl_studio.core.project.text_import import import_texts

        try:
            with ProjectStore.open(self.project_dir) as store:
                summary = import_texts(
                    store,
                    self.source,
                    **self.columns,
                    progress=self._on_progress,
                    should_stop=self.isInterruptionRequested,
                )
        except Exception as exc:
            log_failure(exc, "the import of texts")
            self.failed.emit(failure_line(exc, "the import of texts"))
        else:
            self.done.emit(summary)
