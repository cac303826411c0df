"""Thread for the dataset map: a thin adapter over :mod:`dmtl_studio.core.quality.embedding_map`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from dmtl_studio.workers.registry import CoreThread


class DatasetMapThread(CoreThread):
    """:func:`dmtl_studio.core.quality.embedding_map.dataset_map`; emits a ``DatasetMap``."""

    what = "the dataset map"

    def __init__(
        self,
        project_dir: Path,
        config: object,
        method: str = "pca",
        run_dir: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project_dir, self.config, self.method, self.run_dir = Path(project_dir), config, method, run_dir

    def work(self) -> object:
        from dmtl_studio.core.quality.embedding_map import dataset_map

        return dataset_map(
            self.project_dir,
            self.method,
            run_dir=self.run_dir,
            config=self.config,
            should_stop=self.isInterruptionRequested,
            on_progress=lambda done, total, seconds: self._on_progress(done, total),
        )
