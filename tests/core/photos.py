"""JPEGs of a real photo in the forms a reduced-scale decode must tell apart: plain RGB, turned by its EXIF
orientation, greyscale, CMYK (decoded whole), and a small one."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from skimage import data as photos


def write_photo_jpegs(folder: Path, small: tuple[int, int]) -> dict[str, Path]:
    """``{"rgb", "turned", "grey", "cmyk", "small"}`` JPEGs of scikit-image's astronaut at 1200 x 900 (``small``
    at the size given) in ``folder``."""
    image = Image.fromarray(photos.astronaut()).resize((1200, 900))
    files = {name: folder / f"{name}.jpg" for name in ("rgb", "turned", "grey", "cmyk", "small")}
    image.save(files["rgb"], quality=90)
    exif = image.getexif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    image.save(files["turned"], quality=90, exif=exif)
    image.convert("L").save(files["grey"], quality=90)
    image.convert("CMYK").save(files["cmyk"], quality=90)
    image.resize(small).save(files["small"], quality=90)
    return files
