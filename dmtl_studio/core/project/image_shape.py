"""What an import notes of an image's shape: tiny, a thin strip, or elongated."""

from __future__ import annotations

#: Images with a side shorter than this (pixels) get a note at import (:func:`shape_note`).
TINY_SIDE = 16
#: The note of a tiny image: usable, but worth a look (a 1 x 1 placeholder, an icon in a photo folder).
TINY_NOTE = f"smaller than {TINY_SIDE} px on a side: the model sees it enlarged many times (a placeholder or an icon?)"
#: Longer side over shorter side from which an image gets a note: padded to a square it fills a tenth or less.
ELONGATED_RATIO = 10


def shape_note(width: int, height: int) -> str | None:
    """What an import notes of an image's shape: tiny (both sides small: enlarged many times), a thin strip (one
    side under :data:`TINY_SIDE` px, the other long), or elongated (:data:`ELONGATED_RATIO` to 1 or more: padded
    to the model's square input it fills little of it); ``None`` for an ordinary shape."""
    short, long = sorted((width, height))
    share = 100 * short / long
    fills = f"padded to the model's square input (the default) it fills {'under 1' if share < 1 else f'{share:.0f}'} % of it"
    if short < TINY_SIDE and long < 4 * TINY_SIDE:
        return TINY_NOTE
    if short < TINY_SIDE:
        return f"a strip of {width}×{height} px: {fills} (a scan line or a slice?)"
    if long >= ELONGATED_RATIO * short:
        return (
            f"elongated ({width}×{height} px, {long / short:.0f}:1): {fills}; tiles may suit the model better"
        )
    return None
