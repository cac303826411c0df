"""Every kind of file a lab share holds: the scan finishes, bad files are reported with a reason, the rest work."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dmtl_studio.core.project.imaging import load_rgb, thumbnail
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.pixel_decoding import MAX_PIXELS
from dmtl_studio.core.project.store import ProjectStore

RNG = np.random.default_rng(0)


def _rgb(h: int = 40, w: int = 48) -> np.ndarray:
    return RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _oriented_jpeg() -> bytes:
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20] = 255  # left half white; EXIF 6 turns it so the white half is on top
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def build_corpus(root: Path) -> tuple[set[str], dict[str, str]]:
    """Returns (names that must be usable, {name: expected reason fragment} for problems)."""
    good = root / "good"
    good.mkdir(parents=True)
    usable: set[str] = set()

    def save(name: str, image: Image.Image, **kwargs: object) -> None:
        image.save(good / name, **kwargs)
        usable.add(name)

    save("plain.png", Image.fromarray(_rgb()))
    save("UPPER.JPG", Image.fromarray(_rgb()), format="JPEG")
    save("photo.webp", Image.fromarray(_rgb()), format="WEBP")
    save("scan.bmp", Image.fromarray(_rgb()), format="BMP")
    save("scan.tiff", Image.fromarray(_rgb()), format="TIFF")
    save("deep16.png", Image.fromarray(np.linspace(0, 65535, 1600, dtype=np.uint16).reshape(40, 40)))
    save(
        "deep16.tif",
        Image.fromarray(np.linspace(0, 65535, 1600, dtype=np.uint16).reshape(40, 40)),
        format="TIFF",
    )
    save("print.jpg", Image.new("CMYK", (30, 30), (255, 0, 0, 0)), format="JPEG")  # pure cyan ink
    save("alpha.png", Image.fromarray(np.dstack([_rgb(), np.full((40, 48), 128, np.uint8)]), "RGBA"))
    save("grey_alpha.png", Image.new("LA", (20, 20), (90, 100)))
    palette = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    save("palette.png", palette)
    frames = [Image.fromarray(_rgb()) for _ in range(3)]
    frames[0].save(good / "moving.gif", save_all=True, append_images=frames[1:], duration=100)
    usable.add("moving.gif")
    (good / "oriented.jpg").write_bytes(_oriented_jpeg())
    usable.add("oriented.jpg")
    Image.fromarray(_rgb()).save(good / "really_a_png.jpg", format="PNG")  # wrongly named, still readable
    usable.add("really_a_png.jpg")
    Image.fromarray(_rgb()).save(good / "ünïcødé 图像.png")
    usable.add("ünïcødé 图像.png")
    if sys.platform == "linux":
        latin1 = os.fsdecode(b"caf\xe9.png")
        Image.fromarray(_rgb()).save(good / latin1)
        usable.add(latin1)

    bad = root / "bad"
    bad.mkdir()
    problems: dict[str, str] = {}
    data = (good / "plain.png").read_bytes()
    (bad / "truncated.png").write_bytes(data[: len(data) // 2])
    problems["truncated.png"] = "truncated"
    (bad / "empty.jpg").write_bytes(b"")
    problems["empty.jpg"] = "empty file"
    (bad / "garbage.png").write_bytes(RNG.bytes(5000))
    problems["garbage.png"] = "not an image"
    (bad / "notes.tif").write_text("not a picture")
    problems["notes.tif"] = "not an image"
    side = int(MAX_PIXELS**0.5) + 100
    Image.new("1", (side, side)).save(bad / "bomb.png")
    problems["bomb.png"] = "too large"
    (bad / "dangling.png").symlink_to(root / "nowhere.png")
    problems["dangling.png"] = "cannot be read"
    (good / "loop").symlink_to(root)  # a symlink loop must not hang the scan
    (good / ".hidden.png").write_bytes(b"")  # hidden: skipped
    (good / "README.txt").write_text("not an image name: skipped")
    return usable, problems


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_scan_finishes_reports_problems_and_keeps_the_rest(tmp_path: Path) -> None:
    usable, problems = build_corpus(tmp_path / "share")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, tmp_path / "share")
        ok = {os.path.basename(im.path) for im in store.images(usable_only=True)}
        reported = {os.path.basename(path): reason for path, reason in store.problems()}
    assert ok == usable
    assert set(reported) == set(problems)
    for name, fragment in problems.items():
        assert fragment in reported[name] or (fragment == "truncated" and "damaged" in reported[name]), name
    assert summary.scanned == len(usable) + len(problems)


def test_decoded_pixels_are_right_for_each_odd_format(tmp_path: Path) -> None:
    build_corpus(tmp_path / "share")
    good = tmp_path / "share" / "good"
    deep = load_rgb(good / "deep16.tif")
    assert deep.min() == 0 and deep.max() == 255 and len(np.unique(deep)) > 200  # scaled, not clipped
    cmyk = load_rgb(good / "print.jpg")  # cyan ink -> RGB (0, 255, 255), not inverted or black
    assert cmyk[..., 0].mean() < 30 and cmyk[..., 1].mean() > 225 and cmyk[..., 2].mean() > 225
    assert load_rgb(good / "grey_alpha.png")[0, 0].tolist() != [90, 90, 90]  # composited on white
    assert load_rgb(good / "moving.gif").shape == (40, 48, 3)  # first frame


def test_browser_and_training_loader_see_the_same_oriented_pixels(tmp_path: Path) -> None:
    build_corpus(tmp_path / "share")
    path = tmp_path / "share" / "good" / "oriented.jpg"
    shown = thumbnail(path, 128)
    from dmtl_studio.core.training.data import resize_square  # the training loader's resize

    trained = resize_square(load_rgb(path), 32, "bilinear")
    assert shown.shape[:2] == (40, 20)  # tall, as the camera meant
    assert shown[:20].mean() > 200 and shown[20:].mean() < 50
    assert trained[:16].mean() > 200 and trained[16:].mean() < 50
