"""The mouse wheel scrolls a settings panel; it changes a value only in the field the user has clicked or tabbed into.

Qt gives a spin box, a combo box or a slider every wheel turn over it, focused or not: rolling the wheel to scroll
the *Backbone and head* panel stopped as soon as a field came under the pointer, and each further notch changed that
field (batch size 16 to 8, the consistency weight 1.00 to 0.25), unseen, and the project kept the value for every
later run. Installed once on the application by the main window (the pattern of many desktop tools' settings pages).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollArea,
    QScrollBar,
    QWidget,
)

#: The value fields a wheel turn can change.
_VALUE_FIELDS = (QAbstractSpinBox, QComboBox, QAbstractSlider)


def _value_field(widget: QWidget) -> QWidget | None:
    """``widget`` or the value field it is part of (a spin box's line edit), else ``None``."""
    for candidate in (widget, widget.parentWidget()):
        if isinstance(candidate, _VALUE_FIELDS) and not isinstance(candidate, QScrollBar):
            return candidate
    return None


def _no_wheel_focus(widget: QObject) -> None:
    """Spin and combo boxes take the focus from the wheel itself (Qt's WheelFocus) before any event filter sees
    the turn, so the guard found them focused: a click or Tab gives them the focus, the wheel no longer does."""
    if isinstance(widget, _VALUE_FIELDS) and widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


def _scroll_area(widget: QWidget) -> QScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    return parent


class WheelGuard(QObject):
    """An application event filter: a wheel turn over an unfocused value field inside a scroll area scrolls the
    area instead of changing the field."""

    def adopt(self, root: QWidget) -> None:
        """Fields made before the guard was installed (those made later are adopted as Qt polishes them)."""
        for widget in root.findChildren(QWidget):
            _no_wheel_focus(widget)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Polish:
            _no_wheel_focus(watched)
            return False
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        field = _value_field(watched)
        if field is None or field.hasFocus():
            return False
        area = _scroll_area(field)
        if area is None:
            return False
        QApplication.sendEvent(area.verticalScrollBar(), event)
        return True
