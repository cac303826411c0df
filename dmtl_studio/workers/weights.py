"""Import threads: thin adapters over :func:`dmtl_studio.core.models.weights.import_weights` (an image backbone's
weights file) and :func:`dmtl_studio.core.models.text_catalog.import_text_encoder` (a text encoder's folder).

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


class TextEncoderImportThread(CoreThread):
    """Checks and copies one text encoder folder into the application's store; ``result_ready`` gets
    (encoder name ``text/<name>``, message)."""

    what = "the text encoder import"

    def __init__(self, folder: Path, name: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.name = name

    def work(self) -> object:
        from dmtl_studio.core.models.text_catalog import import_text_encoder
        from dmtl_studio.core.models.text_encoder_list import imported_row

        name = import_text_encoder(self.folder, self.name or None)
        return name, f"Imported {self.folder.name} as {name}: {imported_row(name).describe()}."
