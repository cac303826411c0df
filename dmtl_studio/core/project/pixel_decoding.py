"""Turning Pillow frames and TIFF pages of any pixel type into 8-bit RGB: deep and signed numbers scaled, every
kind of transparency composited, orientation applied, the first non-blank frame of several chosen; each step that
changed the pixels leaves a plain-language note."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFile, ImageOps

from dmtl_studio.core.project.image_problems import ImageProblem

#: Images above this many pixels are refused from their header, before any decoding.
MAX_PIXELS = 12_000 * 12_000

#: Background on which transparent images are composited (white, as most viewers show them).
BACKGROUND_RGB = (255, 255, 255)

# Truncated files must fail, not silently decode with grey bottoms.
ImageFile.LOAD_TRUNCATED_IMAGES = False


#: Pillow modes whose pixels are numbers beyond 8 bits; they are scaled by :func:`_numbers_to_uint8`.
_DEEP_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N", "I;16S", "I;32", "I;32S", "F;32"})

#: The note of an image converted from CMYK (what a viewer with the file's colour profile shows may differ).
CMYK_NOTE = "CMYK colours converted to RGB without a colour profile: they may look slightly different"

#: Pillow modes that carry an alpha channel (premultiplied ones included).
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})

#: EXIF / TIFF orientation -> the transpose that shows the image upright (as ``ImageOps.exif_transpose``).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _numbers_to_uint8(values: np.ndarray, notes: list[str], what: str = "pixel values") -> np.ndarray:
    """Scale an array of any numeric type to uint8, never collapsing it to a constant.

    8-bit and 1-bit data are kept; 16-bit unsigned data keep their type's range, or, when their maximum fits in
    12 bits or fewer (as 8-, 10- and 12-bit cameras write 16-bit files), the range of those bits (with a
    note); integers of other types whose values lie in 0..255 are kept; floats in [0, 1] keep that
    range; anything else (negative or larger integers, floats outside [0, 1]) is stretched from its finite
    minimum to its finite maximum, with a note. Non-finite values saturate: NaN and -inf to 0, +inf to 255,
    with a note.
    """
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * np.uint8(255)
    if values.dtype == np.uint16 or values.dtype == np.dtype(">u2"):
        # 8-12-bit data would be near black on the 16-bit scale; a dark 16-bit photo is not brightened.
        bits = max(8, int(values.max()).bit_length())
        bits = bits if bits <= 12 else 16
        if bits < 16:
            notes.append(f"16-bit {what} reach only {bits} bits: scaled as {bits}-bit data")
        top = (1 << bits) - 1
        return ((values.astype(np.uint32) * 255 + top // 2) // top).astype(np.uint8)
    if values.dtype.kind not in "iuf":
        raise ImageProblem(f"pixels of type {values.dtype} cannot be shown")
    data = values.astype(np.float64)
    finite = np.isfinite(data)
    count_bad = int(data.size - np.count_nonzero(finite))
    if count_bad == data.size:
        notes.append(f"no {what} are finite numbers: shown black")
        return np.zeros(values.shape, np.uint8)
    low, high = float(data[finite].min()), float(data[finite].max())
    type_name = values.dtype.name
    if values.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        start, span = 0.0, 1.0
    elif values.dtype.kind in "iu" and low >= 0 and high <= 255:
        start, span = 0.0, 255.0
    else:
        start, span = low, high - low
        if span > 0:
            notes.append(f"{what} {low:g}…{high:g} ({type_name}) were rescaled to 0–255")
        else:
            notes.append(f"every pixel has the value {low:g} ({type_name}): shown black")
            span = 1.0
    scaled = np.clip(np.rint((data - start) / span * 255.0), 0, 255)
    if count_bad:
        scaled[np.isnan(data) | (data == -np.inf)] = 0
        scaled[data == np.inf] = 255
        notes.append(
            f"{count_bad} pixel value(s) were not finite (NaN/infinity): NaN and -inf shown black, +inf white"
        )
    return scaled.astype(np.uint8)


def _compose(colour: np.ndarray, alpha: np.ndarray | None, notes: list[str]) -> np.ndarray:
    """``colour`` (H, W) or (H, W, 3) and optional ``alpha`` (H, W) of any numeric type -> (H, W, 3) uint8
    composited on :data:`BACKGROUND_RGB`. Colour channels are scaled together, so colours keep their balance."""
    rgb = _numbers_to_uint8(colour, notes)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    if alpha is None:
        return rgb
    weight = _alpha_weight(alpha)[:, :, None]
    background = np.asarray(BACKGROUND_RGB, np.float32)
    return np.rint(rgb * weight + background * (1.0 - weight)).astype(np.uint8)


def _alpha_weight(alpha: np.ndarray) -> np.ndarray:
    """Opacity in [0, 1] from an alpha channel of any type: integers over their type's maximum, floats as
    they are (NaN transparent)."""
    if alpha.dtype == np.bool_:
        return alpha.astype(np.float32)
    if alpha.dtype.kind in "iu":
        return np.clip(alpha.astype(np.float32) / float(np.iinfo(alpha.dtype).max), 0.0, 1.0)
    return np.clip(np.nan_to_num(alpha.astype(np.float32), nan=0.0), 0.0, 1.0)


def _pillow_frame_to_rgb8(image: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8; transparency of every kind composited on white.

    A conversion that changes what the pixels show adds a note: transparent pixels (shown on white), CMYK
    (converted without the file's colour profile). Exact conversions (palette, opaque alpha, grey) add none."""
    mode = image.mode
    if mode in _DEEP_MODES:
        values = np.asarray(image)
        key = image.info.get("transparency")
        alpha = None if key is None or isinstance(key, (bytes, tuple)) else (values != key)
        return _compose(values, alpha, notes)
    # Alpha channels, palette alpha (PNG tRNS / GIF transparency index) and colour keys (RGB, L, 1 tRNS)
    # all become alpha through Pillow's RGBA conversion.
    if mode == "La":  # premultiplied grey: Pillow converts it only to LA
        image, mode = image.convert("LA"), "LA"
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:  # one pass over the decoded alpha, no second decoding
            notes.append("transparent pixels are shown on white")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND_RGB, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode == "RGB":
        return np.asarray(image)
    if mode == "CMYK":
        notes.append(CMYK_NOTE)
    return np.asarray(image.convert("RGB"))


def _is_blank(rgb: np.ndarray) -> bool:
    flat = rgb.reshape(-1, 3)
    return bool((flat == flat[0]).all())


def _choose_frame(
    count: int, decode: Callable[[int, list[str]], np.ndarray], kind: str, notes: list[str]
) -> np.ndarray:
    """The first of ``count`` frames/pages that is not blank (one colour), else the first.

    ``decode(index, notes)`` gives a frame's pixels and adds its own notes; the used frame's notes, and for
    a file of several frames which one was used, are added to ``notes``.
    """
    first_notes: list[str] = []
    chosen, rgb, used_notes = 0, decode(0, first_notes), first_notes
    if count > 1 and _is_blank(rgb):
        for index in range(1, count):
            candidate_notes: list[str] = []
            candidate = decode(index, candidate_notes)
            if not _is_blank(candidate):
                chosen, rgb, used_notes = index, candidate, candidate_notes
                break
    notes += used_notes
    if count > 1:
        singular = kind[:-1]
        blank = (
            ""
            if chosen == 0
            else f" ({singular} 1 is blank)"
            if chosen == 1
            else f" ({kind} 1–{chosen} are blank)"
        )
        notes.append(f"holds {count} {kind}; {singular} {chosen + 1} is used{blank}")
    return rgb


def decode_pillow(image: Image.Image, notes: list[str]) -> np.ndarray:
    count = int(getattr(image, "n_frames", 1) or 1)
    kind = "pages" if image.format in ("TIFF", "MPO") else "frames"

    def frame(index: int, frame_notes: list[str]) -> np.ndarray:
        image.seek(index)
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        return _pillow_frame_to_rgb8(upright, frame_notes)

    return _choose_frame(count, frame, kind, notes)


def _tiff_tag(image: Image.Image, tag: int, default: int) -> int:
    tags = getattr(image, "tag_v2", None)
    value = tags.get(tag, default) if tags is not None else default
    return int(value[0] if isinstance(value, tuple) else value)


def pillow_misreads(image: Image.Image) -> bool:
    """True for TIFFs Pillow would change: signed or float samples in an 8-bit mode, unsigned 32-bit
    samples read as signed (values above 2**31 would wrap), 16-bit colour samples (Pillow keeps their high
    byte: a 12-bit camera's file decoded near black) and an Orientation tag other than upright (Pillow 13
    scrambles the rows of such a file)."""
    if image.format != "TIFF":
        return False
    if _tiff_tag(image, 274, 1) != 1:
        return True
    if image.mode in ("RGB", "RGBA", "RGBX") and _tiff_tag(image, 258, 8) == 16:
        return True
    sample_format = _tiff_tag(image, 339, 1)
    if sample_format in (2, 3) and image.mode not in _DEEP_MODES:
        return True
    return image.mode == "I" and sample_format == 1 and _tiff_tag(image, 258, 8) == 32


def is_deep_colour(image: Image.Image) -> bool:
    """True for a single-image PNG, or an upright single-image TIFF, of 16-bit colour samples (RGB or RGBA): Pillow
    has no 16-bit colour mode and keeps the high byte of each, so a 12-bit camera's file (values up to 4095)
    decoded at 0-15 of 255, near black. (A TIFF of several pages, or turned by its orientation tag, goes to
    tifffile first, which handles both: OpenCV's TIFF decoder may turn it by the tag itself.)"""
    if image.mode not in ("RGB", "RGBA", "RGBX") or not image.tile or getattr(image, "n_frames", 1) != 1:
        return False
    if image.format == "TIFF":
        return _tiff_tag(image, 258, 8) == 16 and _tiff_tag(image, 274, 1) == 1
    return image.format == "PNG" and str(image.tile[0].args).endswith(";16B")


def decode_deep_colour(path: str | os.PathLike[str], image: Image.Image, notes: list[str]) -> np.ndarray:
    """Every bit of a 16-bit colour PNG or TIFF that :func:`is_deep_colour` accepts (OpenCV's decoders, LZW and
    Deflate TIFFs included), scaled and composited as any deep image is (:func:`_compose`: a file whose values fit
    in 12 bits is scaled as 12-bit data, with a note), then turned upright by a PNG's EXIF orientation (OpenCV
    reads the samples as stored with ``IMREAD_UNCHANGED``; the turn is Pillow's, as for every other image).

    Raises
    ------
    ImageProblem
        When OpenCV cannot decode it as 16-bit colour (the caller falls back to another reading).
    """
    import cv2

    values = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if values is None or values.dtype != np.uint16 or values.ndim != 3 or values.shape[2] not in (3, 4):
        raise ImageProblem(f"16-bit colour {image.format} that OpenCV cannot decode")
    if values.shape[:2] != (image.height, image.width):
        raise ImageProblem(f"16-bit colour {image.format} decoded at another size by OpenCV")
    values = values[:, :, [2, 1, 0, 3][: values.shape[2]]]  # OpenCV's BGR(A) order
    alpha = values[:, :, 3] if values.shape[2] == 4 else None
    rgb = _compose(values[:, :, :3], alpha, notes)
    transpose = _ORIENTATION.get(int(image.getexif().get(274, 1))) if image.format == "PNG" else None
    return np.asarray(Image.fromarray(rgb).transpose(transpose)) if transpose is not None else rgb


def decode_tifffile(path: str | os.PathLike[str], notes: list[str]) -> np.ndarray:
    """Decode a TIFF Pillow cannot read as it is (float16/64, signed or 32-bit colour, signed 8 bit)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages = tif.pages
            count = len(pages)
            rgb = _choose_frame(
                count, lambda index, page_notes: _tiff_page_to_rgb8(pages[index], page_notes), "pages", notes
            )
    except ImageProblem:
        raise
    except Exception as exc:  # tifffile raises many kinds for odd files; each is a reason, not a crash
        raise ImageProblem(f"TIFF that cannot be decoded ({exc})") from exc
    return rgb


def _tiff_page_to_rgb8(page: object, notes: list[str]) -> np.ndarray:
    import tifffile

    height, width = int(page.imagelength), int(page.imagewidth)
    if height * width > MAX_PIXELS:
        raise ImageProblem(
            f"image too large ({width}x{height} = {width * height:,} pixels; limit {MAX_PIXELS:,}): "
            "refused before decoding to protect memory"
        )
    values = page.asarray()
    axes = page.axes
    if axes.startswith("S") and values.ndim == 3:
        values = np.moveaxis(values, 0, -1)
    while values.ndim > 3 or (values.ndim == 3 and values.shape[0] == 1 and not axes.endswith("S")):
        values = values[0]
    photometric = page.photometric
    if photometric == tifffile.PHOTOMETRIC.PALETTE and page.colormap is not None:
        colormap = np.asarray(page.colormap)
        return _compose(np.moveaxis(colormap[:, values], 0, -1).astype(np.uint16), None, notes)
    if photometric not in (
        tifffile.PHOTOMETRIC.MINISBLACK,
        tifffile.PHOTOMETRIC.MINISWHITE,
        tifffile.PHOTOMETRIC.RGB,
    ):
        raise ImageProblem(
            f"TIFF colour space {photometric.name} with {values.dtype} samples is not supported"
        )
    has_alpha = bool(page.extrasamples) and page.extrasamples[-1] in (1, 2)
    channels = 1 if values.ndim == 2 else values.shape[2]
    alpha = None
    if channels > 1 and has_alpha:
        alpha, values = values[:, :, -1], values[:, :, :-1]
        channels -= 1
    if channels == 2 or channels > 3:
        notes.append(f"{channels} channels: only the first {'three' if channels > 3 else 'one'} shown")
        values = values[:, :, :3] if channels > 3 else values[:, :, 0]
    elif channels == 1 and values.ndim == 3:
        values = values[:, :, 0]
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
        values = _invert(values)
    rgb = _compose(values, alpha, notes)
    orientation = page.tags.get(274)  # TIFF Orientation, as EXIF's
    transpose = _ORIENTATION.get(int(orientation.value) if orientation is not None else 1)
    return np.asarray(Image.fromarray(rgb).transpose(transpose)) if transpose is not None else rgb


def _invert(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.bool_:
        return ~values
    if values.dtype.kind == "u":
        return np.iinfo(values.dtype).max - values
    return -values.astype(np.float64) if values.dtype.kind == "i" else -values


def has_tiff_magic(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
