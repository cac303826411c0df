"""The augmentation engine: what each operation means, seeds, recipes as JSON, bad files, batch mixing."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from dmtl_studio.core.augment.presets import PRESETS, preset, resolve_recipe
from dmtl_studio.core.augment.preview import preview_tiles
from dmtl_studio.core.augment.recipe import SCHEMA_VERSION, Recipe, Step, load_recipe, save_recipe
from dmtl_studio.core.augment.registry import Operation, RecipeError, get_operation, operations, register

SIZE = 64


def _picture(seed: int = 0, size: int = SIZE) -> np.ndarray:
    """A smooth colour picture with a bright square off-centre: geometry and colour changes are visible."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.stack([x * 3, y * 3, (x + y) * 1.5], axis=-1) + rng.uniform(0, 40, (size, size, 3))
    image[8:24, 10:30] = (250, 240, 30)
    return np.clip(image, 0, 255).astype(np.uint8)


def _apply(
    name: str, image: np.ndarray, seed: int = 0, probability: float = 1.0, **params: object
) -> np.ndarray:
    recipe = Recipe((Step.of(name, probability, **params),))
    return recipe.compile().augment(image, np.random.default_rng(seed))


IMAGE_OPS = [op.name for op in operations() if op.family != "mixing"]


# ---------------------------------------------------------------------------------------------- registry
def test_registry_has_every_required_operation_with_specs() -> None:
    required = {
        "rotate", "hflip", "vflip", "rotate90", "translate", "scale", "random_resized_crop", "shear",
        "perspective", "brightness", "contrast", "saturation", "hue", "gamma", "gaussian_blur",
        "gaussian_noise", "sharpen", "grayscale", "random_erasing", "mixup", "cutmix",
        "posterize", "solarize", "equalize", "autocontrast",
    }  # fmt: skip
    names = {op.name for op in operations()}
    assert required <= names
    for op in operations():
        assert op.label and op.help and 0.0 <= op.default_probability <= 1.0
        for spec in op.params:
            assert spec.help and spec.label
            if spec.kind in ("float", "int"):
                assert spec.minimum <= spec.default <= spec.maximum, (op.name, spec.name)
            if spec.kind == "choice":
                assert spec.default in spec.choices


def test_a_duplicate_operation_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(Operation("rotate", "Rotate again", "geometry", lambda p: None))


# ---------------------------------------------------------------------------------------------- meanings
def test_flips_flip_and_quarter_turns_turn_exactly() -> None:
    image = _picture()
    assert np.array_equal(_apply("hflip", image), image[:, ::-1])
    assert np.array_equal(_apply("vflip", image), image[::-1])
    turns = set()
    for seed in range(12):
        out = _apply("rotate90", image, seed)
        k = next(k for k in (1, 2, 3) if np.array_equal(out, np.rot90(image, k)))
        turns.add(k)
    assert turns == {1, 2, 3}


def test_two_flips_of_the_same_axis_are_fused_into_identity() -> None:
    image = _picture()
    recipe = Recipe((Step.of("hflip", 1.0), Step.of("hflip", 1.0), Step.of("vflip", 1.0)))
    assert np.array_equal(recipe.compile().augment(image, np.random.default_rng(0)), image[::-1])


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_probability_zero_is_identity_and_one_changes_the_image(name: str) -> None:
    image = _picture()
    before = image.copy()
    for seed in range(5):
        assert np.array_equal(_apply(name, image, seed, probability=0.0), image)
    changed = [not np.array_equal(_apply(name, image, seed), image) for seed in range(5)]
    assert any(changed), f"{name} never changed the image"
    assert np.array_equal(image, before), f"{name} modified its input array"
    out = _apply(name, image)
    assert out.dtype == np.uint8 and out.shape == image.shape and out.flags.c_contiguous


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_same_seed_same_result_other_seed_other_result(name: str) -> None:
    image = _picture()
    first, again = _apply(name, image, seed=7), _apply(name, image, seed=7)
    assert np.array_equal(first, again)
    # These have nothing random but whether they fire.
    if name not in ("hflip", "vflip", "grayscale", "equalize", "autocontrast"):
        others = [_apply(name, image, seed=s) for s in range(8, 14)]
        assert any(not np.array_equal(first, other) for other in others)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("rotate", {"degrees": 0.0}),
        ("translate", {"fraction": 0.0}),
        ("scale", {"amount": 0.0}),
        ("shear", {"degrees": 0.0}),
        ("perspective", {"distortion": 0.0}),
        ("random_resized_crop", {"min_area": 1.0, "max_aspect": 1.0}),
        ("brightness", {"strength": 0.0}),
        ("contrast", {"strength": 0.0}),
        ("saturation", {"strength": 0.0}),
        ("gamma", {"amount": 0.0}),
        ("gaussian_noise", {"sigma": 0.0}),
        ("sharpen", {"amount": 0.0}),
    ],
)
def test_a_zero_range_leaves_the_image_unchanged(name: str, params: dict) -> None:
    image = _picture()
    for seed in range(3):
        assert np.array_equal(_apply(name, image, seed, **params), image), name


def test_probability_is_respected_over_many_draws() -> None:
    image = _picture()
    fired = sum(
        not np.array_equal(_apply("hflip", image, seed, probability=0.3), image) for seed in range(400)
    )
    assert 0.22 < fired / 400 < 0.38


def test_rotation_angle_stays_in_range() -> None:
    # A thin horizontal bar: its angle after rotation is measurable from image moments.
    image = np.zeros((129, 129, 3), np.uint8)
    image[62:67, 24:105] = 255
    angles = []
    for seed in range(40):
        out = _apply("rotate", image, seed, degrees=10.0, border="constant")
        moments = cv2.moments(out[..., 0].astype(np.float32))
        theta = 0.5 * math.degrees(math.atan2(2 * moments["mu11"], moments["mu20"] - moments["mu02"]))
        angles.append(abs(theta))
    assert max(angles) <= 10.5 and max(angles) > 5.0


def test_brightness_factor_stays_in_range() -> None:
    image = np.full((16, 16, 3), 100, np.uint8)
    values = [int(_apply("brightness", image, seed, strength=0.3)[0, 0, 0]) for seed in range(60)]
    assert 70 <= min(values) < 85 and 115 < max(values) <= 130


def test_contrast_keeps_the_mean_and_gamma_keeps_black_and_white() -> None:
    image = _picture()
    out = _apply("contrast", image, strength=0.5)
    assert (
        abs(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).mean() - cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).mean()) < 3
    )
    ends = np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)
    for seed in range(10):
        assert np.array_equal(_apply("gamma", ends, seed, amount=0.8), ends)


def test_grayscale_has_equal_channels() -> None:
    image = _picture()
    gray = _apply("grayscale", image)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])


def test_hue_shift_keeps_grays_and_moves_colours() -> None:
    gray = np.full((8, 8, 3), 128, np.uint8)
    assert np.array_equal(_apply("hue", gray, shift=0.5), gray)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    moved = [_apply("hue", red, seed, shift=0.3) for seed in range(6)]
    assert any(int(m[0, 0, 1]) > 30 or int(m[0, 0, 2]) > 30 for m in moved)


def test_blur_smooths_sharpen_sharpens_noise_has_its_sigma() -> None:
    image = _picture()
    laplacian = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert laplacian(_apply("gaussian_blur", image, sigma=2.0)) < laplacian(image)
    assert laplacian(_apply("sharpen", image, amount=3.0)) > laplacian(image)
    flat = np.full((128, 128, 3), 128, np.uint8)
    stds = [
        (_apply("gaussian_noise", flat, seed, sigma=20.0).astype(float) - 128).std() for seed in range(20)
    ]
    assert max(stds) <= 20.5 and max(stds) > 10


def test_random_erasing_area_stays_in_range() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    for seed in range(30):
        out = _apply("random_erasing", image, seed, min_area=0.05, max_area=0.2, fill="black")
        erased = (out[..., 0] == 0).mean()
        assert 0.04 <= erased <= 0.22


def test_random_resized_crop_zooms_in_and_keeps_the_size() -> None:
    image = _picture()
    for seed in range(10):
        out = _apply("random_resized_crop", image, seed, min_area=0.3)
        assert out.shape == image.shape
    # On a left-to-right ramp, a crop shows a monotone part of the ramp, at least as wide as the smallest crop.
    ramp = np.repeat(np.repeat((np.arange(64) * 4).astype(np.uint8)[None, :, None], 64, 0), 3, 2)
    spans = []
    for seed in range(20):
        row = _apply("random_resized_crop", ramp, seed, min_area=0.2)[32, :, 0].astype(int)
        assert np.all(np.diff(row) >= 0)
        spans.append((row[-1] - row[0]) / 252)
    assert min(spans) >= math.sqrt(0.2 / (4 / 3)) - 0.03 and max(spans) <= 1.0 and min(spans) < 0.9


def test_geometry_is_combined_into_one_warp_with_the_same_meaning() -> None:
    image = _picture()
    recipe = Recipe((Step.of("hflip", 1.0), Step.of("translate", 1.0, fraction=0.2, border="constant")))
    fused = recipe.compile().augment(image, np.random.default_rng(5))
    # The same draws one step at a time.
    rng = np.random.default_rng(5)
    rng.random()
    step1 = image[:, ::-1]
    rng.random()
    tx, ty = rng.uniform(-0.2, 0.2) * SIZE, rng.uniform(-0.2, 0.2) * SIZE
    step2 = cv2.warpAffine(
        np.ascontiguousarray(step1), np.float64([[1, 0, tx], [0, 1, ty]]), (SIZE, SIZE),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
    )  # fmt: skip
    assert np.abs(fused.astype(int) - step2.astype(int)).max() <= 1


# ---------------------------------------------------------------------------------------------- recipes
def test_whole_recipe_is_deterministic_per_seed() -> None:
    image = _picture()
    compiled = preset("heavy").compile()
    a = [compiled.augment(image, np.random.default_rng((3, i))) for i in range(5)]
    b = [compiled.augment(image, np.random.default_rng((3, i))) for i in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(a[0], x) for x in a[1:])


def test_disabled_steps_do_nothing_but_are_kept() -> None:
    image = _picture()
    recipe = Recipe((Step.of("hflip", 1.0, enabled=False),))
    assert np.array_equal(recipe.compile().augment(image, np.random.default_rng(0)), image)
    assert Recipe.from_json(recipe.to_json()).steps[0].enabled is False


def test_editing_returns_new_recipes() -> None:
    recipe = preset("light")
    moved = recipe.moved(0, 2)
    assert [s.operation for s in moved.steps] == ["rotate", "brightness", "hflip"]
    assert [s.operation for s in recipe.steps] == ["hflip", "rotate", "brightness"]
    assert len(recipe.removed(1).steps) == 2
    assert recipe.with_step(1, recipe.steps[1].with_param("degrees", 40.0)).steps[1].values["degrees"] == 40.0


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_through_json(name: str, tmp_path: Path) -> None:
    recipe = preset(name)
    assert Recipe.from_json(recipe.to_json()) == recipe
    save_recipe(recipe, tmp_path / "r.json")
    assert load_recipe(tmp_path / "r.json") == recipe
    # The oldest format that holds the steps: a recipe without a one_of step stays readable by older versions.
    written = json.loads((tmp_path / "r.json").read_text())["schema_version"]
    assert written == (SCHEMA_VERSION if any(s.operation == "one_of" for s in recipe.steps) else 1)


def test_domain_presets_mean_what_they_say() -> None:
    microscopy = {s.operation: s for s in preset("microscopy").steps}
    assert {"hflip", "vflip", "rotate90"} <= set(microscopy) and microscopy["rotate"].values["degrees"] == 180
    documents = {s.operation for s in preset("documents").steps}
    assert not documents & {"hflip", "vflip", "rotate90"}
    assert resolve_recipe(None) == preset("light")


def test_a_preset_s_name_on_other_steps_says_edited_for_window_and_command_line_alike() -> None:
    """The run history called an edited 'strong' recipe 'strong'; and a name the window derived from the steps
    differed from the stored one the command line trained with, so their cached views were keyed apart."""
    from dataclasses import replace

    strong = preset("strong")
    edited = replace(strong, steps=(replace(strong.steps[0], enabled=False), *strong.steps[1:]))
    assert (
        resolve_recipe(edited.to_dict()).name == "strong (edited)"
    )  # stored as 'strong' by an older version
    assert resolve_recipe(edited.renamed("strong (edited)").to_dict()).name == "strong (edited)"
    assert (
        resolve_recipe(strong.renamed("strong (edited)").to_dict()) == strong
    )  # back on its steps: its name
    assert resolve_recipe(edited.renamed("mine").to_dict()).name == "mine"  # the user's own name stays


def _bad(steps: list, **top: object) -> dict:
    return {"schema_version": 1, "name": "x", "steps": steps, **top}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_bad([{"operation": "twirl"}]), "step 1: unknown operation 'twirl'"),
        (
            _bad([{"operation": "hflip"}, {"operation": "rotate", "params": {"degrees": "a lot"}}]),
            "step 2 (rotate): field 'degrees' must be a number",
        ),
        (
            _bad([{"operation": "rotate", "params": {"degrees": 400}}]),
            "step 1 (rotate): field 'degrees' = 400 is outside the allowed range [0, 180]",
        ),
        (_bad([{"operation": "rotate", "params": {"degrees": True}}]), "field 'degrees' must be a number"),
        (_bad([{"operation": "rotate", "params": {"border": "wrap"}}]), "field 'border' must be one of"),
        (
            _bad([{"operation": "rotate", "params": {"angle": 3}}]),
            "step 1 (rotate): unknown parameter 'angle'",
        ),
        (_bad([{"operation": "hflip", "probability": 1.5}]), "step 1 (hflip): field 'probability' = 1.5"),
        (_bad([{"operation": "hflip", "enabled": "yes"}]), "step 1 (hflip): field 'enabled'"),
        (_bad([{"operation": "hflip", "colour": 1}]), "unknown field(s) colour"),
        (
            _bad([{"operation": "random_erasing", "params": {"min_area": 0.4, "max_area": 0.1}}]),
            "step 1 (random_erasing): 'min_area' = 0.4 is larger than 'max_area' = 0.1",
        ),
        (_bad([["hflip"]]), "step 1 must be a JSON object"),
        ({"schema_version": 99, "steps": []}, "newer DMTL Studio (schema_version 99"),
        ({"steps": []}, "no valid 'schema_version'"),
        ({"schema_version": 1}, "no 'steps' list"),
        ([1, 2], "must be a JSON object"),
        (_bad([], name="x" * 201), "201 characters) must be one line of at most 200 characters"),
        (_bad([], name="two\nlines"), "holds a control character or a line break"),
    ],
)
def test_bad_recipes_name_the_step_and_field(data: object, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        Recipe.from_dict(data)
    assert message in str(info.value)


def test_bad_file_names_itself_and_is_not_half_loaded(tmp_path: Path) -> None:
    path = tmp_path / "recipe.json"
    path.write_text("{not json")
    with pytest.raises(RecipeError, match=r"recipe.json: not a valid JSON file"):
        load_recipe(path)
    good = preset("medium").to_dict()
    good["steps"][4]["params"]["strength"] = 7
    path.write_text(json.dumps(good))
    with pytest.raises(RecipeError, match=r"recipe.json: step 5 \(contrast\): field 'strength' = 7"):
        load_recipe(path)


def test_a_recipe_file_with_a_byte_order_mark_reads_and_odd_json_is_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + preset("light").to_json().encode())  # as Windows Notepad saves it
    assert load_recipe(path) == preset("light")
    assert Recipe.from_json("\ufeff" + preset("light").to_json()) == preset("light")
    path.write_text('{"schema_version": 2, "steps": [], "name": ' + "9" * 5000 + "}")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == "notepad.json: not a usable JSON file (a number in it has thousands of digits)"


def test_recipe_modules_do_not_load_torch() -> None:
    import subprocess

    code = (
        "import sys; import dmtl_studio.core.augment, dmtl_studio.core.augment.preview, dmtl_studio.core.training.config; "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---------------------------------------------------------------------------------------------- mixing
def test_mixing_draws_and_preview_weights() -> None:
    recipe = Recipe((Step.of("mixup", 1.0, alpha=0.4),))
    a, b = _picture(1), _picture(2)
    tiles = preview_tiles(recipe, a, "cat", [(b, "dog")], count=6, seed=1)
    for tile in tiles:
        assert tile.mixed and [label for label, _ in tile.weights] == ["cat", "dog"]
        lam = tile.weights[0][1]
        assert 0.0 <= lam <= 1.0 and math.isclose(sum(w for _, w in tile.weights), 1.0)
        expected = cv2.addWeighted(a, lam, b, 1 - lam, 0)
        assert np.array_equal(tile.image, expected)
    assert "cat" in tiles[0].caption and "dog" in tiles[0].caption
    again = preview_tiles(recipe, a, "cat", [(b, "dog")], count=6, seed=1)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(tiles, again, strict=True))


def test_an_unlabelled_image_is_previewed_unmixed_and_is_no_partner() -> None:
    """Training mixes labelled images only; the preview captioned an unlabelled one "1.00 unlabell…" (h28)."""
    from dmtl_studio.core.augment.preview import PreviewRequest, render_preview

    recipe = Recipe((Step.of("mixup", 1.0, alpha=0.4),))
    a, b, c = _picture(1), _picture(2), _picture(3)
    tiles = preview_tiles(recipe, a, None, [(b, "dog")], count=4, seed=1)
    assert all(not t.mixed and t.caption == "unlabelled" and t.weights == () for t in tiles)
    plain = preview_tiles(Recipe(()), a, None, count=4, seed=1)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(tiles, plain, strict=True))
    # An unlabelled partner is left out: the labelled image is mixed with itself, as with no partner.
    alone = preview_tiles(recipe, a, "cat", [(c, None)], count=4, seed=1)
    assert all(t.mixed and [label for label, _ in t.weights] == ["cat"] for t in alone)
    pictures = {"a": a, "b": b}
    result = render_preview(
        PreviewRequest(1, recipe, (("a", None), ("b", "dog")), count=2), lambda p, s: pictures[p]
    )
    assert result.note == "mixing steps pair labelled images only: this unlabelled image is shown unmixed"
    labelled = render_preview(
        PreviewRequest(2, recipe, (("b", "dog"), ("a", None)), count=2), lambda p, s: pictures[p]
    )
    assert labelled.note == "" and all(t.mixed for t in labelled.tiles)


def test_cutmix_label_weight_is_the_visible_area() -> None:
    recipe = Recipe((Step.of("cutmix", 1.0, alpha=1.0),))
    a, b = np.zeros((50, 50, 3), np.uint8), np.full((50, 50, 3), 255, np.uint8)
    for tile in preview_tiles(recipe, a, "cat", [(b, "dog")], count=8, seed=2):
        pasted = (tile.image[..., 0] == 255).mean()
        assert math.isclose(dict(tile.weights)["dog"], pasted, abs_tol=1e-9)


def test_no_mixer_no_mixing_in_preview() -> None:
    tiles = preview_tiles(preset("light"), _picture(), "cat", count=4)
    assert all(not t.mixed and t.caption == "cat" for t in tiles) and len(tiles) == 4


def test_batch_mixing_uses_the_same_draws_with_soft_labels() -> None:
    torch = pytest.importorskip("torch")
    from dmtl_studio.core.training.mixing import mix_batch, soft_cross_entropy

    recipe = Recipe((Step.of("cutmix", 0.5), Step.of("mixup", 1.0, alpha=1.0))).compile()
    images = torch.rand(4, 3, 16, 16)
    targets = torch.tensor([0, 1, 2, 1])
    mixed, soft = mix_batch(images, targets, 3, recipe, np.random.default_rng(4))
    sample = recipe.draw_mix(np.random.default_rng(4), 16, 16)
    assert soft is not None and torch.allclose(soft.sum(1), torch.ones(4))
    partner = images.roll(1, 0)
    if sample.box is None:
        assert torch.allclose(mixed, images * sample.lam + partner * (1 - sample.lam))
    assert 0.05 < sample.lam < 0.95  # a draw that really mixes
    assert math.isclose(float(soft[0, 0]), sample.lam, abs_tol=1e-6)  # own label keeps lam
    assert math.isclose(float(soft[0, 1]), 1 - sample.lam, abs_tol=1e-6)  # neighbour's label (index 3: 1)
    cut = Recipe((Step.of("cutmix", 1.0, alpha=1.0),)).compile()
    mixed, soft = mix_batch(images, targets, 3, cut, np.random.default_rng(5))
    sample = cut.draw_mix(np.random.default_rng(5), 16, 16)
    top, bottom, left, right = sample.box
    expected = images.clone()
    expected[..., top:bottom, left:right] = partner[..., top:bottom, left:right]
    assert torch.equal(mixed, expected) and math.isclose(float(soft[1, 1]), sample.lam, abs_tol=1e-6)
    logits = torch.randn(4, 3)
    one_hot = torch.nn.functional.one_hot(targets, 3).float()
    assert torch.allclose(
        soft_cross_entropy(logits, one_hot), torch.nn.functional.cross_entropy(logits, targets)
    )
    none_recipe = preset("light").compile()
    same, no_soft = mix_batch(images, targets, 3, none_recipe, np.random.default_rng(0))
    assert no_soft is None and same is images


def test_unknown_operation_lookup_is_a_recipe_error() -> None:
    with pytest.raises(RecipeError):
        get_operation("twirl")


def test_the_preview_mixes_across_classes_in_a_selection_sorted_by_class() -> None:
    """After Ctrl+A on a browser sorted by class, the first 8 selected images were of one class: every mixed tile
    read "1.00 equiaxed" (h33)."""
    from dmtl_studio.core.augment.preview import mixing_partners

    items = [(f"e{i}", "equiaxed") for i in range(20)] + [(f"l{i}", "lamellar") for i in range(20)]
    items += [(f"p{i}", "porous") for i in range(20)] + [("u0", None)]
    chosen = mixing_partners(items, 0)
    assert len(chosen) == 7 and 0 not in chosen and all(items[i][1] is not None for i in chosen)
    labels = [items[i][1] for i in chosen]
    assert labels[:3] == ["lamellar", "porous", "equiaxed"]  # the other classes first, in turn
    assert {"lamellar", "porous", "equiaxed"} == set(labels)
    assert mixing_partners([("a", "x"), ("b", None)], 0) == []  # an unlabelled item is never a partner
    assert mixing_partners([("a", None), ("b", "x"), ("c", "y")], 0) == [1, 2]
