"""Weights import thread: a thin adapter over :func:`dmtl_studio.core.models.weights.import_weights`.

Reading a file of a few hundred MB, checking it against the architecture and writing the store's copy takes
seconds; the window stays usable meanwhile.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from dmtl_studio.workers.registry import CoreThread


class WeightsImportThread(CoreThread):
    """Checks and stores one weights file for one backbone; ``result_ready`` gets (backbone, message)."""

    what = "the weights import"

    def __init__(self, path: Path, backbone: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.backbone = backbone

    def work(self) -> object:
        from dmtl_studio.core.models.weights import import_weights

        entry, check = import_weights(self.path, self.backbone)
        return (
            self.backbone,
            f"Imported {self.path.name} for {self.backbone}: {check.describe()} "
            f"Stored with sha256 {entry.sha256[:16]}….",
        )
