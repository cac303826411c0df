"""Dialog to reassign the train/validation/test split with chosen fractions and seed."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from dmtl_studio.core.project.splits import SplitSettings
from dmtl_studio.ui.decimal_box import DecimalSpinBox
from dmtl_studio.ui.muted import tone


class SplitDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, settings: SplitSettings | None = None, noun: str = "images"
    ) -> None:
        """``noun``: what the project holds, in the plural ("images" or "texts"), for the dialog's wording."""
        super().__init__(parent)
        self.noun = noun
        settings = settings or SplitSettings()  # the same defaults as an import
        self.setWindowTitle("Reassign splits")
        self.val = DecimalSpinBox()
        self.test = DecimalSpinBox()
        for box, value in ((self.val, settings.val_fraction), (self.test, settings.test_fraction)):
            box.setRange(0.0, 0.8)
            box.setSingleStep(0.05)
            box.setValue(value)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(settings.seed)
        note = QLabel(
            f"Every labelled {noun[:-1]} gets a new split, stratified by class. Identical {noun} always share a "
            f"split, and so does each group of near-duplicates the last Labels ▸ Find duplicates and leaks found "
            f"({noun} added since are not in its groups: run it again first)."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.error = QLabel()
        tone(self.error, "#c0392b")
        form = QFormLayout(self)
        form.addRow(note)
        form.addRow("Validation fraction", self.val)
        form.addRow("Test fraction", self.test)
        form.addRow("Seed", self.seed)
        form.addRow(self.error)
        form.addRow(buttons)

    def values(self) -> tuple[float, float, int]:
        return self.val.value(), self.test.value(), self.seed.value()

    def _accept(self) -> None:
        if self.val.value() + self.test.value() >= 0.95:
            self.error.setText(f"Leave at least 5 % of the {self.noun} for training.")
            return
        self.accept()
