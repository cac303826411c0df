"""What the recipe editor shows for a text recipe: augmented versions of one text with their changes marked.

Uses exactly the training path (:meth:`CompiledTextRecipe.preview` gives the text ``compiled(text, rng)`` gives,
and :meth:`CompiledTextRecipe.draw_mix` the mixing weight).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dmtl_studio.core.augment.presets import without_wordnet
from dmtl_studio.core.augment.preview import UNLABELLED_NOT_MIXED, mixing_partners
from dmtl_studio.core.augment.recipe import Recipe
from dmtl_studio.core.augment.registry import RecipeError
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.augment.text_tokens import TextChange
from dmtl_studio.core.augment.wordnet import WordNetMissing

#: Longer texts are previewed on their first characters (the preview is for reading, not for training).
PREVIEW_CHARACTERS = 2000


@dataclass(frozen=True)
class TextSample:
    """One augmented version of the text: its changes, and the label weights when its embedding is mixed.

    ``weights`` is e.g. ``(("billing", 0.8), ("outage", 0.2))`` for a sample mixed (on embeddings) with a text
    labelled ``outage``; ``(("billing", 1.0),)`` otherwise. A mixed sample's text is the word-level augmentation
    alone; its :attr:`caption` says the embedding is mixed in training, with the label weights.
    """

    text: str
    changes: tuple[TextChange, ...]
    weights: tuple[tuple[str, float], ...]
    mixed: bool = False

    @property
    def caption(self) -> str:
        if not self.mixed:
            return ""
        # Nothing in the text shows the mixing: it acts on the sentence embedding, in training only. Shares as
        # percentages, a sliver as "<1%" ("0.00 your text + 1.00 outage" read as another text, h25).
        shares = " + ".join(f"{_share(weight)} {label}" for label, weight in self.weights)
        return f"embedding mixed in training: {shares}"


def _share(weight: float) -> str:
    if 0 < weight <= 0.005:
        return "<1%"
    if 0.995 <= weight < 1:
        return ">99%"
    return f"{weight:.0%}"


@dataclass(frozen=True)
class TextPreviewRequest:
    """What the editor wants to see: a text recipe on one of the given texts (the others are mixing partners)."""

    request_id: int
    recipe: Recipe
    items: tuple[tuple[str, str | None], ...]  # (text, label or None)
    current: int = 0
    seed: int = 0
    count: int = 6
    asked_at: float = 0.0  # time.perf_counter() when the user changed something


@dataclass(frozen=True)
class TextPreviewResult:
    """The original text and its augmented samples, for one request."""

    request_id: int
    original: str
    label: str | None
    samples: tuple[TextSample, ...]
    asked_at: float = 0.0
    compute_ms: float = 0.0
    #: Why some steps are not in the samples (WordNet missing: its steps are left out, as a run leaves them out).
    note: str = ""


def text_samples(
    compiled: CompiledTextRecipe,
    text: str,
    label: str | None,
    partner_labels: tuple[str | None, ...] = (),
    count: int = 6,
    seed: int = 0,
) -> list[TextSample]:
    """``count`` augmented versions of ``text``; sample ``k`` uses the generator seeded ``(seed, k)``.

    A sample whose mixing step fires is mixed with the next labelled one of ``partner_labels`` (or with itself);
    an unlabelled text (``label`` None) never is, as training mixes labelled texts only.
    """
    samples = []
    partner_labels = tuple(other for other in partner_labels if other is not None)
    for k in range(count):
        rng = np.random.default_rng((seed, k))
        shown = compiled.preview(text, rng)
        sample = compiled.draw_mix(rng)
        if sample is None or label is None:
            samples.append(
                TextSample(shown.text, shown.changes, ((label, 1.0),) if label is not None else ())
            )
            continue
        other = partner_labels[k % len(partner_labels)] if partner_labels else label
        weights: dict[str, float] = {}
        for name, weight in ((label, sample.lam), (other, 1.0 - sample.lam)):
            weights[name] = weights.get(name, 0.0) + weight
        samples.append(TextSample(shown.text, shown.changes, tuple(weights.items()), mixed=True))
    return samples


def render_text_preview(request: TextPreviewRequest) -> TextPreviewResult:
    """Compute a text preview. Without WordNet the recipe's synonym steps are left out (as a run leaves them out)
    and :attr:`TextPreviewResult.note` says so; raises :class:`RecipeError` for a recipe that cannot be compiled
    (an image recipe, or only synonym steps without WordNet)."""
    started = time.perf_counter()
    note = ""
    try:
        compiled = request.recipe.compile()
    except WordNetMissing as exc:  # preview what a run would do: the other steps
        recipe, left_out = without_wordnet(request.recipe)
        if not any(step.enabled for step in recipe.steps):
            raise
        compiled = recipe.compile()
        note = f"{left_out} synonym step(s) left out here and in training: {exc}"
    if not isinstance(compiled, CompiledTextRecipe):
        raise RecipeError("an image recipe cannot be previewed on texts")
    text, label = request.items[request.current]
    text = text[:PREVIEW_CHARACTERS]
    partners = tuple(request.items[i][1] for i in mixing_partners(request.items, request.current))
    samples = text_samples(compiled, text, label, partners, request.count, request.seed)
    if label is None and compiled.mixers:
        note = "; ".join(filter(None, (note, UNLABELLED_NOT_MIXED.format(item="text"))))
    return TextPreviewResult(
        request.request_id,
        text,
        label,
        tuple(samples),
        request.asked_at,
        (time.perf_counter() - started) * 1000.0,
        note,
    )
