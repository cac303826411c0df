"""The built-in erasing operation (random erasing, or cutout): hide a random rectangle of the image, drawn from
the ``numpy.random.Generator`` passed in. The input array is never changed."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from dmtl_studio.core.augment.registry import (
    Operation,
    ParamSpec,
    ParamValue,
    PixelTransform,
    RecipeError,
    register,
)

ERASE_FILLS = ("noise", "black", "gray")


def erase_box(
    rng: np.random.Generator, height: int, width: int, min_area: float, max_area: float
) -> tuple[int, int, int, int]:
    """A random ``(top, bottom, left, right)`` box covering ``[min_area, max_area]`` of the image."""
    area = rng.uniform(min_area, max_area) * height * width
    ratio = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
    box_h = max(1, min(height, int(round(math.sqrt(area / ratio)))))
    box_w = max(1, min(width, int(round(math.sqrt(area * ratio)))))
    top = int(rng.integers(0, height - box_h + 1))
    left = int(rng.integers(0, width - box_w + 1))
    return top, top + box_h, left, left + box_w


class _RandomErasing(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.min_area = float(params["min_area"])
        self.max_area = float(params["max_area"])
        if self.min_area > self.max_area:
            raise RecipeError(
                f"random erasing: min_area {self.min_area:g} is larger than max_area {self.max_area:g}"
            )
        self.fill = str(params["fill"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        top, bottom, left, right = erase_box(
            rng, image.shape[0], image.shape[1], self.min_area, self.max_area
        )
        out = image.copy()
        if self.fill == "noise":
            out[top:bottom, left:right] = rng.integers(
                0, 256, size=(bottom - top, right - left, image.shape[2]), dtype=np.uint8
            )
        else:
            out[top:bottom, left:right] = 0 if self.fill == "black" else 127
        return out


register(
    Operation(
        "random_erasing",
        "Random erasing (cutout)",
        "erasing",
        _RandomErasing,
        (
            ParamSpec(
                "min_area",
                "Min area",
                "float",
                0.02,
                0.001,
                0.9,
                0.005,
                "of image",
                "The erased rectangle covers at least this fraction of the image.",
            ),
            ParamSpec(
                "max_area",
                "Max area",
                "float",
                0.2,
                0.001,
                0.9,
                0.005,
                "of image",
                "… and at most this fraction.",
            ),
            ParamSpec(
                "fill",
                "Fill",
                "choice",
                "noise",
                choices=ERASE_FILLS,
                help="Random pixels, black, or mid grey.",
            ),
        ),
        0.3,
        "Hide a random rectangle, so the model looks at the whole object.",
        ordered=(("min_area", "max_area"),),
    )
)
