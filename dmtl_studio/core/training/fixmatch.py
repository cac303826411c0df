"""FixMatch's unlabelled term for a fine-tuned model, with ReMixMatch's distribution alignment.

FixMatch (Sohn et al., 2020, "FixMatch: Simplifying Semi-Supervised Learning with Consistency and Confidence")
predicts each unlabelled image on a *weak* view (a flip and a small shift), takes the most probable class as a
hard pseudo-label where that prediction is at least ``threshold`` confident (0.95), and trains cross-entropy
towards it on a *strong* view of the same image (RandAugment and cutout; here the ``strong`` preset, one
TrivialAugment operation and cutout). The weak prediction is a target: no gradient flows through it. The loss is
averaged over the whole unlabelled batch, kept or not, as in the paper, so few confident images weigh little.

Class balance: a pseudo-labelled batch drifts towards the classes the model already favours, and a class with few
labels is swamped. Distribution alignment (Berthelot et al., 2020, "ReMixMatch", section 3.2) scales each weak
prediction by ``prior / mean prediction`` and renormalises before the threshold, so the pseudo-labels' class
shares move towards the labelled ones. ReMixMatch keeps the mean prediction over the last 128 batches; here it is
the current unlabelled batch's (``unlabelled_ratio`` times the labelled batch, 48 images at the recommended
settings), so the rule holds no state across steps and a resumed run repeats an uninterrupted one.

Views: neither view flips an image that the run's own recipe would not flip (a document stays readable).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.nn import functional

from dmtl_studio.core.augment.image_recipe import CompiledRecipe
from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.models.preprocess import to_tensor
from dmtl_studio.core.training.data import ImageDataset

#: The weak view's largest shift, a fraction of the side (FixMatch: 12.5 %).
WEAK_SHIFT = 0.125
#: Keeps an empty class's share of the mean prediction from dividing by zero.
_EPSILON = 1e-6


def view_recipes(recipe: Recipe) -> tuple[Recipe, Recipe]:
    """FixMatch's weak and strong views for a run whose recipe is ``recipe``.

    Weak: a horizontal flip (half the images) and a shift of up to :data:`WEAK_SHIFT` of the side, reflected at
    the edges. Strong: the ``strong`` preset. Each flips only where ``recipe`` has an enabled horizontal flip.
    """
    flips = recipe.mirrors
    flip = (Step.of("hflip", 0.5),) if flips else ()
    weak = Recipe((*flip, Step.of("translate", 1.0, fraction=WEAK_SHIFT)), "weak")
    strong = preset("strong")
    if not flips:
        strong = Recipe(tuple(s for s in strong.steps if s.operation != "hflip"), strong.name)
    return weak, strong


@lru_cache(maxsize=8)
def _compiled(recipe: Recipe) -> tuple[CompiledRecipe, CompiledRecipe]:
    weak, strong = view_recipes(recipe)
    return weak.compile(), strong.compile()  # type: ignore[return-value]


def unlabelled_views(
    dataset: ImageDataset, recipe: Recipe, indices: list[int], epoch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weak and the strong views ``(U, 3, H, W)`` of the unlabelled images ``indices`` of ``dataset``.

    Each view's draw comes from a generator seeded by (dataset seed, epoch, index, view), so a resumed run, or
    one with more loader workers, sees the same views.
    """
    weak_recipe, strong_recipe = _compiled(recipe)
    weak, strong = [], []
    for index in indices:
        image = dataset.resized(index)
        for views, compiled, view in ((weak, weak_recipe, 1), (strong, strong_recipe, 2)):
            rng = np.random.default_rng((dataset.seed, epoch, index, view))
            views.append(to_tensor(compiled.augment(image, rng), dataset.preprocessing))
    return torch.stack(weak), torch.stack(strong)


def class_prior(targets: list[int], num_classes: int, uniform: bool = False) -> torch.Tensor:
    """The class shares ``(C,)`` pseudo-labels are aligned to: the labelled images' (``uniform``: equal)."""
    if uniform or not targets:
        return torch.full((num_classes,), 1.0 / num_classes)
    counts = torch.bincount(torch.tensor(targets), minlength=num_classes).float()
    return counts / counts.sum()


def align_distribution(probabilities: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """ReMixMatch's distribution alignment of a batch of predictions ``(N, C)`` to the class shares ``prior``.

    Each row is multiplied by ``prior / mean row`` and renormalised; a batch whose mean prediction already is
    ``prior`` is left as it is.
    """
    mean = probabilities.mean(dim=0).clamp_min(_EPSILON)
    aligned = probabilities * (prior.to(probabilities) / mean)
    return aligned / aligned.sum(dim=1, keepdim=True)


def pseudo_labels(
    weak_logits: torch.Tensor, threshold: float, prior: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hard pseudo-labels ``(N,)`` and the mask ``(N,)`` of those at least ``threshold`` confident.

    ``weak_logits`` are detached; with ``prior`` the predictions are aligned first (:func:`align_distribution`).
    """
    probabilities = functional.softmax(weak_logits.detach().float(), dim=1)
    if prior is not None and len(probabilities):
        probabilities = align_distribution(probabilities, prior)
    confidence, labels = probabilities.max(dim=1)
    return labels, confidence >= threshold


def fixmatch_loss(
    weak_logits: torch.Tensor,
    strong_logits: torch.Tensor,
    threshold: float = 0.95,
    prior: torch.Tensor | None = None,
) -> tuple[torch.Tensor, float]:
    """FixMatch's unlabelled loss and the fraction of images that kept a pseudo-label.

    Parameters
    ----------
    weak_logits
        ``(N, C)`` logits of the weak views; targets only (detached here).
    strong_logits
        ``(N, C)`` logits of the strong views of the same images; the gradient flows through these.
    threshold
        The confidence a pseudo-label needs (FixMatch's tau).
    prior
        ``(C,)`` class shares to align the weak predictions to (ReMixMatch); ``None`` aligns nothing.

    Returns
    -------
    tuple
        The cross-entropy summed over the kept images and divided by ``N`` (a zero that still carries a
        gradient when none is kept), and the kept fraction.

    Raises
    ------
    ValueError
        The two logits' shapes differ.
    """
    if weak_logits.shape != strong_logits.shape:
        raise ValueError(f"logit shapes differ: {tuple(weak_logits.shape)} vs {tuple(strong_logits.shape)}")
    if len(weak_logits) == 0:
        return strong_logits.sum() * 0.0, 0.0
    labels, mask = pseudo_labels(weak_logits, threshold, prior)
    per_image = functional.cross_entropy(strong_logits.float(), labels, reduction="none")
    return (per_image * mask.float()).sum() / len(mask), float(mask.float().mean().item())
