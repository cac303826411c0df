"""Classes panel: the number key of each class, its colour, counts per split, and class management."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ["Key", "Class", "Total", "Train", "Val", "Test"]


def swatch(color: str, size: int = 12) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    return pixmap


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
        # Clicking a class must not take the keyboard from the grid: the number keys label the selected images.
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(lambda row, _c: self._activate(row))
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #a04000;")
        self.add_button = QPushButton("Add…")
        self.rename_button = QPushButton("Rename…")
        self.merge_button = QPushButton("Merge…")
        self.delete_button = QPushButton("Delete…")
        self.color_button = QPushButton("Colour…")
        self.add_button.clicked.connect(self.add_requested)
        self.rename_button.clicked.connect(lambda: self._with_one(self.rename_requested))
        self.delete_button.clicked.connect(lambda: self._with_one(self.delete_requested))
        self.color_button.clicked.connect(lambda: self._with_one(self.color_requested))
        self.merge_button.clicked.connect(lambda: self.merge_requested.emit(self.selected_classes()))
        buttons = QHBoxLayout()
        for button in (
            self.add_button,
            self.rename_button,
            self.merge_button,
            self.delete_button,
            self.color_button,
        ):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Classes</b> — press the key to label the selected images"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings)
        self._names: list[str] = []
        self._update_buttons()

    def show_classes(
        self,
        counts: dict[str, dict[str, int]],
        colors: dict[str, str],
        unlabelled: int,
        problems: int,
        warnings: list[str],
    ) -> None:
        self._names = list(counts)
        self.table.setRowCount(len(counts))
        for row, (name, c) in enumerate(counts.items()):
            key = str(row + 1) if row < 9 else ""
            values = [key, name, c["total"], c["train"], c["val"], c["test"]]
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if column == 1:
                    item.setIcon(swatch(colors.get(name, "#888888")))
                elif column != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.summary.setText(
            f"{unlabelled} unlabelled · {problems} problem file(s) · keys 1–9 label, 0 unlabels, "
            "Space next, Ctrl+Z undo"
        )
        self.warnings.setText("<br>".join(warnings))
        self.warnings.setVisible(bool(warnings))
        self._update_buttons()

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
