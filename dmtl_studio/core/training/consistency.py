"""The consistency half of the DMTL objective: predict the same for an image and its augmented version.

The full objective is ``L(f(T(x)), y) + lambda * KL(p(x) || p(T(x)))``: a supervised loss on augmented labelled
views plus a consistency term that needs no label, so unlabelled images can teach the model too. The target
``p(x)`` is the prediction on the clean view, held fixed (no gradient flows through it), optionally sharpened by a
temperature below 1 and kept only where it is confident enough (``threshold``).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional


def consistency_loss(
    clean_logits: torch.Tensor,
    augmented_logits: torch.Tensor,
    temperature: float = 1.0,
    threshold: float = 0.0,
) -> tuple[torch.Tensor, float]:
    """KL divergence from the fixed clean-view prediction to the augmented-view prediction.

    Parameters
    ----------
    clean_logits
        ``(N, C)`` logits of the clean (or weakly augmented) views; detached here, so they act as a target.
    augmented_logits
        ``(N, C)`` logits of the augmented views of the same images; the gradient flows through these.
    temperature
        The target is ``softmax(clean_logits / temperature)``: below 1 sharpens it, 1 leaves it as predicted.
    threshold
        Samples whose target's largest probability is below this are left out (0 keeps all).

    Returns
    -------
    tuple
        The loss (mean over the kept samples; a zero that still carries a gradient when none is kept) and the
        fraction of samples kept.
    """
    if clean_logits.shape != augmented_logits.shape:
        raise ValueError(
            f"logit shapes differ: {tuple(clean_logits.shape)} vs {tuple(augmented_logits.shape)}"
        )
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    if len(clean_logits) == 0:
        return augmented_logits.sum() * 0.0, 0.0
    target = functional.softmax(clean_logits.detach().float() / temperature, dim=1)
    log_prediction = functional.log_softmax(augmented_logits.float(), dim=1)
    # KL(target || prediction) per sample; xlogy makes 0 * log 0 = 0 for a fully sharpened target.
    per_sample = (torch.special.xlogy(target, target) - target * log_prediction).sum(dim=1)
    mask = (target.max(dim=1).values >= threshold).float()
    kept = float(mask.sum().item())
    if kept == 0:
        return augmented_logits.sum() * 0.0, 0.0
    return (per_sample * mask).sum() / kept, kept / len(mask)


def rampup_factor(progress: float, rampup: float) -> float:
    """The weight of the consistency term at ``progress`` (0..1 of the run): 1 after the ramp-up.

    A sigmoid-shaped ramp ``exp(-5 (1 - t)^2)`` over the first ``rampup`` fraction of the run, a function of
    progress (like the learning-rate schedule) so a resumed run or a changed batch size keeps it.
    """
    if rampup <= 0:
        return 1.0
    t = min(max(progress / rampup, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)
