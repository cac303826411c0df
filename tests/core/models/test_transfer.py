"""Each transfer strategy trains exactly the parameters it should, and fixed BatchNorm keeps its statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from dmtl_studio.core.models.checkpoint import WEIGHTS_NAME, load_checkpoint
from dmtl_studio.core.models.classifier import Classifier, ModelSpec, build_classifier
from dmtl_studio.core.models.pretrained import load_bundled_imagenet_model
from dmtl_studio.core.models.transfer import configure_transfer, parameter_stages, set_train_mode
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EpochResult, PreparationProgress, StepProgress
from dmtl_studio.core.training.feature_cache import FeatureCache
from dmtl_studio.core.training.lr_finder import find_learning_rate
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.settings import ConfigError
from tests.conftest import TEST_INPUT_SIZE


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _train_steps(model: Classifier, config: TrainConfig, steps: int = 3) -> list[dict]:
    torch.manual_seed(0)
    groups = configure_transfer(model, config)
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    set_train_mode(model)
    for _ in range(steps):
        images, targets = torch.randn(8, 3, 64, 64) * 2 + 0.5, torch.randint(0, 3, (8,))
        loss = nn.functional.cross_entropy(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return groups


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def _stage_param_sets(model: Classifier) -> list[set[str]]:
    return [{f"backbone.{n}" for n in stage} for stage in parameter_stages(model.backbone)]


def _bn_buffers(model: Classifier, param_names: set[str]) -> set[str]:
    """Running statistics of the BatchNorm layers whose weights are in ``param_names``."""
    layers = {n.rsplit(".", 1)[0] for n in param_names}
    return {f"{layer}.{b}" for layer in layers for b in ("running_mean", "running_var")} & set(
        model.state_dict()
    )


@pytest.fixture(params=["efficientnet_lite0", "torchvision/resnet18"])
def model(request: pytest.FixtureRequest) -> Classifier:
    torch.manual_seed(1)
    return build_classifier(ModelSpec(request.param, 3), pretrained=False)


def test_frozen_changes_only_the_head(model: Classifier) -> None:
    before = _snapshot(model)
    groups = _train_steps(model, TrainConfig(transfer="frozen"))
    changed = _changed(before, _snapshot(model))
    assert changed == {k for k in before if k.startswith("head.")}
    assert len(groups) == 1 and not model.backbone.training


def test_partial_changes_the_last_stages_only_and_keeps_fixed_batchnorm_statistics(model: Classifier) -> None:
    stages = _stage_param_sets(model)
    assert len(stages) >= 4
    before = _snapshot(model)
    config = TrainConfig(transfer="partial", unfreeze_stages=2, learning_rate=1e-2)
    groups = _train_steps(model, config)
    changed = _changed(before, _snapshot(model))
    open_params = stages[-1] | stages[-2]
    fixed_params = set().union(*stages[:-2])
    assert {k for k in changed if k in fixed_params} == set()
    assert open_params <= changed  # every parameter of the unfrozen stages learned
    assert {k for k in before if k.startswith("head.")} <= changed
    fixed_bn = _bn_buffers(model, fixed_params)
    open_bn = _bn_buffers(model, open_params)
    assert fixed_bn and not (fixed_bn & changed)  # ImageNet statistics kept
    assert open_bn <= changed  # the fine-tuned stages adapt theirs
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == {"backbone": pytest.approx(1e-3), "head": pytest.approx(1e-2)}


def test_full_changes_everything_with_a_lower_backbone_rate(model: Classifier) -> None:
    before = _snapshot(model)
    config = TrainConfig(transfer="full", learning_rate=1e-2, backbone_lr_factor=0.05)
    groups = _train_steps(model, config)
    changed = _changed(before, _snapshot(model))
    params = {n for n, _ in model.named_parameters()}
    assert params <= changed
    assert {g["name"]: g["lr"] for g in groups} == {"backbone": pytest.approx(5e-4), "head": 1e-2}


def test_more_stages_than_exist_means_all() -> None:
    torch.manual_seed(1)
    model = build_classifier(ModelSpec("efficientnet_lite0", 2), pretrained=False)
    configure_transfer(model, TrainConfig(transfer="partial", unfreeze_stages=99))
    assert all(p.requires_grad for p in model.parameters())


def test_mlp_head_has_the_requested_shape() -> None:
    model = build_classifier(ModelSpec("efficientnet_lite0", 4, head="mlp", hidden=32, dropout=0.3), False)
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1280, 32), (32, 4)]
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 4)


def test_bad_transfer_settings_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="unfreeze stages"):
        TrainConfig(transfer="partial", unfreeze_stages=0)
    with pytest.raises(ConfigError, match="head"):
        TrainConfig(head="transformer")
    with pytest.raises(ConfigError, match="dropout"):
        TrainConfig(dropout=1.0)


class _CountingBackbone(nn.Module):
    num_features = 3

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return images.mean(dim=(2, 3)) * self.scale


class _Images(torch.utils.data.Dataset):
    augment = True

    def __init__(self, count: int) -> None:
        self.count, self.epoch = count, 0

    def __len__(self) -> int:
        return self.count

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return torch.full((3, 4, 4), float(index * 1000 + self.epoch % 1000)), index % 2, index

    def clean_item(self, index: int) -> tuple[torch.Tensor, int, int]:
        return torch.full((3, 4, 4), float(index * 1000)), index % 2, index


def test_the_feature_cache_runs_the_backbone_once_per_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMTL_STUDIO_FEATURE_ENGINE", "torch")  # the module's own calls are counted
    backbone = _CountingBackbone()
    cache = FeatureCache(backbone, _Images(10), _Images(4), torch.device("cpu"), views=3, batch_size=5)
    loader = cache.train_loader(batch_size=4, seed=0)
    assert len(loader) == 3  # 10 images in batches of 4: the last batch of 2 is used too
    seen_views = set()
    for _ in range(5):
        for features, targets, index in loader:
            assert features.shape == (len(index), 3)
            assert torch.equal(targets, index % 2)
            view_epochs = (features[:, 0] - index * 1000).round().long()
            seen_views.update(view_epochs.tolist())
    list(cache.val_loader(8))
    list(cache.val_loader(8))
    assert backbone.calls == 3 * 2 + 1  # three views of 10 images in batches of 5, validation once
    assert len(seen_views) == 3  # each epoch draws among the cached augmented views


def test_the_feature_cache_reports_its_progress_over_everything_it_will_compute() -> None:
    reports: list[tuple[int, int, float]] = []
    cache = FeatureCache(
        _CountingBackbone(),
        _Images(10),
        _Images(4),
        torch.device("cpu"),
        views=3,
        batch_size=5,
        clean_views=True,
        unlabelled_set=_Images(6),
        on_progress=lambda done, total, seconds: reports.append((done, total, seconds)),
    )
    planned = (
        3 * 10 + 10 + (3 + 1) * 6 + 4
    )  # augmented views, clean views, unlabelled views + clean, validation
    assert cache.planned == planned
    cache.train()
    assert reports[-1][0] == 40 and all(total == planned for _, total, _ in reports)
    cache.unlabelled()
    cache.val()
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and done[-1] == planned
    assert all(b >= a for (_, _, a), (_, _, b) in zip(reports, reports[1:], strict=False))


def test_a_frozen_run_reports_the_feature_pass_before_its_first_step(project: Path) -> None:
    events: list[object] = []
    train(project, _config(transfer="frozen", feature_views=2), on_event=events.append)
    kinds = [type(e).__name__ for e in events]
    first_step = kinds.index("StepProgress")
    preparation = [e for e in events if isinstance(e, PreparationProgress)]
    assert preparation and kinds.index("PreparationProgress") < first_step
    assert preparation[-1].done == preparation[-1].total
    events.clear()
    full = train(project, _config(transfer="full"), on_event=events.append)
    assert full.status == "completed" and not any(isinstance(e, PreparationProgress) for e in events)


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(epochs=1, batch_size=16, learning_rate=3e-3, input_size=TEST_INPUT_SIZE, device="cpu")
    return base.with_changes(**changes)


def test_partial_training_run_changes_only_the_last_stages(project: Path) -> None:
    events: list[object] = []
    config = _config(transfer="partial", unfreeze_stages=1, learning_rate=1e-3, head="mlp", hidden_size=64)
    summary = train(project, config, on_event=events.append)
    assert summary.status == "completed"
    assert [type(e) for e in events].count(EpochResult) == 1 and isinstance(events[0], StepProgress)
    saved = load_file(str(Path(summary.run_dir) / WEIGHTS_NAME))
    pretrained = load_bundled_imagenet_model().state_dict()
    last_stage = {
        f"backbone.{n}" for n in parameter_stages(load_checkpoint(summary.run_dir).model.backbone)[-1]
    }
    changed = {
        f"backbone.{k}"
        for k in pretrained
        if not k.startswith("classifier") and not torch.equal(saved[f"backbone.{k}"], pretrained[k])
    }
    assert (
        changed
        and {k for k in changed if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
        <= last_stage
    )
    assert load_checkpoint(summary.run_dir).spec.head == "mlp"


def test_lr_finder_suggests_a_rate_inside_the_range(project: Path) -> None:
    progress: list[tuple[int, int]] = []
    points: list[tuple[float, float]] = []
    result = find_learning_rate(
        project,
        _config(),
        start_lr=1e-5,
        end_lr=10.0,
        steps=40,
        on_progress=lambda d, t: progress.append((d, t)),
        on_point=lambda rate, loss: points.append((rate, loss)),
    )
    assert 1e-5 <= result.suggestion <= 10.0
    assert len(result.learning_rates) == len(result.losses) == len(progress) >= 10
    # The points streamed while it ran are the curve it returns, in order.
    assert points == list(zip(result.learning_rates, result.losses, strict=True))
    assert list(result.learning_rates) == sorted(result.learning_rates)
    assert min(result.losses) < result.losses[0]  # the loss did fall somewhere in the range
