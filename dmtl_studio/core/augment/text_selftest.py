"""The installation's check of text augmentation: WordNet is found and read, and the EDA preset runs."""

from __future__ import annotations

import numpy as np

from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.augment.registry import RecipeError
from dmtl_studio.core.augment.wordnet import find_wordnet, synonyms, wordnet_available

_SENTENCE = "The technician quickly repaired the broken pump before the morning shift."


def check_text_augmentation() -> str:
    """One line on what was found; raises :class:`RecipeError` (with what to install) when WordNet is missing
    or a text preset does not change a sentence."""
    problem = wordnet_available()
    if problem is not None:
        raise RecipeError(problem)
    found = synonyms("quickly")
    if "rapidly" not in found:
        raise RecipeError(f"WordNet in {find_wordnet()} gives unexpected synonyms of 'quickly': {found}")
    compiled = preset("eda_typos", "text").compile()
    changed = sum(compiled(_SENTENCE, np.random.default_rng(seed)) != _SENTENCE for seed in range(20))
    if changed < 10:
        raise RecipeError(f"the text preset 'eda_typos' changed only {changed} of 20 sentences")
    return (
        f"WordNet in {find_wordnet()} ({len(found)} synonyms of 'quickly'); 'eda_typos' changed {changed}/20"
    )
