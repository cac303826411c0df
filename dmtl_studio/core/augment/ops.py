"""The built-in augmentation operations, on uint8 RGB images with OpenCV and numpy.

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
    BatchMixer,
    GeometricTransform,
    MixSample,
    Operation,
    ParamSpec,
    ParamValue,
    PixelTransform,
    RecipeError,
    register,
)

BORDERS = ("reflect", "constant", "replicate")
_BORDER_FLAGS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "constant": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
}
_IDENTITY_LUT = np.arange(256, dtype=np.float64)


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


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- geometry
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


# ---------------------------------------------------------------------------------------------- pixels
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


# ---------------------------------------------------------------------------------------------- mixing
class _MixUp(BatchMixer):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.alpha = float(params["alpha"])

    def sample(self, rng: np.random.Generator, height: int, width: int) -> MixSample:
        return MixSample(float(rng.beta(self.alpha, self.alpha)))


class _CutMix(BatchMixer):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.alpha = float(params["alpha"])

    def sample(self, rng: np.random.Generator, height: int, width: int) -> MixSample:
        lam = float(rng.beta(self.alpha, self.alpha))
        side = math.sqrt(1.0 - lam)
        box_h, box_w = int(height * side), int(width * side)
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        top, bottom = max(0, cy - box_h // 2), min(height, cy + box_h // 2)
        left, right = max(0, cx - box_w // 2), min(width, cx + box_w // 2)
        # The label weight is the area really kept once the box is clipped at the image edges.
        kept = 1.0 - (bottom - top) * (right - left) / float(height * width)
        return MixSample(kept, (top, bottom, left, right))


# ---------------------------------------------------------------------------------------------- registry
def _strength(label: str, default: float, help_text: str, maximum: float = 0.9) -> ParamSpec:
    return ParamSpec("strength", label, "float", default, 0.0, maximum, 0.01, "", help_text)


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
register(
    Operation(
        "mixup",
        "Mixup",
        "mixing",
        _MixUp,
        (
            ParamSpec(
                "alpha",
                "Alpha",
                "float",
                0.2,
                0.05,
                4.0,
                0.05,
                "",
                "Weights from Beta(alpha, alpha): small alpha keeps one image dominant.",
            ),
        ),
        0.5,
        "Blend two training images and their labels: z = a·x1 + (1 − a)·x2. Applies to whole batches.",
    )
)
register(
    Operation(
        "cutmix",
        "CutMix",
        "mixing",
        _CutMix,
        (
            ParamSpec(
                "alpha",
                "Alpha",
                "float",
                1.0,
                0.05,
                4.0,
                0.05,
                "",
                "Pasted area from Beta(alpha, alpha); labels weighted by the visible areas.",
            ),
        ),
        0.5,
        "Paste a rectangle of another training image; labels weighted by area. Applies to whole batches.",
    )
)
