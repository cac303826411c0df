"""The confusion matrix as a heat map and the per-class scores, shared by the training and evaluation views.

Each cell shows its count, coloured by the share of the true class's images it holds (blue on the diagonal, red
off it), blended from the table's own ground, so an empty cell is the ground of a light or a dark theme alike and
the number takes whichever of black and white reads better on it (at least 4.5:1, WCAG AA). The per-class table
shows precision, recall, F1 and the number of images of each class, from
:func:`dmtl_studio.core.evaluation.metrics.per_class_metrics` (plain numpy; no torch here).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from dmtl_studio.core.evaluation.metrics import NOT_DEFINED, per_class_metrics
from dmtl_studio.ui.muted import contrast_ratio

#: The colour a cell takes when it holds all of its true class's images: right (diagonal) and wrong.
RIGHT_RGB = (46, 134, 222)
WRONG_RGB = (192, 57, 43)
#: The two colours a cell's number can take: the one that contrasts more with the cell. Black and white, as any
#: colour is at least 4.58:1 against one of them (a dark grey would leave mid-tones under 4.5:1 with both).
DARK_TEXT, LIGHT_TEXT = QColor("black"), QColor("white")
PER_CLASS_COLUMNS = ("Class", "Precision", "Recall", "F1", "Images")


def number_item(value: float | int | None) -> QTableWidgetItem:
    """A right-aligned table cell: a float with three decimals, an integer as it is, ``None`` (a score that is
    0/0) as :data:`~dmtl_studio.core.evaluation.metrics.NOT_DEFINED`.

    Parameters
    ----------
    value
        The number to show.

    Returns
    -------
    QTableWidgetItem
        The cell.
    """
    text = NOT_DEFINED if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def cell_color(share: float, diagonal: bool, ground: QColor | None = None) -> QColor:
    """The heat-map colour of a cell holding ``share`` (0-1) of its true class's images: ``ground`` (the
    table's base colour; white when ``None``) blended towards the full colour by ``share``."""
    full = RIGHT_RGB if diagonal else WRONG_RGB
    start = (255, 255, 255) if ground is None else (ground.red(), ground.green(), ground.blue())
    return QColor(*(round(s + (c - s) * share) for s, c in zip(start, full, strict=True)))


def text_color(cell: QColor) -> QColor:
    """The number's colour on ``cell``: black or white, whichever contrasts more with it."""
    return max((DARK_TEXT, LIGHT_TEXT), key=lambda text: contrast_ratio(text, cell))


#: Widest a confusion matrix column (or its row header) gets for its class name, in pixels.
MAX_COLUMN_WIDTH = 160


class ConfusionTable(QTableWidget):
    """A confusion matrix as a read-only heat map: rows are the true class, columns the prediction."""

    def __init__(self, tooltip: str, cell_tooltips: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.cell_tooltips = cell_tooltips
        self.noun = "image"  # what a cell counts: "text" in a text project
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setToolTip(tooltip)
        self._shown: tuple[np.ndarray, list[str]] | None = None

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._shown is not None:
            self.show_matrix(*self._shown)  # the cells blend from the new ground

    def show_matrix(self, matrix: np.ndarray, classes: list[str]) -> None:
        """Show ``matrix`` (``n x n`` counts, ``matrix[true, predicted]``) for ``classes`` (``n`` names).

        Parameters
        ----------
        matrix
            The counts; each row is one true class.
        classes
            The class names, in the matrix's order.
        """
        matrix = np.asarray(matrix)
        self._shown = (matrix, list(classes))
        ground = self.palette().color(QPalette.ColorRole.Base)
        n = len(classes)
        self.clear()
        self.setRowCount(n)
        self.setColumnCount(n)
        self.setHorizontalHeaderLabels([f"→ {c}" for c in classes])
        self.setVerticalHeaderLabels(classes)
        for j, name in enumerate(classes):  # a long name is cut short in its header: the whole one on hover
            self.horizontalHeaderItem(j).setToolTip(f"predicted {name}")
            self.verticalHeaderItem(j).setToolTip(f"true {name}")
        shares = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
        for i in range(n):
            for j in range(n):
                count = int(matrix[i, j])
                item = number_item(count)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                color = cell_color(float(shares[i, j]), i == j, ground)
                item.setBackground(QBrush(color))
                item.setForeground(QBrush(text_color(color)))
                if self.cell_tooltips:
                    item.setToolTip(f"true {classes[i]}, predicted {classes[j]}: {count} {self.noun}(s)")
                self.setItem(i, j, item)
        # Each column as wide as its header, up to MAX_COLUMN_WIDTH, a longer name ending in "…" ("→ feature
        # reques" was cut at the default width without a sign).
        self.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        # The true classes' names too: a long one took the table's width and hid the columns behind a scroll bar.
        self.verticalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().setMaximumWidth(MAX_COLUMN_WIDTH)
        self.resizeColumnsToContents()
        for j in range(n):
            self.setColumnWidth(j, min(self.columnWidth(j), MAX_COLUMN_WIDTH))

    def clear_matrix(self) -> None:
        """Show no matrix."""
        self._shown = None
        self.clear()
        self.setRowCount(0)
        self.setColumnCount(0)


class PerClassTable(QTableWidget):
    """Precision, recall, F1 and the number of images of each class, one row per class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(PER_CLASS_COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(PER_CLASS_COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # The scores as narrow as their figures (the style's default width hid recall and F1 behind a scroll
        # bar on a 1280 px screen); the class name takes the rest.
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def show_metrics(self, metrics: object, classes: list[str]) -> None:
        """Show per-class scores.

        Parameters
        ----------
        metrics
            Per-class ``precision``, ``recall``, ``f1`` and ``support`` arrays (what
            :func:`~dmtl_studio.core.evaluation.metrics.per_class_metrics` returns), in the order of ``classes``.
        classes
            The class names.
        """
        self.setRowCount(len(classes))
        for i, name in enumerate(classes):
            self.setItem(i, 0, QTableWidgetItem(name))
            for column, value in enumerate(metrics.defined(i), start=1):
                self.setItem(i, column, number_item(value))
            self.setItem(i, 4, number_item(int(metrics.support[i])))

    def show_matrix(self, matrix: np.ndarray, classes: list[str]) -> object:
        """Show the per-class scores of a confusion matrix; returns its metrics (accuracy and the rest)."""
        metrics = per_class_metrics(np.asarray(matrix))
        self.show_metrics(metrics, classes)
        return metrics
