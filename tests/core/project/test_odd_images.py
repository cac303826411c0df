"""Every numeric pixel type, every kind of transparency and every multi-page file decodes to what a person
sees, and says so when it had to be rescaled or a page chosen."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from dmtl_studio.core.project.imaging import decode_image, inspect_image

SIDE = 64


def _ramp(low: float, high: float, dtype: str) -> np.ndarray:
    """A horizontal ramp from ``low`` (left) to ``high`` (right), SIDE x SIDE."""
    row = np.linspace(low, high, SIDE)
    if np.dtype(dtype).kind in "iu":
        row = np.rint(row)
    return np.tile(row, (SIDE, 1)).astype(dtype)


def _assert_ramp_kept(rgb: np.ndarray) -> None:
    """Left to right the image brightens over (nearly) the whole 8-bit range: no collapse to a constant."""
    assert rgb.shape == (SIDE, SIDE, 3) and rgb.dtype == np.uint8
    columns = rgb[SIDE // 2].astype(int).mean(axis=1)
    assert columns[-1] - columns[0] >= 200, columns
    assert (np.diff(columns) >= 0).all(), columns
    assert len(np.unique(columns)) >= (2 if rgb.max() == 255 and len(np.unique(rgb)) == 2 else 32)


#: (name, dtype, low, high, rescaled?) - the natural ranges keep their meaning; the others are stretched.
RAMPS = [
    ("uint8", "uint8", 0, 255, False),
    ("uint16", "uint16", 0, 65535, False),
    ("uint32", "uint32", 0, 4_000_000_000, True),
    ("int8", "int8", -100, 100, True),
    ("int16", "int16", -1000, 1000, True),
    ("int32 negative", "int32", -1000, 1000, True),
    ("int32 narrow", "int32", 100_000, 100_063, True),
    ("float16", "float16", 0.0, 1.0, False),
    ("float32", "float32", 0.0, 1.0, False),
    ("float32 wide", "float32", -5.0, 300.0, True),
    ("float64", "float64", -1e-3, 1e-3, True),
]


@pytest.mark.parametrize("channels", [0, 1, 3, 4], ids=["grey", "one channel", "rgb", "rgba"])
@pytest.mark.parametrize(("name", "dtype", "low", "high", "rescaled"), RAMPS, ids=[r[0] for r in RAMPS])
def test_every_numeric_pixel_type_keeps_its_contrast(
    tmp_path: Path, name: str, dtype: str, low: float, high: float, rescaled: bool, channels: int
) -> None:
    grey = _ramp(low, high, dtype)
    if channels == 0:
        data, photometric, extra = grey, "minisblack", None
    elif channels == 1:
        data, photometric, extra = grey[:, :, None], "minisblack", None
    else:
        data, photometric = np.stack([grey] * 3, axis=-1), "rgb"
        extra = None
        if channels == 4:
            opaque = np.iinfo(dtype).max if np.dtype(dtype).kind in "iu" else 1.0
            data = np.concatenate([data, np.full((SIDE, SIDE, 1), opaque, dtype)], axis=-1)
            extra = ["unassalpha"]
    path = tmp_path / "ramp.tif"
    tifffile.imwrite(path, data, photometric=photometric, extrasamples=extra)
    decoded = decode_image(path)
    _assert_ramp_kept(decoded.rgb)
    assert ("rescaled" in (decoded.note or "")) == rescaled, decoded.note


def test_bool_and_one_bit_images(tmp_path: Path) -> None:
    mask = _ramp(0, 1, "float64") > 0.5
    tifffile.imwrite(tmp_path / "mask.tif", mask, photometric="minisblack")
    tifffile.imwrite(tmp_path / "inverted.tif", ~mask)  # tifffile's default for bool: 0 is white
    Image.fromarray(mask).save(tmp_path / "mask.png")  # mode "1"
    for name in ("mask.tif", "inverted.tif", "mask.png"):
        rgb = decode_image(tmp_path / name).rgb
        assert (rgb[:, : SIDE // 2 - 1] == 0).all() and (rgb[:, SIDE // 2 + 1 :] == 255).all(), name


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_non_finite_pixels_saturate_and_the_rest_keeps_its_range(
    tmp_path: Path, bad: float, dtype: str
) -> None:
    data = _ramp(0.0, 1.0, dtype)
    data[3, 5] = bad
    path = tmp_path / "ramp.tif"
    tifffile.imwrite(path, data)
    if dtype == "float32":  # Pillow reads this one itself (mode "F"); the others through tifffile
        Image.fromarray(data).save(tmp_path / "pillow.tif")
    for file in [path] + ([tmp_path / "pillow.tif"] if dtype == "float32" else []):
        decoded = decode_image(file)
        _assert_ramp_kept(decoded.rgb)
        assert decoded.rgb[3, 5, 0] == (255 if bad == np.inf else 0)
        assert "not finite" in (decoded.note or ""), decoded.note


def test_pillow_high_bit_modes_are_stretched_over_their_finite_range(tmp_path: Path) -> None:
    for name, data in {
        "negative": _ramp(-1000, 1000, "int32"),
        "narrow": _ramp(100_000, 100_063, "int32"),
        "float": _ramp(-3.0, 7.0, "float32"),
    }.items():
        path = tmp_path / f"{name}.tif"
        Image.fromarray(data).save(path)  # Pillow modes "I" and "F"
        decoded = decode_image(path)
        _assert_ramp_kept(decoded.rgb)
        assert "rescaled" in (decoded.note or ""), name


def _transparent_left(mode_image: Image.Image, path: Path, **save: object) -> Path:
    mode_image.save(path, **save)
    return path


def _check_white_left_colour_right(path: Path, right: tuple[int, int, int]) -> None:
    rgb = decode_image(path).rgb.astype(int)
    assert (rgb[:, :8] == 255).all(), f"{path.name}: transparent half is {rgb[0, 0]}, not white"
    assert np.abs(rgb[:, 8:] - np.array(right)).max() <= 2, f"{path.name}: opaque half is {rgb[0, -1]}"


def test_every_kind_of_transparency_is_composited_on_white(tmp_path: Path) -> None:
    red = (200, 30, 40)
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, 8:] = red
    alpha = np.zeros((16, 16), np.uint8)
    alpha[:, 8:] = 255
    grey = np.zeros((16, 16), np.uint8)
    grey[:, 8:] = 90
    cases: list[tuple[Path, tuple[int, int, int]]] = []
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    cases.append((_transparent_left(rgba, tmp_path / "rgba.png"), red))
    cases.append((_transparent_left(rgba, tmp_path / "alpha.webp", lossless=True), red))
    cases.append(
        (_transparent_left(Image.fromarray(np.dstack([grey, alpha]), "LA"), tmp_path / "la.png"), (90,) * 3)
    )
    # RGB and L with a tRNS colour key: black is the transparent colour
    cases.append(
        (_transparent_left(Image.fromarray(rgb), tmp_path / "key_rgb.png", transparency=(0, 0, 0)), red)
    )
    cases.append(
        (_transparent_left(Image.fromarray(grey), tmp_path / "key_l.png", transparency=0), (90,) * 3)
    )
    deep = (grey.astype(np.uint16) * 257).astype(np.uint16)
    cases.append(
        (_transparent_left(Image.fromarray(deep), tmp_path / "key_16.png", transparency=0), (90,) * 3)
    )
    # palette with tRNS alpha (PNG) and a GIF transparency index
    palette = Image.fromarray(rgb).quantize(2)
    index_black = int(np.asarray(palette)[0, 0])
    cases.append((_transparent_left(palette, tmp_path / "palette.png", transparency=index_black), red))
    cases.append((_transparent_left(palette, tmp_path / "index.gif", transparency=index_black), red))
    for path, colour in cases:
        _check_white_left_colour_right(path, colour)


def _blank_then_content() -> list[np.ndarray]:
    blank = np.zeros((SIDE, SIDE), np.uint8)
    content = _ramp(0, 255, "uint8")
    return [blank, content, blank]


def test_multi_page_tiff_with_a_blank_first_page_uses_and_names_the_page(tmp_path: Path) -> None:
    pages = _blank_then_content()
    pillow = tmp_path / "pillow.tif"
    Image.fromarray(pages[0]).save(
        pillow, save_all=True, append_images=[Image.fromarray(p) for p in pages[1:]]
    )
    floats = tmp_path / "floats.tif"
    with tifffile.TiffWriter(floats) as writer:
        for page in pages:
            writer.write(page.astype(np.float64) / 255.0)
    for path in (pillow, floats):
        decoded = decode_image(path)
        _assert_ramp_kept(decoded.rgb)
        assert "holds 3 pages; page 2 is used (page 1 is blank)" in (decoded.note or ""), decoded.note


def test_every_file_of_several_frames_says_which_is_used(tmp_path: Path) -> None:
    frames = [Image.fromarray(_ramp(0, 255, "uint8")).convert("RGB")] + [
        Image.new("RGB", (SIDE, SIDE), colour) for colour in ((255, 0, 0), (0, 0, 255))
    ]
    for name, options in {
        "anim.gif": {},
        "anim.webp": {"lossless": True},
        "anim.png": {},
        "pages.tif": {},
    }.items():
        frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=100, **options)
        decoded = decode_image(tmp_path / name)
        _assert_ramp_kept(decoded.rgb)
        kind = "pages" if name.endswith(".tif") else "frames"
        assert f"holds 3 {kind}; {kind[:-1]} 1 is used" in (decoded.note or ""), (name, decoded.note)
    single = tmp_path / "single.png"
    frames[0].save(single)
    assert decode_image(single).note is None
    assert inspect_image(tmp_path / "anim.gif").note == decode_image(tmp_path / "anim.gif").note


def test_import_inspection_of_jpegs_agrees_with_decoding(tmp_path: Path) -> None:
    import io

    from dmtl_studio.core.project.image_problems import ImageProblem

    pixels = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    for orientation in (1, 6, 8, 3):
        exif = Image.Exif()
        exif[0x0112] = orientation
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif, quality=90)
        path = tmp_path / f"o{orientation}.jpg"
        path.write_bytes(buffer.getvalue())
        info, shown = inspect_image(path), decode_image(path).rgb
        assert (info.height, info.width) == shown.shape[:2] and info.note is None
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert (inspect_image(tmp_path / "cmyk.jpg").width, decode_image(tmp_path / "cmyk.jpg").rgb.shape[1]) == (
        80,
        80,
    )
    data = (tmp_path / "o1.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageProblem, match="truncated|damaged"):
        inspect_image(tmp_path / "cut.jpg")


def test_sixteen_bit_files_of_fewer_bits_are_scaled_by_the_bits_they_use(tmp_path: Path) -> None:
    for bits in (8, 10, 12, 14, 16):
        path = tmp_path / f"b{bits}.png"
        Image.fromarray(_ramp(0, (1 << bits) - 1, "uint16")).save(path)
        decoded = decode_image(path)
        if (
            bits == 14
        ):  # above 12 bits the 16-bit range is kept: a quarter of it, dim but every level distinct
            assert decoded.rgb.max() == 64 and len(np.unique(decoded.rgb)) >= 60
        else:
            _assert_ramp_kept(decoded.rgb)
        assert (f"only {bits} bits" in (decoded.note or "")) == (bits <= 12), decoded.note


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("alpha", [False, True])
def test_sixteen_bit_colour_files_keep_every_bit_and_are_scaled_by_the_bits_they_use(
    tmp_path: Path, suffix: str, alpha: bool
) -> None:
    """Pillow has no 16-bit colour mode and kept each sample's high byte: a 12-bit camera's colour file decoded at
    0-15 of 255, with no note, while the same data in grey was scaled as 12-bit."""
    import cv2

    ramp = _ramp(0, 4095, "uint16")
    colour = np.dstack([ramp, ramp // 2, 4095 - ramp])  # red rises, green half as fast, blue falls
    if alpha:
        colour = np.dstack([colour, np.full_like(ramp, 65535)])  # opaque
    path = tmp_path / f"camera{suffix}"
    order = [2, 1, 0, 3] if alpha else [2, 1, 0]
    params = [cv2.IMWRITE_TIFF_COMPRESSION, 5] if suffix == ".tif" else []  # LZW, as cameras write
    assert cv2.imwrite(str(path), colour[:, :, order], params)
    decoded = decode_image(path)
    _assert_ramp_kept(decoded.rgb[:, :, [0]].repeat(3, axis=2))  # red spans the whole 8-bit range
    assert decoded.rgb[:, 0, 2].min() >= 250 and decoded.rgb[:, -1, 2].max() <= 5  # blue falls from full to 0
    assert "only 12 bits" in (decoded.note or "")
    full = tmp_path / f"full{suffix}"  # the whole 16-bit range keeps its scale
    cv2.imwrite(str(full), np.dstack([ramp * 16] * 3), params)
    assert decode_image(full).rgb.max() >= 250 and decode_image(full).note is None


@pytest.mark.parametrize(
    "mode",
    [
        "1",
        "L",
        "P",
        "RGB",
        "RGBA",
        "RGBX",
        "RGBa",
        "CMYK",
        "YCbCr",
        "HSV",
        "I",
        "F",
        "LA",
        "La",
        "PA",
        "I;16",
    ],
)
def test_every_pillow_mode_decodes_with_its_contrast(mode: str) -> None:
    from dmtl_studio.core.project.pixel_decoding import _pillow_frame_to_rgb8

    grey = _ramp(0, 255, "uint8")
    image = Image.fromarray(np.dstack([grey] * 3))
    converted = {
        "La": lambda: image.convert("LA").convert("La"),
        "RGBa": lambda: image.convert("RGBA").convert("RGBa"),
        "PA": lambda: image.convert("P").convert("PA"),
        "I;16": lambda: Image.fromarray(_ramp(0, 65535, "uint16")),
    }.get(mode, lambda: image.convert(mode))()
    notes: list[str] = []
    rgb = _pillow_frame_to_rgb8(converted, notes)
    assert rgb.shape == (SIDE, SIDE, 3) and rgb.dtype == np.uint8
    columns = rgb[SIDE // 2].astype(int).mean(axis=1)
    assert columns[-4:].mean() - columns[:4].mean() >= 200, (mode, columns)
    if mode == "F":  # floats beyond [0, 1] are stretched, and it is said
        assert len(notes) == 1 and "rescaled" in notes[0], notes
    elif mode == "CMYK":  # converted without a colour profile, and it is said
        assert len(notes) == 1 and "CMYK" in notes[0], notes
    else:
        assert notes == [], (mode, notes)


def test_tiff_orientation_is_applied_whichever_library_decodes(tmp_path: Path) -> None:
    wide = np.zeros((20, 40), np.float64)
    wide[:, :20] = 1.0  # left half white
    for name, data in {"float64.tif": wide, "uint8.tif": (wide * 255).astype(np.uint8)}.items():
        tifffile.imwrite(tmp_path / name, data, extratags=[(274, "H", 1, 6, True)])  # rotate 90° clockwise
        shown = decode_image(tmp_path / name).rgb
        assert shown.shape[:2] == (40, 20), name
        assert shown[:20].mean() > 200 and shown[20:].mean() < 50, name  # the white half is on top


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_sixteen_bit_colour_tiff_is_turned_by_its_orientation_tag_once(
    tmp_path: Path, orientation: int
) -> None:
    """The same picture in 16 and in 8 bits decodes to the same upright pixels, whatever the tag says (a reader
    that turns it by the tag, then turning it again, showed orientation 3 upside down and 6 and 8 on their side)."""
    deep = np.zeros((40, 60, 3), np.uint16)
    deep[:10, :20, 0] = 65535  # a red block at the top left
    tag = [(274, "H", 1, orientation, True)]
    tifffile.imwrite(tmp_path / "deep.tif", deep, photometric="rgb", extratags=tag)
    tifffile.imwrite(tmp_path / "flat.tif", (deep >> 8).astype(np.uint8), photometric="rgb", extratags=tag)
    assert np.array_equal(decode_image(tmp_path / "deep.tif").rgb, decode_image(tmp_path / "flat.tif").rgb)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG file's chunks in order, each as (type, the whole chunk: length, type, data, CRC)."""
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append((data[position + 4 : position + 8], data[position : position + 12 + length]))
        position += 12 + length
    return chunks


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_sixteen_bit_colour_png_keeps_every_bit_and_is_turned_by_its_exif_orientation(
    tmp_path: Path, orientation: int
) -> None:
    """A 12-bit colour PNG with an EXIF orientation decodes as the same picture saved in 8 bits with the same
    orientation (it kept only each sample's high byte, near black, when it was left to Pillow)."""
    import cv2

    deep = np.zeros((40, 60, 3), np.uint16)
    deep[:10, :20, 0] = 4095  # a red block at the top left, 12-bit data
    deep[30:, 50:, 2] = 2000  # a darker blue one at the bottom right
    exif = Image.Exif()
    exif[274] = orientation
    Image.fromarray((deep / 4095 * 255).round().astype(np.uint8)).save(tmp_path / "flat.png", exif=exif)
    assert cv2.imwrite(str(tmp_path / "deep.png"), deep[:, :, ::-1])  # OpenCV writes BGR; no EXIF
    chunks = _png_chunks((tmp_path / "deep.png").read_bytes())
    exif_chunk = dict(_png_chunks((tmp_path / "flat.png").read_bytes()))[b"eXIf"]
    (
        tmp_path / "deep.png"
    ).write_bytes(  # the 8-bit file's eXIf chunk after the header, before the pixel data
        b"\x89PNG\r\n\x1a\n" + chunks[0][1] + exif_chunk + b"".join(chunk for _kind, chunk in chunks[1:])
    )
    decoded = decode_image(tmp_path / "deep.png")
    assert np.array_equal(decoded.rgb, decode_image(tmp_path / "flat.png").rgb)
    assert "only 12 bits" in (decoded.note or "")


def test_a_sixteen_bit_colour_tiff_of_several_pages_gives_its_first_non_blank_page(tmp_path: Path) -> None:
    page = np.zeros((40, 60, 3), np.uint16)
    page[:10, :20, 0] = 4095  # 12-bit data
    tifffile.imwrite(tmp_path / "pages.tif", np.stack([np.zeros_like(page), page]), photometric="rgb")
    decoded = decode_image(tmp_path / "pages.tif")
    assert decoded.rgb.max() == 255 and "page 2 is used (page 1 is blank)" in (decoded.note or "")
