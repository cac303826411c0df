"""Augmentation area. Until recipes can be edited, it shows the fixed augmentation every run uses."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QListWidget, QVBoxLayout, QWidget

from dmtl_studio.core.config import FIXED_AUGMENTATION


class RecipePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps = QListWidget()
        for name, parameters in FIXED_AUGMENTATION:
            self.steps.addItem(f"{name} — {parameters}")
        self.steps.setEnabled(False)
        note = QLabel(
            "Every training run applies this fixed, light augmentation to the training images. "
            "Editing recipes (more operations, probabilities, mixup/cutmix, live preview) is not available "
            "in this version."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Augmentation (read-only)</b>"))
        layout.addWidget(self.steps)
        layout.addWidget(note)
