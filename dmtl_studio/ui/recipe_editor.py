"""The augmentation recipe editor: steps to add, remove, reorder and switch; a form from each operation's
parameter spec; and a live preview of what training will make of the selected images — or, for a text project,
of the selected texts (or the user's own), with the changed words marked.

The editor computes nothing itself: it emits :attr:`RecipeEditor.preview_requested` (debounced) and shows the
:class:`PreviewResult` it is given back. Only the newest request's result is shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.augment.choice import ONE_OF, ONE_OF_HELP, ONE_OF_LABEL
from dmtl_studio.core.augment.presets import (
    default_recipe,
    named_for_its_steps,
    preset,
    presets,
    trivial_augment,
)
from dmtl_studio.core.augment.preview import PREVIEW_SIZE, PreviewRequest, PreviewResult
from dmtl_studio.core.augment.recipe import KINDS, Recipe, Step, load_recipe, save_recipe
from dmtl_studio.core.augment.registry import ParamSpec, RecipeError, get_operation, operations
from dmtl_studio.core.augment.resize import DEFAULT_RESIZE
from dmtl_studio.core.augment.text_preview import TextPreviewRequest, TextPreviewResult
from dmtl_studio.ui.column_scroll import ColumnScroll
from dmtl_studio.ui.decimal_box import DecimalSpinBox
from dmtl_studio.ui.file_dialogs import ask_open_file, ask_save_file
from dmtl_studio.ui.muted import tone
from dmtl_studio.ui.plot_theme import plot_font
from dmtl_studio.ui.text_preview_panel import TextPreviewPanel

log = logging.getLogger(__name__)

TILE_SIZE = 84
ORIGINAL_SIZE = 2 * TILE_SIZE
TILE_COUNT = 12
TILE_COLUMNS = 4
DEBOUNCE_MS = 30
SLIDER_STEPS = 1000
StepRole = Qt.ItemDataRole.UserRole + 1
FAMILY_TITLES = {
    "geometry": "Geometry",
    "pixel": "Pixels",
    "erasing": "Erasing",
    "mixing": "Mixing (batches)",
}
#: The mixing family's one text step says "(embeddings)" itself.
TEXT_FAMILY_TITLES = {"words": "Words", "characters": "Characters", "mixing": "Mixing"}
TEXT_SAMPLE_COUNT = 6


def array_to_pixmap(array: np.ndarray, size: int) -> QPixmap:
    """An RGB uint8 array as a pixmap scaled to ``size`` pixels wide."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    image = QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def describe(step: Step) -> str:
    """One line for the step list, e.g. ``Rotate — p 0.50 · Max angle 15°`` or, for a ``one_of`` step,
    ``One of (TrivialAugment) — p 1.00 · 10 of 11 operations``."""
    if step.operation == ONE_OF:
        used = sum(option.enabled for option in step.options)
        return f"{ONE_OF_LABEL} — p {step.probability:.2f} · {used} of {len(step.options)} operations"
    op = get_operation(step.operation)
    parts = []
    for spec in op.params:
        value = step.values[spec.name]
        text = f"{value:g}" if spec.kind == "float" else str(value)
        parts.append(f"{spec.label.lower()} {text}{spec.unit if spec.unit in ('°', 'px') else ''}")
    details = f" · {', '.join(parts)}" if parts else ""
    return f"{op.label} — p {step.probability:.2f}{details}"


def safe_file_stem(name: str) -> str:
    """``name`` as the start of a proposed file name: letters, digits, ``-_.()`` and spaces kept, anything else
    (``/``, ``..`` at either end, markup) made ``_``, at most 80 characters; ``"recipe"`` when nothing is left."""
    stem = "".join(c if c.isalnum() or c in "-_.() " else "_" for c in name).strip(" ._")[:80]
    return stem or "recipe"


class _FloatControl(QWidget):
    """A slider beside a spin box, both showing one float parameter."""

    changed = Signal(float)

    def __init__(self, minimum: float, maximum: float, step: float, decimals: int, value: float) -> None:
        super().__init__()
        self.minimum, self.maximum = minimum, maximum
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.spin = DecimalSpinBox()
        self.spin.setRange(minimum, maximum)
        self.spin.setSingleStep(step)
        self.spin.setDecimals(decimals)
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(78)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.set_value(value)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def set_accessible_name(self, name: str) -> None:
        """Name both parts for a screen reader (a form row's label names neither of them)."""
        self.slider.setAccessibleName(name)
        self.spin.setAccessibleName(name)

    def set_value(self, value: float) -> None:
        """Show ``value`` on both controls without emitting :attr:`changed`."""
        blocked = self.slider.blockSignals(True), self.spin.blockSignals(True)
        self.spin.setValue(value)
        span = self.maximum - self.minimum
        self.slider.setValue(round((value - self.minimum) / span * SLIDER_STEPS) if span else 0)
        self.slider.blockSignals(blocked[0])
        self.spin.blockSignals(blocked[1])

    def _from_slider(self, position: int) -> None:
        value = self.minimum + (self.maximum - self.minimum) * position / SLIDER_STEPS
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self.changed.emit(self.spin.value())  # rounded to the spin box's decimals, as it is stored

    def _from_spin(self, value: float) -> None:
        self.set_value(value)
        self.changed.emit(value)


def _decimals(step: float) -> int:
    return max(0, min(4, -int(np.floor(np.log10(step))))) if step < 1 else 1


class _Tile(QWidget):
    """One preview picture with its caption (the label, or the mixed labels with their weights)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.picture = QLabel()
        self.picture.setFixedSize(size, size)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("background: #e4e7eb;")
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        tone(self.caption)
        # A point under the window's font: it follows a larger one (not 10 px).
        self.caption.setFont(plot_font())
        self.caption.setFixedWidth(size)
        # Two lines: a mixed sample names both labels with their weights, one per line.
        self.caption.setFixedHeight(2 * self.caption.fontMetrics().height() + 2)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)

    def show_image(self, array: np.ndarray, caption: str, tooltip: str = "") -> None:
        """Show an RGB array with its caption (a ``" + "`` between labels starts a new line)."""
        self.picture.setPixmap(array_to_pixmap(array, self.picture.width()))
        metrics = self.caption.fontMetrics()
        lines = [
            metrics.elidedText(line, Qt.TextElideMode.ElideRight, self.picture.width())
            for line in caption.split(" + ")
        ]
        self.caption.setText("\n".join(lines))
        self.setToolTip(tooltip or caption)


class RecipeEditor(QWidget):
    """Edits a :class:`Recipe` and previews it on the selected images, or texts when its kind is ``"text"``."""

    recipe_changed = Signal(object)  # Recipe, after each edit (debounced): the project stores it
    preview_requested = Signal(object)  # PreviewRequest
    preview_shown = Signal(object)  # PreviewResult, once it is on screen

    def __init__(self, parent: QWidget | None = None, kind: str = "images") -> None:
        super().__init__(parent)
        if kind not in KINDS:
            raise ValueError(f"unknown recipe kind {kind!r}")
        self._kind = kind
        self._items: tuple[tuple[str, str], ...] = ()
        self._seed = 0
        self._mixing_note = ""  # what the chosen strategy does with mixing steps (set_mixing_note)
        self._preview_size = PREVIEW_SIZE  # the chosen backbone's input size: training augments at it
        self._resize_mode = DEFAULT_RESIZE  # the model panel's image shape (set_resize_mode)
        self._request_id = 0
        self._changed_at = 0.0
        self._recipe_dirty = False
        self._building = False
        #: The recipe files last written or read (newest first) with the steps they hold: a recipe that is still
        #: one of them is not lost when replaced.
        self._files: list[tuple[Path, tuple[Step, ...]]] = []
        self.last_latency_ms: float | None = None

        # -------------------------------------------------------------- recipe toolbar
        self.presets = QComboBox()
        self.presets.setToolTip("Replace the recipe with a ready-made one")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.import_button.setToolTip("Read a recipe file (.json)")
        self.export_button.setToolTip("Save this recipe as a file, to reuse it in other projects")
        bar = QHBoxLayout()
        bar.addWidget(self.presets, 1)
        bar.addWidget(self.import_button)
        bar.addWidget(self.export_button)

        # -------------------------------------------------------------- steps
        self.steps = QListWidget()
        self.steps.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.steps.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.steps.setToolTip("Drag to reorder; untick to switch a step off. Steps run from top to bottom.")
        self.steps.setMinimumSize(200, 150)
        self.add_choice = QComboBox()
        self._fill_choices()
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_choice, 1)
        add_row.addWidget(self.add_button)
        add_row.addWidget(self.remove_button)

        self.step_help = QLabel("Select a step to change it.")
        self.step_help.setWordWrap(True)
        tone(self.step_help)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        settings_host = QWidget()
        settings_host.setMinimumWidth(230)
        settings = QVBoxLayout(settings_host)
        settings.setContentsMargins(0, 0, 0, 0)
        settings.addWidget(self.step_help)
        settings.addWidget(self.form_host)
        settings.addStretch(1)

        steps_column = QVBoxLayout()
        steps_column.addWidget(self.steps, 1)
        steps_column.addLayout(add_row)
        # Stacked, not side by side: the editor lives in a side column about a third of the window wide.
        top = QVBoxLayout()
        top.addLayout(steps_column)
        top.addWidget(settings_host)
        self.steps.setMinimumHeight(80)
        self.steps.setMaximumHeight(150)  # about eight steps; the preview below gets the rest of the height

        # -------------------------------------------------------------- preview
        self.image_choice = QComboBox()
        self.image_choice.setToolTip(
            "The selected image shown; the other selected images are mixing partners"
        )
        self.reseed_button = QPushButton("Re-seed")
        self.reseed_button.setToolTip("Draw 12 new random versions")
        self.preview_status = QLabel("Select images in the browser to preview the recipe on them.")
        tone(self.preview_status)
        self.preview_status.setWordWrap(True)  # a long status must not widen the column
        # The choices shrink to the column: long names must not push the buttons
        # beside them out of a narrow side column.
        for choice in (self.presets, self.add_choice, self.image_choice):
            choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            choice.setMinimumContentsLength(10)
        preview_bar = QHBoxLayout()
        preview_bar.addWidget(QLabel("<b>Preview</b>"))
        preview_bar.addWidget(self.image_choice, 1)
        preview_bar.addWidget(self.reseed_button)
        self.original = _Tile(ORIGINAL_SIZE)
        self.tiles = [_Tile(TILE_SIZE) for _ in range(TILE_COUNT)]
        grid = QGridLayout()
        grid.setSpacing(4)
        original_box = QVBoxLayout()
        original_box.addWidget(QLabel("Original"))
        original_box.addWidget(self.original)
        original_box.addStretch(1)
        # The original takes a 2 x 2 block at the top left; the samples fill the rest, four tiles a row, so the
        # whole grid is four tiles wide and fits the side column without scrolling sideways.
        grid.addLayout(original_box, 0, 0, 2, 2)
        beside = 2 * (TILE_COLUMNS - 2)
        for k, tile in enumerate(self.tiles):
            if k < beside:
                grid.addWidget(tile, k // (TILE_COLUMNS - 2), 2 + k % (TILE_COLUMNS - 2))
            else:
                grid.addWidget(tile, 2 + (k - beside) // TILE_COLUMNS, (k - beside) % TILE_COLUMNS)
        grid_host = QWidget()
        grid_host.setLayout(grid)
        grid_host.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        # The image preview and the text preview: one of them shows, by the recipe's kind.
        self.image_preview = QWidget()
        image_layout = QVBoxLayout(self.image_preview)
        image_layout.setContentsMargins(0, 0, 0, 0)
        image_layout.addLayout(preview_bar)
        image_layout.addWidget(grid_host, 0, Qt.AlignmentFlag.AlignLeft)
        image_layout.addWidget(self.preview_status)
        self.text_preview = TextPreviewPanel()

        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it quotes file contents (a recipe's name)
        self.message.setWordWrap(True)
        tone(self.message, "#c0392b")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addLayout(top)
        layout.addWidget(self.image_preview)
        layout.addWidget(self.text_preview, 1)
        self._stretch_row = layout.count()
        layout.addStretch(1)
        self._body_layout = layout
        # In a short dock the editor scrolls instead of squeezing the preview tiles.
        scroll = ColumnScroll(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._flush)

        self.presets.activated.connect(self._preset_chosen)
        self.import_button.clicked.connect(self._ask_import)
        self.export_button.clicked.connect(self._ask_export)
        self.add_button.clicked.connect(lambda: self.add_step(self.add_choice.currentData()))
        self.remove_button.clicked.connect(lambda: self.remove_step(self.steps.currentRow()))
        self.steps.currentRowChanged.connect(self._show_step_form)
        self.steps.itemChanged.connect(self._item_changed)
        self.steps.model().rowsMoved.connect(self._rows_moved)
        self.reseed_button.clicked.connect(self.reseed)
        self.image_choice.currentIndexChanged.connect(lambda _: self._schedule(recipe_edited=False))
        self.text_preview.text_changed.connect(lambda: self._schedule(recipe_edited=False))
        self.text_preview.reseed_requested.connect(self.reseed)

        self._show_kind()
        self.set_recipe(default_recipe(kind))

    # ------------------------------------------------------------------ the kind: images or text
    @property
    def kind(self) -> str:
        """What the recipe augments: ``"images"`` or ``"text"`` (the project's kind)."""
        return self._kind

    def set_kind(self, kind: str) -> None:
        """Edit recipes of ``kind``: its operations, presets and preview; the recipe becomes its default preset."""
        if kind not in KINDS:
            raise ValueError(f"unknown recipe kind {kind!r}")
        if kind == self._kind:
            return
        self._kind = kind
        self._items = ()
        self._fill_choices()
        self._show_kind()
        self.set_recipe(default_recipe(kind))

    def _fill_choices(self) -> None:
        titles = TEXT_FAMILY_TITLES if self._kind == "text" else FAMILY_TITLES
        self.add_choice.clear()
        for family, title in titles.items():
            for op in operations(self._kind):
                if op.family == family:
                    self.add_choice.addItem(f"{title}: {op.label}", op.name)
        if self._kind == "images":
            self.add_choice.addItem(f"Choice: {ONE_OF_LABEL}", ONE_OF)
        self.presets.clear()
        self.presets.addItem("Load preset…", None)
        for name in presets(self._kind):
            self.presets.addItem(name, name)

    def _show_kind(self) -> None:
        text = self._kind == "text"
        self.image_preview.setVisible(not text)
        self.text_preview.setVisible(text)
        # The text preview takes the height left; the image grid has a fixed size and a stretch below it.
        self._body_layout.setStretch(self._stretch_row, 0 if text else 1)

    # ------------------------------------------------------------------ the recipe
    def recipe(self) -> Recipe:
        """The recipe as shown, steps in list order; a preset whose steps were changed (a step unticked, a
        setting moved) is named ``"<preset> (edited)"``, so the run history and the file offered on export do
        not call two recipes by one preset's name."""
        steps = tuple(self.steps.item(row).data(StepRole) for row in range(self.steps.count()))
        return named_for_its_steps(Recipe(steps, self._name, self._kind))

    def set_recipe(self, recipe: Recipe) -> None:
        """Show ``recipe`` (replacing the current one) and preview it; does not count as an edit.

        A recipe of the other kind is not shown: the editor says why and keeps its recipe.
        """
        if recipe.kind != self._kind:
            self.show_message(self._kind_mismatch(recipe))
            return
        self.show_message("")  # a recipe shown: an earlier "not loaded" is not about it (h33)
        self._name = recipe.name
        self._building = True
        self.steps.clear()
        for step in recipe.steps:
            self.steps.addItem(self._new_item(step))
        self._building = False
        self.steps.setCurrentRow(0 if recipe.steps else -1)
        self._show_step_form(self.steps.currentRow())
        self._schedule(recipe_edited=False)

    def _new_item(self, step: Step) -> QListWidgetItem:
        item = QListWidgetItem(describe(step))
        item.setData(StepRole, step)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
        item.setCheckState(Qt.CheckState.Checked if step.enabled else Qt.CheckState.Unchecked)
        item.setToolTip(ONE_OF_HELP if step.operation == ONE_OF else get_operation(step.operation).help)
        return item

    def _replace_step(self, row: int, step: Step) -> None:
        item = self.steps.item(row)
        self._building = True
        item.setData(StepRole, step)
        item.setText(describe(step))
        self._building = False
        self._schedule()

    def add_step(self, operation: str) -> None:
        """Append a step of ``operation`` with its default settings and select it (a ``one_of`` step starts with
        TrivialAugment's operations)."""
        step = trivial_augment() if operation == ONE_OF else Step.of(operation)
        self.steps.addItem(self._new_item(step))
        self.steps.setCurrentRow(self.steps.count() - 1)
        self._name = "custom"
        self._schedule()

    def remove_step(self, row: int) -> None:
        """Remove the step shown at ``row`` (nothing happens for a row that does not exist)."""
        if 0 <= row < self.steps.count():
            self.steps.takeItem(row)
            self._name = "custom"
            self._show_step_form(self.steps.currentRow())
            self._schedule()

    def set_step_enabled(self, row: int, enabled: bool) -> None:
        """Tick or untick the step at ``row``, as its check box does."""
        self.steps.item(row).setCheckState(Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._building:
            return
        step: Step = item.data(StepRole)
        enabled = item.checkState() == Qt.CheckState.Checked
        if step.enabled != enabled:
            self._building = True
            item.setData(StepRole, replace(step, enabled=enabled))
            self._building = False
            self._schedule()

    def _rows_moved(self, *args: object) -> None:
        # Dragging reorders the list's items and the recipe is read from them; the form's controls know their
        # step by row, so they are rebuilt for the moved rows.
        self._name = "custom"
        self._show_step_form(self.steps.currentRow())
        self._schedule()

    def is_custom(self) -> bool:
        """Whether the recipe shown is the user's own work (no preset has these steps): replacing it loses it."""
        steps = self.recipe().steps
        return all(recipe.steps != steps for recipe in presets(self._kind).values())

    def confirm_replace(self, what: str) -> bool:
        """Ask before ``what`` replaces the user's own recipe; a preset's copy is replaced without asking, and the
        question says where the recipe was last exported or read from when it is unchanged since."""
        if not self.is_custom():
            return True
        steps = self.recipe().steps
        kept = next((str(path) for path, saved in self._files if saved == steps), None)
        answer = QMessageBox.question(
            self,
            "Replace the recipe?",
            f"The current recipe ({self.steps.count()} steps) is your own edit. Replace it with {what}?\n"
            + (f"A copy of it is in {kept}." if kept else "Export it first (Export…) to keep a copy."),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _preset_chosen(self, index: int) -> None:
        name = self.presets.itemData(index)
        self.presets.setCurrentIndex(0)
        if name and self.confirm_replace(f"the preset '{name}'"):
            self.set_recipe(preset(name, self._kind))
            self._recipe_dirty = True
            self._debounce.start()

    # ------------------------------------------------------------------ files
    def import_file(self, path: str | Path, ask: bool = False) -> bool:
        """Load a recipe file; a bad file changes nothing and its problem is shown. With ``ask``, a recipe that
        can be loaded then asks before it replaces the user's own (a file that cannot asked first, then was
        refused). Returns success."""
        try:
            recipe = load_recipe(path)
        except RecipeError as exc:
            self.show_message(f"Recipe not loaded — {exc}")
            return False
        if recipe.kind != self._kind:
            self.show_message(f"Recipe not loaded — {self._kind_mismatch(recipe)}")
            return False
        if ask and not self.confirm_replace(f"the recipe in {Path(path).name}"):
            return False
        self.show_message("")
        self.set_recipe(recipe)
        self._files = [(Path(path), recipe.steps), *self._files[:4]]
        self._recipe_dirty = True
        self._debounce.start()
        return True

    def export_file(self, path: str | Path) -> None:
        """Write the recipe to a file; a failure is shown in the editor."""
        recipe = self.recipe()
        try:
            save_recipe(recipe, path)
        except OSError as exc:
            self.show_message(f"Recipe not saved — {exc}")
        else:
            self.show_message("")
            self._files = [(Path(path), recipe.steps), *self._files[:4]]

    def _ask_import(self) -> None:
        path = ask_open_file(self, "Import a recipe", "Recipes (*.json);;All files (*)")
        if path:
            self.import_file(path, ask=True)

    def _ask_export(self) -> None:
        path = ask_save_file(
            self, "Export the recipe", f"{safe_file_stem(self.recipe().name)}.recipe.json", "Recipes (*.json)"
        )
        if path:
            self.export_file(path)

    def _kind_mismatch(self, recipe: Recipe) -> str:
        what = {"images": "an image", "text": "a text"}
        return (
            f"'{recipe.name}' is {what[recipe.kind]} recipe, and this project needs {what[self._kind]} recipe"
        )

    def set_mixing_note(self, note: str) -> None:
        """What training does with the recipe's mixing steps under the chosen strategy (``""``: as previewed);
        said after the preview's count of mixed pairs, and the preview is redrawn to say it."""
        note = f" — {note}" if note else ""
        if note != self._mixing_note:
            self._mixing_note = note
            self._schedule(recipe_edited=False)

    def show_message(self, text: str) -> None:
        """Show a problem above the steps (an empty text hides it)."""
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------------ the step form
    def _show_step_form(self, row: int) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.remove_button.setEnabled(row >= 0)
        if row < 0 or row >= self.steps.count():
            self.step_help.setText(
                "Select a step to change it." if self.steps.count() else "No steps: add one."
            )
            return
        step: Step = self.steps.item(row).data(StepRole)
        one_of = step.operation == ONE_OF
        if one_of:
            self.step_help.setText(f"<b>{ONE_OF_LABEL}</b><br>{ONE_OF_HELP}")
        else:
            op = get_operation(step.operation)
            self.step_help.setText(f"<b>{op.label}</b><br>{op.help}")
        probability = _FloatControl(0.0, 1.0, 0.05, 2, step.probability)
        probability.setToolTip("How often the step is applied (0: never, 1: always)")
        probability.set_accessible_name("Probability")
        probability.changed.connect(lambda value, r=row: self._set_probability(r, value))
        self.form.addRow("Probability", probability)
        if one_of:
            self._show_options(row, step)
            return
        for spec in get_operation(step.operation).params:
            self.form.addRow(self._label_for(spec), self._control_for(row, spec, step.values[spec.name]))

    def _show_options(self, row: int, step: Step) -> None:
        """A ``one_of`` step's form: pick one of its operations to switch it on or off and set its range."""
        choice = QComboBox()
        choice.setObjectName("one_of_option")
        choice.setToolTip("The operation whose settings are shown below")
        for option in step.options:
            choice.addItem(get_operation(option.operation).label)
        host = QWidget()
        host.setObjectName("one_of_settings")
        QFormLayout(host).setContentsMargins(0, 0, 0, 0)
        self.form.addRow("Operation", choice)
        self.form.addRow(host)
        choice.currentIndexChanged.connect(lambda k, r=row, h=host: self._show_option(r, k, h))
        self._show_option(row, 0, host)

    def _show_option(self, row: int, index: int, host: QWidget) -> None:
        form: QFormLayout = host.layout()
        while form.rowCount():
            form.removeRow(0)
        options = self.steps.item(row).data(StepRole).options
        if not 0 <= index < len(options):
            return
        option = options[index]
        included = QCheckBox("Among the operations drawn")
        included.setObjectName("option_enabled")
        included.setChecked(option.enabled)
        included.toggled.connect(lambda on, r=row, k=index: self._change_option(r, k, "enabled", on))
        form.addRow(included)
        for spec in get_operation(option.operation).params:

            def apply(value: object, r: int = row, k: int = index, name: str = spec.name) -> None:
                self._change_option(r, k, name, value)

            form.addRow(self._label_for(spec), self._control_for(row, spec, option.values[spec.name], apply))

    def _change_option(self, row: int, index: int, name: str, value: object) -> None:
        """Switch the ``one_of`` option ``index`` of the step at ``row`` on or off (``name`` ``"enabled"``), or set
        one of its parameters."""
        self._changed_at = time.perf_counter()
        step: Step = self.steps.item(row).data(StepRole)
        option = step.options[index]
        if name == "enabled":
            option = replace(option, enabled=bool(value))
        else:
            option = option.with_param(name, value)  # type: ignore[arg-type]
            for low, high in get_operation(option.operation).ordered:  # a range stays a range
                partner = high if name == low else low if name == high else None
                if partner is not None and option.values[low] > option.values[high]:
                    option = option.with_param(partner, value)  # type: ignore[arg-type]
                    self._show_partner(partner, value, self.findChild(QWidget, "one_of_settings"))
        options = step.options[:index] + (option,) + step.options[index + 1 :]
        self._replace_step(row, replace(step, options=options))

    @staticmethod
    def _label_for(spec: ParamSpec) -> QLabel:
        label = QLabel(f"{spec.label}{f' ({spec.unit})' if spec.unit else ''}")
        label.setToolTip(spec.help)
        return label

    def _control_for(
        self, row: int, spec: ParamSpec, value: object, apply: Callable[[object], None] | None = None
    ) -> QWidget:
        if apply is None:

            def apply(new: object) -> None:
                self._set_param(row, spec.name, new)

        if spec.kind == "float":
            control = _FloatControl(spec.minimum, spec.maximum, spec.step, _decimals(spec.step), float(value))
            control.set_accessible_name(spec.name)
            control.changed.connect(apply)
        elif spec.kind == "int":
            control = QSpinBox()
            control.setRange(int(spec.minimum), int(spec.maximum))
            control.setValue(int(value))
            control.valueChanged.connect(apply)
        elif spec.kind == "bool":
            control = QCheckBox()
            control.setChecked(bool(value))
            control.toggled.connect(apply)
        else:
            control = QComboBox()
            control.addItems(list(spec.choices))
            control.setCurrentText(str(value))
            control.currentTextChanged.connect(apply)
        control.setToolTip(spec.help)
        control.setObjectName(f"param_{spec.name}")
        return control

    def _set_probability(self, row: int, value: float) -> None:
        self._changed_at = time.perf_counter()
        self._replace_step(row, replace(self.steps.item(row).data(StepRole), probability=float(value)))

    def _set_param(self, row: int, name: str, value: object) -> None:
        self._changed_at = time.perf_counter()
        step: Step = self.steps.item(row).data(StepRole).with_param(name, value)
        # A range given as two values stays a range: moving one end past the other takes the other along.
        for low, high in get_operation(step.operation).ordered:
            partner = high if name == low else low if name == high else None
            if partner is None:
                continue
            values = step.values
            if values[low] > values[high]:
                step = step.with_param(partner, value)
                self._show_partner(partner, value, self)
        self._replace_step(row, step)

    @staticmethod
    def _show_partner(name: str, value: object, within: QWidget | None) -> None:
        """Show ``value`` in the control of the range end ``name`` that moved along with the other end."""
        control = within.findChild(_FloatControl, f"param_{name}") if within is not None else None
        if control is not None:
            control.set_value(float(value))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ preview
    def set_images(self, items: list[tuple[str, str | None]]) -> None:
        """The selected images as ``(path, label or None)``; the first is previewed, the others are mixing
        partners (labelled ones only: training mixes labelled images)."""
        items = tuple(items)[:20]
        if items == self._items:
            return
        current = self.image_choice.currentData()
        self._items = items
        self.image_choice.blockSignals(True)
        self.image_choice.clear()
        for path, label in items:
            self.image_choice.addItem(f"{Path(path).name} ({label or 'unlabelled'})", path)
        paths = [path for path, _ in items]
        self.image_choice.setCurrentIndex(paths.index(current) if current in paths else 0)
        self.image_choice.blockSignals(False)
        self._schedule(recipe_edited=False)

    def set_texts(self, items: list[tuple[str, str | None]]) -> None:
        """The selected texts as ``(text, label)`` (a text project); the first is previewed unless the user typed
        their own text, the others are mixing partners."""
        self.text_preview.set_texts(items)

    def set_preview_size(self, size: int) -> None:
        """Make the samples at ``size`` pixels, the chosen backbone's input, as training augments them (a blur's
        sigma or a translation in pixels looks as strong as it will be)."""
        if size != self._preview_size:
            self._preview_size = int(size)
            self._schedule(recipe_edited=False)

    def set_resize_mode(self, mode: str) -> None:
        """Show the samples fitted into the square as the run will fit them (``"pad"`` or ``"stretch"``)."""
        if mode != self._resize_mode:
            self._resize_mode = mode
            self._schedule(recipe_edited=False)

    def reseed(self) -> None:
        """Draw new random samples for the preview (the recipe does not change)."""
        self._seed += 1
        self._schedule(recipe_edited=False)

    def _schedule(self, recipe_edited: bool = True) -> None:
        if self._building:
            return
        if recipe_edited:
            self._recipe_dirty = True
            self.show_message("")  # an edit makes the recipe shown the one kept: an earlier problem is past
        if not self._changed_at:
            self._changed_at = time.perf_counter()
        self._debounce.start()

    def _flush(self) -> None:
        recipe = self.recipe()
        if self._recipe_dirty:
            self._recipe_dirty = False
            self.recipe_changed.emit(recipe)
        if self._kind == "text":
            self._request_text_preview(recipe)
            return
        if not self._items:
            self._changed_at = 0.0
            return
        self._request_id += 1
        request = PreviewRequest(
            request_id=self._request_id,
            recipe=recipe,
            items=self._items,
            current=max(0, self.image_choice.currentIndex()),
            seed=self._seed,
            count=TILE_COUNT,
            asked_at=self._changed_at,
            resize_mode=self._resize_mode,
            size=self._preview_size,
        )
        self._changed_at = 0.0
        self.preview_requested.emit(request)

    def _request_text_preview(self, recipe: Recipe) -> None:
        items = self.text_preview.request_items()
        if not items:
            self._changed_at = 0.0
            self._request_id += 1  # a preview still on its way is for a text no longer there
            self.text_preview.show_empty()
            return
        self._request_id += 1
        request = TextPreviewRequest(
            self._request_id, recipe, items, 0, self._seed, TEXT_SAMPLE_COUNT, self._changed_at
        )
        if not self.text_preview.samples.toPlainText():
            # The first preview of a session reads WordNet's indexes, which takes a few seconds.
            self.text_preview.status.setText("Preparing the preview (the first one reads WordNet)…")
        self._changed_at = 0.0
        self.preview_requested.emit(request)

    def show_preview(self, result: object) -> None:
        """Show a :class:`PreviewResult` or :class:`TextPreviewResult`; results of requests older than the
        newest one are ignored."""
        if isinstance(result, TextPreviewResult):
            self._show_text_preview(result)
            return
        assert isinstance(result, PreviewResult)
        if result.request_id != self._request_id:
            return
        # The whole picture as it is (nothing cropped or stretched); the samples show it as training sees it.
        whole = result.whole if result.whole is not None else result.original
        height, width = whole.shape[:2]
        self.original.show_image(
            whole,
            result.label or "unlabelled",
            f"The whole image ({width}×{height} shown); training sees it resized to "
            f"{result.original.shape[1]}×{result.original.shape[0]}, as in the samples.",
        )
        for tile, sample in zip(self.tiles, result.tiles, strict=False):
            tile.show_image(sample.image, sample.caption)
        if result.asked_at:
            self.last_latency_ms = (time.perf_counter() - result.asked_at) * 1000.0
        mixed = sum(tile.mixed for tile in result.tiles)
        latency = (
            f", on screen {self.last_latency_ms:.0f} ms after the change" if self.last_latency_ms else ""
        )
        lines = [
            f"{len(result.tiles)} training samples (seed {self._seed}): {result.compute_ms:.0f} ms{latency}"
        ]
        if mixed:
            lines.append(f"{mixed} mixed pair(s): each caption gives the label weights{self._mixing_note}")
        if result.note:
            lines.append(result.note[:1].upper() + result.note[1:])
        self.preview_status.setText("\n".join(lines))
        self.preview_shown.emit(result)

    def _show_text_preview(self, result: TextPreviewResult) -> None:
        if result.request_id != self._request_id:
            return
        if result.asked_at:
            self.last_latency_ms = (time.perf_counter() - result.asked_at) * 1000.0
        latency = (
            f", on screen {self.last_latency_ms:.0f} ms after the change" if self.last_latency_ms else ""
        )
        changes = sum(len(sample.changes) for sample in result.samples)
        mixed = sum(sample.mixed for sample in result.samples)
        status = (
            f"{len(result.samples)} training samples of '{result.label or 'unlabelled'}' (seed {self._seed}), "
            f"{changes} changes: "
            f"{result.compute_ms:.0f} ms{latency}"
        )
        if mixed:
            status += f"\n{mixed} mixed on embeddings: each gives the label weights{self._mixing_note}"
        if result.note:  # WordNet missing (its steps are not in the samples), or an unlabelled text not mixed
            status += f"\n{result.note}"
        self.text_preview.show_result(result, status)
        self.preview_shown.emit(result)

    def show_preview_failed(self, request_id: int, message: str) -> None:
        """Say why the newest preview could not be made (e.g. an unreadable image, no WordNet)."""
        if request_id == self._request_id:
            if self._kind == "text":
                self.text_preview.show_problem(message)
            else:
                self.preview_status.setText(f"No preview: {message}")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(TILE_SIZE * TILE_COLUMNS + 80, 760)

    def latest_request_id(self) -> int:
        """The id of the newest preview request sent; only its result is shown."""
        return self._request_id
