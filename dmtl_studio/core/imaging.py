"""Decoding of image files into 8-bit RGB arrays, with a plain-language reason for every failure.

Every reader of pixels in the product (browser thumbnails, training, prediction) goes through
:func:`load_rgb`, so the browser and the training loader always see the same pixels.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from dmtl_studio.core.fileio import file_sha256

#: File name extensions (lower case) that are looked at when scanning a folder.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)

#: Images above this many pixels are refused from their header, before any decoding.
MAX_PIXELS = 12_000 * 12_000

#: Background on which transparent images are composited (white, as most viewers show them).
BACKGROUND_RGB = (255, 255, 255)

# Truncated files must fail, not silently decode with grey bottoms.
ImageFile.LOAD_TRUNCATED_IMAGES = False


_DIGITS = re.compile(r"(\d+)")


class ImageProblem(Exception):
    """A file that cannot be used as an image; ``str(exc)`` is a reason a person can read."""


class FileProblem(ImageProblem):
    """An image of a project that could not be read while working on it: which file, and why."""

    def __init__(self, message: str, path: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class ImageInfo:
    """What a scan learns about one file."""

    sha256: str
    size_bytes: int
    width: int
    height: int


def is_image_name(path: str | os.PathLike[str]) -> bool:
    """True when the file name has an image extension (case-insensitive) and is not hidden."""
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _open_checked(path: str | os.PathLike[str]) -> Image.Image:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ImageProblem(f"cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise ImageProblem("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # The size is checked below against our own limit, from the header alone.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageProblem(f"image too large: {exc}; refused before decoding to protect memory") from exc
    except UnidentifiedImageError as exc:
        raise ImageProblem("not an image file, or a format that is not supported") from exc
    except OSError as exc:
        raise ImageProblem(f"cannot be read: {exc}") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise ImageProblem("image has no pixels")
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageProblem(
            f"image too large ({width}x{height} = {width * height:,} pixels; limit {MAX_PIXELS:,}): "
            "refused before decoding to protect memory"
        )
    return image


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to an 8-bit RGB array without clipping high bit depths."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # High bit depth greyscale: scale the used range of the type to 0..255, never clip.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(array.max()), 1.0)
        if mode == "F":
            low, high = float(array.min()), float(array.max())
            array = (array - low) / (high - low if high > low else 1.0)
            top = 1.0
        grey = np.clip(np.rint(array / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND_RGB, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode == "RGB":
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def load_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a file into an ``(H, W, 3)`` uint8 RGB array.

    EXIF orientation is applied, transparency is composited on :data:`BACKGROUND_RGB`, 16-bit images are
    scaled to 8 bit, and animated images give their first frame.

    Raises
    ------
    ImageProblem
        With a reason a person can read, for any file that cannot be used.
    """
    image = _open_checked(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            array = _to_rgb8(image)
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(f"image too large: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem(f"damaged or truncated image data ({exc})") from exc
    finally:
        image.close()
    return np.ascontiguousarray(array)


def inspect_image(path: str | os.PathLike[str]) -> ImageInfo:
    """Fully decode a file once to prove it is usable, and return its content hash and size.

    Raises
    ------
    ImageProblem
        When the file cannot be used.
    """
    array = load_rgb(path)
    return ImageInfo(
        sha256=file_sha256(path),
        size_bytes=os.path.getsize(path),
        width=int(array.shape[1]),
        height=int(array.shape[0]),
    )


def thumbnail(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """An RGB array whose longest side is ``size`` pixels, from the same pixels as :func:`load_rgb`."""
    array = load_rgb(path)
    height, width = array.shape[:2]
    scale = size / max(height, width)
    if scale >= 1.0:
        return array
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(array).resize(new_size, Image.BILINEAR))


def iter_image_files(root: str | os.PathLike[str]) -> list[Path]:
    """Every file with an image extension below ``root``, sorted, following no symlinked folders twice.

    Hidden files and folders are skipped. Symlink loops and dangling links cannot make this hang or fail.
    """
    found: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            stat = folder.stat()
        except OSError:
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                elif is_image_name(entry.name):
                    found.append(Path(entry.path))
            except OSError:
                continue
    found.sort(key=natural_key)
    return found


def natural_key(path: Path | str) -> tuple[tuple[str | int, ...], ...]:
    """Sort key that orders numbers by value, as people number their files: img_2 before img_10."""
    return tuple(
        tuple(int(piece) if i % 2 else piece.casefold() for i, piece in enumerate(_DIGITS.split(part)))
        for part in Path(path).parts
    )
