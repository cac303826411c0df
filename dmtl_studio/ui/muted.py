"""The grey of secondary text (hints, notes, paths), taken from the palette so that it reads on light and dark
themes alike: a fixed #555 is 1.8:1 against a dark window, nearly invisible."""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette


def muted_color() -> str:
    """``#rrggbb``: the palette's text colour 60 % of the way from its window colour (about #5f5f5f on a light
    theme, #b5b5b5 on a dark one)."""
    palette = QGuiApplication.palette()
    text, window = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    mix = [round(0.6 * a + 0.4 * b) for a, b in zip(text.getRgb()[:3], window.getRgb()[:3], strict=True)]
    return QColor(*mix).name()


def muted_style() -> str:
    """A style sheet that draws a widget's text in :func:`muted_color`."""
    return f"color: {muted_color()};"


def on_dark_theme() -> bool:
    """Whether the palette's window colour is dark (its lightness under half)."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def readable(color: str) -> str:
    """``color`` (``#rrggbb``, chosen for a light window) as it should be drawn now: unchanged on a light theme; on a
    dark one the same hue lightened to at least 72 % lightness, so an error's red (#c0392b, 2.4:1 on a dark
    window) or a note's amber (#8a6d00, 2.6:1) reads at about 5:1 or more."""
    if not on_dark_theme():
        return color
    shade = QColor(color)
    hue, saturation, lightness, alpha = shade.getHslF()
    if lightness < 0.72:
        shade.setHslF(hue, saturation, 0.72, alpha)
    return shade.name()
