"""Weights import thread: a thin adapter over :func:`dmtl_studio.core.weights.import_weights`.

Reading a file of a few hundred MB, checking it against the architecture and writing the store's copy takes
seconds; the window stays usable meanwhile.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from dmtl_studio.workers.registry import LIVE_THREADS

log = logging.getLogger(__name__)


class WeightsImportThread(QThread):
    """Checks and stores one weights file for one backbone."""

    imported = Signal(str, str)  # backbone, message for the user
    failed = Signal(str)

    def __init__(self, path: Path, backbone: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.backbone = backbone
        LIVE_THREADS.add(self)

    def run(self) -> None:
        from dmtl_studio.core.weights import import_weights

        try:
            entry, check = import_weights(self.path, self.backbone)
        except Exception as exc:  # every failure reaches the window as a message
            log.warning("weights import of %s for %s failed: %s", self.path, self.backbone, exc)
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.imported.emit(
                self.backbone,
                f"Imported {self.path.name} for {self.backbone}: {check.describe()} "
                f"Stored with sha256 {entry.sha256[:16]}….",
            )
