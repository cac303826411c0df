"""Architectures: ImageNet models from timm or torchvision, their feature backbones, stages and preprocessing.

Nothing here loads weights (see :mod:`dmtl_studio.core.models.pretrained`) or adds a head
(see :mod:`dmtl_studio.core.models.classifier`).
"""

from __future__ import annotations

import timm
import torch
from timm.models import group_parameters
from torch import nn

from dmtl_studio.core.augment.resize import DEFAULT_RESIZE
from dmtl_studio.core.base.paths import force_offline
from dmtl_studio.core.models.catalog import UnknownBackbone, info_for, split_name, unknown_bare_name
from dmtl_studio.core.models.preprocess import Preprocessing as Preprocessing  # defined torch-free there

force_offline()


class WeightsError(Exception):
    """Weights that do not fit an architecture, or that cannot be found offline; the message says which."""


def preprocessing_for(
    model: nn.Module, input_size: int | None = None, resize_mode: str = DEFAULT_RESIZE
) -> Preprocessing:
    """How images are prepared for ``model``: its config's mean, std and interpolation, at ``input_size`` (default:
    its config's), fitted by ``resize_mode`` (:data:`~dmtl_studio.core.augment.resize.RESIZE_MODES`).

    Raises
    ------
    ValueError
        An unknown ``resize_mode``.
    """
    config = timm.data.resolve_model_data_config(model)
    size = int(config["input_size"][-1]) if input_size is None else int(input_size)
    return Preprocessing(
        input_size=size,
        mean=tuple(float(v) for v in config["mean"]),  # type: ignore[arg-type]
        std=tuple(float(v) for v in config["std"]),  # type: ignore[arg-type]
        interpolation=str(config.get("interpolation", "bilinear")),
        crop_pct=float(config.get("crop_pct", 1.0)),
        resize_mode=resize_mode,
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
            raise UnknownBackbone(f"{name}: torchvision has no model of that name") from exc
    try:
        return timm.create_model(arch, pretrained=False)
    except RuntimeError as exc:  # timm: "Unknown model"
        if not name.startswith("timm/"):  # a bare name: most often a typo of a catalog name
            raise unknown_bare_name(name) from exc
        raise UnknownBackbone(f"{name}: timm has no model of that name") from exc


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


def describe_architecture(name: str) -> dict:
    """Measured facts of an architecture, as plain data (what the catalog stores for the window)."""
    backbone = strip_classifier(name, create_imagenet_model(name))
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


def feature_size(backbone: nn.Module) -> int:
    """Length of the pooled feature vector the backbone returns (timm may add a pre-logits layer)."""
    return int(getattr(backbone, "head_hidden_size", None) or backbone.num_features)


def parameter_stages(backbone: nn.Module) -> list[list[str]]:
    """Names of the backbone's parameters grouped into stages, from the input to the output."""
    own = getattr(backbone, "parameter_stages", None)
    if callable(own):
        return own()
    matcher = backbone.group_matcher(coarse=True)
    groups = group_parameters(backbone, matcher)
    return [list(groups[key]) for key in sorted(groups) if groups[key]]
