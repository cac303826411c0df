"""The ``one_of`` step (one operation per image, TrivialAugment), its file format, the tone operations of
RandAugment, and the ``strong`` preset."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as tvf

from dmtl_studio.core.augment.presets import PRESETS, preset, trivial_augment
from dmtl_studio.core.augment.recipe import SCHEMA_VERSION, Recipe, Step, load_recipe, migrate, save_recipe
from dmtl_studio.core.augment.registry import RecipeError

SIZE = 48


def _picture(seed: int = 0) -> np.ndarray:
    """No symmetry and several colours: flips, grey and every tone change are visible."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    image = np.stack([x * 4, y * 3, (x + 2 * y) * 1.2], axis=-1) + rng.uniform(0, 30, (SIZE, SIZE, 3))
    image[5:15, 8:30] = (240, 30, 60)
    return np.clip(image, 0, 255).astype(np.uint8)


def _single(name: str, image: np.ndarray) -> np.ndarray:
    return Recipe((Step.of(name, 1.0),)).compile().augment(image, np.random.default_rng(0))


# ------------------------------------------------------------------------------------------------ one_of
def test_one_of_applies_exactly_one_operation_per_image_with_equal_chances() -> None:
    image = _picture()
    names = ("hflip", "vflip", "grayscale", "equalize")  # deterministic, and no two compose to another
    outcomes = {name: _single(name, image) for name in names}
    assert len({out.tobytes() for out in outcomes.values()}) == len(names)
    compiled = Recipe((Step.one_of(*(Step.of(name, 1.0) for name in names)),)).compile()
    picked: Counter[str] = Counter()
    for seed in range(400):
        out = compiled.augment(image, np.random.default_rng(seed))
        matches = [name for name, expected in outcomes.items() if np.array_equal(out, expected)]
        assert len(matches) == 1, f"seed {seed}: not exactly one operation ({matches})"
        picked[matches[0]] += 1
    assert set(picked) == set(names) and min(picked.values()) > 60  # 100 expected each


def test_one_of_options_keep_their_probability_and_their_random_magnitude() -> None:
    image = _picture()
    never = Recipe((Step.one_of(Step.of("hflip", 0.0), Step.of("vflip", 0.0)),)).compile()
    assert all(np.array_equal(never.augment(image, np.random.default_rng(s)), image) for s in range(20))
    off = Recipe((Step.one_of(Step.of("hflip", 1.0), enabled=False),)).compile()
    assert off.image_steps == ()
    rotations = Recipe((Step.one_of(Step.of("rotate", 1.0, degrees=40.0)),)).compile()
    outs = {rotations.augment(image, np.random.default_rng(s)).tobytes() for s in range(10)}
    assert len(outs) == 10  # a new angle for each image
    # An option switched off is never picked.
    only_vflip = Recipe((Step.one_of(Step.of("hflip", 1.0, enabled=False), Step.of("vflip", 1.0)),)).compile()
    assert all(
        np.array_equal(only_vflip.augment(image, np.random.default_rng(s)), image[::-1]) for s in range(20)
    )


def test_one_of_round_trips_through_json_as_format_version_2(tmp_path: Path) -> None:
    recipe = Recipe(
        (
            Step.of("hflip", 0.5),
            Step.one_of(
                Step.of("rotate", 1.0, degrees=25.0), Step.of("solarize", 0.7, threshold=0.4), probability=0.9
            ),
        ),
        "mine",
    )
    data = json.loads(recipe.to_json())
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert data["steps"][1] == {
        "operation": "one_of",
        "enabled": True,
        "probability": 0.9,
        "options": [
            {"operation": "rotate", "enabled": True, "probability": 1.0, "params": {"border": "reflect", "degrees": 25.0}},
            {"operation": "solarize", "enabled": True, "probability": 0.7, "params": {"threshold": 0.4}},
        ],
    }  # fmt: skip
    save_recipe(recipe, tmp_path / "mine.json")
    loaded = load_recipe(tmp_path / "mine.json")
    assert loaded == recipe
    image = _picture()
    for seed in range(5):
        assert np.array_equal(
            loaded.compile().augment(image, np.random.default_rng(seed)),
            recipe.compile().augment(image, np.random.default_rng(seed)),
        )


def test_a_version_1_recipe_reads_unchanged_and_is_written_as_version_1() -> None:
    old = {"schema_version": 1, "name": "old", "steps": [{"operation": "rotate", "params": {"degrees": 10}}]}
    assert migrate(old)["schema_version"] == SCHEMA_VERSION
    recipe = Recipe.from_dict(old)
    assert recipe.steps == (Step.of("rotate", 0.5, degrees=10.0),)
    assert recipe.to_dict()["schema_version"] == 1  # older versions of the program still read it


def _one_of(options: object, **fields: object) -> dict:
    return {"schema_version": 2, "steps": [{"operation": "one_of", "options": options, **fields}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_one_of([]), "step 1 (one_of): field 'options' must be a non-empty list"),
        (_one_of("rotate"), "field 'options' must be a non-empty list"),
        (_one_of([{"operation": "mixup"}]), "step 1 (one_of): mixup cannot be one of its operations"),
        (
            _one_of([{"operation": "one_of", "options": [{"operation": "hflip"}]}]),
            "one_of cannot be one of its operations",
        ),
        (
            _one_of([{"operation": "rotate", "params": {"degrees": 999}}]),
            "step 1.1 (rotate): field 'degrees'",
        ),
        (_one_of([{"operation": "twirl"}]), "step 1.1: unknown operation 'twirl'"),
        (_one_of([{"operation": "hflip"}], params={}), "step 1 (one_of): unknown field(s) params"),
        (_one_of([{"operation": "hflip"}], probability=2), "field 'probability' = 2 is outside"),
        ({**_one_of([{"operation": "random_swap"}]), "kind": "text"}, "one_of) is for image recipes only"),
        ({"schema_version": 3, "steps": []}, "newer DMTL Studio (schema_version 3"),
    ],
)
def test_bad_one_of_steps_name_the_step_and_field(data: dict, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        Recipe.from_dict(data)
    assert message in str(info.value)


def test_a_one_of_made_in_code_is_checked_when_compiled() -> None:
    with pytest.raises(RecipeError, match="cutmix cannot be one of its operations"):
        Recipe((Step.one_of(Step.of("cutmix", 1.0)),)).compile()
    with pytest.raises(RecipeError, match="no operations to pick from"):
        Recipe((Step.one_of(),)).compile()


# ------------------------------------------------------------------------------------------------ tone ops
@pytest.mark.parametrize(
    ("name", "params", "reference"),
    [
        ("equalize", {}, tvf.equalize),
        ("autocontrast", {}, tvf.autocontrast),
        ("posterize", {"bits": 3}, None),
        ("solarize", {"threshold": 0.0}, None),
    ],
)
def test_tone_operations_match_torchvision(name: str, params: dict, reference: object) -> None:
    for seed in range(4):
        image = _picture(seed)
        if seed == 3:
            image[..., 1] = 90  # a flat channel
        tensor = torch.from_numpy(image).permute(2, 0, 1).contiguous()
        rng = np.random.default_rng(seed)
        out = Recipe((Step.of(name, 1.0, **params),)).compile().augment(image, rng)
        if reference is None:  # draw the same magnitude, then ask torchvision for it
            rng = np.random.default_rng(seed)
            rng.random()  # whether the step fires
            if name == "posterize":
                reference_out = tvf.posterize(tensor, int(rng.integers(params["bits"], 9)))
            else:
                reference_out = tvf.solarize(tensor, rng.uniform(params["threshold"], 1.0) * 256.0)
        else:
            reference_out = reference(tensor)
        expected = reference_out.permute(1, 2, 0).numpy().astype(int)
        # torchvision divides in float32 where PIL (and this engine) multiply: a grey level apart at most.
        tolerance = 1 if name == "autocontrast" else 0
        assert np.abs(out.astype(int) - expected).max() <= tolerance, (name, seed)


# ------------------------------------------------------------------------------------------------ strong preset
def test_the_strong_preset_is_trivial_augment_plus_cutout_and_changes_every_image() -> None:
    strong = preset("strong")
    assert "strong" in PRESETS and strong.steps[1] == trivial_augment()
    assert {o.operation for o in trivial_augment().options} >= {"rotate", "posterize", "solarize", "equalize"}
    compiled = strong.compile()
    for seed in range(30):
        image = _picture(seed)
        before = image.copy()
        out = compiled.augment(image, np.random.default_rng(seed))
        assert out.shape == image.shape and out.dtype == np.uint8 and out.flags.c_contiguous
        assert not np.array_equal(out, image)  # cutout alone changes every image
        assert np.array_equal(image, before)  # the input is left as it was
        grey = np.all(out == 127, axis=2)
        assert grey.mean() >= 0.02 * 0.9  # the cutout patch: at least 2 % of the image (less a rounding)


def test_a_recipe_mirrors_only_through_an_enabled_horizontal_flip_that_can_fire() -> None:
    assert preset("light").mirrors and preset("strong").mirrors
    assert not preset("none").mirrors
    assert not Recipe((Step.of("vflip", 0.5), Step.of("rotate", 0.5))).mirrors
    assert not Recipe((Step.of("hflip", 0.5, enabled=False),)).mirrors
    assert not Recipe((Step.of("hflip", 0.0),)).mirrors
    inside = Step.one_of(Step.of("rotate", 1.0), Step.of("hflip", 1.0))
    assert Recipe((inside,)).mirrors
    assert not Recipe((Step.one_of(Step.of("rotate", 1.0), Step.of("hflip", 1.0), enabled=False),)).mirrors
