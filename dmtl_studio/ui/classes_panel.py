"""Classes panel: the number key of each class, its colour, counts per split, and class management.

The keys themselves are also shown in a :class:`ClassKeyStrip`, a compact flow of "1 cat  2 dog …" chips that
the browser keeps above the grid: the keys are the main way of labelling, so every class and its key stays in
sight however short the window is.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.ui.flow_layout import FlowLayout
from dmtl_studio.ui.muted import tone

COLUMNS = ["Key", "Class", "Total", "Train", "Val", "Test"]
#: Classes the table shows without scrolling, where the window has the height (a short screen shows fewer).
VISIBLE_ROWS = 3
#: Widest class name on a key chip, in pixels: a longer one is cut in its middle (its end often tells classes
#: apart: "…_long_name_07"), the whole name in the chip's tooltip, so a dozen long names take two or three lines.
CHIP_NAME_WIDTH = 120


def swatch(color: str, size: int = 12) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    return pixmap


def class_key(row: int) -> str:
    """The number key of the class in ``row`` (0-based): 1–9 for the first nine, none for the others."""
    return str(row + 1) if row < 9 else ""


class ClassKeyStrip(QWidget):
    """Every class as a chip "key ■ name", wrapped over as many lines as the width needs; a long name is cut in
    its middle (:data:`CHIP_NAME_WIDTH`), whole in the tooltip.

    Clicking a chip labels the selected images like its key does (the only quick way for a tenth class and
    beyond, which have no number key). The chips never take the keyboard focus from the grid.
    """

    class_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = FlowLayout(self, spacing=4)
        self.title = QLabel("<b>Keys</b>")
        self.noun = "images"  # what the keys label: "texts" in a text project (set by the browser)
        self.title.setToolTip(self._keys_help())
        self.flow.addWidget(self.title)
        self.chips: list[QToolButton] = []
        self.hint = QLabel("0 unlabels · Space next · Ctrl+Z undo")
        tone(self.hint)
        self.flow.addWidget(self.hint)
        # Shown where it fits after the last chip; never on a line of its own (at 1280 x 720 with a font 10 % larger
        # than DejaVu Sans that line was taken from the large view). The title's tooltip says it too.
        self.flow.set_tail(self.hint)

    def _keys_help(self) -> str:
        return (
            f"Press a class's number key to label the selected {self.noun}; 0 removes the label, Space moves to the"
            " next, Ctrl+Z undoes"
        )

    def show_classes(self, names: list[str], colors: dict[str, str]) -> None:
        self.title.setToolTip(self._keys_help())
        for chip in self.chips:
            self.flow.removeWidget(chip)
            chip.deleteLater()
        self.flow.removeWidget(self.hint)
        self.chips = []
        for row, name in enumerate(names):
            key = class_key(row)
            chip = QToolButton(self)
            chip.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            chip.setIcon(QIcon(swatch(colors.get(name, "#888888"))))
            shown = chip.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, CHIP_NAME_WIDTH)
            chip.setText(f"{key}  {shown}" if key else shown)
            chip.setToolTip(
                f"Key {key}: label the selected {self.noun} '{name}' (or click here)"
                if key
                else f"'{name}' has no number key (only 1–9 have one): click here to label the selected {self.noun}"
            )
            chip.clicked.connect(lambda _checked=False, n=name: self.class_clicked.emit(n))
            self.flow.addWidget(chip)
            self.chips.append(chip)
        self.flow.addWidget(self.hint)  # the other keys, after the classes
        self.updateGeometry()


#: The most lines of chips the key strip shows; with more classes (150 components, say) the rest scroll, so the
#: grid keeps its room and every class stays a scroll away (they ran off the bottom of the strip).
MAX_KEY_LINES = 4


class KeyStripScroll(QScrollArea):
    """The key strip, as tall as its lines of chips for the width up to :data:`MAX_KEY_LINES`; beyond that it
    scrolls. Its height follows its width as the strip's own did (Qt's height-for-width)."""

    def __init__(self, strip: ClassKeyStrip, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(strip)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        strip.installEventFilter(self)

    def _cap(self) -> int:
        strip = self.widget()
        line = max([chip.sizeHint().height() for chip in strip.chips[:1]] + [strip.title.sizeHint().height()])
        layout = strip.layout()
        margins = layout.contentsMargins()
        return (
            MAX_KEY_LINES * line + (MAX_KEY_LINES - 1) * layout.spacing() + margins.top() + margins.bottom()
        )

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return min(self.widget().layout().heightForWidth(width), self._cap())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        width = self.width() if self.width() > 1 else super().sizeHint().width()
        return QSize(super().sizeHint().width(), self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, min(self.widget().title.sizeHint().height(), self._cap()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # other classes: another height
        return super().eventFilter(watched, event)


#: The longest word a warning shows whole (a class name): longer ones lose their middle.
LONGEST_WORD = 32


def _shorten_words(text: str) -> str:
    """``text`` with each word longer than :data:`LONGEST_WORD` shortened in its middle ("Mitochondr…day3")."""
    half = LONGEST_WORD // 2
    return " ".join(w if len(w) <= LONGEST_WORD else f"{w[:half]}…{w[-half + 1 :]}" for w in text.split(" "))


class ClassesPanel(QWidget):
    """Shows classes; the buttons emit requests that the browser carries out (with confirmation)."""

    add_requested = Signal()
    rename_requested = Signal(str)
    merge_requested = Signal(list)
    delete_requested = Signal(str)
    color_requested = Signal(str)
    class_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Classes")
        # Clicking a class must not take the keyboard from the grid (the number keys label the selected images);
        # Tab reaches it, and the arrow keys then choose a class to rename, merge or delete (h30: mouse only).
        self.table.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long class names differ at their ends
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(lambda row, _c: self._activate(row))
        # Rows as tall as a line of text (the style's default leaves a third of each row empty), so that a
        # short screen shows every class of a small project; the height follows the classes (_fit_rows).
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self._fit_rows()
        self.key_strip = ClassKeyStrip()
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        tone(self.warnings, "#a04000")
        # Tool buttons, as wide as their text: the row fits the side column of a 1280 px wide window.
        self.add_button = QToolButton(text="Add…")
        self.rename_button = QToolButton(text="Rename…")
        self.merge_button = QToolButton(text="Merge…")
        self.delete_button = QToolButton(text="Delete…")
        self.color_button = QToolButton(text="Colour…")
        self.add_button.clicked.connect(self.add_requested)
        self.rename_button.clicked.connect(lambda: self._with_one(self.rename_requested))
        self.delete_button.clicked.connect(lambda: self._with_one(self.delete_requested))
        self.color_button.clicked.connect(lambda: self._with_one(self.color_requested))
        self.merge_button.clicked.connect(lambda: self.merge_requested.emit(self.selected_classes()))
        # One row where it fits, two where the side column is narrow (a 1024 px screen, a large font): a row of
        # five made the whole window wider than such a screen. A grid, not a flow, so that the second row counts
        # in the panel's minimum height and never lies over the table.
        self._buttons = (
            self.add_button,
            self.rename_button,
            self.merge_button,
            self.delete_button,
            self.color_button,
        )
        self._button_grid = QGridLayout()
        self._button_grid.setContentsMargins(0, 0, 0, 0)
        self._button_grid.setHorizontalSpacing(4)
        self._button_grid.setVerticalSpacing(2)
        self._button_columns = 0
        self._arrange_buttons(3)  # until the panel knows its width (resizeEvent): its minimum is two rows'
        self._button_row = QWidget()
        self._button_row.setLayout(self._button_grid)
        self._button_row.setMinimumWidth(self._row_width(3))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self._button_row)
        layout.addWidget(self.warnings)
        self._names: list[str] = []
        self._update_buttons()

    def _row_width(self, columns: int) -> int:
        """The buttons' width laid out in ``columns`` columns (each as wide as its widest button)."""
        widths = [0] * columns
        for index, button in enumerate(self._buttons):
            widths[index % columns] = max(widths[index % columns], button.sizeHint().width())
        return sum(widths) + self._button_grid.horizontalSpacing() * columns

    def _arrange_buttons(self, columns: int) -> None:
        if columns == self._button_columns:
            return
        self._button_columns = columns
        for button in self._buttons:
            self._button_grid.removeWidget(button)
        for index, button in enumerate(self._buttons):
            self._button_grid.addWidget(button, index // columns, index % columns)
        for column in range(len(self._buttons) + 1):
            self._button_grid.setColumnStretch(column, 1 if column == columns else 0)

    def one_row_width(self) -> int:
        """The width the class buttons need in one row."""
        return self._row_width(len(self._buttons))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        # Measured again once the style and font are applied, which change the buttons' widths. The minimum is
        # always the two-row width: a minimum that followed the current width would stop the window from
        # shrinking in one step (a half-screen snap, leaving full screen).
        self._button_row.setMinimumWidth(self._row_width(3))
        wide = event.size().width() >= self.one_row_width()
        self._arrange_buttons(len(self._buttons) if wide else 3)
        super().resizeEvent(event)

    def show_classes(
        self,
        counts: dict[str, dict[str, int]],
        colors: dict[str, str],
        warnings: list[str],
    ) -> None:
        """Show the classes in order (row k has the key k+1) with their counts, in the table and the key strip.

        The unlabelled and problem counts are in the browser's summary line above.
        """
        self._names = list(counts)
        self.table.setRowCount(len(counts))
        for row, (name, c) in enumerate(counts.items()):
            key = class_key(row)
            values = [key, name, c["total"], c["train"], c["val"], c["test"]]
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if column == 1:
                    item.setIcon(swatch(colors.get(name, "#888888")))
                elif column != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        # One warning shown (the rest in the tooltip): a column of them squeezed the class table and the view.
        # A long class name is one word the label cannot wrap: it widened the column and squeezed the grid to two
        # columns (h30); shortened in its middle here, whole in the tooltip.
        shown = html.escape(_shorten_words(warnings[0]), quote=False) if warnings else ""
        if len(warnings) > 1:
            shown += f"<br><i>and {len(warnings) - 1} more warning(s): point here to read them all</i>"
        self.warnings.setText(shown)
        whole = len(warnings) > 1 or (bool(warnings) and _shorten_words(warnings[0]) != warnings[0])
        self.warnings.setToolTip("\n".join(warnings) if whole else "")
        self.warnings.setVisible(bool(warnings))
        self.key_strip.show_classes(self._names, colors)
        self._fit_rows()
        self._update_buttons()

    def _fit_rows(self) -> None:
        """The table's minimum height: every class up to ``VISIBLE_ROWS``, two rows at least (more scroll; the
        key strip above the grid shows every class's key)."""
        shown = min(max(self.table.rowCount(), 2), VISIBLE_ROWS)
        self.table.setMinimumHeight(
            self.table.horizontalHeader().sizeHint().height()
            + shown * self.table.verticalHeader().defaultSectionSize()
            + 2 * self.table.frameWidth()
        )

    def class_names(self) -> list[str]:
        return list(self._names)

    def selected_classes(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self._names[row] for row in rows if row < len(self._names)]

    def _with_one(self, signal: Signal) -> None:
        selected = self.selected_classes()
        if len(selected) == 1:
            signal.emit(selected[0])

    def _activate(self, row: int) -> None:
        if 0 <= row < len(self._names):
            self.class_activated.emit(self._names[row])

    def _update_buttons(self) -> None:
        count = len(self.selected_classes())
        for button in (self.rename_button, self.delete_button, self.color_button):
            button.setEnabled(count == 1)
        self.merge_button.setEnabled(count >= 2)
        self.merge_button.setToolTip("Select two or more classes (Ctrl+click) to merge them")
