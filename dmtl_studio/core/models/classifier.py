"""The classifier: a feature backbone with pretrained weights and a new head for the project's classes."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from dmtl_studio.core.models.architectures import (
    WeightsError,
    create_imagenet_model,
    feature_size,
    strip_classifier,
)
from dmtl_studio.core.models.pretrained import load_pretrained_imagenet_model


def create_backbone(name: str, pretrained: bool) -> nn.Module:
    """A backbone yielding pooled features; with ``pretrained``, its ImageNet weights found offline."""
    model = load_pretrained_imagenet_model(name) if pretrained else create_imagenet_model(name)
    return strip_classifier(name, model)


HEADS = ("linear", "mlp")


def build_head(kind: str, num_features: int, num_classes: int, hidden: int, dropout: float) -> nn.Sequential:
    """A new head: ``linear`` (dropout, linear) or ``mlp`` (dropout, linear, ReLU, dropout, linear)."""
    if kind == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_classes))
    if kind == "mlp":
        return nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(num_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
    raise WeightsError(f"unknown head '{kind}'; heads are {', '.join(HEADS)}")


class Classifier(nn.Module):
    """A backbone that yields pooled features, and a new head for the project's classes."""

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        dropout: float = 0.2,
        head: str = "linear",
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_features = feature_size(backbone)
        self.head = build_head(head, self.num_features, num_classes, hidden, dropout)
        # Temperature scaling of the logits (1 while training; a trained run's sidecar sets it when loaded). Not
        # part of the weights, so runs saved before calibration existed load unchanged.
        self.register_buffer("temperature", torch.ones(()), persistent=False)
        #: Flip test-time augmentation (see :meth:`forward`); set from the run's settings, not stored in the weights.
        self.flip_views = False

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def scaled_head(self, features: torch.Tensor) -> torch.Tensor:
        """The head's logits divided by the calibration temperature (features ``(B, F)`` -> ``(B, C)``)."""
        return self.head(features) / self.temperature

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` of images ``(B, 3, H, W)``, divided by the calibration temperature.

        With :attr:`flip_views` and in eval mode (test-time augmentation), the image and its mirror image (flipped
        left to right) go through the network as one batch, and the output is ``log((softmax(z) +
        softmax(z_flipped)) / 2)``: its softmax is the mean of the two views' probabilities (Krizhevsky et al.,
        "ImageNet Classification with Deep Convolutional Neural Networks", NeurIPS 2012; Simonyan & Zisserman,
        "Very Deep Convolutional Networks", ICLR 2015). The temperature divides that output, the one calibration
        is fitted on. In training mode the network sees the image alone.
        """
        if not (self.flip_views and not self.training):
            return self.head(self.backbone(images)) / self.temperature
        count = images.shape[0]
        logits = self.head(self.backbone(torch.cat([images, images.flip(-1)])))
        both = logits.float().log_softmax(1)
        averaged = torch.logsumexp(torch.stack([both[:count], both[count:]]), 0) - math.log(2.0)
        return averaged.to(logits.dtype) / self.temperature

    def with_merged_classes(self, groups: list[list[int]]) -> Classifier:
        """This classifier with one output per group of its classes, sharing every weight (none is copied).

        Output ``g``'s probability is the sum of the probabilities of the classes in ``groups[g]`` (after the
        calibration temperature): the head's logits ``z`` become ``T * logsumexp(z[groups[g]] / T)``, which the
        temperature then divides as before. For a run whose classes were merged in the project since it was
        trained. ``groups`` must cover each output of the head once.
        """
        twin = copy.copy(self)
        twin._modules = dict(self._modules)  # the copy's own module table: the original keeps its head
        twin.head = _MergedHead(self.head, groups, self.temperature)
        return twin


class _MergedHead(nn.Module):
    """A head whose outputs are groups of another head's: see :meth:`Classifier.with_merged_classes`."""

    def __init__(self, head: nn.Module, groups: list[list[int]], temperature: torch.Tensor) -> None:
        super().__init__()
        self.inner, self.groups, self.scale = head, [list(g) for g in groups], float(temperature)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = self.inner(features) / self.scale
        return torch.stack([z[:, g].logsumexp(1) for g in self.groups], 1) * self.scale


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a trained classifier's architecture (not its weights)."""

    backbone: str
    num_classes: int
    head: str = "linear"
    dropout: float = 0.2
    hidden: int = 256  # hidden units of an ``mlp`` head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        return cls(
            backbone=str(data["backbone"]),
            num_classes=int(data["num_classes"]),
            head=str(data.get("head", "linear")),
            dropout=float(data.get("dropout", 0.2)),
            hidden=int(data.get("hidden", 256)),
        )


def build_classifier(spec: ModelSpec, pretrained: bool = True) -> Classifier:
    """A classifier for ``spec``; with ``pretrained``, the backbone starts from weights found offline."""
    if spec.head not in HEADS:
        raise WeightsError(f"unknown head '{spec.head}'; heads are {', '.join(HEADS)}")
    backbone = create_backbone(spec.backbone, pretrained=pretrained)
    return Classifier(backbone, spec.num_classes, spec.dropout, spec.head, spec.hidden)
