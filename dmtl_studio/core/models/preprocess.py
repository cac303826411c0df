"""The one definition of how an image file becomes a model input (torch-free).

Training, evaluation, prediction and Grad-CAM prepare pixels with :func:`fit_to_input` and :func:`normalise`, and
every sidecar (a run's ``model.json``, an export's ``*.json``) describes them with :func:`describe_preprocessing`,
written from the same constants, so a program that follows the sidecar computes the inputs the product computes.

The steps, in order:

1. decode with Pillow (:func:`decode_for_input`, through :mod:`dmtl_studio.core.project.imaging`): the first frame
   or page that is not blank, EXIF orientation applied, transparency of every kind composited over white, any pixel
   type scaled to 8-bit RGB; a plain JPEG at least six times the model's input is decoded at a reduced DCT scale
   that keeps it at least :data:`REDUCED_DECODE_MARGIN` (3) times the input (a camera photo decodes 4 to 7 times
   faster; the input differs from a full decode's by 0.2 grey levels on average);
2. fit the whole image into ``size x size`` with ``cv2.resize``, nothing cropped, by the run's resize mode
   (:data:`~dmtl_studio.core.augment.resize.RESIZE_MODES`): ``"pad"`` (new runs) scales the longer side to
   ``size``, keeping the aspect ratio, and centres the image on a square of the colour transparency is composited
   over (white); ``"stretch"`` (runs made before the mode existed) scales each side to ``size``. Area
   interpolation when the image shrinks in both dimensions, else the backbone's interpolation; uint8 in and out;
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
    RESIZE_MODES,
    SHRINK_INTERPOLATION,
    base_interpolation,
    fit_square,
    padded_box,
)
from dmtl_studio.core.project import imaging
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
    #: One of :data:`~dmtl_studio.core.augment.resize.RESIZE_MODES`; ``"stretch"`` unless given, as every run
    #: made before the mode existed was (:func:`~dmtl_studio.core.models.architectures.preprocessing_for` gives
    #: new runs the default, ``"pad"``).
    resize_mode: str = "stretch"

    def __post_init__(self) -> None:
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(
                f"unknown resize mode {self.resize_mode!r} (this version knows {', '.join(RESIZE_MODES)})"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        """From :meth:`to_dict` or from a sidecar's :func:`describe_preprocessing` (whose ``resize`` step names
        its mode; a sidecar without one is of a run that stretched).

        Raises
        ------
        ValueError
            An unknown resize mode (a sidecar of a newer DMTL Studio).
        """
        step = data.get("resize")
        mode = data.get("resize_mode") or (step.get("mode") if isinstance(step, dict) else None) or "stretch"
        return cls(
            input_size=int(data["input_size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            interpolation=str(data["interpolation"]),
            crop_pct=float(data["crop_pct"]),
            resize_mode=str(mode),
        )


#: Version of the ``preprocessing`` description in sidecars (what a reader may rely on).
DESCRIPTION_FORMAT = 3  # 3: the reduced decode of large JPEGs (``decode.reduced_jpeg``)


def fit_to_input(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Step 2: an ``(H, W, 3)`` uint8 RGB image fitted into ``(size, size, 3)`` uint8 (see the module docstring)."""
    return fit_square(
        image,
        preprocessing.input_size,
        preprocessing.interpolation,
        preprocessing.resize_mode,
        BACKGROUND_RGB,
    )


def image_box(height: int, width: int, preprocessing: Preprocessing) -> tuple[int, int, int, int]:
    """Where an ``height x width`` image lies in its model input: ``(top, left, box_height, box_width)`` in input
    pixels (the whole square when stretched). A map over the input (Grad-CAM's) cropped to it covers the image."""
    size = preprocessing.input_size
    if preprocessing.resize_mode == "pad":
        return padded_box(height, width, size)
    return 0, 0, size, size


def normalise(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Steps 3 and 4: ``(size, size, 3)`` uint8 RGB -> ``(3, size, size)`` float32, normalised by mean and std."""
    array = image.astype(np.float32) * np.float32(1.0 / 255.0)
    array -= np.asarray(preprocessing.mean, dtype=np.float32)
    array /= np.asarray(preprocessing.std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


#: How many times its size in the model input a JPEG decoded at a reduced scale keeps on each side. Measured on
#: 12-megapixel photos fitted to 224 px (padded): a margin of 2 lets libjpeg reduce them to 1/8, and the input
#: differs from a full decode's by 0.45 grey levels on average and up to 23 at sharp edges; a margin of 3 reduces
#: them to 1/4 in the same time, 0.15 on average and 4 at most (``bench/bench_thumbnails.py``'s photos).
REDUCED_DECODE_MARGIN = 3


def decode_for_input(path: str | os.PathLike[str], preprocessing: Preprocessing) -> np.ndarray:
    """Step 1 for one file: ``(H, W, 3)`` uint8 RGB, ready for :func:`fit_to_input`.

    Training, prediction and Grad-CAM decode through here. A single-frame RGB or greyscale JPEG whose sides are at
    least twice :data:`REDUCED_DECODE_MARGIN` times what :func:`fit_to_input` shrinks them to is decoded at 1/2,
    1/4 or 1/8 scale (:func:`~dmtl_studio.core.project.imaging.reduced_jpeg`), each side kept at least
    :data:`REDUCED_DECODE_MARGIN` times its size in the input, and shrunk here to that size — computed from the
    whole image's size, as step 2 would, with step 2's area interpolation — so the padding's geometry is the full
    decode's to the pixel and the values within a grey level or two. Every other file is decoded whole.

    Raises
    ------
    ImageProblem
        When the file cannot be decoded.
    """
    return decode_to_fit(path, preprocessing.input_size, preprocessing.resize_mode)


def decode_to_fit(path: str | os.PathLike[str], size: int, resize_mode: str) -> np.ndarray:
    """:func:`decode_for_input` for a ``size x size`` input fitted by ``resize_mode`` (the recipe editor's preview
    has no backbone's normalisation to give).

    Raises
    ------
    ImageProblem
        When the file cannot be decoded.
    """
    stretch = resize_mode == "stretch"
    margin = REDUCED_DECODE_MARGIN * size
    need = (lambda _width, _height: (margin, margin)) if stretch else imaging.longer_side_at(margin)
    quick = imaging.reduced_jpeg(path, need)
    if quick is None:
        return imaging.load_rgb(path)
    width, height = quick.shown
    _, _, box_height, box_width = (0, 0, size, size) if stretch else padded_box(height, width, size)
    return cv2.resize(
        quick.rgb, (box_width, box_height), interpolation=INTERPOLATION_FLAGS[SHRINK_INTERPOLATION]
    )


def prepare_file(path: str | os.PathLike[str], preprocessing: Preprocessing) -> np.ndarray:
    """All steps for one file: ``(3, size, size)`` float32.

    Raises
    ------
    ImageProblem
        When the file cannot be decoded.
    """
    return normalise(fit_to_input(decode_for_input(path, preprocessing), preprocessing), preprocessing)


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
            "reduced_jpeg": _describe_reduced_jpeg(preprocessing.resize_mode, size),
        },
        "resize": _describe_resize(preprocessing.resize_mode, size)
        | {
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


def _describe_reduced_jpeg(mode: str, size: int) -> dict:
    """The decode step's reduced reading of large JPEGs (:func:`decode_for_input`), to the letter."""
    margin = REDUCED_DECODE_MARGIN
    need = (
        f"({margin} * {size}, {margin} * {size})"
        if mode == "stretch"
        else f"(ceil(w * {margin} * {size} / max(w, h)), ceil(h * {margin} * {size} / max(w, h)))"
    )
    return {
        "applies_to": "a JPEG of one frame whose Pillow mode is RGB or L",
        "margin": margin,
        "need": f"{need}, w and h the file's stored size (before the EXIF orientation)",
        "when": "w >= 2 * need[0] and h >= 2 * need[1]; otherwise the file is decoded whole",
        "function": "PIL image.draft(None, need), then load, the EXIF orientation and convert('RGB') as above",
        "then": (
            "cv2.resize to the resize step's scaled size, computed from the whole image's size as shown (the "
            "size before draft, orientation applied), with the opencv flag for images larger in both "
            "dimensions; the resize step then finds it at that size and leaves it"
        ),
    }


def _describe_resize(mode: str, size: int) -> dict:
    """The resize step's own keys: a stretch as every sidecar has described it, or the padding's geometry."""
    if mode == "stretch":
        return {
            "mode": "stretch",
            "keep_aspect_ratio": False,
            "width": size,
            "height": size,
            "library": "opencv",
            "function": "cv2.resize(image, (width, height), interpolation=flag)",
        }
    return {
        "mode": "pad",
        "keep_aspect_ratio": True,
        "width": size,
        "height": size,
        "library": "opencv",
        "scaled_size": (
            "the longer side becomes size; the other max(1, round(side * size / longer side)); "
            "a square image is resized to size x size"
        ),
        "function": "cv2.resize(image, (scaled_width, scaled_height), interpolation=flag)",
        "placement": "centred: top = (size - scaled_height) // 2, left = (size - scaled_width) // 2",
        "pad_rgb": list(BACKGROUND_RGB),
        "interpolation_rule": "area when the image shrinks (one scale for both sides), else the interpolation below",
    }


__all__ = [
    "Preprocessing",
    "decode_for_input",
    "decode_to_fit",
    "describe_preprocessing",
    "fit_to_input",
    "image_box",
    "normalise",
    "prepare_file",
]


def to_tensor(image: np.ndarray, preprocessing: Preprocessing) -> torch.Tensor:
    """uint8 HWC RGB ``(H, W, 3)`` -> normalised float32 CHW tensor ``(3, H, W)`` (:func:`normalise`)."""
    import torch  # here only: the rest of this module runs without torch (ONNX prediction)

    return torch.from_numpy(normalise(image, preprocessing))
