"""The learning rate of a new head trained by epochs on a frozen text encoder's unit-length embeddings.

AdamW moves each weight by about its learning rate a step, whatever the gradient's scale, so a logit moves by about
the rate times the sum of the feature's magnitudes. The recommended head rate (3e-3) suits an image backbone's pooled
features, of about unit size per coordinate; a sentence encoder that normalises its embeddings (all-MiniLM-L6-v2,
384 dimensions) gives coordinates of root-mean-square ``1 / sqrt(d)``, and the head barely moved from its start in
10 epochs (fortunes: test loss 2.09 against ln 9 = 2.20). Scaling the head's rate by ``sqrt(d)`` puts the embedding's
coordinates on the image features' footing: measured in docs/text.md (*The head trained by epochs*), it lifts the
frozen linear head trained by epochs to the linear probe's accuracy. Encoders that do not normalise keep the rate as
set, as do MLP heads, the probe (fitted to convergence, no rate) and fine-tuning runs (their rates were measured as
they are).
"""

from __future__ import annotations

import math


def scale_head_rate(
    groups: list[dict], width: int, normalized: bool, transfer: str, head: str = "linear"
) -> float:
    """Multiply the learning rate of the head's parameter groups (named ``head``…) by ``sqrt(width)`` for a frozen
    encoder whose embeddings are unit-length (``normalized``) and a linear head; return the factor (1.0 when
    nothing changed).

    ``groups`` are :func:`~dmtl_studio.core.models.transfer.configure_transfer`'s, changed in place; ``width`` is
    the embedding's length ``d``. An MLP head keeps its rate: its second layer reads its hidden units, not the
    embedding, and the scaled rate measured worse for it (docs/text.md).
    """
    if transfer != "frozen" or head != "linear" or not normalized or width < 2:
        return 1.0
    factor = math.sqrt(width)
    for group in groups:
        if str(group.get("name", "")).startswith("head"):
            group["lr"] *= factor
    return factor


def head_rate_notice(factor: float, rate: float) -> str:
    """The run's note on the scaled head rate (``factor`` from :func:`scale_head_rate`, ``rate`` as set)."""
    return (
        f"the head's learning rate is scaled by {factor:.1f} (the square root of the embedding's width) for the "
        f"encoder's unit-length embeddings: {rate:g} as set, {rate * factor:.3g} in the optimizer"
    )


def resumed_rate_notice(kept: float, built: float) -> str:
    """A resumed run's note when it goes on at the head rate it started with (``kept``), not the one a run started
    now takes (``built``: a run started before the head's rate was scaled)."""
    return (
        f"this run goes on at the head's learning rate it started with, {kept:.3g} (a run started now takes "
        f"{built:.3g}; a note above on the scaled rate is for such runs)"
    )
