"""The learning-rate finder measures the run's own objective: it is a range test on the parts and loop that
training uses, so its loss on a batch is the training step's loss on that batch — label smoothing, class weights,
batch mixing and the consistency term included."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.base.cancel import Cancelled
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Callback, Trainer
from dmtl_studio.core.training.lr_finder import LRRangeTest, find_learning_rate
from dmtl_studio.core.training.outputs import BatchOutput
from dmtl_studio.core.training.setup import build_run

SMALL = 64


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(
        epochs=3, batch_size=8, learning_rate=3e-3, input_size=SMALL, device="cpu", seed=3, feature_views=2
    )
    return base.with_changes(**changes)


class _FirstSteps(Callback):
    """Records the objective of the first ``count`` steps and the first batch, then ends the fit."""

    def __init__(self, count: int = 1) -> None:
        self.count, self.losses, self.first_batch = count, [], None

    def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
        self.losses.append(batch.loss)
        if len(self.losses) >= self.count:
            trainer.stop_reason = "enough steps"


def _training_step_loss(project: Path, config: TrainConfig) -> float:
    with ProjectStore.open(project) as store:
        parts = build_run(store, config)
    steps = _FirstSteps()
    Trainer(parts, [steps]).fit(validate=False)
    return steps.losses[0]


def _finder_first_loss(project: Path, config: TrainConfig) -> tuple[float, list[float]]:
    with ProjectStore.open(project) as store:
        parts = build_run(store, config)
    test = LRRangeTest(1e-5, 1.0, steps=3)
    trainer = Trainer(parts, [test])
    trainer.epochs = 2
    trainer.fit(validate=False)
    return test.raw_losses[0], test.smoothed


def _plain_cross_entropy_of_first_batch(project: Path, config: TrainConfig) -> float:
    """What a finder that rebuilt its own plain objective would measure on the same first batch."""
    with ProjectStore.open(project) as store:
        parts = build_run(store, config)
    parts.train_set.set_epoch(1)
    parts.generator.manual_seed(config.seed * 1_000_003 + 1)
    if parts.cache is not None:
        parts.train_loader.epoch = 0
    images, targets, _ = next(iter(parts.train_loader))
    parts.model.head.train()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(parts.logits(images), targets).item())


@pytest.mark.parametrize(
    "changes",
    [
        {"label_smoothing": 0.3},
        {"consistency_weight": 2.0, "use_unlabelled": True, "consistency_rampup": 0.0},
        {"label_smoothing": 0.1, "imbalance": "weighted_loss", "recipe": preset("heavy").to_dict()},
    ],
    ids=["label-smoothing", "consistency-with-unlabelled", "weights-and-mixing"],
)
def test_the_finder_loss_is_the_training_step_loss_on_the_same_batch(project: Path, changes: dict) -> None:
    config = _config(**changes)
    step = _training_step_loss(project, config)
    finder, smoothed = _finder_first_loss(project, config)
    assert finder == pytest.approx(step, rel=1e-6)
    assert smoothed[0] == pytest.approx(finder, rel=1e-6)  # the first smoothed point is bias-corrected
    # The objective is not plain cross-entropy: a finder with its own loss would have measured another one.
    assert abs(_plain_cross_entropy_of_first_batch(project, config) - step) > 1e-3


def test_the_finder_fine_tunes_the_same_objective_as_training(project: Path) -> None:
    config = _config(transfer="partial", unfreeze_stages=1, label_smoothing=0.2, batch_size=4)
    assert _finder_first_loss(project, config)[0] == pytest.approx(
        _training_step_loss(project, config), rel=1e-5
    )


def test_the_range_test_grows_the_rate_exponentially_and_keeps_the_backbone_factor(project: Path) -> None:
    config = _config(transfer="partial", unfreeze_stages=1, batch_size=4, backbone_lr_factor=0.1)
    with ProjectStore.open(project) as store:
        parts = build_run(store, config)
    seen: list[tuple[float, float]] = []

    class Rates(Callback):
        def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
            groups = {g["name"]: g["lr"] for g in trainer.parts.optimizer.param_groups}
            seen.append((groups["head"], groups["backbone"]))

    test = LRRangeTest(1e-4, 1e-1, steps=4)
    trainer = Trainer(parts, [test, Rates()])
    trainer.fit(validate=False)
    heads = [head for head, _ in seen]
    assert heads == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1], rel=1e-6)
    assert all(backbone == pytest.approx(0.1 * head) for head, backbone in seen)
    assert test.rates == pytest.approx(heads)


def test_a_stop_request_cancels_the_finder(project: Path) -> None:
    calls = {"n": 0}

    def stop_after_a_few_checks() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        find_learning_rate(project, _config(), steps=20, should_stop=stop_after_a_few_checks)


def test_an_auto_run_s_rate_is_measured_on_its_partial_fine_tune(project: Path) -> None:
    # Auto's learning rate serves only its fine-tune (its linear probe is fitted in closed form): the finder
    # measures the partial fine-tune of the same settings, and says the result is for Auto.
    auto = find_learning_rate(
        project, _config(transfer="auto", batch_size=4), start_lr=1e-4, end_lr=1e-1, steps=4
    )
    partial = find_learning_rate(
        project, _config(transfer="partial", batch_size=4), start_lr=1e-4, end_lr=1e-1, steps=4
    )
    frozen = find_learning_rate(
        project, _config(transfer="frozen", batch_size=4), start_lr=1e-4, end_lr=1e-1, steps=4
    )
    assert (auto.transfer, partial.transfer) == ("auto", "partial")
    assert auto.learning_rates == pytest.approx(partial.learning_rates, rel=1e-9)
    assert auto.losses == pytest.approx(partial.losses, rel=1e-5)
    assert auto.suggestion == partial.suggestion
    assert auto.losses != pytest.approx(frozen.losses, rel=1e-3)  # not the frozen backbone's curve
