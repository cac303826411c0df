"""The backbone catalog: backbones looked up by name, and where each one's pretrained weights would come from.

This module never imports torch: the window lists backbones, their sizes and the state of their weights without
loading a deep-learning library. The backbones themselves are plain data in
:mod:`dmtl_studio.core.models.backbone_specs`.

Backbone names
--------------
``efficientnet_lite0`` … ``efficientnet_lite2``
    timm architectures with ImageNet weights bundled in an installed package.
``torchvision/<name>``
    a torchvision architecture; weights from the local torch hub cache or an imported file.
``timm/<name>``
    any timm architecture by name (a bare timm name means the same); weights from the local Hugging Face cache
    or an imported file.

Nothing is ever downloaded: when no file is found, the status names the file that would be needed.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.models import weight_store
from dmtl_studio.core.models.backbone_specs import CATALOG, BackboneInfo


@dataclass(frozen=True)
class WeightsStatus:
    """Whether pretrained weights for a backbone can be had offline, and from where."""

    state: str  # "bundled", "imported", "torch cache", "hugging face cache" or "missing"
    path: str  # the file found, or "" when missing
    needed: str  # what file would be needed (shown when missing)
    backbone: str = "NAME"

    @property
    def available(self) -> bool:
        return self.state != "missing"

    @property
    def reason(self) -> str:
        """One sentence for the user."""
        if self.state == "bundled":
            return "ImageNet weights are bundled with the application."
        if self.state == "imported":
            return f"Uses the imported weights file {Path(self.path).name}."
        if self.state in ("torch cache", "hugging face cache"):
            return f"ImageNet weights found in the local {self.state}: {self.path}"
        return (
            f"No weights on this computer. Needs the file {self.needed}; nothing is downloaded. Import it with "
            f"Import weights file… in the backbone panel, or 'dmtl-studio weights import FILE --arch {self.backbone}'."
        )


_BY_NAME = {info.name: info for info in CATALOG}
DEFAULT_BACKBONE = "efficientnet_lite0"


class UnknownBackbone(KeyError):
    """A backbone name that is neither in the catalog nor a ``torchvision/`` or ``timm/`` name."""

    def __str__(self) -> str:  # the message itself, not KeyError's quoted repr of it
        return str(self.args[0]) if self.args else ""


def unknown_bare_name(name: str) -> UnknownBackbone:
    """The error for a name without a library that no catalog entry, imported weights or timm model has: it lists
    the known names and suggests the closest (a typo is the usual cause)."""
    import difflib

    known = [info.name for info in CATALOG]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    guess = f"did you mean {close[0]}? " if close else ""
    return UnknownBackbone(
        f"{name}: {guess}The known backbones are {', '.join(known)} (dmtl-studio weights list shows them with "
        "their weights; another timm or torchvision model is named timm/NAME or torchvision/NAME)"
    )


def split_name(name: str) -> tuple[str, str]:
    """``(source library, architecture name)`` for a backbone name (see the module docstring)."""
    if name in _BY_NAME:
        info = _BY_NAME[name]
        return info.source, info.arch
    if name.startswith("torchvision/"):
        return "torchvision", name.split("/", 1)[1]
    if name.startswith("timm/"):
        return "timm", name.split("/", 1)[1]
    if "/" in name or not name:
        raise UnknownBackbone(name)
    return "timm", name


def info_for(name: str) -> BackboneInfo | None:
    """Catalog metadata for ``name``; for a name outside the catalog, what its imported weights recorded."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    entry = weight_store.latest_for(name)
    if entry is not None and entry.info:
        data = dict(entry.info)
        for key in ("mean", "std"):
            data[key] = tuple(data[key])
        known = set(BackboneInfo.__dataclass_fields__)
        return BackboneInfo(**{k: v for k, v in data.items() if k in known})
    return None


def _torch_hub_checkpoints() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def _hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return Path(cache) / "huggingface" / "hub"


def bundled_file(info: BackboneInfo) -> Path | None:
    """The bundled weights file of ``info`` when its package is installed (found without importing it)."""
    if not info.package:
        return None
    spec = importlib.util.find_spec(info.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / info.package_file
    return path if path.is_file() else None


def hf_cache_file(hf_hub_id: str) -> Path | None:
    """``model.safetensors`` (or ``pytorch_model.bin``) of a Hugging Face repository in the local cache."""
    if not hf_hub_id:
        return None
    snapshots = _hf_hub_cache() / ("models--" + hf_hub_id.replace("/", "--")) / "snapshots"
    if not snapshots.is_dir():
        return None
    for file_name in ("model.safetensors", "pytorch_model.bin"):
        found = sorted(snapshots.glob(f"*/{file_name}"))
        if found:
            return found[-1]
    return None


def weights_status(name: str) -> WeightsStatus:
    """Where pretrained weights for ``name`` would be loaded from, in order: bundled, imported, caches."""
    info = info_for(name)
    if info is not None:
        bundled = bundled_file(info)
        if bundled is not None:
            return WeightsStatus("bundled", str(bundled), "")
    imported = weight_store.latest_for(name)
    if imported is not None:
        return WeightsStatus("imported", str(imported.path()), "")
    source, arch = split_name(name)
    if source == "torchvision":
        file_name = info.weights_file if info is not None and info.weights_file else f"{arch}-*.pth"
        cached = _torch_hub_checkpoints() / file_name
        if info is not None and info.weights_file and cached.is_file():
            return WeightsStatus("torch cache", str(cached), "")
        return WeightsStatus("missing", "", f"{file_name} (torchvision's ImageNet weights)", name)
    hf_hub_id = info.hf_hub_id if info is not None and info.hf_hub_id else f"timm/{arch}"
    cached_hf = hf_cache_file(hf_hub_id)
    if cached_hf is not None:
        return WeightsStatus("hugging face cache", str(cached_hf), "")
    if info is not None and info.package:
        return WeightsStatus("missing", "", f"{info.package_file} from the package {info.package}", name)
    return WeightsStatus("missing", "", f"model.safetensors of the Hugging Face repository {hf_hub_id}", name)


@dataclass(frozen=True)
class CatalogRow:
    """A backbone with its weights status, as the selector lists it."""

    info: BackboneInfo
    status: WeightsStatus


def list_backbones() -> list[CatalogRow]:
    """The catalog plus any architecture outside it that has imported weights, each with its status."""
    rows = [CatalogRow(info, weights_status(info.name)) for info in CATALOG]
    try:
        imported = weight_store.read_index()
    except weight_store.WeightStoreError:
        imported = []
    seen = set(_BY_NAME)
    for entry in imported:
        if entry.backbone in seen:
            continue
        info = info_for(entry.backbone)
        if info is not None:
            seen.add(entry.backbone)
            rows.append(CatalogRow(info, weights_status(entry.backbone)))
    return rows
