"""Plots that follow the application's palette and font, as every other widget does.

pyqtgraph draws with its own colours (a fixed background, grey axes) and a small fixed font, so a plot stayed a
white panel inside a dark window and its axes stayed at about 8 pt when the user had chosen 13 pt. Here a plot takes
the palette's base colour as its background, the window text colour for its axes' text and legend, the muted grey
(:mod:`~dmtl_studio.ui.muted`) for its axis lines and grid, and the application's font, one point smaller, for its
tick values, axis titles and legend; it follows a later change of palette or font too.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from dmtl_studio.ui.muted import muted_color

#: The events after which a plot takes its colours and font again.
_CHANGES = {
    QEvent.Type.ApplicationPaletteChange,
    QEvent.Type.PaletteChange,
    QEvent.Type.ApplicationFontChange,
    QEvent.Type.FontChange,
}


def plot_font() -> QFont:
    """The application's font one point smaller (not below 7 pt): plots are dense, but must grow with the font."""
    font = QFont(QGuiApplication.font())
    size = font.pointSizeF()
    if size > 0:
        font.setPointSizeF(max(7.0, size - 1.0))
    return font


def plot_colors() -> tuple[QColor, QColor, QColor]:
    """``(background, text, lines)`` of the current palette: its base colour, its window text and the muted grey."""
    palette = QGuiApplication.palette()
    return (
        palette.color(QPalette.ColorRole.Base),
        palette.color(QPalette.ColorRole.WindowText),
        QColor(muted_color()),
    )


def apply_theme(plot: pg.PlotWidget) -> None:
    """Give ``plot`` the palette's colours and :func:`plot_font` now (axes, their titles, the legend)."""
    background, text, lines = plot_colors()
    font = plot_font()
    size = f"{font.pointSizeF():g}pt"
    plot.setBackground(background)
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(lines)
        axis.setTextPen(text)
        axis.setTickFont(font)
        axis.labelStyle = {"color": text.name(), "font-size": size}
        if axis.labelText or axis.labelUnits:
            axis.setLabel(axis.labelText, axis.labelUnits, axis.labelUnitPrefix, **axis.labelStyle)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(text)
        legend.setLabelTextSize(size)
        for _sample, label in legend.items:
            label.setText(label.text)  # a label draws its new colour and size only when its text is set again


class _FollowTheme(QObject):
    """Applies the theme again when the plot's palette or font changes (a switch of the desktop's theme)."""

    def __init__(self, plot: pg.PlotWidget, also: Callable[[], None] | None) -> None:
        super().__init__(plot)
        self._also = also
        self._busy = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in _CHANGES and not self._busy:
            self._busy = True  # applying sets fonts and colours, which may send these events again
            try:
                apply_theme(watched)
                if self._also is not None:
                    self._also()
            finally:
                self._busy = False
        return False


def follow_theme(plot: pg.PlotWidget, also: Callable[[], None] | None = None) -> pg.PlotWidget:
    """Apply the theme to ``plot`` now and after each change of palette or font; returns ``plot``.

    ``also`` is called after each later change, for the plot's own items drawn in theme colours (a dashed
    diagonal in the muted grey, say), which the caller colours itself the first time.
    """
    apply_theme(plot)
    plot.installEventFilter(_FollowTheme(plot, also))
    return plot
