"""A layout that places its widgets left to right and wraps them onto new lines (Qt's flow layout example)."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Widgets in reading order, as many on a line as the width allows; its height follows its width.

    A :meth:`tail` widget (a hint after the others) is shown only where it fits on the last line: it never takes a
    line of its own, which on a short screen is a line taken from what is under it."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._tail: QWidget | None = None
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    def set_tail(self, widget: QWidget | None) -> None:
        """Make ``widget`` (one of this layout's, placed last) shown only where it fits on the line before it."""
        self._tail = widget
        self.invalidate()

    def spacing(self) -> int:
        """The gap between widgets and between lines, in pixels (not the style's default)."""
        return self._spacing

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            if self._tail is None or item.widget() is not self._tail:  # the tail is shown only where it fits
                size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            if self._tail is not None and item.widget() is self._tail:
                # Measured whether shown or not (a hidden widget's item measures 0), so that the choice is the same
                # in every pass and showing or hiding it never starts another.
                hint = self._tail.sizeHint()
                fits = x + hint.width() <= area.right() + 1 or line_height == 0
                if move:
                    self._tail.setVisible(fits)
                if not fits:
                    continue
            else:
                hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and line_height > 0:
                x, y = area.x(), y + line_height + self._spacing
                line_height = 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + margins.bottom()
