"""The fine-tuning recipe: layer-wise learning-rate decay, no weight decay on norms and biases, the moving average
of the weights (and its resume), and flip test-time augmentation from validation to the exported model."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.evaluation.export import export_run
from dmtl_studio.core.evaluation.exported_model import load_exported
from dmtl_studio.core.evaluation.inference import evaluate_run
from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, load_checkpoint
from dmtl_studio.core.models.classifier import Classifier, ModelSpec, build_classifier
from dmtl_studio.core.models.preprocess import prepare_file
from dmtl_studio.core.models.transfer import configure_transfer, parameter_stages
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import run_state
from dmtl_studio.core.training.averaging import UPDATES_KEY, WEIGHTS_KEY, WeightAverage
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import evaluate
from dmtl_studio.core.training.events import EpochResult, RunNotice, StepProgress
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.settings import ConfigError
from dmtl_studio.core.training.setup import build_run


@pytest.fixture(scope="module")
def lite0() -> Classifier:
    torch.manual_seed(0)
    return build_classifier(ModelSpec("efficientnet_lite0", 3), pretrained=False)


# ------------------------------------------------------------------------------ layer-wise learning-rate decay
def test_each_stage_learns_at_the_rate_above_it_times_the_decay(lite0: Classifier) -> None:
    config = TrainConfig(transfer="full", learning_rate=1e-2, backbone_lr_factor=0.1, layer_decay=0.5)
    groups = configure_transfer(lite0, config)
    stages = parameter_stages(lite0.backbone)
    assert len(stages) == 8  # the spec's stage count for EfficientNet-Lite0
    names = [g["name"] for g in groups]
    assert names == [f"backbone.stage{i}" for i in range(8)] + ["head"]
    for i, group in enumerate(groups[:-1]):
        # The top stage (7) at head rate x factor, each stage below halved.
        assert group["lr"] == pytest.approx(1e-2 * 0.1 * 0.5 ** (7 - i), rel=1e-12)
        named = dict(lite0.backbone.named_parameters())
        assert [id(p) for p in group["params"]] == [id(named[n]) for n in stages[i]]
    assert groups[-1]["lr"] == 1e-2
    covered = {id(p) for g in groups for p in g["params"]}
    assert covered == {id(p) for p in lite0.parameters()}


def test_partial_decays_from_the_top_stage_down_and_one_means_the_old_two_groups(lite0: Classifier) -> None:
    groups = configure_transfer(
        lite0, TrainConfig(transfer="partial", unfreeze_stages=3, learning_rate=1e-3, layer_decay=0.8)
    )
    rates = {g["name"]: g["lr"] for g in groups}
    assert rates == pytest.approx(
        {"backbone.stage5": 1e-4 * 0.64, "backbone.stage6": 1e-4 * 0.8, "backbone.stage7": 1e-4, "head": 1e-3}
    )
    plain = configure_transfer(lite0, TrainConfig(transfer="full", learning_rate=1e-3))
    assert [(g["name"], g["lr"]) for g in plain] == [("backbone", pytest.approx(1e-4)), ("head", 1e-3)]
    assert not any("weight_decay" in g for g in plain)  # the stored default: AdamW's decay on every weight


def test_layer_decay_must_be_in_zero_one() -> None:
    with pytest.raises(ConfigError, match=r"^layer-wise learning-rate decay must be in \(0, 1\]$"):
        TrainConfig(layer_decay=0.0)
    with pytest.raises(ConfigError, match="layer-wise"):
        TrainConfig(layer_decay=1.5)


def test_norms_and_biases_take_no_weight_decay_when_asked() -> None:
    torch.manual_seed(0)
    model = build_classifier(ModelSpec("efficientnet_lite0", 3), pretrained=False)
    config = TrainConfig(transfer="full", layer_decay=0.7, decay_norm_and_bias=False, weight_decay=0.5)
    groups = configure_transfer(model, config)
    flat = {id(p) for g in groups if g.get("weight_decay") == 0.0 for p in g["params"]}
    assert flat == {id(p) for p in model.parameters() if p.ndim <= 1}
    assert groups[-1]["name"] == "head" and groups[-2]["name"] == "head.no_decay"
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    for parameter in model.parameters():  # a zero gradient: only the weight decay moves a parameter
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    for name, parameter in model.named_parameters():
        moved = not torch.equal(parameter, before[name])
        assert moved == (parameter.ndim > 1 and bool(before[name].abs().sum() > 0)), name


# ------------------------------------------------------------------------------------- the weight average
class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(x))


def test_the_average_after_n_steps_is_the_closed_form_of_the_warmed_up_decay() -> None:
    torch.manual_seed(0)
    model = _Toy()
    average = WeightAverage(0.95)
    trainer = SimpleNamespace(parts=SimpleNamespace(model=model), averaged=None)
    average.on_fit_start(trainer)
    assert trainer.averaged is average.model and average.model is not model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = [{k: v.clone() for k, v in model.state_dict().items()}]
    for _ in range(40):  # past the warm-up: (1 + n) / (10 + n) reaches 0.95 at n = 170, so still rising
        loss = (model(torch.randn(8, 3)) - torch.randn(8, 2) - 1).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average.update()
        history.append({k: v.clone() for k, v in model.state_dict().items()})
    steps = len(history) - 1
    decays = [min(0.95, (1 + n) / (10 + n)) for n in range(steps)]
    # a_n = prod(d) * w_0 + sum_k (1 - d_k) * prod_{j > k} d_j * w_k
    coefficients = [float(np.prod(decays))] + [
        (1 - decays[k - 1]) * float(np.prod(decays[k:])) for k in range(1, steps + 1)
    ]
    assert sum(coefficients) == pytest.approx(1.0)
    got = average.model.state_dict()
    for name, value in got.items():
        if value.is_floating_point():
            expected = sum(c * h[name].double() for c, h in zip(coefficients, history, strict=True))
            assert torch.allclose(value.double(), expected, atol=1e-6), name
        else:  # the batch counter is the trained model's own
            assert torch.equal(value, model.state_dict()[name])
    assert average.updates == steps
    assert not torch.allclose(got["linear.weight"], model.linear.weight)


def test_the_average_with_a_long_warm_up_decays_at_most_by_the_setting() -> None:
    average = WeightAverage(0.9)
    model = nn.Linear(1, 1, bias=False)
    trainer = SimpleNamespace(parts=SimpleNamespace(model=model), averaged=None)
    average.on_fit_start(trainer)
    average.updates = 10_000  # long past the warm-up: each update keeps 0.9 of the average
    with torch.no_grad():
        average.model.weight.fill_(1.0)
        model.weight.fill_(0.0)
    average.update()
    assert average.model.weight.item() == pytest.approx(0.9)


def _stopping_after(epochs: int, seen: list[object]) -> object:
    def should_stop() -> bool:
        return sum(isinstance(e, EpochResult) for e in seen) >= epochs

    return should_stop


def test_a_resumed_run_continues_its_average_exactly(project: Path) -> None:
    config = TrainConfig(
        transfer="partial",
        unfreeze_stages=1,
        epochs=3,
        batch_size=8,
        learning_rate=3e-3,
        input_size=32,
        device="cpu",
        seed=3,
        ema_decay=0.99,
    )
    straight = train(project, config)
    straight_best = load_file(str(Path(straight.run_dir) / WEIGHTS_NAME))
    unit = run_state.latest_checkpoint(Path(straight.run_dir))
    trained = load_file(str(unit.folder / run_state.LAST_WEIGHTS))
    state = torch.load(io.BytesIO((unit.folder / run_state.STATE_NAME).read_bytes()), weights_only=True)
    assert state[UPDATES_KEY] == 3 * 7  # 54 training images in batches of 8 (the last, of 6, kept)
    # The published model is an average, not the weights that trained; the training state holds the latest one.
    assert any(not torch.equal(straight_best[k], trained[k]) for k in trained if k.startswith("backbone."))

    seen: list[object] = []
    stopped = train(project, config, on_event=seen.append, should_stop=_stopping_after(2, seen))
    assert stopped.status == "stopped" and stopped.epochs_completed == 2
    resumed = train(project, config, resume_from=stopped.run_dir)
    assert resumed.status == "completed" and resumed.epochs_completed == 3
    assert resumed.metrics == straight.metrics
    best = load_file(str(Path(stopped.run_dir) / WEIGHTS_NAME))
    for name, tensor in straight_best.items():
        assert torch.equal(best[name], tensor), name


# --------------------------------------------------------------------------------- flip test-time augmentation
def test_flip_averaging_gives_the_mean_of_the_two_views_probabilities(lite0: Classifier) -> None:
    images = torch.randn(4, 3, 64, 64)
    lite0.eval()
    lite0.flip_views = False
    try:
        with torch.no_grad():
            plain = lite0(images).softmax(1)
            mirrored = lite0(images.flip(-1)).softmax(1)
            lite0.flip_views = True
            averaged = lite0(images)
            lite0.temperature.fill_(2.0)
            calibrated = lite0(images)
        assert torch.allclose(averaged.softmax(1), (plain + mirrored) / 2, atol=1e-6)
        assert torch.allclose(calibrated, averaged / 2.0)  # the temperature divides the averaged output
        assert not torch.allclose(plain, mirrored, atol=1e-4)  # the two views differ: the test can fail
        lite0.train()
        with torch.no_grad():
            assert lite0(images).shape == (4, 3)  # training sees the image alone
    finally:
        lite0.flip_views = False
        lite0.temperature.fill_(1.0)
        lite0.eval()


def _recipe(**changes: object) -> TrainConfig:
    base = TrainConfig(
        transfer="full",
        epochs=1,
        batch_size=16,
        learning_rate=3e-3,
        input_size=64,
        device="cpu",
        layer_decay=0.7,
        decay_norm_and_bias=False,
        ema_decay=0.99,
        tta_flip=True,
    )
    return base.with_changes(**changes)


def test_a_run_with_the_whole_recipe_validates_keeps_and_exports_the_averaged_flipped_model(
    project: Path, tmp_path: Path
) -> None:
    events: list[object] = []
    config = _recipe()
    summary = train(project, config, on_event=events.append)
    assert summary.status == "completed"
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert steps and steps[0].learning_rate > 0
    run_dir = Path(summary.run_dir)
    sidecar = json.loads((run_dir / SIDECAR_NAME).read_text())
    assert sidecar["config"]["ema_decay"] == 0.99 and sidecar["config"]["tta_flip"]
    loaded = load_checkpoint(run_dir)
    assert loaded.model.flip_views

    # What validation scored is the published model (averaged, flip-averaged): the same loss on the same images.
    with ProjectStore.open(project) as store:
        parts = build_run(store, config)
    loaded.model.temperature.fill_(1.0)  # the recorded loss is before calibration
    val_loss, val_accuracy, _ = evaluate(loaded.model, parts.val_loader, torch.device("cpu"), 3)
    assert val_loss == pytest.approx(summary.metrics["best"]["val_loss"], rel=1e-4)
    assert val_accuracy == summary.metrics["best"]["val_accuracy"]
    unit = run_state.latest_checkpoint(run_dir)
    parts.model.load_state_dict(load_file(str(unit.folder / run_state.LAST_WEIGHTS)))
    trained_loss, _, _ = evaluate(parts.model, parts.val_loader, torch.device("cpu"), 3)
    assert trained_loss != pytest.approx(val_loss, rel=1e-4)  # the trained weights are not what was kept

    result = evaluate_run(project, run_dir)
    assert result.split == "val" and len(result.targets) == 18
    assert result.probabilities.sum(1) == pytest.approx(np.ones(18))

    exported = tmp_path / "model.onnx"
    export_run(run_dir, "onnx", exported)
    assert json.loads(exported.with_name("model.onnx.json").read_text())["output"]["flip_averaged"]
    path = result.paths[0]
    batch = prepare_file(path, loaded.preprocessing)[None]
    with torch.no_grad():
        expected = load_checkpoint(run_dir).model(torch.from_numpy(batch)).softmax(1).numpy()
    assert load_exported(exported).probabilities(batch) == pytest.approx(expected, abs=1e-4)


def test_a_frozen_run_never_flips_and_the_linear_probe_keeps_no_average(project: Path) -> None:
    summary = train(project, _recipe(transfer="frozen", linear_probe=True, input_size=32))
    assert summary.status == "completed"
    assert not load_checkpoint(summary.run_dir).model.flip_views
    unit = run_state.latest_checkpoint(Path(summary.run_dir))
    state = torch.load(io.BytesIO((unit.folder / run_state.STATE_NAME).read_bytes()), weights_only=True)
    assert WEIGHTS_KEY not in state


def test_a_recipe_that_never_mirrors_turns_flip_averaging_off_and_says_so(project: Path) -> None:
    events: list[object] = []
    unmirrored = Recipe((Step.of("rotate", 0.5),), "no mirror").to_dict()
    with ProjectStore.open(project) as store:
        parts = build_run(store, _recipe(recipe=unmirrored), emit=events.append)
        assert not parts.config.tta_flip and not parts.model.flip_views
        assert parts.run_config()["tta_flip"] is False  # stored so: a reloaded model predicts as validated
        notices = [e.message for e in events if isinstance(e, RunNotice)]
        assert any("never mirrors" in message for message in notices)
        events.clear()
        parts = build_run(store, _recipe(), emit=events.append)  # the default recipe mirrors
        assert parts.config.tta_flip and parts.model.flip_views
        assert not any("mirror" in e.message for e in events if isinstance(e, RunNotice))


def test_the_stored_configuration_says_whether_the_head_was_fitted_as_a_linear_probe(project: Path) -> None:
    with ProjectStore.open(project) as store:
        for changes, fitted in (
            ({"transfer": "frozen"}, True),
            ({"transfer": "frozen", "head": "mlp"}, False),  # an mlp head is trained by epochs
            ({"transfer": "full"}, False),
        ):
            config = _recipe(**changes, linear_probe=True)
            assert build_run(store, config).run_config()["linear_probe"] is fitted
