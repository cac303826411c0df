"""Resizing to the training size, shared by the training loader and the preview (torch-free)."""

from __future__ import annotations

import cv2
import numpy as np

_INTERPOLATION = {
    "bicubic": cv2.INTER_CUBIC,
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
}


def resize_square(image: np.ndarray, size: int, interpolation: str = "bilinear") -> np.ndarray:
    """Resize the whole image to ``size x size`` (nothing is cropped away: objects at the edges stay)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    shrinking = image.shape[0] > size and image.shape[1] > size
    flag = cv2.INTER_AREA if shrinking else _INTERPOLATION.get(interpolation, cv2.INTER_LINEAR)
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
