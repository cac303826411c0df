"""Backbone-and-head area: the backbone, the transfer strategy and the main training settings."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.config import TrainConfig

TRANSFER_HELP = {
    "frozen": "Feature extraction: the pretrained backbone stays fixed; only the new head learns. Fast, and "
    "safest with few images.",
    "full": "Fine-tuning: every layer adapts to your images, the backbone at a tenth of the head's learning "
    "rate. Slower; better with many images.",
}
DEFAULT_LR = {"frozen": 3e-3, "full": 3e-4}


class ModelPanel(QWidget):
    """Builds the :class:`TrainConfig` the next run will use."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backbone = QComboBox()
        self.backbone.addItem("EfficientNet-Lite0 — ImageNet weights (bundled)", "efficientnet_lite0")
        self.backbone.setToolTip("4.7 M parameters, 224 px input. More backbones are not available yet.")
        self.frozen = QRadioButton("Frozen backbone (feature extraction)")
        self.full = QRadioButton("Fine-tune everything (full)")
        self.frozen.setChecked(True)
        self.strategy = QButtonGroup(self)
        self.strategy.addButton(self.frozen)
        self.strategy.addButton(self.full)
        self.help = QLabel(TRANSFER_HELP["frozen"])
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #555;")
        self.head = QLabel("New linear head (dropout 0.2), one output per class")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(10)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 1024)
        self.batch_size.setValue(16)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(1e-5, 1.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(DEFAULT_LR["frozen"])
        self.frozen.toggled.connect(self._strategy_changed)

        form = QFormLayout()
        form.addRow("Backbone", self.backbone)
        form.addRow("Head", self.head)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.learning_rate)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Transfer strategy</b>"))
        layout.addWidget(self.frozen)
        layout.addWidget(self.full)
        layout.addWidget(self.help)
        layout.addLayout(form)
        layout.addStretch(1)

    def transfer(self) -> str:
        return "frozen" if self.frozen.isChecked() else "full"

    def _strategy_changed(self) -> None:
        mode = self.transfer()
        self.help.setText(TRANSFER_HELP[mode])
        self.learning_rate.setValue(DEFAULT_LR[mode])

    def config(self) -> TrainConfig:
        return TrainConfig(
            backbone=self.backbone.currentData(),
            transfer=self.transfer(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            learning_rate=self.learning_rate.value(),
        )
