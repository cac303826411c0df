"""The grey of secondary text (hints, notes, paths), taken from the palette so that it reads on light and dark
themes alike: a fixed #555 is 1.8:1 against a dark window, nearly invisible."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget


def muted_color() -> str:
    """``#rrggbb``: the palette's text colour 60 % of the way from its window colour (about #5f5f5f on a light
    theme, #b5b5b5 on a dark one)."""
    palette = QGuiApplication.palette()
    text, window = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    mix = [round(0.6 * a + 0.4 * b) for a, b in zip(text.getRgb()[:3], window.getRgb()[:3], strict=True)]
    return QColor(*mix).name()


def on_dark_theme() -> bool:
    """Whether the palette's window colour is dark (its lightness under half)."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""

    def luminance(color: QColor) -> float:
        def linear(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * linear(color.redF()) + 0.7152 * linear(color.greenF()) + 0.0722 * linear(color.blueF())
        )

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


#: The contrast a coloured text keeps on a dark theme (WCAG 2's AA level for text).
MIN_CONTRAST = 4.5


def readable(color: str) -> str:
    """``color`` (``#rrggbb``, chosen for a light window) as it should be drawn now: unchanged on a light theme; on a
    dark one the same hue lightened, in steps, until it has :data:`MIN_CONTRAST` against both the palette's window
    and base colours (an error's red #c0392b is 2.4:1 on a #2b2b2b window, a note's amber #8a6d00 2.6:1)."""
    if not on_dark_theme():
        return color
    palette = QGuiApplication.palette()
    # Lists ask for it on every repaint of every row: computed once per colour and palette.
    return _lightened(
        color, palette.color(QPalette.ColorRole.Window).rgba(), palette.color(QPalette.ColorRole.Base).rgba()
    )


@lru_cache(maxsize=256)
def _lightened(color: str, window: int, base: int) -> str:
    """``color`` lightened in its hue until :data:`MIN_CONTRAST` against the ``window`` and ``base`` colours."""
    grounds = (QColor.fromRgba(window), QColor.fromRgba(base))
    shade = QColor(color)
    hue, saturation, lightness, alpha = shade.getHslF()
    lightness = max(lightness, 0.6)
    while True:
        shade.setHslF(hue, saturation, lightness, alpha)
        drawn = QColor(shade.name())  # as it is drawn: 8 bits a channel
        if lightness >= 0.97 or all(contrast_ratio(drawn, g) >= MIN_CONTRAST for g in grounds):
            return drawn.name()
        lightness = min(0.97, lightness + 0.02)


#: The dynamic property that marks a widget drawn by :func:`tone`, holding the colour it was given.
TONE_PROPERTY = "dmtl_tone"


def tone(widget: QWidget, color: str | None = None, extra: str = "") -> QWidget:
    """Draw ``widget``'s text in the muted grey (``color`` None) or in :func:`readable` ``color``, with the style
    sheet declarations ``extra``; returns ``widget``. :func:`retone` draws it again for a new palette (a desktop
    switching to its dark theme at dusk), which a colour fixed in a style sheet would not follow."""
    widget.setProperty(TONE_PROPERTY, color or "")
    widget.setProperty(f"{TONE_PROPERTY}_extra", extra)
    _apply_tone(widget)
    return widget


#: The attribute holding what :func:`on_retone` registered for a widget.
_REDRAW = "_dmtl_redraw"


def on_retone(widget: QWidget, redraw: Callable[[], None] | None) -> None:
    """Have :func:`retone` call ``redraw`` for ``widget`` (``None``: nothing any more): rich text that spells its
    colours out (a caption with a red problem line, a grey name) is built again in the new palette, which a style
    sheet cannot reach."""
    setattr(widget, _REDRAW, redraw)


def retone(root: QWidget) -> None:
    """Draw again, in the current palette, ``root`` and every widget under it that :func:`tone` drew or
    :func:`on_retone` registered."""
    for widget in [root, *root.findChildren(QWidget)]:
        if widget.property(TONE_PROPERTY) is not None:
            _apply_tone(widget)
        redraw = getattr(widget, _REDRAW, None)
        if redraw is not None:
            redraw()


def _apply_tone(widget: QWidget) -> None:
    color = widget.property(TONE_PROPERTY)
    shade = readable(color) if color else muted_color()
    extra = widget.property(f"{TONE_PROPERTY}_extra") or ""
    widget.setStyleSheet(f"{extra} color: {shade};".strip())
