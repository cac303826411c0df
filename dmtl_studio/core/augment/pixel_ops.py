"""The built-in pixel operations (brightness, contrast, saturation, hue, gamma, blur, noise, sharpen, grayscale),
on uint8 RGB images with OpenCV and numpy.

Every random draw comes from the ``numpy.random.Generator`` passed in, so a seed fixes the result. Pixel
operations stay in uint8: linear ones (brightness, contrast) are one saturating multiply-add
(``cv2.convertScaleAbs``, ``cv2.addWeighted``), other maps of the value alone (gamma, hue) a 256-entry lookup table (``cv2.LUT``);
no float copy of the image is made. No operation changes its input array: cached images are shared between
epochs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np

from dmtl_studio.core.augment.registry import (
    Operation,
    ParamSpec,
    ParamValue,
    PixelTransform,
    register,
)

_IDENTITY_LUT = np.arange(256, dtype=np.float64)


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def _gray_mean(image: np.ndarray) -> float:
    r, g, b = cv2.mean(image)[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


class _Brightness(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.strength = float(params["strength"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        factor = rng.uniform(1.0 - self.strength, 1.0 + self.strength)
        return cv2.convertScaleAbs(image, alpha=factor)  # factor > 0: never negative, saturates at 255


class _Contrast(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.strength = float(params["strength"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        factor = rng.uniform(1.0 - self.strength, 1.0 + self.strength)
        mean = _gray_mean(image)  # around the mean grey level, as PIL and torchvision do
        # factor * v + (1 - factor) * mean, saturated to 0..255 (it goes below 0 when factor > 1).
        return cv2.addWeighted(image, factor, image, 0.0, (1.0 - factor) * mean)


class _Saturation(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.strength = float(params["strength"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        factor = rng.uniform(1.0 - self.strength, 1.0 + self.strength)
        gray = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        return cv2.addWeighted(image, factor, gray, 1.0 - factor, 0.0)


class _Hue(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.shift = float(params["shift"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shift = int(round(rng.uniform(-self.shift, self.shift) * 256))
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL)  # hue in 0..255, a full turn
        table = np.empty((1, 256, 3), dtype=np.uint8)
        table[0, :, 0] = (np.arange(256) + shift) % 256
        table[0, :, 1] = table[0, :, 2] = np.arange(256)
        return cv2.cvtColor(cv2.LUT(hsv, table), cv2.COLOR_HSV2RGB_FULL)


class _Gamma(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.amount = float(params["amount"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gamma = rng.uniform(1.0 - self.amount, 1.0 + self.amount)
        return cv2.LUT(image, _lut(255.0 * (_IDENTITY_LUT / 255.0) ** gamma))


def blur_kernel_size(sigma_max: float) -> int:
    """The odd kernel size that holds +-3 sigma of the widest blur."""
    return 2 * math.ceil(3.0 * sigma_max) + 1


class _GaussianBlur(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.sigma_max = float(params["sigma"])
        self.ksize = blur_kernel_size(self.sigma_max)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = rng.uniform(0.1, self.sigma_max)
        return cv2.GaussianBlur(image, (self.ksize, self.ksize), sigma, borderType=cv2.BORDER_REFLECT_101)


# Standard normal values drawn once: each image takes a window at a random offset with a random sign per
# channel. Drawing fresh normals for every pixel costs more than the rest of a typical recipe together.
_NOISE_TABLE_SIZE = 1 << 21
_noise_table: np.ndarray | None = None


def _normal_table() -> np.ndarray:
    global _noise_table
    if _noise_table is None:
        _noise_table = np.random.default_rng(20240611).standard_normal(_NOISE_TABLE_SIZE, dtype=np.float32)
    return _noise_table


class _GaussianNoise(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.sigma = float(params["sigma"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        std = rng.uniform(0.0, self.sigma)
        size = image.size
        table = _normal_table()
        if size > table.size:
            noise = rng.standard_normal(size, dtype=np.float32)
        else:
            start = int(rng.integers(0, table.size - size + 1))
            noise = table[start : start + size]
        # OpenCV adds float noise to uint8 pixels and saturates to 0..255 in one pass.
        return cv2.add(image, noise.reshape(image.shape) * np.float32(std), dtype=cv2.CV_8U)


_SMOOTH = np.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
_DELTA = np.zeros((3, 3))
_DELTA[1, 1] = 1.0


class _Sharpen(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.amount = float(params["amount"])

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        factor = 1.0 + rng.uniform(0.0, self.amount)
        # Blend with the smoothed image beyond the original (PIL's sharpness), folded into one 3x3 kernel.
        kernel = factor * _DELTA + (1.0 - factor) * _SMOOTH
        return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE)


class _Grayscale(PixelTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        pass

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _strength(label: str, default: float, help_text: str, maximum: float = 0.9) -> ParamSpec:
    return ParamSpec("strength", label, "float", default, 0.0, maximum, 0.01, "", help_text)


register(
    Operation(
        "brightness",
        "Brightness",
        "pixel",
        _Brightness,
        (_strength("Strength", 0.2, "Brightness factor uniform in [1 - this, 1 + this]."),),
        0.5,
        "Make the image darker or brighter.",
    )
)
register(
    Operation(
        "contrast",
        "Contrast",
        "pixel",
        _Contrast,
        (
            _strength(
                "Strength", 0.2, "Contrast factor uniform in [1 - this, 1 + this], about the mean grey."
            ),
        ),
        0.5,
        "Spread or squeeze the grey levels about their mean.",
    )
)
register(
    Operation(
        "saturation",
        "Saturation",
        "pixel",
        _Saturation,
        (_strength("Strength", 0.2, "Saturation factor uniform in [1 - this, 1 + this].", maximum=1.0),),
        0.5,
        "Make colours duller or more vivid.",
    )
)
register(
    Operation(
        "hue",
        "Hue",
        "pixel",
        _Hue,
        (
            ParamSpec(
                "shift",
                "Max shift",
                "float",
                0.05,
                0.0,
                0.5,
                0.005,
                "of a turn",
                "Hue rotated by up to ±this fraction of the colour wheel.",
            ),
        ),
        0.3,
        "Shift every colour around the colour wheel.",
    )
)
register(
    Operation(
        "gamma",
        "Gamma",
        "pixel",
        _Gamma,
        (
            ParamSpec(
                "amount",
                "Strength",
                "float",
                0.2,
                0.0,
                0.9,
                0.01,
                "",
                "Gamma uniform in [1 - this, 1 + this]: below 1 lightens shadows, above 1 darkens them.",
            ),
        ),
        0.5,
        "Change mid-tones and leave black and white as they are.",
    )
)
register(
    Operation(
        "gaussian_blur",
        "Gaussian blur",
        "pixel",
        _GaussianBlur,
        (
            ParamSpec(
                "sigma",
                "Max sigma",
                "float",
                1.5,
                0.1,
                5.0,
                0.1,
                "px",
                "Blur radius (standard deviation) uniform in [0.1, this] pixels.",
            ),
        ),
        0.3,
        "Soften the image, as out-of-focus optics do.",
    )
)
register(
    Operation(
        "gaussian_noise",
        "Gaussian noise",
        "pixel",
        _GaussianNoise,
        (
            ParamSpec(
                "sigma",
                "Max sigma",
                "float",
                8.0,
                0.0,
                64.0,
                0.5,
                "grey levels",
                "Noise standard deviation uniform in [0, this] (of 255).",
            ),
        ),
        0.3,
        "Add sensor-like noise to every pixel.",
    )
)
register(
    Operation(
        "sharpen",
        "Sharpen",
        "pixel",
        _Sharpen,
        (
            ParamSpec(
                "amount",
                "Max amount",
                "float",
                1.0,
                0.0,
                4.0,
                0.05,
                "",
                "Sharpness factor uniform in [1, 1 + this] (1 leaves the image as it is).",
            ),
        ),
        0.3,
        "Make edges crisper.",
    )
)
register(
    Operation(
        "grayscale",
        "Grayscale",
        "pixel",
        _Grayscale,
        default_probability=0.1,
        help="Drop the colour, so the model cannot rely on it alone.",
    )
)
