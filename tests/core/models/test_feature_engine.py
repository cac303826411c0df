"""The feature pass's engine: onnxruntime on the CPU gives PyTorch's features, falls back to PyTorch with a notice
when the backbone cannot be exported, keeps its exported file per weights, and the choice per device."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from dmtl_studio.core.models import feature_engine
from dmtl_studio.core.models.classifier import create_backbone
from dmtl_studio.core.models.feature_engine import (
    ONNXRUNTIME,
    TOLERANCE,
    TORCH,
    TORCH_CUDA_AMP,
    TorchEngine,
    choose_engine,
    engine_for,
)
from dmtl_studio.core.models.features import FeatureStore, extract_features

SHAPE = (3, 32, 32)


class _Images(Dataset):
    def __init__(self, count: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.rand(count, *SHAPE, generator=generator) * 4 - 2

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.images[index], index % 2, index


def _reference(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return backbone.eval()(images)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def lite0() -> nn.Module:
    return create_backbone("efficientnet_lite0", pretrained=True).eval()


def test_onnxruntime_features_equal_pytorch_within_tolerance(lite0: nn.Module) -> None:
    data = _Images(10)
    expected = _reference(lite0, data.images)
    features, targets = extract_features(lite0, data, torch.device("cpu"), batch_size=4)
    engine = engine_for(lite0, torch.device("cpu"), SHAPE)
    assert engine.name == ONNXRUNTIME and engine.notice is None
    assert features.shape == expected.shape and features.dtype == torch.float32
    assert _relative(features, expected) <= TOLERANCE
    assert targets.tolist() == [i % 2 for i in range(10)]
    # The PyTorch engine (channels_last, inference mode) gives them too, as tensors the head can train on.
    torch_features, _ = extract_features(lite0, data, torch.device("cpu"), batch_size=4, engine="torch")
    assert _relative(torch_features, expected) <= TOLERANCE
    assert not torch_features.is_inference()
    head = nn.Linear(torch_features.shape[1], 2)
    head(torch_features).sum().backward()  # would raise for inference tensors


class _SmallBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # cummax has no ONNX form in opset 17: the exporter refuses this backbone.
        return torch.cummax(self.conv(x), dim=-1).values.mean((2, 3))


def test_a_backbone_that_cannot_be_exported_runs_in_pytorch_with_a_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    torch.manual_seed(0)
    backbone = _SmallBackbone().eval()
    data = _Images(6)
    expected = _reference(backbone, data.images)
    with caplog.at_level(logging.WARNING, logger=feature_engine.__name__):
        features, _ = extract_features(backbone, data, torch.device("cpu"), batch_size=4)
    engine = engine_for(backbone, torch.device("cpu"), SHAPE)
    assert engine.name == TORCH and "runs in PyTorch" in (engine.notice or "")
    assert any("runs in PyTorch" in record.getMessage() for record in caplog.records)
    assert _relative(features, expected) <= TOLERANCE


def test_the_exported_file_is_reused_and_changed_weights_get_another(
    lite0: nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _Images(4, seed=1)
    feature_engine._SESSIONS.clear()  # noqa: SLF001 - as in a new process
    first = engine_for(
        create_backbone("efficientnet_lite0", pretrained=True).eval(), torch.device("cpu"), SHAPE
    )
    assert first.name == ONNXRUNTIME and first.path.is_file()
    exports = {"n": 0}
    real_export = feature_engine.export_backbone

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        exports["n"] += 1
        return real_export(*args, **kwargs)

    monkeypatch.setattr(feature_engine, "export_backbone", counted)
    # Another process (nothing in memory) with the same weights reads the file, exports nothing.
    feature_engine._SESSIONS.clear()  # noqa: SLF001
    same = create_backbone("efficientnet_lite0", pretrained=True).eval()
    assert engine_for(same, torch.device("cpu"), SHAPE).path == first.path and exports["n"] == 0

    changed = create_backbone("efficientnet_lite0", pretrained=True).eval()
    with torch.no_grad():
        next(changed.parameters()).add_(0.05)
    engine = engine_for(changed, torch.device("cpu"), SHAPE)
    assert exports["n"] == 1 and engine.path != first.path and engine.path.is_file()
    assert _relative(engine(data.images), _reference(changed, data.images)) <= TOLERANCE
    assert _relative(engine(data.images), _reference(lite0, data.images)) > TOLERANCE
    # Weights changed in place on the same module: its engine is made again, not reused.
    with torch.no_grad():
        next(changed.parameters()).add_(0.05)
    again = engine_for(changed, torch.device("cpu"), SHAPE)
    assert exports["n"] == 2 and again.path not in (engine.path, first.path)
    assert _relative(again(data.images), _reference(changed, data.images)) <= TOLERANCE


def test_the_engine_chosen_for_each_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(feature_engine.ENGINE_ENV, raising=False)
    assert choose_engine("cpu", onnxruntime_available=True) == ONNXRUNTIME
    assert choose_engine("cpu", onnxruntime_available=False) == TORCH
    assert choose_engine("cpu", "torch", onnxruntime_available=True) == TORCH
    assert choose_engine("cuda", "onnxruntime") == TORCH_CUDA_AMP  # a GPU always runs PyTorch, with AMP
    assert choose_engine("mps") == TORCH
    monkeypatch.setenv(feature_engine.ENGINE_ENV, "torch")
    assert choose_engine("cpu", onnxruntime_available=True) == TORCH
    # Never autocast on the CPU (bfloat16 there is many times slower without native support).
    engine = TorchEngine(_SmallBackbone(), torch.device("cpu"), amp=True)
    assert engine.name == TORCH and not engine.amp and engine.channels_last


def test_cpu_caches_stay_valid_and_float16_features_on_cuda_get_their_own(tmp_path, lite0: nn.Module) -> None:  # noqa: ANN001
    from dmtl_studio.core.models.architectures import preprocessing_for
    from dmtl_studio.core.models.features import _short_hash, weights_hash
    from dmtl_studio.core.models.preprocess import describe_preprocessing

    preprocessing = preprocessing_for(lite0, 32)

    def space(device: str) -> str:
        return FeatureStore.for_backbone(
            tmp_path, "efficientnet_lite0", lite0, preprocessing, torch.device(device), False, str
        ).space

    def float32_space(device: str) -> str:  # the key written before the engines (and by the CPU engines)
        return _short_hash(
            {
                "format": 1,
                "backbone": "efficientnet_lite0",
                "weights": weights_hash(lite0),
                "preprocessing": describe_preprocessing(preprocessing),
                "device": device,
                "channels_last": False,
            }
        )

    assert space("cpu") == float32_space("cpu")  # onnxruntime and PyTorch on the CPU share one cache
    assert space("cuda") != float32_space("cuda")  # float16 autocast features are kept apart


def test_a_damaged_cached_file_is_exported_again(lite0: nn.Module, caplog: pytest.LogCaptureFixture) -> None:
    data = _Images(3, seed=2)
    feature_engine._SESSIONS.clear()  # noqa: SLF001
    path = engine_for(
        create_backbone("efficientnet_lite0", pretrained=True).eval(), torch.device("cpu"), SHAPE
    ).path
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 4096] = bytes(
        4096
    )  # zeroed weights: loads, computes wrong
    path.write_bytes(bytes(damaged))
    feature_engine._SESSIONS.clear()  # noqa: SLF001 - a new process
    fresh = create_backbone("efficientnet_lite0", pretrained=True).eval()
    with caplog.at_level(logging.WARNING, logger=feature_engine.__name__):
        engine = engine_for(fresh, torch.device("cpu"), SHAPE)
    assert engine.name == ONNXRUNTIME and any("exporting it again" in r.getMessage() for r in caplog.records)
    assert _relative(engine(data.images), _reference(fresh, data.images)) <= TOLERANCE
    assert path.read_bytes() != bytes(damaged)
