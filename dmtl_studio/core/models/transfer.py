"""The three transfer strategies: which parameters learn, at what learning rate, and in which mode.

- ``frozen`` (feature extraction): the backbone is fixed and in eval mode; only the new head learns.
- ``partial`` (parameter transfer): the last ``unfreeze_stages`` stages of the backbone learn too; the earlier
  stages stay fixed, and their BatchNorm layers keep their ImageNet statistics (eval mode).
- ``full``: every parameter learns.

In ``partial`` and ``full`` the head learns at ``learning_rate`` and the backbone's top stage at ``learning_rate *
backbone_lr_factor`` (discriminative learning rates, Howard & Ruder, "Universal Language Model Fine-tuning for Text
Classification", ACL 2018); with ``layer_decay`` below 1 each stage below learns at ``layer_decay`` times the rate
of the stage above it (layer-wise learning-rate decay: Clark et al., "ELECTRA", ICLR 2020; Bao et al., "BEiT",
ICLR 2022; timm's ``param_groups_layer_decay``). With ``decay_norm_and_bias`` false, one-dimensional parameters
(normalisation weights, biases) get no weight decay (timm's ``weight_decay_exclude_1d``; torchvision's reference
recipe's ``--norm-weight-decay 0``).

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
    layer_decay: float
    decay_norm_and_bias: bool


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


def stage_rates(stages: int, settings: TransferSettings) -> list[float]:
    """The learning rate of each of a backbone's ``stages`` stages, input to output, when it learns.

    Stage ``i`` learns at ``learning_rate * backbone_lr_factor * layer_decay ** (stages - 1 - i)``: the top stage
    at the backbone rate, each stage below at ``layer_decay`` times the rate above it, so ``layer_decay`` 1 gives
    every stage the backbone rate.
    """
    rate = settings.learning_rate * settings.backbone_lr_factor
    return [rate * settings.layer_decay ** (stages - 1 - i) for i in range(stages)]


def _with_decay_rule(name: str, parameters: list[nn.Parameter], lr: float, decay_all: bool) -> list[dict]:
    """One group, or (with ``decay_all`` false) the one-dimensional parameters split off without weight decay."""
    if decay_all:
        return [{"params": parameters, "lr": lr, "name": name}]
    flat = [p for p in parameters if p.ndim <= 1]
    shaped = [p for p in parameters if p.ndim > 1]
    groups = [{"params": flat, "lr": lr, "name": f"{name}.no_decay", "weight_decay": 0.0}] if flat else []
    return groups + ([{"params": shaped, "lr": lr, "name": name}] if shaped else [])


def configure_transfer(model: Classifier, settings: TransferSettings) -> list[dict]:
    """Freeze and unfreeze per the strategy, and return the optimizer's parameter groups.

    Parameters
    ----------
    model
        The classifier; its parameters' ``requires_grad`` are set here.
    settings
        The strategy, the rates and the decay rules (a :class:`~dmtl_studio.core.training.config.TrainConfig`).

    Returns
    -------
    list of dict
        AdamW parameter groups (``params``, ``lr``, ``name``, and ``weight_decay`` 0 for the groups that take
        none), the backbone's first, input to output, the head's last (the group named ``"head"`` is the last
        one). With ``layer_decay`` 1 the learning backbone is one group named ``"backbone"``; below 1, one group
        per learning stage, ``"backbone.stage<i>"`` at :func:`stage_rates`. With ``decay_norm_and_bias`` false
        each group's one-dimensional parameters form a group of their own, named with ``".no_decay"``.
    """
    backbone = model.backbone
    trainable = set(trainable_stage_names(backbone, settings))
    named = dict(backbone.named_parameters())
    for name, parameter in named.items():
        parameter.requires_grad_(name in trainable)
    head = list(model.head.parameters())
    for parameter in head:
        parameter.requires_grad_(True)
    parts: list[tuple[str, list[nn.Parameter], float]] = []
    if settings.layer_decay == 1:
        learning = [parameter for name, parameter in named.items() if name in trainable]
        if learning:
            parts.append(("backbone", learning, settings.learning_rate * settings.backbone_lr_factor))
    else:
        stages = parameter_stages(backbone)
        for index, (stage, rate) in enumerate(zip(stages, stage_rates(len(stages), settings), strict=True)):
            learning = [named[name] for name in stage if name in trainable]
            if learning:
                parts.append((f"backbone.stage{index}", learning, rate))
    parts.append(("head", head, settings.learning_rate))
    return [
        group
        for name, parameters, rate in parts
        for group in _with_decay_rule(name, parameters, rate, settings.decay_norm_and_bias)
    ]


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
