"""Mixing of training batches (mixup, cutmix) with soft labels, for the training engine.

The weights and boxes are drawn by a compiled recipe's ``draw_mix``, the same code the editor's preview uses;
this module only applies them to tensors. Each sample is mixed with its neighbour in the batch
(``batch.roll(1)``), and its one-hot label with the neighbour's by the same weight.

Images ``(N, C, H, W)`` are blended or get a box pasted (:func:`apply_mix`). Vectors ``(N, F)`` — a frozen
backbone's cached features, or a text encoder's sentence embeddings between the encoder and the head — are
blended (:func:`mix_vectors`): a cutmix draw then blends them by its visible fraction, which is mixup in feature
space (Verma et al. 2019, "Manifold Mixup"; for sentence embeddings Guo et al. 2019, "Augmenting Data with Mixup
for Sentence Classification").
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from dmtl_studio.core.augment.recipe import CompiledRecipe
from dmtl_studio.core.augment.registry import MixSample


def mix_vectors(
    vectors: torch.Tensor, targets: torch.Tensor, num_classes: int, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup of vectors: ``z_i = lam·v_i + (1 − lam)·v_{i−1}`` and the labels alike.

    Parameters
    ----------
    vectors
        ``(N, F)`` float features or sentence embeddings.
    targets
        ``(N,)`` class indices.
    num_classes
        Width of the soft labels.
    lam
        The weight of each sample's own vector, in ``[0, 1]``.

    Returns
    -------
    tuple
        The mixed vectors ``(N, F)`` and the soft labels ``(N, num_classes)`` (rows summing to 1).
    """
    one_hot = functional.one_hot(targets, num_classes).to(vectors.dtype)
    mixed = vectors * lam + vectors.roll(1, 0) * (1.0 - lam)
    return mixed, one_hot * lam + one_hot.roll(1, 0) * (1.0 - lam)


def apply_mix(
    images: torch.Tensor, targets: torch.Tensor, num_classes: int, sample: MixSample
) -> tuple[torch.Tensor, torch.Tensor]:
    """A drawn mix applied to a batch of images ``(N, C, H, W)``: blended, or ``sample.box`` pasted from each
    image's neighbour. Returns the mixed images and the soft labels ``(N, num_classes)``."""
    one_hot = functional.one_hot(targets, num_classes).to(images.dtype)
    if sample.box is None:
        # lerp(partner, own, lam) = lam * own + (1 - lam) * partner, in one pass over the rolled copy.
        mixed = torch.lerp(images.roll(1, 0), images, sample.lam)
    else:
        top, bottom, left, right = sample.box
        mixed = images.clone()
        # Only the pasted box of the neighbours is needed, not a rolled copy of the whole batch.
        mixed[..., top:bottom, left:right] = images[..., top:bottom, left:right].roll(1, 0)
    return mixed, torch.lerp(one_hot.roll(1, 0), one_hot, sample.lam)


def mix_batch(
    images: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    recipe: CompiledRecipe,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mix a batch when one of the recipe's mixing steps fires.

    Parameters
    ----------
    images
        ``(N, C, H, W)`` float batch (or ``(N, F)`` vectors with a recipe that only blends).
    targets
        ``(N,)`` class indices.
    num_classes
        Width of the soft labels.
    recipe
        The compiled recipe; only its mixing steps are used.
    rng
        Draws whether a mixer fires and its weight or box.

    Returns
    -------
    tuple
        The (possibly) mixed images and, when mixed, ``(N, num_classes)`` soft labels; ``None`` otherwise.
    """
    if not recipe.mixers or len(images) < 2:
        return images, None
    sample = recipe.draw_mix(rng, images.shape[-2], images.shape[-1])
    if sample is None:
        return images, None
    return apply_mix(images, targets, num_classes, sample)


def soft_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy against label distributions (rows summing to 1)."""
    return -(soft_targets * functional.log_softmax(logits, dim=1)).sum(dim=1).mean()
