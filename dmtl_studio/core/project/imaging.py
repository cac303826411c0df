"""Decoding of image files into 8-bit RGB arrays, with a plain-language reason for every failure.

Every reader of pixels in the product (browser thumbnails, training, prediction) goes through
:func:`load_rgb`, so the browser and the training loader always see the same pixels.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.project.image_problems import (
    FileProblem as FileProblem,  # the training loader imports it here
)
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.image_shape import (  # noqa: F401 (part of this API)
    TINY_NOTE,
    TINY_SIDE,
    shape_note,
    shown_size,
)
from dmtl_studio.core.project.pixel_decoding import (
    CMYK_NOTE,
    MAX_PIXELS,
    decode_deep_colour,
    decode_pillow,
    decode_tifffile,
    has_tiff_magic,
    is_deep_colour,
    pillow_misreads,
)


@dataclass(frozen=True)
class ImageInfo:
    """What a scan learns about one file."""

    sha256: str
    size_bytes: int
    width: int
    height: int
    note: str | None = None
    #: The file's modification time (ns) taken before it was hashed: a later change shows in it.
    mtime_ns: int | None = None


def file_size(path: str | os.PathLike[str]) -> int:
    """The size of a file in bytes.

    Raises
    ------
    ImageProblem
        When the file cannot be reached (missing, dangling link, no permission).
    """
    try:
        return os.path.getsize(path)
    except OSError as exc:
        raise ImageProblem(f"cannot be read: {exc.strerror or exc}") from exc


def _open_checked(path: str | os.PathLike[str], size: int | None = None) -> Image.Image:
    size = file_size(path) if size is None else size
    if size == 0:
        raise ImageProblem("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # The size is checked below against our own limit, from the header alone.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _too_large(exc) from exc
    except UnidentifiedImageError as exc:
        if os.path.splitext(os.fspath(path))[1].lower() in (".heic", ".heif"):
            raise ImageProblem(HEIC_ADVICE) from exc
        raise ImageProblem("not an image file, or a format that is not supported") from exc
    except OSError as exc:
        if "truncated" in str(exc).lower():  # the header itself is cut short
            raise ImageProblem(f"damaged or truncated image data ({exc})") from exc
        raise ImageProblem(f"cannot be read: {exc}") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise ImageProblem("image has no pixels")
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageProblem(
            f"image too large ({width}x{height} = {width * height:,} pixels; limit {MAX_PIXELS:,}): "
            f"refused before decoding to protect memory; {SHRINK_ADVICE}"
        )
    return image


#: The reason given for an iPhone's HEIC / HEIF photo, a format Pillow cannot decode.
HEIC_ADVICE = (
    "HEIC / HEIF photo (an iPhone's format), which cannot be read: convert it to JPEG or PNG (a photo program's "
    "export, or on the iPhone Settings ▸ Camera ▸ Formats ▸ Most Compatible for new photos), then import that"
)

#: What to do with an image over :data:`MAX_PIXELS`.
SHRINK_ADVICE = "make it smaller, or cut it into tiles, with an image editor, then use that"


def _too_large(exc: BaseException) -> ImageProblem:
    """Pillow's decompression-bomb refusal in the product's words (its own text names a DOS attack)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels; " if found else ""
    return ImageProblem(
        f"image too large ({size}limit {MAX_PIXELS:,}): refused before decoding to protect memory; {SHRINK_ADVICE}"
    )


@dataclass(frozen=True)
class DecodedImage:
    """The pixels of a file as the product uses them, and what had to be done to get them.

    Attributes
    ----------
    rgb
        ``(H, W, 3)`` uint8 array.
    notes
        Plain-language remarks (rescaled values, the page of a multi-page file, ...); empty when the file
        decoded as it stands.
    """

    rgb: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """All notes in one line, or ``None``."""
        return "; ".join(self.notes) or None


def decode_image(path: str | os.PathLike[str]) -> DecodedImage:
    """Decode a file into ``(H, W, 3)`` uint8 RGB plus notes on what had to be done.

    EXIF/TIFF orientation is applied; every kind of transparency (alpha channels, palette alpha, PNG colour
    keys, GIF transparency indices, WebP alpha) is composited on :data:`~dmtl_studio.core.project.pixel_decoding.BACKGROUND_RGB`; numeric pixel
    types beyond 8 bits are scaled as :func:`~dmtl_studio.core.project.pixel_decoding._numbers_to_uint8` says; a file of several pages or frames
    gives its first non-blank one, and says so.

    Raises
    ------
    ImageProblem
        With a reason a person can read, for any file that cannot be used.
    """
    notes: list[str] = []
    try:
        image = _open_checked(path)
    except ImageProblem:
        if not has_tiff_magic(path):
            raise
        return DecodedImage(np.ascontiguousarray(decode_tifffile(path, notes)), tuple(notes))
    try:
        if is_deep_colour(image):
            try:
                return DecodedImage(
                    np.ascontiguousarray(decode_deep_colour(path, image, notes)), tuple(notes)
                )
            except ImageProblem:  # the readings below keep at least the high byte of each sample
                notes.clear()
        if pillow_misreads(image):
            try:
                return DecodedImage(np.ascontiguousarray(decode_tifffile(path, notes)), tuple(notes))
            except ImageProblem:  # e.g. a compression only Pillow decodes: its reading beats none
                notes.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            array = decode_pillow(image, notes)
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(exc) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem(f"damaged or truncated image data ({exc})") from exc
    finally:
        image.close()
    return DecodedImage(np.ascontiguousarray(array), tuple(notes))


def load_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a file into an ``(H, W, 3)`` uint8 RGB array (see :func:`decode_image`).

    Raises
    ------
    ImageProblem
        With a reason a person can read, for any file that cannot be used.
    """
    return decode_image(path).rgb


def inspect_image(path: str | os.PathLike[str]) -> ImageInfo:
    """Decode a file once to prove it is usable, and return its content hash, size and notes.

    A plain JPEG is decoded at 1/8 scale (its DCT scaling reads every byte of the data, so a truncated or
    damaged file still fails) and sized from its header: import then costs little more than opening and
    hashing the file. Every other file is decoded as :func:`decode_image` does.

    Raises
    ------
    ImageProblem
        When the file cannot be used.
    """
    size_bytes = file_size(path)
    try:
        mtime_ns: int | None = os.stat(path).st_mtime_ns  # before the hash: a change after it shows
    except OSError:
        mtime_ns = None
    shape, mode = _plain_jpeg_size(path, size_bytes)
    note = CMYK_NOTE if mode == "CMYK" else None  # the note decode_image gives, without decoding twice
    if shape is None:
        decoded = decode_image(path)
        shape, note = (int(decoded.rgb.shape[1]), int(decoded.rgb.shape[0])), decoded.note
    if (shaped := shape_note(*shape)) is not None:
        note = f"{note}; {shaped}" if note else shaped
    return ImageInfo(
        sha256=file_sha256(path),
        size_bytes=size_bytes,
        width=shape[0],
        height=shape[1],
        note=note,
        mtime_ns=mtime_ns,
    )


def _plain_jpeg_size(
    path: str | os.PathLike[str], size_bytes: int
) -> tuple[tuple[int, int] | None, str | None]:
    """``(width, height)`` as shown (EXIF orientation applied) of a single-frame JPEG proven decodable, or
    ``None`` for any other file; and the JPEG's Pillow mode."""
    image = _open_checked(path, size_bytes)
    try:
        if image.format != "JPEG" or getattr(image, "n_frames", 1) != 1:
            return None, None
        width, height = image.size
        shown = shown_size(image)
        image.draft(None, (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem(f"damaged or truncated image data ({exc})") from exc
    finally:
        image.close()
    return shown, image.mode


def longer_side_at(longer: int) -> Callable[[int, int], tuple[int, int]]:
    """A ``need`` for :func:`reduced_jpeg`: ``(width, height)`` scaled, the aspect ratio kept, so that the longer
    side is ``longer`` pixels (each side rounded up)."""

    def need(width: int, height: int) -> tuple[int, int]:
        scale = longer / max(width, height)
        return math.ceil(width * scale), math.ceil(height * scale)

    return need


@dataclass(frozen=True)
class ReducedJpeg:
    """A plain JPEG decoded at a reduced scale (:func:`reduced_jpeg`).

    Attributes
    ----------
    rgb
        ``(h, w, 3)`` uint8 RGB, upright: the file's pixels at 1/2, 1/4 or 1/8 of its size.
    shown
        ``(width, height)`` of the whole image as shown (EXIF orientation applied), what :func:`load_rgb` would give.
    """

    rgb: np.ndarray
    shown: tuple[int, int]


def reduced_jpeg(
    path: str | os.PathLike[str], need: Callable[[int, int], tuple[int, int]]
) -> ReducedJpeg | None:
    """A plain JPEG decoded at a reduced scale, for a caller that will shrink its pixels anyway; ``None`` for any
    other file, or one too small to reduce (read it with :func:`load_rgb`).

    ``need(width, height)`` gets the file's stored size and gives the smallest ``(width, height)`` the caller can
    use, in the same (stored) orientation. A single-frame RGB or greyscale JPEG at least twice that size on both
    sides is decoded at 1/2, 1/4 or 1/8 scale — libjpeg's DCT scaling through Pillow's ``draft``, the largest
    reduction that keeps both sides at least ``need``'s — with the EXIF orientation applied as :func:`load_rgb`
    does.

    Raises
    ------
    ImageProblem
        A JPEG whose data is damaged or truncated.
    """
    try:
        image = _open_checked(path)
    except ImageProblem:  # load_rgb says why, or reads it another way (a TIFF Pillow cannot open)
        return None
    try:
        width, height = image.size
        plain = image.format == "JPEG" and image.mode in ("RGB", "L") and getattr(image, "n_frames", 1) == 1
        least = need(width, height) if plain else (width, height)
        if width < 2 * least[0] or height < 2 * least[1]:
            return None
        shown = shown_size(image)
        image.draft(None, (max(1, least[0]), max(1, least[1])))
        image.load()
        upright = (ImageOps.exif_transpose(image) or image).convert("RGB")
        return ReducedJpeg(np.ascontiguousarray(np.asarray(upright)), shown)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem(f"damaged or truncated image data ({exc})") from exc
    finally:
        image.close()


def load_rgb_at_least(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """:func:`load_rgb`'s pixels, or those of a plain JPEG at least twice ``width x height`` (in its stored
    orientation) decoded at a reduced scale that keeps both sides at least that (:func:`reduced_jpeg`): for a
    caller that shrinks the whole image to ``width x height`` or less anyway.

    Raises
    ------
    ImageProblem
        With a reason a person can read, for any file that cannot be used.
    """
    quick = reduced_jpeg(path, lambda _width, _height: (width, height))
    return quick.rgb if quick is not None else load_rgb(path)


def load_rgb_for_longer_side(path: str | os.PathLike[str], longer_side: int) -> np.ndarray:
    """:func:`load_rgb`'s pixels, or those of a plain JPEG at least twice ``longer_side`` on its longer side
    decoded at a reduced scale that keeps the longer side at least ``longer_side`` (:func:`reduced_jpeg`): for
    showing a large photo no larger than that (a 140-megapixel scan decodes in a quarter of the time and memory).

    Raises
    ------
    ImageProblem
        With a reason a person can read, for any file that cannot be used.
    """
    quick = reduced_jpeg(path, longer_side_at(longer_side))
    return quick.rgb if quick is not None else load_rgb(path)


def thumbnail(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """An ``(h, w, 3)`` uint8 RGB array whose longest side is ``size`` pixels (or the image as it is when it is
    smaller), upright and shaped as :func:`load_rgb`'s pixels.

    A plain RGB or grayscale JPEG at least four times that size is decoded at a reduced scale
    (:func:`reduced_jpeg`, to at least twice the thumbnail, so that the last resize still averages as a full
    decode's would), then resized: 8.5 times faster on 12-megapixel photos (0.034 s against 0.29 s on a 2-core
    CPU; ``bench/bench_thumbnails.py``), the same picture within 2 grey levels. Every other file goes through
    :func:`load_rgb`.

    Raises
    ------
    ImageProblem
        For any file that cannot be used.
    """
    quick = reduced_jpeg(path, longer_side_at(2 * size))
    if quick is None:
        return decoded_thumbnail(path, size)
    return np.asarray(Image.fromarray(quick.rgb).resize(_thumbnail_size(*quick.shown, size), Image.BILINEAR))


def decoded_thumbnail(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """:func:`thumbnail` from the whole decoded image (:func:`load_rgb`), whatever the file.

    Raises
    ------
    ImageProblem
        For any file that cannot be used.
    """
    array = load_rgb(path)
    height, width = array.shape[:2]
    if max(height, width) <= size:
        return array
    return np.asarray(Image.fromarray(array).resize(_thumbnail_size(width, height, size), Image.BILINEAR))


def _thumbnail_size(width: int, height: int, size: int) -> tuple[int, int]:
    """``(width, height)`` of a ``width x height`` image's thumbnail: the longer side ``size``, at least 1 px."""
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
