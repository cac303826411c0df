"""Resizing to the training size, shared by the training loader and the preview (torch-free)."""

from __future__ import annotations

import cv2
import numpy as np

#: OpenCV flags of the interpolations a backbone's configuration may name; any other name means bilinear.
INTERPOLATION_FLAGS = {
    "bicubic": cv2.INTER_CUBIC,
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
}

#: The interpolation used when an image is larger than the target in both dimensions (averaging, no aliasing).
SHRINK_INTERPOLATION = "area"


def base_interpolation(interpolation: str) -> str:
    """The interpolation used unless the image shrinks in both dimensions: ``interpolation`` if known, else
    bilinear."""
    return interpolation if interpolation in INTERPOLATION_FLAGS else "bilinear"


def interpolation_name(height: int, width: int, size: int, interpolation: str = "bilinear") -> str:
    """The interpolation :func:`resize_square` uses for an ``height x width`` image resized to ``size``."""
    if height > size and width > size:
        return SHRINK_INTERPOLATION
    return base_interpolation(interpolation)


def resize_square(image: np.ndarray, size: int, interpolation: str = "bilinear") -> np.ndarray:
    """Resize the whole image to ``size x size`` (nothing is cropped away: objects at the edges stay).

    The aspect ratio is not kept. ``cv2.resize`` with area interpolation when the image is larger than ``size``
    in both dimensions, else with ``interpolation``; uint8 in, uint8 out.
    """
    height, width = image.shape[:2]
    if height == size and width == size:
        return image
    flag = INTERPOLATION_FLAGS[interpolation_name(height, width, size, interpolation)]
    return cv2.resize(image, (size, size), interpolation=flag)


#: How an image becomes the model's square input: ``"pad"`` keeps its shape (the longer side scaled to the size, the
#: rest filled with the colour transparency is composited over), ``"stretch"`` scales each side to the size.
RESIZE_MODES = ("pad", "stretch")
#: New runs pad: on real images that are not square, frozen ImageNet features with a linear probe gained +2.4 to
#: +4.7 points of balanced accuracy over stretching (docs/quality.md, "Keeping the images' shape").
DEFAULT_RESIZE = "pad"


def padded_box(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """Where :func:`pad_square` puts an ``height x width`` image in its ``size x size`` output:
    ``(top, left, new_height, new_width)``.

    The longer side becomes ``size``; the other ``max(1, round(side * size / longer))``; the image is centred, the
    odd pixel of padding after it (``top = (size - new_height) // 2``, likewise ``left``).
    """
    scale = size / max(height, width)
    new_height = size if height >= width else max(1, round(height * scale))
    new_width = size if width >= height else max(1, round(width * scale))
    return (size - new_height) // 2, (size - new_width) // 2, new_height, new_width


def pad_square(
    image: np.ndarray,
    size: int,
    interpolation: str = "bilinear",
    fill: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """The whole image in a ``size x size`` square, its aspect ratio kept (letterboxing).

    The image is scaled as :func:`padded_box` says (``cv2.resize``: area interpolation when it shrinks in both
    dimensions, else ``interpolation``) and centred on a square of ``fill``. A square image gives exactly what
    :func:`resize_square` gives. uint8 ``(H, W, 3)`` in, uint8 ``(size, size, 3)`` out.
    """
    height, width = image.shape[:2]
    if height == width:
        return resize_square(image, size, interpolation)
    top, left, new_height, new_width = padded_box(height, width, size)
    shrinks = max(new_height, new_width) < max(height, width)  # one scale for both sides
    flag = INTERPOLATION_FLAGS[SHRINK_INTERPOLATION if shrinks else base_interpolation(interpolation)]
    if (new_height, new_width) != (height, width):
        image = cv2.resize(image, (new_width, new_height), interpolation=flag)
    out = np.empty((size, size, image.shape[2]), dtype=image.dtype)
    out[...] = np.asarray(fill, dtype=image.dtype)[: image.shape[2]]
    out[top : top + new_height, left : left + new_width] = image
    return out


def fit_square(
    image: np.ndarray,
    size: int,
    interpolation: str = "bilinear",
    mode: str = DEFAULT_RESIZE,
    fill: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """:func:`pad_square` or :func:`resize_square` by ``mode`` (one of :data:`RESIZE_MODES`).

    Raises
    ------
    ValueError
        ``mode`` is not one of :data:`RESIZE_MODES`.
    """
    if mode == "pad":
        return pad_square(image, size, interpolation, fill)
    if mode == "stretch":
        return resize_square(image, size, interpolation)
    raise ValueError(f"unknown resize mode {mode!r}: one of {', '.join(RESIZE_MODES)}")
