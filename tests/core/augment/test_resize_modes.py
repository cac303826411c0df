"""Fitting an image into the model's square input: padded (its shape kept) or stretched."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.augment.resize import fit_square, pad_square, padded_box, resize_square


def _wide(height: int = 100, width: int = 400) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = 200  # a red band, so that padding (white) and picture are told apart
    return image


def test_padding_keeps_the_shape_centred_on_white() -> None:
    out = pad_square(_wide(), 224, "bicubic")
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    assert padded_box(100, 400, 224) == (84, 0, 56, 224)  # 400 -> 224, 100 -> round(56.0)
    assert (out[:84] == 255).all() and (out[140:] == 255).all()  # 84 rows above, 84 below
    assert (out[84:140, :, 0] == 200).all() and (out[84:140, :, 1:] == 0).all()


def test_a_tall_image_is_padded_left_and_right_with_the_odd_pixel_after() -> None:
    top, left, height, width = padded_box(300, 101, 64)  # width round(21.55) = 22: 42 columns of padding
    assert (top, left, height, width) == (0, 21, 64, 22)
    out = pad_square(np.full((300, 101, 3), 7, np.uint8), 64)
    assert (out[:, :21] == 255).all() and (out[:, 43:] == 255).all() and (out[:, 21:43] == 7).all()


def test_a_one_pixel_strip_keeps_at_least_one_row() -> None:
    assert padded_box(1, 1000, 224) == (111, 0, 1, 224)
    assert pad_square(_wide(1, 1000), 224)[111, :, 0].tolist() == [200] * 224


def test_a_square_image_is_resized_exactly_as_a_stretch() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (150, 150, 3), dtype=np.uint8)
    for size in (64, 150, 300):
        assert np.array_equal(pad_square(image, size, "bicubic"), resize_square(image, size, "bicubic"))


def test_fit_square_takes_either_mode_and_refuses_others() -> None:
    image = _wide()
    assert np.array_equal(fit_square(image, 64, mode="stretch"), resize_square(image, 64))
    assert np.array_equal(fit_square(image, 64, mode="pad"), pad_square(image, 64))
    with pytest.raises(ValueError, match="unknown resize mode 'crop': one of pad, stretch"):
        fit_square(image, 64, mode="crop")
