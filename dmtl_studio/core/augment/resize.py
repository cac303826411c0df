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


def fit_within(image: np.ndarray, size: int) -> np.ndarray:
    """The whole image, its aspect ratio kept, shrunk to at most ``size`` pixels on its longer side.

    For showing an image as it is (the recipe preview's original), where :func:`resize_square` shows it as
    training sees it, stretched to a square.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    if scale >= 1:
        return image
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, target, interpolation=cv2.INTER_AREA)
