"""The one definition of how an image file becomes a model input (torch-free).

Training, evaluation, prediction and Grad-CAM prepare pixels with :func:`fit_to_input` and :func:`normalise`, and
every sidecar (a run's ``model.json``, an export's ``*.json``) describes them with :func:`describe_preprocessing`,
written from the same constants, so a program that follows the sidecar computes the inputs the product computes.

The steps, in order:

1. decode with Pillow (:func:`dmtl_studio.core.project.imaging.load_rgb`): the first frame or page that is not blank,
   EXIF orientation applied, transparency of every kind composited over white, any pixel type scaled to 8-bit
   RGB;
2. resize the whole image to ``size x size`` with ``cv2.resize`` (the aspect ratio is not kept and nothing is
   cropped): area interpolation when the image is larger than ``size`` in both dimensions, else the backbone's
   interpolation; uint8 in and out;
3. ``x = float32(pixel) * float32(1 / 255)``, then ``(x - mean) / std`` per RGB channel in float32;
4. HWC to CHW; a batch is ``(N, 3, size, size)`` float32.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dmtl_studio.core.augment.resize import (
    INTERPOLATION_FLAGS,
    SHRINK_INTERPOLATION,
    base_interpolation,
    resize_square,
)
from dmtl_studio.core.project.imaging import load_rgb
from dmtl_studio.core.project.pixel_decoding import BACKGROUND_RGB

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Preprocessing:
    """How pixels are prepared for a backbone; read from the model's own config, never hard-coded."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str
    crop_pct: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        return cls(
            input_size=int(data["input_size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            interpolation=str(data["interpolation"]),
            crop_pct=float(data["crop_pct"]),
        )


#: Version of the ``preprocessing`` description in sidecars (what a reader may rely on).
DESCRIPTION_FORMAT = 2


def fit_to_input(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Step 2: an ``(H, W, 3)`` uint8 RGB image resized to ``(size, size, 3)`` uint8 (see the module docstring)."""
    return resize_square(image, preprocessing.input_size, preprocessing.interpolation)


def normalise(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Steps 3 and 4: ``(size, size, 3)`` uint8 RGB -> ``(3, size, size)`` float32, normalised by mean and std."""
    array = image.astype(np.float32) * np.float32(1.0 / 255.0)
    array -= np.asarray(preprocessing.mean, dtype=np.float32)
    array /= np.asarray(preprocessing.std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def prepare_file(path: str | os.PathLike[str], preprocessing: Preprocessing) -> np.ndarray:
    """All steps for one file: ``(3, size, size)`` float32.

    Raises
    ------
    ImageProblem
        When the file cannot be decoded.
    """
    return normalise(fit_to_input(load_rgb(path), preprocessing), preprocessing)


def describe_preprocessing(preprocessing: Preprocessing) -> dict:
    """The exact description of the steps above for ``preprocessing``, as written into every sidecar.

    Keeps the keys :meth:`Preprocessing.from_dict` reads (``input_size``, ``mean``, ``std``, ``interpolation``,
    ``crop_pct``); ``crop_pct`` is 1.0 because nothing is ever cropped, whatever the backbone's own config says.
    """
    size = int(preprocessing.input_size)
    otherwise = base_interpolation(preprocessing.interpolation)
    mean = [float(v) for v in preprocessing.mean]
    std = [float(v) for v in preprocessing.std]
    return {
        "description_format": DESCRIPTION_FORMAT,
        "input_size": size,
        "mean": mean,
        "std": std,
        "interpolation": otherwise,
        "crop_pct": 1.0,
        "decode": {
            "library": "Pillow",
            "frame": 0,
            "frame_rule": "of a file of several frames or pages, the first that is not one colour throughout",
            "exif_orientation": "applied (PIL.ImageOps.exif_transpose)",
            "transparency": {
                "applies_to": "alpha channels, palette alpha, GIF transparency indices and tRNS colour keys",
                "composite_over_rgb": list(BACKGROUND_RGB),
                "function": "convert('RGBA'), PIL.Image.alpha_composite over an opaque background, convert('RGB')",
            },
            "colour": "8-bit RGB: other 8-bit modes through PIL.Image.convert('RGB'); greyscale repeated to 3 channels",
            "high_bit_depth": (
                "uint16: round(v * 255 / (2**b - 1)) with b = 16, or b = max(8, bit length of the maximum) when "
                "that is 12 or less; integers within 0..255 and floats within [0, 1] keep that range; any other "
                "numeric type is stretched linearly from its finite minimum to its finite maximum onto 0..255; "
                "NaN and -inf become 0, +inf 255; colour channels are scaled together"
            ),
            "dtype": "uint8",
        },
        "resize": {
            "mode": "stretch",
            "keep_aspect_ratio": False,
            "width": size,
            "height": size,
            "library": "opencv",
            "function": "cv2.resize(image, (width, height), interpolation=flag)",
            "interpolation_when_larger_in_both_dimensions": SHRINK_INTERPOLATION,
            "interpolation_otherwise": otherwise,
            "opencv_flag_when_larger_in_both_dimensions": int(INTERPOLATION_FLAGS[SHRINK_INTERPOLATION]),
            "opencv_flag_otherwise": int(INTERPOLATION_FLAGS[otherwise]),
            "unchanged_when_already": [size, size],
            "output_dtype": "uint8",
        },
        "crop": None,
        "scale": "x = float32(pixel) * float32(1/255)",
        "normalize": "(x - mean) / std per channel, float32",
        "channel_order": "RGB",
        "layout": "NCHW",
        "dtype": "float32",
        "opencv_version_used": cv2.__version__,
    }


__all__ = ["Preprocessing", "describe_preprocessing", "fit_to_input", "normalise", "prepare_file"]


def to_tensor(image: np.ndarray, preprocessing: Preprocessing) -> torch.Tensor:
    """uint8 HWC RGB ``(H, W, 3)`` -> normalised float32 CHW tensor ``(3, H, W)`` (:func:`normalise`)."""
    import torch  # here only: the rest of this module runs without torch (ONNX prediction)

    return torch.from_numpy(normalise(image, preprocessing))
