"""Thumbnails of large plain JPEGs are decoded at a reduced scale: the same picture, upright, without the full
decode (the cost of a first browse of a folder of camera photos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.project import imaging
from dmtl_studio.core.project.image_problems import ImageProblem
from tests.core.photos import write_photo_jpegs


@pytest.fixture
def photo_files(tmp_path: Path) -> dict[str, Path]:
    return write_photo_jpegs(tmp_path, small=(200, 150))


def test_a_large_jpeg_is_not_decoded_in_full_and_looks_the_same(
    photo_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = {name: imaging.decoded_thumbnail(photo_files[name], 128) for name in ("rgb", "turned", "grey")}

    def no_full_decode(path: object) -> np.ndarray:
        raise AssertionError(f"{path} was decoded in full")

    monkeypatch.setattr(imaging, "load_rgb", no_full_decode)
    for name, want in expected.items():
        got = imaging.thumbnail(photo_files[name], 128)
        assert got.shape == want.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).mean() < 1.5, name
    assert imaging.thumbnail(photo_files["turned"], 128).shape == (128, 96, 3)  # upright: taller than wide


def test_other_jpegs_take_the_full_decode(photo_files: dict[str, Path]) -> None:
    # CMYK needs the full decoder's conversion; a JPEG smaller than twice the size gains nothing from scaling.
    for name in ("cmyk", "small"):
        assert np.array_equal(
            imaging.thumbnail(photo_files[name], 128), imaging.decoded_thumbnail(photo_files[name], 128)
        )


def test_a_truncated_large_jpeg_is_a_problem_not_a_crash(
    photo_files: dict[str, Path], tmp_path: Path
) -> None:
    data = photo_files["rgb"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    from dmtl_studio.core.models.preprocess import Preprocessing, prepare_file

    model_input = Preprocessing(112, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic", 1.0, "pad")
    for reduced_read in (
        lambda: imaging.thumbnail(cut, 128),
        lambda: imaging.load_rgb_for_longer_side(cut, 300),
        lambda: prepare_file(cut, model_input),
    ):
        with pytest.raises(ImageProblem, match="damaged or truncated"):
            reduced_read()


def test_a_tiff_only_tifffile_reads_still_gets_its_thumbnail(tmp_path: Path) -> None:
    import tifffile

    path = tmp_path / "height.tif"
    tifffile.imwrite(path, np.linspace(0, 1, 64 * 48, dtype=np.float16).reshape(48, 64))
    assert np.array_equal(imaging.thumbnail(path, 32), imaging.decoded_thumbnail(path, 32))


def test_the_large_view_reads_a_large_jpeg_at_the_scale_it_shows(
    photo_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = imaging.decoded_thumbnail(photo_files["turned"], 300)
    small = imaging.load_rgb(photo_files["small"])
    monkeypatch.setattr(imaging, "load_rgb", lambda path: pytest.fail(f"{path} was decoded in full"))
    assert imaging.load_rgb_for_longer_side(photo_files["rgb"], 300).shape == (225, 300, 3)  # a quarter
    upright = imaging.load_rgb_for_longer_side(photo_files["turned"], 300)
    assert upright.shape == (300, 225, 3) and np.abs(upright.astype(int) - expected).mean() < 2.0
    # 200 x 150 is no larger than it is shown: decoded as it is
    monkeypatch.setattr(imaging, "load_rgb", lambda path: small)
    assert imaging.load_rgb_for_longer_side(photo_files["small"], 300) is small
