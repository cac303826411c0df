from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dmtl_studio.core.project.folder_scan import scan_folder
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.imaging import load_rgb
from dmtl_studio.core.project.pixel_decoding import MAX_PIXELS


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode=mode).save(path)
    return path


def test_truncated_empty_and_non_image_files_give_reasons(tmp_path: Path) -> None:
    good = _png(tmp_path / "good.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(ImageProblem, match="truncated|damaged"):
        load_rgb(tmp_path / "cut.png")
    with pytest.raises(ImageProblem, match="empty"):
        load_rgb(tmp_path / "empty.png")
    with pytest.raises(ImageProblem, match="not an image"):
        load_rgb(tmp_path / "text.jpg")
    assert load_rgb(good).shape == (64, 64, 3)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 256, dtype=np.uint16).reshape(16, 16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    rgb = load_rgb(path)
    assert rgb.dtype == np.uint8
    assert rgb.min() == 0 and rgb.max() == 255
    assert len(np.unique(rgb[:, :, 0])) > 200  # a clipped image would be almost all 255


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    path = _png(tmp_path / "clear.png", rgba, "RGBA")
    assert (load_rgb(path) == 255).all()


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    array = np.zeros((20, 40, 3), dtype=np.uint8)  # wide image, left half white
    array[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", exif=exif, quality=95)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buffer.getvalue())
    shown = load_rgb(path)
    assert shown.shape[:2] == (40, 20)  # now tall
    assert shown[:20].mean() > 200 and shown[20:].mean() < 50  # the white half is on top


def test_decompression_bomb_refused_from_header(tmp_path: Path) -> None:
    side = int(MAX_PIXELS**0.5) + 100
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(path)  # tiny file, enormous image
    with pytest.raises(ImageProblem, match="too large.*make it smaller, or cut it into tiles"):
        load_rgb(path)
    # Beyond Pillow's own limit (twice its warning size) its refusal is said in the same words, with the size
    huge = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000)).save(huge)
    with pytest.raises(ImageProblem) as refused:
        load_rgb(huge)
    assert str(refused.value).startswith("image too large (400,000,000 pixels; limit ")
    assert "attack" not in str(refused.value)


def test_a_jpeg_cut_short_in_its_header_is_damaged_or_truncated_like_any_other(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[:300])
    with pytest.raises(ImageProblem, match="^damaged or truncated image data"):
        load_rgb(path)


def test_scan_skips_hidden_and_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    _png(tmp_path / "a" / "x.PNG", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "a" / "._x.PNG").write_bytes(b"")  # macOS's AppleDouble companion
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "in_a_hidden_folder.png").write_bytes(b"")
    scan = scan_folder(tmp_path)
    names = sorted(p.name for p in scan.files)
    assert names == ["dangling.png", "x.PNG"]
    assert sorted(Path(p).name for p in scan.hidden) == sorted(
        [".git", ".hidden.png", "._x.PNG"]
    )  # counted, unread
    with pytest.raises(ImageProblem):
        load_rgb(tmp_path / "dangling.png")


def test_files_come_in_the_order_people_number_them(tmp_path: Path) -> None:
    for name in ("cell_10.png", "cell_2.png", "Cell_1.png", "cell_2b.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "plate10").mkdir()
    (tmp_path / "plate9").mkdir()
    (tmp_path / "plate10" / "a.png").write_bytes(b"")
    (tmp_path / "plate9" / "a.png").write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in scan_folder(tmp_path).files]
    assert found == [
        "Cell_1.png",
        "cell_2.png",
        "cell_2b.png",
        "cell_10.png",
        "plate9/a.png",
        "plate10/a.png",
    ]
