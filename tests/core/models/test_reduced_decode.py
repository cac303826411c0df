"""A camera photo is decoded for the model at a reduced JPEG scale: the model input it gives is the one a full
decode gives, within a grey level or two, upright, and every other file is decoded whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from dmtl_studio.core.models.preprocess import Preprocessing, decode_for_input, fit_to_input
from dmtl_studio.core.project import imaging
from tests.core.photos import write_photo_jpegs


def _preprocessing(mode: str) -> Preprocessing:
    return Preprocessing(112, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic", 1.0, mode)


@pytest.fixture
def photo_files(tmp_path: Path) -> dict[str, Path]:
    files = write_photo_jpegs(tmp_path, small=(600, 450))  # under six times the 112 px input
    files["png"] = tmp_path / "png.png"
    Image.open(files["rgb"]).save(files["png"])
    return files


@pytest.mark.parametrize("mode", ["pad", "stretch"])
def test_a_large_jpeg_gives_the_full_decodes_model_input_without_decoding_in_full(
    photo_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    preprocessing = _preprocessing(mode)
    names = ("rgb", "turned", "grey")
    full = {name: fit_to_input(imaging.load_rgb(photo_files[name]), preprocessing) for name in names}

    def no_full_decode(path: object) -> np.ndarray:
        raise AssertionError(f"{path} was decoded in full")

    monkeypatch.setattr(imaging, "load_rgb", no_full_decode)
    for name in names:
        pixels = decode_for_input(photo_files[name], preprocessing)
        # decoded at half size (600 x 450 keeps three times the input) and shrunk to its place in the input
        upright = (112, 84) if name == "turned" else (84, 112)
        assert pixels.shape == ((112, 112, 3) if mode == "stretch" else (*upright, 3)), name
        assert pixels.dtype == np.uint8
        got = fit_to_input(pixels, preprocessing).astype(int)
        difference = np.abs(got - full[name])
        assert got.shape == full[name].shape and difference.mean() < 0.5 and difference.max() <= 8, name


def test_other_files_are_decoded_whole(photo_files: dict[str, Path]) -> None:
    # CMYK needs the full decoder's conversion; a JPEG under four times the input and a PNG cannot be reduced.
    for name in ("cmyk", "small", "png"):
        for mode in ("pad", "stretch"):
            decoded = decode_for_input(photo_files[name], _preprocessing(mode))
            assert np.array_equal(decoded, imaging.load_rgb(photo_files[name])), (name, mode)


def test_a_long_strip_is_reduced_by_its_longer_side_when_padded_and_its_shorter_when_stretched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "strip.jpg"
    Image.fromarray(photos.astronaut()).resize((2400, 480)).save(path, quality=90)
    whole = imaging.load_rgb(path)
    stretched = _preprocessing("stretch")
    assert np.array_equal(decode_for_input(path, stretched), whole)  # 480 < 2 * 3 * 112: decoded whole
    padded = _preprocessing("pad")
    expected = fit_to_input(whole, padded).astype(int)
    monkeypatch.setattr(imaging, "load_rgb", lambda path: pytest.fail(f"{path} was decoded in full"))
    pixels = decode_for_input(path, padded)  # padded to 112 x 22: reduced to a quarter, then shrunk
    assert pixels.shape == (22, 112, 3)
    assert np.abs(fit_to_input(pixels, padded).astype(int) - expected).mean() < 0.5
