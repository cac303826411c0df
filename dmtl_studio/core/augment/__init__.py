"""Augmentation: the operation registry, recipes, presets and preview, with numpy and OpenCV only.

Nothing here imports torch, so the window can edit and preview recipes; batch mixing for training lives in
:mod:`dmtl_studio.core.training.mixing`.
"""

from __future__ import annotations

from dmtl_studio.core.augment.presets import DEFAULT_PRESET, PRESETS, preset, resolve_recipe
from dmtl_studio.core.augment.recipe import (
    SCHEMA_VERSION,
    CompiledRecipe,
    Recipe,
    Step,
    image_seed,
    load_recipe,
    mix_pair,
    save_recipe,
)
from dmtl_studio.core.augment.registry import (
    FAMILIES,
    MixSample,
    Operation,
    ParamSpec,
    RecipeError,
    get_operation,
    operations,
)
from dmtl_studio.core.augment.resize import resize_square

__all__ = [
    "DEFAULT_PRESET",
    "FAMILIES",
    "PRESETS",
    "SCHEMA_VERSION",
    "CompiledRecipe",
    "MixSample",
    "Operation",
    "ParamSpec",
    "Recipe",
    "RecipeError",
    "Step",
    "get_operation",
    "image_seed",
    "load_recipe",
    "mix_pair",
    "operations",
    "preset",
    "resize_square",
    "resolve_recipe",
    "save_recipe",
]
