"""A scroll area for a panel of the window's side column or its evaluation: it scrolls the panel's height, never its
width."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QScrollArea, QWidget

#: The most height a side panel asks for; the rest of it scrolls (the window fits a 1280 x 720 screen).
MIN_HEIGHT = 480
#: The most height the evaluation panel asks for, no more than the training panel's plots: on a 1024 x 600 screen
#: the window fits under a title bar, and the rest of the panel scrolls.
BOTTOM_MIN_HEIGHT = 150


class ColumnScroll(QScrollArea):
    """As wide as its content's minimum (rows of buttons, a preview grid) plus the scroll bar, so the bar never
    covers a button and nothing is cut at the right, whatever the style's margins or the font; at most
    ``min_height`` (:data:`MIN_HEIGHT` unless given) tall at its smallest, the rest scrolls. The minimum follows
    the content once it is styled or filled."""

    def __init__(self, content: QWidget, parent: QWidget | None = None, min_height: int = MIN_HEIGHT) -> None:
        super().__init__(parent)
        self._min_height = min_height
        self.setWidget(content)
        self.setWidgetResizable(True)
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
        return super().eventFilter(watched, event)
