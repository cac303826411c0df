"""Mixing of training batches (mixup, cutmix) with soft labels, for the training engine.

The weights and boxes are drawn by :meth:`CompiledRecipe.draw_mix`, the same code the editor's preview uses;
this module only applies them to tensors. Each sample is mixed with its neighbour in the batch
(``batch.roll(1)``), and its one-hot label with the neighbour's by the same weight.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from dmtl_studio.core.augment.recipe import CompiledRecipe


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
        ``(N, C, H, W)`` float batch.
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
    one_hot = functional.one_hot(targets, num_classes).to(images.dtype)
    if sample.box is None:
        # lerp(partner, own, lam) = lam * own + (1 - lam) * partner, in one pass over the rolled copy.
        mixed = torch.lerp(images.roll(1, 0), images, sample.lam)
    else:
        top, bottom, left, right = sample.box
        mixed = images.clone()
        # Only the pasted box of the neighbours is needed, not a rolled copy of the whole batch.
        mixed[..., top:bottom, left:right] = images[..., top:bottom, left:right].roll(1, 0)
    soft = torch.lerp(one_hot.roll(1, 0), one_hot, sample.lam)
    return mixed, soft


def soft_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy against label distributions (rows summing to 1)."""
    return -(soft_targets * functional.log_softmax(logits, dim=1)).sum(dim=1).mean()
