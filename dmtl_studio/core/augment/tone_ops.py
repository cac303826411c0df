"""The tone operations of RandAugment and TrivialAugment (posterize, solarize, equalize, autocontrast), on uint8
RGB images with OpenCV lookup tables, as PIL's ``ImageOps`` defines them (Cubuk et al., 2020; Müller & Hutter,
2021; torchvision's ``v2.RandomPosterize``, ``RandomSolarize``, ``RandomEqualize``, ``RandomAutocontrast``).

Every random draw comes from the ``numpy.random.Generator`` passed in; no operation changes its input array.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from dmtl_studio.core.augment.registry import Operation, ParamSpec, ParamValue, PixelTransform, register

_LEVELS = np.arange(256)


class _Posterize(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.fewest = int(params["bits"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        bits = int(rng.integers(self.fewest, 9))  # 8 bits leave the image as it is
        return np.bitwise_and(image, np.uint8((0xFF << (8 - bits)) & 0xFF))  # a new array; a mask beats a LUT


class _Solarize(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.lowest = float(params["threshold"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        threshold = rng.uniform(self.lowest, 1.0) * 256.0
        table = np.where(threshold <= _LEVELS, 255 - _LEVELS, _LEVELS).astype(np.uint8)
        return cv2.LUT(image, table)


def equalize_table(channel: np.ndarray) -> np.ndarray:
    """PIL's ``ImageOps.equalize`` lookup table for one uint8 channel (torchvision's ``equalize`` is the same)."""
    histogram = np.bincount(channel.ravel(), minlength=256)
    used = histogram[histogram > 0]
    step = (int(used.sum()) - int(used[-1])) // 255 if len(used) > 1 else 0
    if step == 0:  # one grey level, or nearly: left as it is
        return _LEVELS.astype(np.uint8)
    below = np.concatenate([[0], np.cumsum(histogram)[:-1]])
    return np.minimum((below + step // 2) // step, 255).astype(np.uint8)


class _Equalize(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        pass

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Each channel on its own, as PIL's ImageOps.equalize and torchvision's equalize do.
        channels = cv2.split(image)
        return cv2.merge([cv2.LUT(channel, equalize_table(channel)) for channel in channels])


class _Autocontrast(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        pass

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        tables = []
        for channel in cv2.split(image):  # contiguous planes: numpy's min and max are fast on these
            low, high = int(channel.min()), int(channel.max())
            if high > low:  # a flat channel stays as it is; values truncated, as PIL does
                tables.append(np.clip((_LEVELS - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8))
            else:
                tables.append(_LEVELS.astype(np.uint8))
        return cv2.LUT(image, np.stack(tables, axis=1).reshape(256, 1, len(tables)))


register(
    Operation(
        "posterize",
        "Posterize",
        "pixel",
        _Posterize,
        (
            ParamSpec(
                "bits",
                "Fewest bits",
                "int",
                4,
                1,
                8,
                1,
                "bits",
                "Each channel keeps between this many and 8 of its bits (drawn per image).",
            ),
        ),
        0.3,
        "Fewer grey levels per channel, as a cheap print or a coarse screen.",
    )
)
register(
    Operation(
        "solarize",
        "Solarize",
        "pixel",
        _Solarize,
        (
            ParamSpec(
                "threshold",
                "Lowest threshold",
                "float",
                0.5,
                0.0,
                1.0,
                0.01,
                "of white",
                "Values above a threshold drawn between this and white are inverted.",
            ),
        ),
        0.2,
        "Invert the bright parts of the image.",
    )
)
register(
    Operation(
        "equalize",
        "Equalize",
        "pixel",
        _Equalize,
        default_probability=0.2,
        help="Spread each channel's histogram evenly over all grey levels.",
    )
)
register(
    Operation(
        "autocontrast",
        "Auto contrast",
        "pixel",
        _Autocontrast,
        default_probability=0.2,
        help="Stretch each channel so its darkest value becomes black and its brightest white.",
    )
)
