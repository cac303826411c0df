"""The frozen backbone's linear head fitted as a linear probe, in place of epochs of AdamW.

With a frozen backbone the head is a logistic regression on fixed features; fitting it to convergence with a
chosen L2 strength (:func:`~dmtl_studio.core.training.linear_probe.fit_linear_probe`) is the standard strong
baseline of transfer learning and costs seconds once the features exist. The rows are every cached augmented view
of each training image (its views share a cross-validation fold); the standardisation is folded into the head's
linear layer, so checkpoints, exports and ``predict`` carry it without a new operator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dmtl_studio.core.base.cancel import ShouldStop
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.linear_probe import fit_linear_probe
from dmtl_studio.core.training.probe_model import LinearProbe, to_module
from dmtl_studio.core.training.setup import RunParts

#: ``on_c(done, total, c, score)`` after each strength of the grid has been cross-validated.
ProbeProgress = Callable[[int, int, float, float], None]


def uses_linear_probe(config: TrainConfig) -> bool:
    """Whether a run fits its head as a linear probe: asked for, frozen backbone, linear head, and no unlabelled
    images to learn from (the probe has no unlabelled loss: such DMTL runs keep their epochs). On labelled images
    alone the probe stands in for the consistency term: it fits the clean and the augmented views of each image
    to the same label, and its L2 strength is chosen by cross-validation."""
    return (
        config.linear_probe
        and config.transfer == "frozen"
        and config.head == "linear"
        and not (config.consistency_weight > 0 and config.use_unlabelled)
    )


def fit_probe_head(
    parts: RunParts, should_stop: ShouldStop, on_c: ProbeProgress | None = None
) -> tuple[float, float, LinearProbe]:
    """Fit the head of ``parts`` (frozen backbone, cached features) as a linear probe and load it into the model.

    Returns
    -------
    tuple
        The training rows' mean cross-entropy (nats) and accuracy with the fitted head, and the probe itself
        (its chosen ``c`` and per-C cross-validation scores).

    Raises
    ------
    Cancelled
        ``should_stop`` became true during the feature pass or the fit.
    """
    assert parts.cache is not None, "a linear probe needs the frozen backbone's feature cache"
    data = parts.cache.train()  # features (V, N, F), targets (N,)
    views, count, width = data.features.shape
    rows = [data.features.reshape(views * count, width)]
    if data.clean is not None:  # cached for the consistency term: the clean view joins as one more row
        rows.append(data.clean)
    features = torch.cat(rows).float().cpu().numpy()
    repeats = len(features) // count  # rows per image
    targets = np.tile(data.targets.cpu().numpy().astype(np.int64), repeats)
    config = parts.config
    probe = fit_linear_probe(
        features,
        targets,
        num_classes=parts.num_classes,
        groups=np.tile(np.arange(count), repeats),  # an image's views never straddle a fold
        class_weight="balanced" if config.imbalance != "none" else None,
        seed=config.seed,
        should_stop=should_stop,
        on_progress=on_c,
    )
    layer = to_module(probe)
    head_linear = next(m for m in parts.model.head.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        head_linear.weight.copy_(layer.weight.to(head_linear.weight.device))
        head_linear.bias.copy_(layer.bias.to(head_linear.bias.device))
    parts.model.head.eval()
    with torch.no_grad():
        logits = parts.model.head(torch.from_numpy(features).to(parts.device))
        truth = torch.from_numpy(targets).to(parts.device)
        loss = float(nn.functional.cross_entropy(logits.float(), truth).item())
        accuracy = float((logits.argmax(1) == truth).float().mean().item())
    return loss, accuracy, probe
