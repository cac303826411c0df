"""What an import notes of an image's shape: tiny, a thin strip, or elongated."""

from __future__ import annotations

import os

from PIL import Image

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


def shown_size(image: Image.Image) -> tuple[int, int]:
    """``(width, height)`` of ``image`` as shown: its EXIF orientation applied (a quarter turn swaps the sides)."""
    width, height = image.size
    return (height, width) if image.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (width, height)


def file_shape_note(path: str | os.PathLike[str]) -> str | None:
    """:func:`shape_note` of the image file at ``path``, sized from its header as shown (what a prediction or an
    explanation of it says: a 1 x 1 placeholder is labelled as confidently as a photo); ``None`` for an ordinary
    shape or a file that cannot be opened (reading it says why)."""
    try:
        with Image.open(path) as image:
            return shape_note(*shown_size(image))
    except (OSError, SyntaxError, ValueError):
        return None
