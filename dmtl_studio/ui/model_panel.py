"""Backbone-and-head area: a searchable backbone catalog, the transfer strategy, the head and learning rates.

The catalog comes from :mod:`dmtl_studio.core.models.catalog` as plain data (no torch here). A backbone whose weights
are not on this computer is shown disabled, with the file it needs. In a text project (:meth:`ModelPanel.set_project_kind`)
the same list holds the text encoders (:mod:`dmtl_studio.core.models.text_encoder_list`), and its import button asks
for an encoder folder (:attr:`ModelPanel.encoder_import_requested`). The learning-rate finder is requested with
:attr:`ModelPanel.lr_finder_requested`; the application runs it on a worker and hands the result back to
:meth:`ModelPanel.show_lr_finder_result`.

The DMTL box sets the consistency weight lambda and whether the project's unlabelled images join the consistency
term; the cross-validation box asks (:attr:`ModelPanel.crossval_requested`) for a k-fold evaluation of the
current settings, whose progress and mean ± std come back through ``show_crossval_*``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.models.catalog import DEFAULT_BACKBONE, CatalogRow, list_backbones
from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER
from dmtl_studio.core.models.text_encoder_list import TextEncoderRow, list_text_encoders
from dmtl_studio.core.training.config import TrainConfig, setting
from dmtl_studio.core.training.settings import AUTO, AUTO_FINETUNE, ConfigError, contrastive_step_count
from dmtl_studio.ui import encoder_rows
from dmtl_studio.ui.column_scroll import ColumnScroll
from dmtl_studio.ui.config_fields import choice_box, label, spin_box
from dmtl_studio.ui.file_dialogs import ask_folder, ask_open_file
from dmtl_studio.ui.muted import muted_color, on_retone, tone
from dmtl_studio.ui.plot_theme import follow_theme

#: What the weights import accepts (the same list core checks; reading a file is core's and never runs code).
WEIGHTS_FILTER = "Weights files (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)"

TRANSFER_HELP = {
    "frozen": "Feature extraction: the pretrained backbone stays fixed and only the new head learns. Features "
    "are computed once (a few augmented views per image) and cached, so epochs take seconds. Safest with few "
    "images.",
    "partial": "Parameter transfer: the last stages of the backbone adapt to your images too, the earlier ones "
    "keep their ImageNet weights and statistics. A good middle ground.",
    "full": "Fine-tuning: every layer adapts, the backbone at a fraction of the head's learning rate. Slowest; "
    "best with many images.",
    "auto": "The linear probe first, a usable model in seconds; then the partial fine-tune, its head starting from "
    "the probe's, if its estimate (from its first steps) fits in the time budget. The better of the two on the "
    "validation images is kept (with fewer than 5 a class to compare on, the fine-tune, as the benchmark "
    "favours it); both runs stay in the history.",
}
STRATEGY_LABELS = {
    "frozen": "Frozen — feature extraction (cached)",
    "partial": "Partial — fine-tune the last stages",
    "full": "Full — fine-tune everything",
    "auto": "Auto: linear probe now, fine-tune if time allows",
}
NAME_ROLE = Qt.ItemDataRole.UserRole
#: What λ does, in plain words (the spin box and its label share it).
LAMBDA_HELP = (
    "λ (lambda), the consistency weight: how much the model is also asked to give the same answer for an "
    "image and for a changed copy of it (rotated, recoloured…). This needs no labels, so unlabelled images "
    "can help. 0 learns from the labels alone; 1 counts both equally; higher trusts consistency more."
)
HEAD_TEXTS = {"linear": "Linear", "mlp": "MLP (one hidden layer)"}
RESIZE_TEXTS = {"pad": "Keep it (pad to a square)", "stretch": "Stretch to a square"}
RESIZE_TIP = (
    "How each image becomes the backbone's square input. Keep: the longer side is scaled to the input size and "
    "the rest filled with white, so shapes are not distorted (recommended; measured better on images that are "
    "not square). Stretch: each side is scaled to the input size, as runs made before this choice were. The "
    "augmentation preview shows the choice."
)
TTA_HELP = (
    "Test-time augmentation: a fine-tuned model predicts each image and its mirror image (flipped left to right) "
    "and averages the two, in validation, evaluation, prediction and exported models. Twice the prediction "
    "time; for pictures whose mirror image means the same (not for text or left/right arrows). Off in any run "
    "whose augmentation recipe never mirrors images."
)
SEARCH_TEXT = "Search backbones (name, library, size…)"
IMPORT_TEXT = "Import weights file…"
IMPORT_TIP = (
    "Use a pretrained weights file you have (.safetensors, or .pth/.pt read safely, never as code) for a "
    "backbone listed as unavailable, or for any timm/NAME or torchvision/NAME architecture."
)
DMTL_NOTE = "Supervised loss on augmented images + λ × consistency between clean and augmented."
UNLABELLED_TIP = (
    "Unlabelled images teach the model through the consistency term (with a linear probe: class-balanced "
    "pseudo-labels by label spreading on the frozen features); they never count as labelled."
)
DEFAULTS = {"images": DEFAULT_BACKBONE, "text": DEFAULT_TEXT_ENCODER}
CROSSVAL_TIP = (
    "Trains the current settings once per fold, each time holding out a different part of the labelled "
    "images, and reports the mean ± std accuracy"
)
CROSSVAL_IDLE = "With few images, k folds give a fairer comparison than one split."
LR_IDLE = "Plots loss against learning rate on this project's images."
UNLABELLED_RATIO_TIP = "Unlabelled images per labelled image in each batch"
IMBALANCE_TEXTS = {
    "none": "None",
    "weighted_loss": "Weight the loss by class",
    "balanced_sampler": "Sample classes evenly",
}
IMBALANCE_HELP = (
    "When some classes have many more images than others: weight each class's loss by the inverse of its size "
    "(a frozen backbone's linear probe weights its classes the same way), or draw each batch with every class "
    "equally often (a fine-tune only; a frozen backbone weights the loss instead). Judge such a project by its "
    "balanced accuracy."
)
#: The same for a text project (its backbone is a text encoder).
IMBALANCE_HELP_TEXT = (
    IMBALANCE_HELP.replace("images", "texts")
    .replace("a frozen backbone", "a frozen encoder")
    .replace("A frozen backbone", "A frozen encoder")
)
UNLABELLED_RULE_TEXTS = {
    "consistency": "Consistency, as labelled images",
    "fixmatch": "FixMatch pseudo-labels",
}
#: What the rule does, in plain words.
UNLABELLED_RULE_HELP = (
    "How unlabelled images teach a partly or fully fine-tuned backbone. FixMatch: where the model is at least "
    "95 % sure of an unlabelled image (flipped and shifted a little), that answer becomes its label for a "
    "strongly changed copy; classes the model favours are held back so few-shot classes are not swamped. "
    "Consistency: the same agreement between clean and changed copies as for labelled images. A frozen "
    "backbone uses its own rule (consistency, or pseudo-labels in the linear probe)."
)


def _muted(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    tone(label)
    return label


#: The input size box's value that means "the backbone's own" (one below the smallest size a run takes).
INPUT_SIZE_OWN = 31
#: The input size box's arrows go by this many pixels, on its multiples (32, 48, 64 … 224).
INPUT_SIZE_STEP = 16


class _InputSizeBox(QSpinBox):
    """The input size: the arrows step over multiples of :data:`INPUT_SIZE_STEP` from 32 (with the minimum, 31,
    meaning the backbone's own, they went 47, 63 … 223, h34); any size can still be typed."""

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt's name
        value = self.value()
        if value == INPUT_SIZE_OWN:
            target = 32 if steps > 0 else INPUT_SIZE_OWN
        else:
            below = value // INPUT_SIZE_STEP * INPUT_SIZE_STEP  # the multiple at or under the value
            if steps > 0:
                target = below + INPUT_SIZE_STEP * steps
            else:  # down from between two multiples: the lower one is the first step
                target = (below if below < value else below - INPUT_SIZE_STEP) + INPUT_SIZE_STEP * (steps + 1)
            target = target if target >= 32 else INPUT_SIZE_OWN
        self.setValue(max(self.minimum(), min(self.maximum(), target)))


class ModelPanel(QWidget):
    """Builds the :class:`TrainConfig` the next run will use."""

    lr_finder_requested = Signal(object)  # TrainConfig
    lr_finder_cancel_requested = Signal()
    crossval_requested = Signal(object, int)  # TrainConfig, number of folds
    crossval_cancel_requested = Signal()
    #: What training does with a recipe's mixing steps under the strategy chosen ("" for: as the preview shows).
    mixing_note_changed = Signal(str)
    #: The chosen image backbone's input size in pixels: what training augments at (the recipe preview follows).
    input_size_changed = Signal(int)
    weights_import_requested = Signal(str, str)  # file path, backbone name
    encoder_import_requested = Signal(str, str)  # encoder folder, name to keep it under ("" = the folder's)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, CatalogRow | TextEncoderRow] = {}
        #: "images" or "text": what the list holds (the open project's kind)
        self.kind = "images"
        self._chosen = dict(DEFAULTS)  # each kind's last choice, kept while the other kind is shown
        self._tips: dict[str, str] = {}  # fields' tooltips in the words of the project's kind

        # ---- backbone
        self.search = QLineEdit()
        self.search.setPlaceholderText(SEARCH_TEXT)
        self.search.setClearButtonEnabled(True)
        self.backbones = QListWidget()
        self.backbones.setMinimumHeight(150)
        self.backbones.setAlternatingRowColors(True)
        self.backbones.setWordWrap(True)
        self.backbones.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(90)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        on_retone(self.details, self._show_details)
        self.backbone_box = backbone_box = QGroupBox("Backbone")
        box = QVBoxLayout(backbone_box)
        box.addWidget(self.search)
        box.addWidget(self.backbones, 1)
        box.addWidget(self.details)
        self.import_weights_button = QPushButton(IMPORT_TEXT)
        self.import_weights_button.setToolTip(IMPORT_TIP)
        self.weights_note = _muted(QLabel())
        self.weights_note.hide()
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.import_weights_button)
        weights_row.addStretch(1)
        box.addLayout(weights_row)
        box.addWidget(self.weights_note)
        # How an image becomes the backbone's square input (an image project's; a text has no shape).
        self.resize_mode = choice_box("resize_mode", RESIZE_TEXTS)
        self.resize_mode.setToolTip(RESIZE_TIP)
        # One setting a line: side by side they made the window wider than a 1024 px screen.
        self.resize_row = QWidget()
        rows = QFormLayout(self.resize_row)
        rows.setContentsMargins(0, 0, 0, 0)
        resize_label = QLabel("Image shape:")
        resize_label.setToolTip(RESIZE_TIP)
        # The backbone's own size unless set (the command line's --input-size): small pictures (64 px micrographs)
        # need not be blown up 3.5 times to 224, and a run in the window could not match one made with it (h33).
        size_label = QLabel("Input size:")
        self.input_size_box = _InputSizeBox()
        self.input_size_box.setRange(INPUT_SIZE_OWN, 1024)
        self.input_size_box.setSuffix(" px")
        self.input_size_box.setSpecialValueText("backbone's")
        self.input_size_box.setValue(INPUT_SIZE_OWN)
        tip = (
            'The side in pixels each image is resized to for training and prediction. "backbone\'s": the size the '
            "backbone was pretrained at (224 px for most). Smaller pictures train faster at their own size (from 32 "
            "px); the pretrained features are best near the backbone's size. The same as train --input-size."
        )
        for widget in (size_label, self.input_size_box):
            widget.setToolTip(tip)
        self.input_size_box.valueChanged.connect(self._input_size_changed)
        for label_widget, field_widget in (
            (resize_label, self.resize_mode),
            (size_label, self.input_size_box),
        ):
            line = QHBoxLayout()
            line.addWidget(field_widget)
            line.addStretch(1)
            rows.addRow(label_widget, line)
        box.addWidget(self.resize_row)
        self.import_weights_button.clicked.connect(self._ask_import)

        # ---- strategy
        recommended = TrainConfig.recommended()
        self.strategy_buttons = {
            mode: QRadioButton(STRATEGY_LABELS.get(mode, mode)) for mode in setting("transfer").choices
        }
        self.strategy = QButtonGroup(self)
        for button in self.strategy_buttons.values():
            self.strategy.addButton(button)
        self.strategy_buttons[recommended.transfer].setChecked(True)
        # Kept as attributes under their historical names for callers and tests.
        self.frozen, self.partial, self.full = (
            self.strategy_buttons[m] for m in ("frozen", "partial", "full")
        )
        self.stages = QSlider(Qt.Orientation.Horizontal)
        # The most is the chosen backbone's number of stages (set with the backbone).
        self.stages.setRange(int(setting("unfreeze_stages").low or 1), recommended.unfreeze_stages)
        self.stages.setValue(recommended.unfreeze_stages)
        self.stages.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.stages.setTickInterval(1)
        self.stages.setPageStep(1)
        self.stages_label = QLabel()
        self.stages_label.setMinimumWidth(150)
        self.help = _muted(QLabel(TRANSFER_HELP["frozen"]))
        strategy_box = QGroupBox("Transfer strategy")
        box = QVBoxLayout(strategy_box)
        for button in self.strategy_buttons.values():
            box.addWidget(button)
        stage_row = QHBoxLayout()
        stage_row.addWidget(self.stages, 1)
        stage_row.addWidget(self.stages_label)
        box.addLayout(stage_row)
        # Auto: the minutes the whole run may take (the fine-tune runs only when its estimate fits).
        self.time_budget = spin_box("time_budget")
        self.time_budget.setSpecialValueText("probe only")
        self.time_budget.setToolTip(setting("time_budget").help)
        budget_row = QHBoxLayout()
        self.time_budget_label = QLabel(label("time_budget"))
        budget_row.addWidget(self.time_budget_label)
        budget_row.addWidget(self.time_budget)
        budget_row.addStretch(1)
        box.addLayout(budget_row)
        box.addWidget(self.help)
        # A text project's frozen encoder: SetFit's contrastive step before its embeddings are cached.
        self.contrastive_steps = spin_box("contrastive_steps")
        self.contrastive_steps.setSpecialValueText("off")
        self.contrastive_steps.setToolTip(encoder_rows.CONTRASTIVE_TIP)
        self.contrastive_row = QWidget()
        row = QHBoxLayout(self.contrastive_row)
        row.setContentsMargins(0, 0, 0, 0)
        contrastive_label = QLabel("Adapt the encoder to the labels first, contrastive steps:")
        contrastive_label.setToolTip(encoder_rows.CONTRASTIVE_TIP)
        # Wrapped, and the note under the box: in one line they widened the dock to 754 px of 1600 (h32).
        contrastive_label.setWordWrap(True)
        row.addWidget(contrastive_label, 1)
        row.addWidget(self.contrastive_steps)
        # What a run takes here: fewer steps than the box with few labels (the box said 200, a run took 75, h25).
        self.contrastive_note = QLabel()
        self.contrastive_note.setWordWrap(True)
        tone(self.contrastive_note)
        self._training_texts = 0
        self.contrastive_steps.valueChanged.connect(self._show_contrastive_count)
        self.contrastive_row.hide()  # shown in a text project
        box.addWidget(self.contrastive_row)
        box.addWidget(self.contrastive_note)

        # ---- head
        self.head_kind = choice_box("head", HEAD_TEXTS)
        self.hidden = spin_box("hidden_size")
        self.dropout = spin_box("dropout")
        head_box = QGroupBox("New head")
        form = QFormLayout(head_box)
        form.addRow("Type", self.head_kind)
        form.addRow(label("hidden_size"), self.hidden)
        form.addRow(label("dropout"), self.dropout)
        self.linear_probe = QCheckBox("Fit as a linear probe (recommended)")
        self.linear_probe.setChecked(recommended.linear_probe)
        self.linear_probe.setToolTip(
            "Frozen backbone, linear head: fit the head to convergence in seconds, its L2 strength chosen by "
            "cross-validation (the curve shows each strength's held-out loss). Off: epochs of the optimiser."
        )
        form.addRow(self.linear_probe)
        form.addRow(_muted(QLabel("One output per class of the project.")))

        # ---- learning
        self.epochs = spin_box("epochs")
        self.batch_size = spin_box("batch_size")
        self.learning_rate = spin_box("learning_rate")
        self.backbone_factor = spin_box("backbone_lr_factor")
        self.layer_decay = spin_box("layer_decay")
        self.backbone_lr_label = _muted(QLabel())
        self.ema_decay = spin_box("ema_decay")
        self.ema_decay.setSpecialValueText("off")
        self.tta_flip = QCheckBox(label("tta_flip"))
        self.tta_flip.setChecked(recommended.tta_flip)
        self.tta_flip.setToolTip(TTA_HELP)
        self.imbalance = choice_box("imbalance", IMBALANCE_TEXTS)
        self.imbalance.setToolTip(IMBALANCE_HELP)
        self.imbalance.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.imbalance.setMinimumContentsLength(12)
        learning_box = QGroupBox("Learning")
        form = QFormLayout(learning_box)
        for name, box in (
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("learning_rate", self.learning_rate),
            ("backbone_lr_factor", self.backbone_factor),
            ("layer_decay", self.layer_decay),
        ):
            form.addRow(label(name), box)
        self.backbone_factor_label = form.labelForField(self.backbone_factor)
        form.addRow(self.backbone_lr_label)
        form.addRow(label("ema_decay"), self.ema_decay)
        form.addRow("Class imbalance", self.imbalance)
        form.addRow(self.tta_flip)

        # ---- the DMTL objective
        self.consistency_weight = spin_box("consistency_weight")
        self.consistency_weight.setToolTip(LAMBDA_HELP)
        self.use_unlabelled = QCheckBox()
        self.use_unlabelled.setToolTip(UNLABELLED_TIP)
        self.unlabelled_ratio = spin_box("unlabelled_ratio")
        self.unlabelled_ratio.setSuffix(" : 1")
        self.unlabelled_ratio.setToolTip(UNLABELLED_RATIO_TIP)
        self.unlabelled_rule = choice_box("unlabelled_rule", UNLABELLED_RULE_TEXTS)
        self.unlabelled_rule.setToolTip(UNLABELLED_RULE_HELP)
        # Shrinks to the column: a long choice must not widen the side column.
        self.unlabelled_rule.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.unlabelled_rule.setMinimumContentsLength(12)
        self.unlabelled_rule_label = QLabel(label("unlabelled_rule"))
        self.unlabelled_rule_label.setToolTip(UNLABELLED_RULE_HELP)
        self.dmtl_note = _muted(QLabel(DMTL_NOTE))  # what the unlabelled items do: set by the count below
        self.set_unlabelled_count(0)
        dmtl_box = QGroupBox("DMTL objective")
        form = QFormLayout(dmtl_box)
        self.lambda_label = QLabel(label("consistency_weight"))
        self.lambda_label.setToolTip(LAMBDA_HELP)
        self.lambda_label.setBuddy(self.consistency_weight)  # a screen reader names the box by its label
        self.consistency_weight.setAccessibleName(self.lambda_label.text())
        self.unlabelled_rule_label.setBuddy(self.unlabelled_rule)
        self.unlabelled_rule.setAccessibleName(self.unlabelled_rule_label.text())
        form.addRow(self.lambda_label, self.consistency_weight)
        form.addRow(self.use_unlabelled)
        form.addRow(label("unlabelled_ratio"), self.unlabelled_ratio)
        form.addRow(self.unlabelled_rule_label, self.unlabelled_rule)
        form.addRow(self.dmtl_note)

        # ---- cross-validation
        self.folds = QSpinBox()
        self.folds.setRange(2, 10)
        self.folds.setValue(5)
        self.crossval_button = QPushButton("Cross-validate")
        self.crossval_button.setToolTip(CROSSVAL_TIP)
        self.crossval_cancel = QPushButton("Cancel")
        self.crossval_cancel.setEnabled(False)
        self.crossval_progress = QProgressBar()
        self.crossval_progress.setRange(0, 1)
        self.crossval_progress.setValue(0)
        self.crossval_progress.setFormat("idle")
        self.crossval_status = _muted(QLabel(CROSSVAL_IDLE))
        self.crossval_status.setWordWrap(True)
        crossval_box = QGroupBox("Cross-validation")
        form = QFormLayout(crossval_box)
        form.addRow("Cross-validation folds", self.folds)
        buttons = QHBoxLayout()
        buttons.addWidget(self.crossval_button)
        buttons.addWidget(self.crossval_cancel)
        buttons.addStretch(1)
        form.addRow(buttons)
        form.addRow(self.crossval_progress)
        form.addRow(self.crossval_status)

        # ---- learning-rate finder
        self.find_lr = QPushButton("Find learning rate")
        self._find_lr_help = "Trains briefly while raising the learning rate, and plots the loss"
        self.find_lr.setToolTip(self._find_lr_help)
        self.use_lr = QPushButton("Use suggestion")
        self.use_lr.setEnabled(False)
        self.lr_cancel = QPushButton("Cancel")
        self.lr_cancel.setEnabled(False)
        self.lr_cancel.setToolTip("Stop the search after the current batch; nothing is changed")
        self.lr_progress = QProgressBar()
        self.lr_progress.setRange(0, 1)
        self.lr_progress.setValue(0)
        self.lr_progress.setFormat("idle")
        self.lr_status = _muted(QLabel(LR_IDLE))
        self.lr_plot = pg.PlotWidget()
        self.lr_plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no keys to take: Tab passes it by
        self.lr_plot.setLogMode(x=True, y=False)
        self.lr_plot.setLabel("bottom", "learning rate")
        self.lr_plot.setLabel("left", "loss")
        follow_theme(self.lr_plot)
        self.lr_plot.setMinimumHeight(140)
        self.lr_plot.setMaximumHeight(180)
        # Before any search the axis spans the finder's sweep (10^-6 to 1), with its decades labelled.
        self.lr_plot.setXRange(-6, 0, padding=0.02)
        self.lr_plot.setYRange(0, 1)
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#1f77b4", width=2))
        self.lr_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", style=Qt.PenStyle.DashLine))
        self.lr_marker.hide()
        self.lr_plot.addItem(self.lr_marker)
        self._suggestion: float | None = None
        self._suggestion_transfer: str | None = None
        self._shown_mode: str | None = None  # the strategy the learning rate was last set for
        finder_box = QGroupBox("Learning-rate finder")
        box = QVBoxLayout(finder_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.find_lr)
        buttons.addWidget(self.use_lr)
        buttons.addWidget(self.lr_cancel)
        buttons.addStretch(1)
        box.addLayout(buttons)
        box.addWidget(self.lr_progress)
        box.addWidget(self.lr_plot)
        box.addWidget(self.lr_status)

        content = QWidget()
        layout = QVBoxLayout(content)
        for group in (backbone_box, strategy_box, head_box, learning_box, dmtl_box, crossval_box, finder_box):
            layout.addWidget(group)
        layout.addStretch(1)
        scroll = ColumnScroll(content)  # its height scrolls, never its width
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.search.textChanged.connect(self._filter)
        self.backbones.currentItemChanged.connect(self._backbone_changed)
        self.strategy.buttonToggled.connect(self._strategy_changed)
        self.stages.valueChanged.connect(self._update_stage_label)
        self.head_kind.currentIndexChanged.connect(self._head_changed)
        self.learning_rate.valueChanged.connect(self._update_backbone_lr)
        self.backbone_factor.valueChanged.connect(self._update_backbone_lr)
        self.layer_decay.valueChanged.connect(self._update_backbone_lr)
        self.stages.valueChanged.connect(self._update_backbone_lr)
        self.contrastive_steps.valueChanged.connect(self._update_backbone_lr)
        self.find_lr.clicked.connect(self._request_lr_finder)
        self.use_lr.clicked.connect(self._use_suggestion)
        self.lr_cancel.clicked.connect(self._cancel_lr_finder)
        self.consistency_weight.valueChanged.connect(self._consistency_changed)
        self.use_unlabelled.toggled.connect(self._consistency_changed)
        self.linear_probe.toggled.connect(self._update_probe)
        self.crossval_button.clicked.connect(self._request_crossval)
        self.crossval_cancel.clicked.connect(self._cancel_crossval)
        self._consistency_changed()
        self.reload_backbones()
        self._strategy_changed()
        self._head_changed()

    # ------------------------------------------------------------------ backbone list
    def set_project_kind(self, kind: str) -> None:
        """List image backbones (``"images"``) or text encoders (``"text"``), and word the panel for that kind.

        Each kind's last choice is kept while the other kind is shown.
        """
        if kind not in DEFAULTS:
            raise ValueError(f"unknown project kind {kind!r}")
        if kind == self.kind:
            return
        self._chosen[self.kind] = self.backbone_name()
        self.kind = kind
        text = kind == "text"
        self.backbone_box.setTitle("Text encoder" if text else "Backbone")
        self.search.setPlaceholderText(encoder_rows.SEARCH_TEXT if text else SEARCH_TEXT)
        self.search.clear()
        self.import_weights_button.setText(encoder_rows.IMPORT_TEXT if text else IMPORT_TEXT)
        self.import_weights_button.setToolTip(encoder_rows.IMPORT_TIP if text else IMPORT_TIP)
        self.weights_note.hide()
        self.contrastive_row.setVisible(text)
        self._show_contrastive_count()
        self.resize_row.setVisible(not text)
        # Auto is for image projects (a text encoder has its own contrastive step).
        for widget in (self.strategy_buttons["auto"], self.time_budget_label, self.time_budget):
            widget.setVisible(not text)
        if text and self.transfer() == "auto":
            self.frozen.setChecked(True)
        lambda_help = encoder_rows.LAMBDA_HELP if text else LAMBDA_HELP
        self.consistency_weight.setToolTip(lambda_help)
        self.lambda_label.setToolTip(lambda_help)
        self.dmtl_note.setText(encoder_rows.DMTL_NOTE if text else DMTL_NOTE)
        self.use_unlabelled.setToolTip(encoder_rows.UNLABELLED_TIP if text else UNLABELLED_TIP)
        self.imbalance.setToolTip(IMBALANCE_HELP_TEXT if text else IMBALANCE_HELP)
        self.set_unlabelled_count(self._unlabelled_count)
        self._word_learning_for(text)
        self._update_backbone_lr()
        self.backbones.clear()  # the other kind's names must not be kept as the selection
        self.reload_backbones()
        self.select_backbone(self._chosen[kind])
        self._strategy_changed()

    def _word_learning_for(self, text: bool) -> None:
        """The learning, cross-validation and finder wording of a text (``text``) or image project; the settings
        that are for images only (the mirror-image average, the fine-tune's unlabelled-image rule) are hidden in a
        text project."""
        tips = {
            "epochs": setting("epochs").help,
            "batch_size": setting("batch_size").help,
            "unlabelled_ratio": UNLABELLED_RATIO_TIP,
        }
        for name, box in (
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("unlabelled_ratio", self.unlabelled_ratio),
        ):
            tip = encoder_rows.FIELD_TIPS[name] if text else tips[name]
            box.setToolTip(tip[:1].upper() + tip[1:])
            self._tips[name] = tip[:1].upper() + tip[1:]
        self.crossval_button.setToolTip(encoder_rows.CROSSVAL_TIP if text else CROSSVAL_TIP)
        idle = {CROSSVAL_IDLE, encoder_rows.CROSSVAL_IDLE, LR_IDLE, encoder_rows.LR_IDLE}
        if self.crossval_status.text() in idle:  # (a result or an error of this project is left as it is)
            self.crossval_status.setText(encoder_rows.CROSSVAL_IDLE if text else CROSSVAL_IDLE)
        if self.lr_status.text() in idle:
            self.lr_status.setText(encoder_rows.LR_IDLE if text else LR_IDLE)
        for widget in (self.tta_flip, self.unlabelled_rule_label, self.unlabelled_rule):
            widget.setVisible(not text)
        self.backbone_factor_label.setText("Encoder LR factor" if text else label("backbone_lr_factor"))

    def reload_backbones(self, rows: list[CatalogRow] | list[TextEncoderRow] | None = None) -> None:
        """(Re)fill the list from the catalog (text encoders in a text project), keeping the selection when it is
        still usable."""
        default = DEFAULTS[self.kind]
        current = self.backbone_name() if self.backbones.count() else default
        if rows is None:
            rows = list_text_encoders() if self.kind == "text" else list_backbones()
        self._rows = {self._row_name(row): row for row in rows}
        self.backbones.blockSignals(True)
        self.backbones.clear()
        for row in rows:
            if isinstance(row, TextEncoderRow):
                item = QListWidgetItem(encoder_rows.item_text(row))
                item.setToolTip(f"{row.name}\n{row.reason}")
                available = row.available
            else:
                info, status = row.info, row.status
                if status.available:
                    text = f"{info.title}   {info.parameters_text} · {info.input_size} px · {status.state}"
                else:
                    text = f"{info.title}   {info.parameters_text} · unavailable\n    needs {status.needed}"
                item = QListWidgetItem(text)
                item.setToolTip(f"{info.name}\n{status.reason}")
                available = status.available
            item.setData(NAME_ROLE, self._row_name(row))
            if not available:
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable))
            self.backbones.addItem(item)
        self.backbones.blockSignals(False)
        if not self.select_backbone(current):
            self.select_backbone(default)
        self._filter(self.search.text())

    @staticmethod
    def _row_name(row: CatalogRow | TextEncoderRow) -> str:
        return row.name if isinstance(row, TextEncoderRow) else row.info.name

    def select_backbone(self, name: str) -> bool:
        """Select ``name`` if it is listed and usable; returns whether it was."""
        for index in range(self.backbones.count()):
            item = self.backbones.item(index)
            if item.data(NAME_ROLE) == name and item.flags() & Qt.ItemFlag.ItemIsEnabled:
                self.backbones.setCurrentItem(item)
                return True
        return False

    def input_size(self) -> int:
        """The input size a run takes, in pixels: the one set in the form, else the chosen image backbone's (224
        when none is chosen, or for a text encoder)."""
        if self.kind == "images" and self.input_size_box.value() != INPUT_SIZE_OWN:
            return self.input_size_box.value()
        row = self._rows.get(self.backbone_name())
        return int(row.info.input_size) if row is not None and not isinstance(row, TextEncoderRow) else 224

    def _input_size_changed(self, *_: object) -> None:
        self.input_size_changed.emit(self.input_size())

    def backbone_name(self) -> str:
        """The selected backbone, or text encoder in a text project (what ``TrainConfig.backbone`` takes)."""
        item = self.backbones.currentItem()
        return str(item.data(NAME_ROLE)) if item is not None else DEFAULTS[self.kind]

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for index in range(self.backbones.count()):
            item = self.backbones.item(index)
            row = self._rows[item.data(NAME_ROLE)]
            if isinstance(row, TextEncoderRow):
                haystack = encoder_rows.haystack(row)
            else:
                haystack = " ".join(
                    (row.info.name, row.info.title, row.info.source, row.info.description, row.status.state)
                ).lower()
            item.setHidden(not all(word in haystack for word in words))

    def _backbone_changed(self, *_: object) -> None:
        row = self._rows.get(self.backbone_name())
        self._show_details()
        if row is None:
            return
        if isinstance(row, TextEncoderRow):
            # Without a stated layer count the slider offers the recommended count (transfer keeps what exists).
            self.stages.setMaximum(max(1, row.stages or TrainConfig.recommended().unfreeze_stages))
            self.stages.setToolTip(encoder_rows.stages_tip(row))
            self._update_stage_label()
            return
        info = row.info
        self.input_size_changed.emit(self.input_size())
        self.stages.setMaximum(max(1, info.stages))
        self.stages.setToolTip("")
        self._update_stage_label()
        self._update_backbone_lr()

    def _show_details(self) -> None:
        """The chosen backbone's or encoder's details under the list (also in a new palette: its grey name)."""
        row = self._rows.get(self.backbone_name())
        if row is None:
            self.details.setText("")
        elif isinstance(row, TextEncoderRow):
            self.details.setText(encoder_rows.details_html(row))
        else:
            info, status = row.info, row.status
            mean = ", ".join(f"{v:.3f}" for v in info.mean)
            std = ", ".join(f"{v:.3f}" for v in info.std)
            self.details.setText(
                f"<b>{info.title}</b> <span style='color:{muted_color()}'>({info.name})</span><br>"
                f"{info.description}<br>"
                f"<b>Parameters</b> {info.parameters:,} &nbsp; <b>Features</b> {info.features} &nbsp; "
                f"<b>Stages</b> {info.stages}<br>"
                f"<b>Input</b> {info.input_size} px, {info.interpolation} &nbsp; "
                f"<b>Normalisation</b> mean ({mean}), std ({std})<br>"
                f"<b>Licence</b> {info.licence}<br>"
                f"<b>Weights</b> {status.state}: {status.reason}"
            )

    # ------------------------------------------------------------------ weights import
    def _ask_import(self) -> None:
        if self.kind == "text":
            self._ask_import_encoder()
        else:
            self._ask_import_weights()

    def _ask_import_encoder(self) -> None:
        folder = ask_folder(self, "Import a text encoder folder")
        if not folder:
            return
        name, ok = QInputDialog.getText(
            self,
            "Import a text encoder folder",
            f"Keep the encoder in {Path(folder).name} under the name (letters, digits, . _ -):",
            QLineEdit.EchoMode.Normal,
            Path(folder).name,
        )
        if ok and name.strip():
            self.request_encoder_import(folder, name.strip())

    def request_encoder_import(self, folder: str, name: str = "") -> None:
        self.import_weights_button.setEnabled(False)
        self.show_weights_note(f"Checking and copying the encoder folder {Path(folder).name}…")
        self.encoder_import_requested.emit(folder, name)

    def guess_backbone(self, file_name: str) -> str:
        """The listed backbone a weights file is most likely for: the one whose needed file has this name,
        else the highlighted one, else the first that has no weights yet."""
        for name, row in self._rows.items():
            if not row.status.available and row.status.needed and file_name in row.status.needed:
                return name
        highlighted = self.backbones.currentItem()
        if highlighted is not None and not self._rows[highlighted.data(NAME_ROLE)].status.available:
            return str(highlighted.data(NAME_ROLE))
        missing = [name for name, row in self._rows.items() if not row.status.available]
        return missing[0] if missing else self.backbone_name()

    def _ask_import_weights(self) -> None:
        path = ask_open_file(self, "Import a weights file", WEIGHTS_FILTER)
        if not path:
            return
        file_name = Path(path).name
        names = list(self._rows)
        guess = self.guess_backbone(file_name)
        backbone, ok = QInputDialog.getItem(
            self,
            "Import a weights file",
            f"Which backbone are the weights in {file_name} for?\n"
            "(a listed name, or timm/NAME or torchvision/NAME for any other architecture)",
            names,
            names.index(guess) if guess in names else 0,
            True,
        )
        if ok and backbone.strip():
            self.request_weights_import(path, backbone.strip())

    def request_weights_import(self, path: str, backbone: str) -> None:
        self.import_weights_button.setEnabled(False)
        self.show_weights_note(f"Checking {Path(path).name} against {backbone}…")
        self.weights_import_requested.emit(path, backbone)

    def show_weights_note(self, text: str, error: bool = False) -> None:
        tone(self.weights_note, "#b03a2e" if error else None)
        self.weights_note.setText(text)
        self.weights_note.show()

    def show_weights_imported(self, backbone: str, message: str) -> None:
        """Reload the list (the backbone, or the imported text encoder, is now available) and select it."""
        self.import_weights_button.setEnabled(True)
        self.reload_backbones()
        self.select_backbone(backbone)
        self.show_weights_note(message)

    def show_weights_failed(self, message: str) -> None:
        self.import_weights_button.setEnabled(True)
        self.show_weights_note(f"Not imported: {message}", error=True)

    # ------------------------------------------------------------------ strategy and head
    def transfer(self) -> str:
        for mode, button in self.strategy_buttons.items():
            if button.isChecked():
                return mode
        return "frozen"

    def _fine_tune(self) -> str:
        """The strategy that trains the weights: the chosen one, or for Auto the fine-tune of its second phase."""
        mode = self.transfer()
        return AUTO_FINETUNE if mode == AUTO else mode

    def _strategy_changed(self, *_: object) -> None:
        mode = self.transfer()
        previous = self._shown_mode
        self._shown_mode = mode
        self.help.setText((encoder_rows.TRANSFER_HELP if self.kind == "text" else TRANSFER_HELP)[mode])
        partial = self._fine_tune() == "partial"  # Auto's fine-tune may be the partial one
        self.stages.setEnabled(partial)
        self.stages_label.setEnabled(partial)
        self.time_budget.setEnabled(mode == "auto")
        self._head_changed()  # Auto's head is linear
        for contrastive in (self.contrastive_row, self.contrastive_note):
            contrastive.setEnabled(mode == "frozen")  # a fine-tuned encoder learns from the labels anyway
        self._consistency_changed()
        for fine_tuning in (self.backbone_factor, self.layer_decay, self.tta_flip):
            fine_tuning.setEnabled(mode != "frozen")
        if self.kind == "text":  # a text has no mirror image
            self.tta_flip.setEnabled(False)
        # The learning rate stays as it is: the recommended head rate is the same for every strategy
        # (docs/transfer.md), and a rate the user chose (or took from the finder) is theirs.
        if self._suggestion is not None and previous is not None and mode != previous:
            found = self._suggestion_transfer or previous
            self.lr_status.setText(
                f"Suggested head learning rate: {self._suggestion:.2g}, found for {found} transfer"
                + (
                    f"; the learning rate was kept. Find again to measure it for {mode} transfer."
                    if found != mode
                    else "."
                )
            )
        self._update_stage_label()
        self._update_backbone_lr()

    def _update_stage_label(self, *_: object) -> None:
        self.stages_label.setText(f"last {self.stages.value()} of {self.stages.maximum()} stages")

    def _head_changed(self, *_: object) -> None:
        auto = self.transfer() == "auto"  # its head is the probe's, a linear one, fine-tuned
        self.head_kind.setEnabled(not auto)
        self.head_kind.setToolTip("Auto fits a linear head as a probe, then fine-tunes it" if auto else "")
        mlp = self.head_kind.currentData() == "mlp" and not auto
        self.hidden.setEnabled(mlp)
        self.hidden.setToolTip("" if mlp else "Only an MLP head has hidden units")
        self._update_probe()

    def _update_probe(self) -> None:
        """A linear probe fits a linear head on a frozen backbone; the epochs then do not apply."""
        # Auto's first phase always is the linear probe (a linear head fitted so); its fine-tune trains by epochs.
        usable = self.transfer() == "frozen" and self.head_kind.currentData() == "linear"
        self.linear_probe.setEnabled(usable)
        # Greyed and still ticked it read as if a probe would be fitted: the label says when it applies.
        self.linear_probe.setText(
            "Fit as a linear probe (recommended)"
            if usable
            else "Fit as a linear probe (Auto's first phase always is one)"
            if self.transfer() == "auto"
            else "Fit as a linear probe (only with the frozen strategy and a linear head)"
        )
        probe = self._fits_probe()
        self.epochs.setEnabled(not probe)
        self.ema_decay.setEnabled(not probe)  # a head fitted once to convergence has no steps to average
        # Nor a learning rate or dropout: L-BFGS to convergence, its L2 strength chosen by cross-validation.
        for box in (self.learning_rate, self.dropout):
            box.setEnabled(not probe)
        self.find_lr.setEnabled(not probe and not self.lr_cancel.isEnabled())
        self.find_lr.setToolTip(
            "A linear probe has no learning rate: it is fitted to convergence"
            if probe
            else self._find_lr_help
        )
        self.mixing_note_changed.emit(self.mixing_note())
        self._consistency_changed()  # the unlabelled ratio is for runs trained by epochs

    def _fits_probe(self) -> bool:
        """Whether a run with the settings shown fits its head as a linear probe (frozen, linear head, ticked)."""
        linear = self.head_kind.currentData() == "linear"
        return self.transfer() == "frozen" and linear and self.linear_probe.isChecked()

    def mixing_note(self) -> str:
        """What a run with the settings shown does with a recipe's mixing steps, when not what the preview shows:
        a linear probe leaves them out; a frozen backbone trained by epochs mixes the pairs' cached features."""
        if self.transfer() != "frozen":
            return ""
        if self._fits_probe():
            return (
                "not used by the linear probe, which is fitted once on the cached views (untick Fit as a linear "
                "probe to train with mixing)"
            )
        return "a frozen backbone mixes the pair's cached features with these weights (no pasted pixels)"

    def _update_backbone_lr(self, *_: object) -> None:
        name = "Encoder" if self.kind == "text" else "Backbone"
        if self.transfer() == "frozen" and self.kind == "text" and self.contrastive_steps.value() > 0:
            self.backbone_lr_label.setText(
                "Encoder learning rate: none while the head learns (the encoder is fixed after its contrastive "
                "steps, which take their own rate)."
            )
        elif self.transfer() == "frozen":
            self.backbone_lr_label.setText(f"{name} learning rate: none (the {name.lower()} is frozen).")
        else:
            rate = self.learning_rate.value() * self.backbone_factor.value()
            learning = (
                self.stages.value() if self._fine_tune() == "partial" else self.stages.maximum()
            )  # full: every stage
            decay = self.layer_decay.value()
            if decay >= 1 or learning < 2:
                self.backbone_lr_label.setText(f"{name} learning rate: {rate:.2g} (head × factor).")
            else:
                lowest = rate * decay ** (learning - 1)
                self.backbone_lr_label.setText(
                    f"{name} learning rate: {rate:.2g} for the top stage (head × factor), × {decay:g} per "
                    f"stage below, down to {lowest:.2g} for the lowest of the {learning} that learn."
                )

    # ------------------------------------------------------------------ learning-rate finder
    def set_lr_finder_running(self, running: bool, message: str = "") -> None:
        self.find_lr.setEnabled(not running and not self._fits_probe())
        self.lr_cancel.setEnabled(running)
        if running:  # a new test: the previous curve and suggestion no longer apply
            self.lr_curve.setData([], [])
            self.lr_marker.hide()
            self.use_lr.setEnabled(False)
            self._suggestion = None
            self.lr_progress.setRange(0, 0)
            self.lr_progress.setFormat("preparing…")
        else:
            self.lr_progress.setRange(0, 1)
            self.lr_progress.setValue(1 if self._suggestion is not None else 0)
            self.lr_progress.setFormat("done" if self._suggestion is not None else "idle")
        if message:
            self.lr_status.setText(message)

    def show_lr_finder_preparing(self, done: int, total: int, seconds: float) -> None:
        """The frozen backbone's feature pass before the first step (most of the search's time)."""
        self.lr_progress.setRange(0, max(1, total))
        self.lr_progress.setValue(done)
        left = seconds * (total - done) / done if done else None
        eta = f" · ETA {int(left) // 60}:{int(left) % 60:02d}" if left is not None else ""
        self.lr_progress.setFormat(f"features {done:,}/{total:,}{eta}")
        self.lr_status.setText(
            f"Computing features once with the frozen {'encoder' if self.kind == 'text' else 'backbone'}: "
            f"{done:,} of {total:,} {'text' if self.kind == 'text' else 'image'} views; the learning rates are "
            "tried after that, in seconds."
        )

    def show_lr_finder_progress(self, done: int, total: int) -> None:
        self.lr_progress.setRange(0, max(1, total))
        self.lr_progress.setValue(done)
        self.lr_progress.setFormat(f"step {done}/{total}")
        self.lr_status.setText(f"Trying learning rates… {done} of at most {total}")

    def _cancel_lr_finder(self) -> None:
        self.lr_cancel.setEnabled(False)
        self.lr_status.setText("Cancelling after the current batch…")
        self.lr_finder_cancel_requested.emit()

    def _fit_lr_axes(self) -> None:
        """The axes on the curve now and as it grows (before it they spanned the finder's sweep)."""
        self.lr_plot.enableAutoRange()
        self.lr_plot.autoRange()

    def show_lr_finder_curve(self, rates: tuple[float, ...], losses: tuple[float, ...]) -> None:
        """The loss against the rate as measured so far (the test is still running)."""
        self.lr_curve.setData(np.asarray(rates, dtype=float), np.asarray(losses, dtype=float))
        self._fit_lr_axes()

    def show_lr_finder_result(self, result: object) -> None:
        """Plot loss against learning rate; ``result`` has ``learning_rates``, ``losses`` and ``suggestion``."""
        rates = np.asarray(result.learning_rates, dtype=float)
        losses = np.asarray(result.losses, dtype=float)
        self.lr_curve.setData(rates, losses)
        self._fit_lr_axes()
        self._suggestion = float(result.suggestion)
        self._suggestion_transfer = getattr(result, "transfer", None) or self.transfer()
        self.lr_marker.setValue(math.log10(self._suggestion))
        self.lr_marker.show()
        self.use_lr.setEnabled(True)
        self.set_lr_finder_running(
            False, f"Suggested head learning rate: {self._suggestion:.2g} (steepest fall of the loss)."
        )

    def show_lr_finder_error(self, message: str) -> None:
        self.set_lr_finder_running(False, message)

    def _use_suggestion(self) -> None:
        if self._suggestion is not None:
            self.learning_rate.setValue(self._suggestion)

    def set_training_count(self, count: int) -> None:
        """The project's labelled training items: what the contrastive step of a text run pairs."""
        self._training_texts = count
        self._show_contrastive_count()

    def _show_contrastive_count(self, *_: object) -> None:
        steps = contrastive_step_count(self._training_texts, self.contrastive_steps.value())
        fewer = 0 < steps < self.contrastive_steps.value()
        self.contrastive_note.setText(
            f"({steps} for this project's {self._training_texts} labelled training texts)" if fewer else ""
        )
        self.contrastive_note.setVisible(fewer and not self.contrastive_row.isHidden())

    # ------------------------------------------------------------------ DMTL and cross-validation
    def set_unlabelled_count(self, count: int) -> None:
        """Show how many usable unlabelled images the project has (the ones a run would learn from)."""
        self._unlabelled_count = count
        items = "texts" if self.kind == "text" else "images"
        self.use_unlabelled.setText(f"Learn from unlabelled {items} ({count} available)")
        self._consistency_changed()

    def _consistency_changed(self, *_: object) -> None:
        on = self.consistency_weight.value() > 0
        self.use_unlabelled.setEnabled(on and self._unlabelled_count > 0)
        probe = (
            self.transfer() == "frozen"
            and self.head_kind.currentData() == "linear"
            and self.linear_probe.isChecked()
        )
        self.unlabelled_ratio.setEnabled(on and self.use_unlabelled.isChecked() and not probe)
        items = "texts" if self.kind == "text" else "images"
        # What the unlabelled items do in the run set up: a probe has no consistency term (no λ at work).
        self.dmtl_note.setText(
            f"A linear probe learns from unlabelled {items} by class-balanced pseudo-labels "
            f"({'self-training' if self.kind == 'text' else 'label spreading'}) when Learn from unlabelled "
            f"{items} is ticked; it has no consistency term."
            if probe
            else encoder_rows.DMTL_NOTE
            if self.kind == "text"
            else DMTL_NOTE
        )
        self.unlabelled_ratio.setToolTip(
            self._tips.get("unlabelled_ratio", UNLABELLED_RATIO_TIP)
            + (
                "\n\nA linear probe does not use it: it learns from the unlabelled "
                f"{'texts by self-training' if self.kind == 'text' else 'images by label spreading'}, all of "
                "them at once."
                if probe
                else ""
            )
        )
        # The rule is for a fine-tuned image backbone: a frozen one keeps its feature-space rule, a text run its
        # consistency term.
        rule = (
            on and self.use_unlabelled.isChecked() and self.transfer() != "frozen" and self.kind == "images"
        )
        self.unlabelled_rule.setEnabled(rule)
        self.unlabelled_rule_label.setEnabled(rule)

    def set_crossval_running(self, running: bool, message: str = "") -> None:
        self.crossval_button.setEnabled(not running)
        self.crossval_cancel.setEnabled(running)
        if running:
            self.crossval_progress.setRange(0, 0)
            self.crossval_progress.setFormat("preparing…")
        if message:
            self.crossval_status.setText(message)

    def show_crossval_progress(self, done: int, total: int, text: str) -> None:
        self.crossval_progress.setRange(0, max(1, total))
        self.crossval_progress.setValue(done)
        self.crossval_progress.setFormat(text)

    def show_crossval_result(self, result: dict) -> None:
        folds = ", ".join(f"{100 * f['accuracy']:.1f}" for f in result["per_fold"])
        self.set_crossval_running(False)
        self.crossval_progress.setRange(0, 1)
        self.crossval_progress.setValue(1)
        self.crossval_progress.setFormat("done")
        balanced = result.get("mean_balanced_accuracy")
        warning = result.get("majority_warning") or ""
        self.crossval_status.setText(
            f"{result['folds']}-fold accuracy: {100 * result['mean_accuracy']:.1f} ± "
            f"{100 * result['std_accuracy']:.1f} % (folds: {folds})"
            + (
                f"; balanced accuracy {100 * balanced:.1f} ± {100 * result['std_balanced_accuracy']:.1f} %"
                if balanced is not None
                else ""
            )
            + (f". {warning[:1].upper()}{warning[1:]}" if warning else "")
        )

    def show_crossval_error(self, message: str) -> None:
        self.set_crossval_running(False, message)
        self.crossval_progress.setRange(0, 1)
        self.crossval_progress.setValue(0)
        self.crossval_progress.setFormat("idle")

    def _cancel_crossval(self) -> None:
        self.crossval_cancel.setEnabled(False)
        self.crossval_status.setText("Cancelling after the current batch…")
        self.crossval_cancel_requested.emit()

    def _request_lr_finder(self) -> None:
        config = self.checked_config()
        if config is not None:
            self.lr_finder_requested.emit(config)

    def _request_crossval(self) -> None:
        config = self.checked_config()
        if config is not None:
            self.crossval_requested.emit(config, self.folds.value())

    # ------------------------------------------------------------------ result
    def checked_config(self) -> TrainConfig | None:
        """The settings as a configuration, or ``None`` after telling the user why they cannot be used.

        Core's validation decides (the command line prints the same sentence).
        """
        try:
            return self.config()
        except ConfigError as exc:
            QMessageBox.warning(self, "These settings cannot train", str(exc))
            return None

    def config(self) -> TrainConfig:
        """The form's settings over the recommended configuration (what the form does not show stays at that).

        Raises
        ------
        ConfigError
            A setting core refuses (the message names it).
        """
        return TrainConfig.recommended(
            backbone=self.backbone_name(),
            transfer=self.transfer(),
            time_budget=round(self.time_budget.value(), 1),
            unfreeze_stages=self.stages.value(),
            head=str(self.head_kind.currentData()),
            resize_mode=str(self.resize_mode.currentData()),
            input_size=(
                self.input_size_box.value()
                if self.kind == "images" and self.input_size_box.value() != INPUT_SIZE_OWN
                else None
            ),
            linear_probe=self.linear_probe.isChecked(),
            contrastive_steps=self.contrastive_steps.value(),  # an image run stores it off (core)
            hidden_size=self.hidden.value(),
            dropout=round(self.dropout.value(), 3),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            learning_rate=self.learning_rate.value(),
            backbone_lr_factor=self.backbone_factor.value(),
            layer_decay=round(self.layer_decay.value(), 3),
            ema_decay=round(self.ema_decay.value(), 4),
            tta_flip=self.tta_flip.isChecked(),
            consistency_weight=round(self.consistency_weight.value(), 3),
            use_unlabelled=self.use_unlabelled.isEnabled() and self.use_unlabelled.isChecked(),
            unlabelled_ratio=self.unlabelled_ratio.value(),
            unlabelled_rule=str(self.unlabelled_rule.currentData()),
            imbalance=str(self.imbalance.currentData()),
        )

    def apply_config(self, config: TrainConfig) -> None:
        """Show ``config``'s settings in the form (a project's settings as they were left). A backbone this
        project kind does not list keeps the current choice; values out of a field's range are clamped by it."""
        self.select_backbone(config.backbone)
        button = self.strategy_buttons.get(config.transfer)
        if button is not None and not (
            self.kind == "text" and config.transfer == "auto"
        ):  # no Auto for texts
            button.setChecked(True)
        self.time_budget.setValue(config.time_budget)
        self.stages.setValue(config.unfreeze_stages)
        for box, value in (
            (self.head_kind, config.head),
            (self.unlabelled_rule, config.unlabelled_rule),
            (self.resize_mode, config.resize_mode),
            (self.imbalance, config.imbalance),
        ):
            index = box.findData(value)
            if index >= 0:
                box.setCurrentIndex(index)
        self.linear_probe.setChecked(config.linear_probe)
        self.input_size_box.setValue(config.input_size or INPUT_SIZE_OWN)
        if self.kind == "text":
            self.contrastive_steps.setValue(config.contrastive_steps)
        self.hidden.setValue(config.hidden_size)
        self.dropout.setValue(config.dropout)
        self.epochs.setValue(config.epochs)
        self.batch_size.setValue(config.batch_size)
        self.learning_rate.setValue(config.learning_rate)
        self.backbone_factor.setValue(config.backbone_lr_factor)
        self.layer_decay.setValue(config.layer_decay)
        self.ema_decay.setValue(config.ema_decay)
        self.tta_flip.setChecked(config.tta_flip)
        self.consistency_weight.setValue(config.consistency_weight)
        self.use_unlabelled.setChecked(config.use_unlabelled)
        self.unlabelled_ratio.setValue(config.unlabelled_ratio)
        self._strategy_changed()
