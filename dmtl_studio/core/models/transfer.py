"""The three transfer strategies: which parameters learn, at what learning rate, and in which mode.

- ``frozen`` (feature extraction): the backbone is fixed and in eval mode; only the new head learns.
- ``partial`` (parameter transfer): the last ``unfreeze_stages`` stages of the backbone learn too; the earlier
  stages stay fixed, and their BatchNorm layers keep their ImageNet statistics (eval mode).
- ``full``: every parameter learns.

In ``partial`` and ``full`` the backbone learns at ``learning_rate * backbone_lr_factor`` (discriminative learning
rates) and the head at ``learning_rate``.

A *stage* is a group of consecutive layers as the architecture defines it (timm's coarse parameter groups,
or the torchvision network's own blocks), ordered from the input to the output.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from dmtl_studio.core.models.architectures import parameter_stages
from dmtl_studio.core.models.classifier import Classifier


class TransferSettings(Protocol):
    transfer: str
    unfreeze_stages: int
    learning_rate: float
    backbone_lr_factor: float


def trainable_stage_names(backbone: nn.Module, settings: TransferSettings) -> list[str]:
    """The backbone parameters a strategy lets learn."""
    stages = parameter_stages(backbone)
    if settings.transfer == "frozen":
        return []
    if settings.transfer == "full":
        return [name for stage in stages for name in stage]
    if settings.transfer == "partial":
        count = max(0, min(settings.unfreeze_stages, len(stages)))
        return [name for stage in stages[len(stages) - count :] for name in stage]
    raise ValueError(f"unknown transfer strategy {settings.transfer!r}")


def configure_transfer(model: Classifier, settings: TransferSettings) -> list[dict]:
    """Freeze and unfreeze per the strategy, and return the optimizer's parameter groups."""
    trainable = set(trainable_stage_names(model.backbone, settings))
    backbone_params = []
    for name, parameter in model.backbone.named_parameters():
        learn = name in trainable
        parameter.requires_grad_(learn)
        if learn:
            backbone_params.append(parameter)
    head = list(model.head.parameters())
    for parameter in head:
        parameter.requires_grad_(True)
    groups = [{"params": head, "lr": settings.learning_rate, "name": "head"}]
    if backbone_params:
        groups.insert(
            0,
            {
                "params": backbone_params,
                "lr": settings.learning_rate * settings.backbone_lr_factor,
                "name": "backbone",
            },
        )
    return groups


def _fully_frozen(module: nn.Module) -> bool:
    parameters = list(module.parameters())
    return bool(parameters) and not any(p.requires_grad for p in parameters)


def set_train_mode(model: Classifier) -> None:
    """Training mode for what learns; eval mode for every fixed part of the backbone.

    A fixed block in training mode would still update its BatchNorm running statistics and apply dropout or
    stochastic depth, so the "fixed" features would drift. Call after :func:`configure_transfer`.
    """
    model.train()
    if _fully_frozen(model.backbone):
        model.backbone.eval()
        return
    for module in model.backbone.modules():
        fixed_norm = (
            isinstance(module, nn.modules.batchnorm._BatchNorm)
            and module.weight is not None
            and not module.weight.requires_grad
        )
        if fixed_norm or (module is not model.backbone and _fully_frozen(module)):
            module.eval()


def forward(model: Classifier, images: torch.Tensor, settings: TransferSettings) -> torch.Tensor:
    """Logits for a batch of images; a frozen backbone runs without building a graph."""
    if settings.transfer == "frozen":
        with torch.no_grad():
            features = model.features(images)
        return model.head(features)
    return model(images)


def trainable_summary(model: Classifier) -> dict[str, int]:
    """How many parameters learn in the backbone and in the head (shown in logs and the CLI)."""
    return {
        "backbone": sum(p.numel() for p in model.backbone.parameters() if p.requires_grad),
        "head": sum(p.numel() for p in model.head.parameters() if p.requires_grad),
    }
