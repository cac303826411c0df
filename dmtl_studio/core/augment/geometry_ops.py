"""The built-in geometric operations (flips, rotations, shifts, scaling, shear, perspective, random resized
crop): each draws one 3x3 matrix from the ``numpy.random.Generator`` passed in, so a seed fixes the result, and
consecutive motions are composed into one warp by the recipe. No operation changes its input array."""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np

from dmtl_studio.core.augment.registry import (
    GeometricTransform,
    Operation,
    ParamSpec,
    ParamValue,
    register,
)

BORDERS = ("reflect", "constant", "replicate")
_BORDER_FLAGS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "constant": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
}


def border_flag(border: str) -> int:
    """The OpenCV border mode for a recipe's border name."""
    return _BORDER_FLAGS[border]


def _border_spec() -> ParamSpec:
    return ParamSpec(
        "border",
        "Edges",
        "choice",
        "reflect",
        choices=BORDERS,
        help="How the corners uncovered by the motion are filled: mirrored image, black, or the edge pixel.",
    )


def _about_center(
    linear: np.ndarray, height: int, width: int, tx: float = 0.0, ty: float = 0.0
) -> np.ndarray:
    """A 3x3 matrix applying ``linear`` about the image centre, then shifting by ``(tx, ty)`` pixels."""
    # Plain floats and one array: this runs per image and step, where numpy's small-array calls add up.
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    (a, b), (c, d) = linear.tolist()
    return np.array([[a, b, cx + tx - a * cx - b * cy], [c, d, cy + ty - c * cx - d * cy], [0.0, 0.0, 1.0]])


class _Flip(GeometricTransform):
    def __init__(self, horizontal: bool) -> None:
        self.linear = np.diag([-1.0, 1.0]) if horizontal else np.diag([1.0, -1.0])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        return _about_center(self.linear, height, width)


# Exact integer matrices: a quarter turn must move pixels, not interpolate them.
_QUARTER_TURNS = {
    1: np.array([[0.0, 1.0], [-1.0, 0.0]]),
    2: np.array([[-1.0, 0.0], [0.0, -1.0]]),
    3: np.array([[0.0, -1.0], [1.0, 0.0]]),
}


class _Rotate90(GeometricTransform):
    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        return _about_center(_QUARTER_TURNS[int(rng.integers(1, 4))], height, width)


class _Rotate(GeometricTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.degrees = float(params["degrees"])
        self.border = str(params["border"])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        angle = math.radians(rng.uniform(-self.degrees, self.degrees))
        c, s = math.cos(angle), math.sin(angle)
        # Positive angles turn counter-clockwise on screen (y points down), as in OpenCV and torchvision.
        return _about_center(np.array([[c, s], [-s, c]]), height, width)


class _Translate(GeometricTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.fraction = float(params["fraction"])
        self.border = str(params["border"])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        tx = rng.uniform(-self.fraction, self.fraction) * width
        ty = rng.uniform(-self.fraction, self.fraction) * height
        return _about_center(np.eye(2), height, width, tx, ty)


class _Scale(GeometricTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.amount = float(params["amount"])
        self.border = str(params["border"])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        factor = rng.uniform(1.0 - self.amount, 1.0 + self.amount)
        return _about_center(np.eye(2) * factor, height, width)


class _Shear(GeometricTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.degrees = float(params["degrees"])
        self.border = str(params["border"])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        sx = math.tan(math.radians(rng.uniform(-self.degrees, self.degrees)))
        sy = math.tan(math.radians(rng.uniform(-self.degrees, self.degrees)))
        return _about_center(np.array([[1.0, sx], [sy, 1.0]]), height, width)


class _Perspective(GeometricTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.distortion = float(params["distortion"])
        self.border = str(params["border"])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        # Each corner moves inwards by up to distortion * half the side, as torchvision's RandomPerspective.
        dx, dy = self.distortion * (width - 1) / 2.0, self.distortion * (height - 1) / 2.0
        right, bottom = width - 1.0, height - 1.0
        corners = np.array([[0, 0], [right, 0], [right, bottom], [0, bottom]], dtype=np.float32)
        moves = rng.uniform(0.0, 1.0, size=(4, 2)) * np.array([dx, dy])
        signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
        moved = (corners + signs * moves).astype(np.float32)
        return cv2.getPerspectiveTransform(corners, moved)


class _RandomResizedCrop(GeometricTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.min_area = float(params["min_area"])
        self.max_aspect = float(params["max_aspect"])

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        area = rng.uniform(self.min_area, 1.0) * height * width
        log_ratio = math.log(self.max_aspect)
        ratio = math.exp(rng.uniform(-log_ratio, log_ratio))
        # Whole-pixel boxes (as torchvision's): the crop is then a plain resize of a slice, see recipe.warp.
        crop_w = min(width, max(1, int(round(math.sqrt(area * ratio)))))
        crop_h = min(height, max(1, int(round(math.sqrt(area / ratio)))))
        x0 = int(rng.integers(0, width - crop_w + 1))
        y0 = int(rng.integers(0, height - crop_h + 1))
        sx, sy = width / crop_w, height / crop_h
        # Pixel centres: the crop's edges map onto the output's edges.
        return np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5], [0.0, 0.0, 1.0]])


register(
    Operation(
        "hflip",
        "Horizontal flip",
        "geometry",
        lambda p: _Flip(horizontal=True),
        default_probability=0.5,
        help="Mirror left-right. Wrong where left and right differ in meaning (text, some anatomy).",
    )
)
register(
    Operation(
        "vflip",
        "Vertical flip",
        "geometry",
        lambda p: _Flip(horizontal=False),
        default_probability=0.5,
        help="Mirror top-bottom. Good for microscopy and aerial images, where up has no meaning.",
    )
)
register(
    Operation(
        "rotate90",
        "90° rotations",
        "geometry",
        lambda p: _Rotate90(),
        default_probability=0.5,
        help="Turn by 90, 180 or 270 degrees (chosen at random); exact, no interpolation on square images.",
    )
)
register(
    Operation(
        "rotate",
        "Rotate",
        "geometry",
        _Rotate,
        (
            ParamSpec("degrees", "Max angle", "float", 15.0, 0.0, 180.0, 1.0, "°", "Angle uniform in ±this."),
            _border_spec(),
        ),
        0.5,
        "Rotate about the centre by a random angle.",
    )
)
register(
    Operation(
        "translate",
        "Translate",
        "geometry",
        _Translate,
        (
            ParamSpec(
                "fraction",
                "Max shift",
                "float",
                0.1,
                0.0,
                0.5,
                0.01,
                "of size",
                "Shift uniform in ±this fraction of the width (and of the height).",
            ),
            _border_spec(),
        ),
        0.5,
        "Move the image sideways and up or down.",
    )
)
register(
    Operation(
        "scale",
        "Scale",
        "geometry",
        _Scale,
        (
            ParamSpec(
                "amount",
                "Max zoom",
                "float",
                0.2,
                0.0,
                0.9,
                0.01,
                "",
                "Zoom factor uniform in [1 - this, 1 + this].",
            ),
            _border_spec(),
        ),
        0.5,
        "Zoom in or out about the centre.",
    )
)
register(
    Operation(
        "random_resized_crop",
        "Random resized crop",
        "geometry",
        _RandomResizedCrop,
        (
            ParamSpec(
                "min_area",
                "Min area",
                "float",
                0.5,
                0.05,
                1.0,
                0.01,
                "of image",
                "The crop covers between this fraction and all of the image.",
            ),
            ParamSpec(
                "max_aspect",
                "Max aspect",
                "float",
                4.0 / 3.0,
                1.0,
                3.0,
                0.01,
                "",
                "Width/height of the crop between 1/this and this.",
            ),
        ),
        0.5,
        "Cut out a random part of the image and stretch it back to full size.",
    )
)
register(
    Operation(
        "shear",
        "Shear",
        "geometry",
        _Shear,
        (
            ParamSpec(
                "degrees", "Max shear", "float", 10.0, 0.0, 45.0, 1.0, "°", "Shear angles uniform in ±this."
            ),
            _border_spec(),
        ),
        0.3,
        "Slant the image horizontally and vertically.",
    )
)
register(
    Operation(
        "perspective",
        "Perspective",
        "geometry",
        _Perspective,
        (
            ParamSpec(
                "distortion",
                "Distortion",
                "float",
                0.2,
                0.0,
                0.8,
                0.01,
                "",
                "Each corner moves inwards by up to this fraction of half the side.",
            ),
            _border_spec(),
        ),
        0.3,
        "View the image from a slightly different angle.",
    )
)
