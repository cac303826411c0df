"""Ready-made recipes: a starting point for the editor and the default for training."""

from __future__ import annotations

import dataclasses

from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.augment.registry import RecipeError
from dmtl_studio.core.augment.text_ops import WORDNET_OPERATIONS

#: The recipe used when a run names none (the same light augmentation the first version always applied).
DEFAULT_PRESET = "light"
#: The recipe a text project's run uses when it names none.
DEFAULT_TEXT_PRESET = "eda_light"


def trivial_augment() -> Step:
    """A ``one_of`` step in the manner of TrivialAugment (Müller & Hutter, 2021): per image, one operation of
    RandAugment's list (Cubuk et al., 2020) at a strength drawn uniformly within its range.

    The ranges are FixMatch's RandAugment ranges (Sohn et al., 2020: rotations up to 30°, shear 0.3, shifts of
    30 %, posterize down to 4 bits, solarize at any threshold) and, for the colour operations, TrivialAugment's
    wide ones (factors in [0.1, 1.9]). RandAugment's identity is left out: the step's probability does its part.
    """
    return Step.one_of(
        Step.of("rotate", 1.0, degrees=30.0),
        Step.of("shear", 1.0, degrees=17.0),  # tan(17°) = 0.3
        Step.of("translate", 1.0, fraction=0.3),
        Step.of("brightness", 1.0, strength=0.9),
        Step.of("contrast", 1.0, strength=0.9),
        Step.of("saturation", 1.0, strength=0.9),
        Step.of("sharpen", 1.0, amount=0.9),
        Step.of("posterize", 1.0, bits=4),
        Step.of("solarize", 1.0, threshold=0.0),
        Step.of("equalize", 1.0),
        Step.of("autocontrast", 1.0),
    )


def _presets() -> dict[str, Recipe]:
    return {
        "none": Recipe((), "none"),
        "light": Recipe(
            (
                Step.of("hflip", 0.5),
                Step.of("rotate", 0.5, degrees=15.0),
                Step.of("brightness", 0.3, strength=0.1),
            ),
            "light",
        ),
        "medium": Recipe(
            (
                Step.of("hflip", 0.5),
                Step.of("random_resized_crop", 0.5, min_area=0.6),
                Step.of("rotate", 0.5, degrees=20.0),
                Step.of("brightness", 0.5, strength=0.2),
                Step.of("contrast", 0.5, strength=0.2),
                Step.of("saturation", 0.5, strength=0.2),
                Step.of("hue", 0.2, shift=0.03),
                Step.of("gaussian_blur", 0.2, sigma=1.0),
                Step.of("random_erasing", 0.25, max_area=0.15),
            ),
            "medium",
        ),
        "heavy": Recipe(
            (
                Step.of("hflip", 0.5),
                Step.of("random_resized_crop", 0.8, min_area=0.35),
                Step.of("rotate", 0.6, degrees=30.0),
                Step.of("shear", 0.3, degrees=10.0),
                Step.of("perspective", 0.3, distortion=0.2),
                Step.of("brightness", 0.6, strength=0.3),
                Step.of("contrast", 0.6, strength=0.3),
                Step.of("saturation", 0.6, strength=0.4),
                Step.of("hue", 0.3, shift=0.05),
                Step.of("gamma", 0.3, amount=0.3),
                Step.of("gaussian_blur", 0.3, sigma=1.5),
                Step.of("gaussian_noise", 0.3, sigma=10.0),
                Step.of("grayscale", 0.1),
                Step.of("random_erasing", 0.4, max_area=0.25),
                Step.of("mixup", 0.3, alpha=0.2),
                Step.of("cutmix", 0.3, alpha=1.0),
            ),
            "heavy",
        ),
        # FixMatch's strong view (Sohn et al., 2020): a flip, one strong operation (TrivialAugment), cutout
        # (DeVries & Taylor, 2017: a grey patch of up to a quarter of the image, every time).
        "strong": Recipe(
            (
                Step.of("hflip", 0.5),
                trivial_augment(),
                Step.of("random_erasing", 1.0, min_area=0.02, max_area=0.25, fill="gray"),
            ),
            "strong",
        ),
        # Cells and tissue have no up, down, left or right: any rotation and both flips are safe.
        "microscopy": Recipe(
            (
                Step.of("hflip", 0.5),
                Step.of("vflip", 0.5),
                Step.of("rotate90", 0.75),
                Step.of("rotate", 0.5, degrees=180.0, border="reflect"),
                Step.of("brightness", 0.5, strength=0.15),
                Step.of("contrast", 0.5, strength=0.15),
                Step.of("hue", 0.3, shift=0.02),
                Step.of("gaussian_blur", 0.2, sigma=1.0),
                Step.of("gaussian_noise", 0.2, sigma=6.0),
            ),
            "microscopy",
        ),
        # Text has a reading direction: no flips, small tilts only, paper-white edges, scanner-like noise.
        "documents": Recipe(
            (
                Step.of("rotate", 0.5, degrees=3.0, border="replicate"),
                Step.of("perspective", 0.3, distortion=0.08, border="replicate"),
                Step.of("scale", 0.4, amount=0.1, border="replicate"),
                Step.of("brightness", 0.5, strength=0.2),
                Step.of("contrast", 0.5, strength=0.3),
                Step.of("gaussian_blur", 0.3, sigma=0.8),
                Step.of("gaussian_noise", 0.3, sigma=8.0),
                Step.of("grayscale", 0.3),
            ),
            "documents",
        ),
    }


def _text_presets() -> dict[str, Recipe]:
    # EDA (Wei & Zou 2019) found alpha = 0.1 a good rate for each of its four operations on small datasets.
    eda = (
        Step.of("synonym_replacement", 0.5, rate=0.1),
        Step.of("random_insertion", 0.5, rate=0.1),
        Step.of("random_swap", 0.5, rate=0.1),
        Step.of("random_deletion", 0.5, rate=0.1),
    )
    return {
        "none": Recipe((), "none", "text"),
        "eda_light": Recipe(eda, "eda_light", "text"),
        "eda_mixup": Recipe((*eda, Step.of("embedding_mixup", 0.3, alpha=0.2)), "eda_mixup", "text"),
        # Texts typed in a hurry (support tickets, field notes): slips of the keyboard, words left intact.
        "typos": Recipe((Step.of("keyboard_typos", 0.8, rate=0.03),), "typos", "text"),
        "eda_typos": Recipe((*eda, Step.of("keyboard_typos", 0.5, rate=0.02)), "eda_typos", "text"),
    }


#: The image presets, by name.
PRESETS: dict[str, Recipe] = _presets()
#: The text presets, by name.
TEXT_PRESETS: dict[str, Recipe] = _text_presets()
_BY_KIND = {"images": PRESETS, "text": TEXT_PRESETS}
_DEFAULTS = {"images": DEFAULT_PRESET, "text": DEFAULT_TEXT_PRESET}


def presets(kind: str = "images") -> dict[str, Recipe]:
    """The presets for recipes of ``kind`` (``"images"`` or ``"text"``), by name."""
    return _BY_KIND[kind]


def preset(name: str, kind: str = "images") -> Recipe:
    """The preset of ``kind`` called ``name`` (see :data:`PRESETS`, :data:`TEXT_PRESETS`); raises ``KeyError``."""
    found = presets(kind)
    try:
        return found[name]
    except KeyError:
        raise KeyError(f"no {kind} preset {name!r}; presets are {', '.join(found)}") from None


def default_recipe(kind: str = "images") -> Recipe:
    """The recipe a run of a project of ``kind`` uses when it names none."""
    return preset(_DEFAULTS[kind], kind)


def resolve_recipe(data: dict | None, kind: str = "images") -> Recipe:
    """The recipe a training configuration names: its dict, or the default preset of ``kind`` when ``None``.

    Raises :class:`RecipeError` for a bad dict, or one whose kind is not ``kind``.
    """
    if data is None:
        return default_recipe(kind)
    recipe = Recipe.from_dict(data)
    if recipe.kind != kind:
        what = {"images": "an image", "text": "a text"}
        raise RecipeError(f"{what[recipe.kind]} recipe cannot augment {what[kind]} project")
    return named_for_its_steps(recipe)


#: What a preset's name gains once its steps are changed.
EDITED = " (edited)"


def named_for_its_steps(recipe: Recipe) -> Recipe:
    """``recipe`` under a name that does not claim a preset's steps it lacks: a preset's name on other steps gains
    :data:`EDITED` (``"strong (edited)"``), and an edited preset's name back on that preset's own steps loses it;
    any other name is kept. The window's editor and every run name recipes so, so the run history never calls two
    recipes by one preset's name, and the window and the command line key a recipe's cached views alike."""
    base = recipe.name.removesuffix(EDITED)
    original = presets(recipe.kind).get(base)
    if original is None:
        return recipe
    name = base if original.steps == recipe.steps else base + EDITED
    return recipe if name == recipe.name else recipe.renamed(name)


def without_wordnet(recipe: Recipe) -> tuple[Recipe, int]:
    """``recipe`` without its steps that read WordNet (:data:`~dmtl_studio.core.augment.text_ops.WORDNET_OPERATIONS`),
    options of a ``one_of`` step included (a ``one_of`` left with none goes too), for a machine without WordNet;
    and how many steps and options were left out."""
    left_out = 0

    def keep(step: Step) -> Step | None:
        nonlocal left_out
        if step.operation in WORDNET_OPERATIONS:
            left_out += 1
            return None
        if not step.options:
            return step
        options = tuple(kept for kept in (keep(option) for option in step.options) if kept is not None)
        return dataclasses.replace(step, options=options) if options else None

    steps = tuple(kept for kept in (keep(step) for step in recipe.steps) if kept is not None)
    return dataclasses.replace(recipe, steps=steps), left_out
