"""Plots that follow the application's palette and font, as every other widget does.

pyqtgraph draws with its own colours (a fixed background, grey axes) and a small fixed font, so a plot stayed a
white panel inside a dark window and its axes stayed at about 8 pt when the user had chosen 13 pt. Here a plot takes
the palette's base colour as its background, the window text colour for its axes' text and legend, the muted grey
(:mod:`~dmtl_studio.ui.muted`) for its axis lines and grid, and the application's font, one point smaller, for its
tick values, axis titles and legend; it follows a later change of the application's palette or font too (a desktop
switching to its dark theme).
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from dmtl_studio.ui.muted import muted_color

#: The events after which a plot takes its colours and font again (an application's change of palette or font
#: sends each widget its Application… event and then one of these: one is enough).
_CHANGES = {QEvent.Type.PaletteChange, QEvent.Type.FontChange}


def plot_font() -> QFont:
    """The application's font one point smaller (not below 7 pt; one pixel, not below 9 px, for a font sized in
    pixels): plots are dense, but must grow with the font."""
    font = QFont(QGuiApplication.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.0))
    elif font.pixelSize() > 0:
        font.setPixelSize(max(9, font.pixelSize() - 1))
    return font


def css_size(font: QFont) -> str:
    """``font``'s size as a style sheet gives it: ``"9pt"``, or ``"12px"`` for a font sized in pixels."""
    return f"{font.pointSizeF():g}pt" if font.pointSizeF() > 0 else f"{font.pixelSize()}px"


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
    size = css_size(font)
    plot.setBackground(background)
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(lines)
        axis.setTextPen(text)
        axis.setTickFont(font)
        axis.labelStyle = {"color": text.name(), "font-size": size}
        if axis.labelText or axis.labelUnits:  # (no plot here sets SI prefix ranges, which this would reset)
            axis.setLabel(axis.labelText, axis.labelUnits, axis.labelUnitPrefix, **axis.labelStyle)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(text)
        legend.setLabelTextSize(size)
        for _sample, label in legend.items:
            label.setText(label.text)  # a label draws its new colour and size only when its text is set again


class _FollowTheme(QObject):
    """Applies the theme again, and calls each of ``also``, when the plot's palette or font changes (a switch of
    the desktop's theme reaches every widget so)."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        super().__init__(plot)
        self.also: list[Callable[[], None]] = []
        self._busy = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in _CHANGES and not self._busy:
            self._busy = True  # applying sets fonts and colours, which may send these events again
            try:
                apply_theme(watched)
                for again in self.also:
                    again()
            finally:
                self._busy = False
        return False


def follow_theme(plot: pg.PlotWidget, also: Callable[[], None] | None = None) -> pg.PlotWidget:
    """Apply the theme to ``plot`` now and after each change of palette or font; returns ``plot``.

    ``also`` is called after each later change, for the plot's own items drawn in theme colours (a dashed
    diagonal in the muted grey, say), which the caller colours itself the first time. Called again for the same
    plot, it only adds its ``also``.
    """
    follower = plot.findChild(_FollowTheme)
    if follower is None:
        apply_theme(plot)
        follower = _FollowTheme(plot)
        plot.installEventFilter(follower)
    if also is not None:
        follower.also.append(also)
    return plot
