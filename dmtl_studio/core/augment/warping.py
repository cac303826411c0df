"""Warping an image by a homography, exactly and fast where the warp is a right-angle move or a plain crop."""

from __future__ import annotations

import cv2
import numpy as np

from dmtl_studio.core.augment.geometry_ops import border_flag

# Right-angle moves of the pixel grid, done exactly (and fast) by OpenCV instead of interpolated.
_GRID_MOVES = {
    (1, 0, 0, 1): lambda image: image,
    (-1, 0, 0, 1): lambda image: cv2.flip(image, 1),
    (1, 0, 0, -1): lambda image: cv2.flip(image, 0),
    (-1, 0, 0, -1): lambda image: cv2.flip(image, -1),
    (0, 1, -1, 0): lambda image: cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE),
    (0, -1, 1, 0): lambda image: cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE),
    (0, 1, 1, 0): cv2.transpose,
    (0, -1, -1, 0): lambda image: cv2.flip(cv2.transpose(image), -1),
}


def _grid_move(matrix: np.ndarray, image: np.ndarray) -> np.ndarray | None:
    """The image moved by ``matrix`` if it only flips or turns it by right angles (exact), else ``None``."""
    # Plain floats: numpy's allclose costs more than the flip itself on small images.
    (a, b, tx), (c, d, ty), (g, h, k) = matrix.tolist()
    if g != 0.0 or h != 0.0 or k != 1.0:
        return None
    key = (round(a), round(b), round(c), round(d))
    move = _GRID_MOVES.get(key)
    if move is None or max(abs(a - key[0]), abs(b - key[1]), abs(c - key[2]), abs(d - key[3])) > 1e-9:
        return None
    height, width = image.shape[:2]
    if b != 0.0 and height != width:
        return None  # a quarter turn of a non-square image does not fit its own canvas
    # The translation that maps the grid onto itself: the smallest corner lands on 0.
    need_x = -min(0.0, a * (width - 1)) - min(0.0, b * (height - 1))
    need_y = -min(0.0, c * (width - 1)) - min(0.0, d * (height - 1))
    if abs(tx - need_x) > 1e-6 or abs(ty - need_y) > 1e-6:
        return None
    return move(image)


def _whole_pixel_crop(matrix: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` if ``matrix`` stretches a whole-pixel box inside the image to full size.

    Such a warp (a random resized crop alone) is a resize of a slice, which OpenCV does several times faster
    than the general warp, with the same pixel-centre convention.
    """
    (a, b, tx), (c, d, ty), (g, h, k) = matrix.tolist()
    if b != 0.0 or c != 0.0 or g != 0.0 or h != 0.0 or k != 1.0 or a < 1.0 or d < 1.0:
        return None
    left, top = 0.5 - (tx + 0.5) / a, 0.5 - (ty + 0.5) / d
    right, bottom = left + width / a, top + height / d
    box = [round(v) for v in (top, bottom, left, right)]
    if max(abs(v - r) for v, r in zip((top, bottom, left, right), box, strict=True)) > 1e-6:
        return None
    if box[0] < 0 or box[2] < 0 or box[1] > height or box[3] > width or box[0] >= box[1] or box[2] >= box[3]:
        return None
    return box[0], box[1], box[2], box[3]


def warp(image: np.ndarray, matrix: np.ndarray, border: str) -> np.ndarray:
    """Apply a source-to-destination homography, keeping the image size (bilinear)."""
    exact = _grid_move(matrix, image)
    if exact is not None:
        return exact
    height, width = image.shape[:2]
    crop = _whole_pixel_crop(matrix, height, width)
    if crop is not None:
        top, bottom, left, right = crop
        return cv2.resize(image[top:bottom, left:right], (width, height), interpolation=cv2.INTER_LINEAR)
    flags = cv2.INTER_LINEAR
    g, h, k = matrix[2].tolist()
    if g == 0.0 and h == 0.0 and k == 1.0:
        return cv2.warpAffine(image, matrix[:2], (width, height), flags=flags, borderMode=border_flag(border))
    return cv2.warpPerspective(image, matrix, (width, height), flags=flags, borderMode=border_flag(border))
