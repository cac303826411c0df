"""A scroll area for a panel of the window's side column, its evaluation or its browser: it scrolls the panel's
height, never its width."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QScrollArea, QWidget

#: The most height a side panel asks for; the rest of it scrolls. Above and below it the side column has four rows
#: that grow with the font (the menu bar, the dock's title and tabs, the status bar: 88 px in DejaVu Sans, 100 in
#: Noto Sans), and the whole must fit a 1024 x 600 screen under a title bar (570 px); at 480 Noto Sans took 580.
MIN_HEIGHT = 440
#: The most height the evaluation panel asks for, no more than the training panel's plots: on a 1024 x 600 screen
#: the window fits under a title bar, and the rest of the panel scrolls.
BOTTOM_MIN_HEIGHT = 150
#: The most height the dataset browser asks for: its grid and side column at their least; below its own least
#: height (a large font on a short screen) it scrolls.
BROWSER_MIN_HEIGHT = 300


class ColumnScroll(QScrollArea):
    """As wide as its content's minimum (rows of buttons, a preview grid) plus the scroll bar, so the bar never
    covers a button and nothing is cut at the right, whatever the style's margins or the font; at most
    ``min_height`` (:data:`MIN_HEIGHT` unless given) tall at its smallest, the rest scrolls. The minimum follows
    the content once it is styled or filled.

    With ``squeeze`` the content first shrinks to its least height for the width (its lists and plots at their
    minimum), and scrolls only below that; without it (the side column), a content whose rows wrap keeps the height
    it prefers and scrolls sooner, as Qt's resizable scroll area gives it."""

    def __init__(
        self,
        content: QWidget,
        parent: QWidget | None = None,
        min_height: int = MIN_HEIGHT,
        squeeze: bool = False,
    ) -> None:
        super().__init__(parent)
        self._min_height = min_height
        self._squeeze = squeeze
        self.setWidget(content)
        self.setWidgetResizable(not squeeze)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.installEventFilter(self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        content = self.widget().minimumSizeHint() if self.widget() is not None else QSize(0, 0)
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(content.width() + bar + 2 * self.frameWidth(), min(content.height(), self._min_height))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content's minimum changed (styled, filled): the column follows it
            self._fit()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """With ``squeeze``: the content as wide as the view, and as tall as the view or its least height there."""
        content = self.widget()
        if not self._squeeze or content is None:
            return
        width = self.viewport().width()
        layout = content.layout()
        least = (
            layout.totalMinimumHeightForWidth(width)
            if layout is not None and layout.hasHeightForWidth()
            else content.minimumSizeHint().height()
        )
        content.resize(width, max(self.viewport().height(), least))
