"""Thread for the data-quality checks: a thin adapter over :mod:`dmtl_studio.core.quality`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from dmtl_studio.workers.registry import CoreThread


class LabelErrorsThread(CoreThread):
    """:func:`dmtl_studio.core.quality.label_errors.find_label_errors`; emits a ``LabelErrorReport``."""

    what = "the search for label errors"

    def __init__(self, project_dir: Path, config: object, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir, self.config = Path(project_dir), config

    def work(self) -> object:
        from dmtl_studio.core.quality.label_errors import find_label_errors

        return find_label_errors(
            self.project_dir,
            config=self.config,
            should_stop=self.isInterruptionRequested,
            on_progress=lambda done, total, seconds: self._on_progress(done, total),
            fit_folds=True,
        )


class DuplicatesThread(CoreThread):
    """:func:`dmtl_studio.core.quality.duplicates.find_duplicates`; emits a ``DuplicateReport``."""

    what = "the search for duplicates"

    def __init__(self, project_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)

    def work(self) -> object:
        from dmtl_studio.core.quality.duplicates import find_duplicates

        return find_duplicates(
            self.project_dir, should_stop=self.isInterruptionRequested, on_progress=self._on_progress
        )


class GoneFilesThread(CoreThread):
    """:func:`dmtl_studio.core.project.gone_files.find_gone_files` on the project as it opens (one ``stat`` per
    image: seconds on a network drive); emits ``(project folder, GoneFiles)``."""

    what = "the look for images gone from disk"

    def __init__(self, project_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir = Path(project_dir)

    def work(self) -> object:
        from dmtl_studio.core.project.gone_files import find_gone_files
        from dmtl_studio.core.project.store import ProjectStore

        with ProjectStore.open(self.project_dir, read_only=True) as store:
            return self.project_dir, find_gone_files(store, self.isInterruptionRequested)
