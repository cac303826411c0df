"""A compiled text recipe: the one apply path for texts, used by the training data and the editor's preview alike.

Made by :meth:`dmtl_studio.core.augment.recipe.Recipe.compile` for a recipe of kind ``"text"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dmtl_studio.core.augment.registry import BatchMixer, MixSample, TextTransform
from dmtl_studio.core.augment.text_tokens import TextChange, Tokens


@dataclass(frozen=True)
class AugmentedText:
    """An augmented text and its changes (character offsets in ``text``; see :class:`TextChange`)."""

    text: str
    changes: tuple[TextChange, ...]


@dataclass(frozen=True)
class CompiledTextRecipe:
    """A text recipe's enabled steps with their transforms, and its mixing steps.

    Calling it augments one text: ``compiled(text, rng) -> str``. The mixing steps act on sentence embeddings, not
    on the text: the training draws a weight with :meth:`draw_mix` per batch and mixes the batch's embeddings
    and labels with it (``z = lam·e_i + (1 − lam)·e_neighbour``), as it mixes image features.
    """

    text_steps: tuple[tuple[float, TextTransform], ...]
    mixers: tuple[tuple[float, BatchMixer], ...]

    kind = "text"

    def __call__(self, text: str, rng: np.random.Generator) -> str:
        """``text`` as the model sees it in training, for this draw of ``rng``.

        Each step draws one number to decide whether it fires (its probability), whatever the outcome, so every
        draw is reproducible from the seed. Punctuation, spacing and line breaks are kept; only words change.
        """
        tokens: Tokens | None = None
        for probability, transform in self.text_steps:
            if rng.random() < probability:
                if tokens is None:
                    tokens = Tokens(text)
                transform(tokens, rng)
        return text if tokens is None else tokens.render()

    augment = __call__

    def preview(self, text: str, rng: np.random.Generator) -> AugmentedText:
        """The same augmentation as calling the recipe (same draws, same text), with the changes marked."""
        tokens = Tokens(text)
        for probability, transform in self.text_steps:
            if rng.random() < probability:
                transform(tokens, rng)
        return AugmentedText(*tokens.render_changes())

    def draw_mix(self, rng: np.random.Generator, height: int = 0, width: int = 0) -> MixSample | None:
        """At most one mixing draw for a batch: the first mixer that fires, in order (``box`` is always ``None``).

        Every mixer draws whether it fires, so the draws do not depend on which one did. ``height`` and
        ``width`` are unused (the signature is the image recipe's, so the training mixes either kind alike).
        """
        chosen: MixSample | None = None
        for probability, mixer in self.mixers:
            fires = rng.random() < probability
            if fires and chosen is None:
                chosen = mixer.sample(rng, height, width)
        return chosen
