"""A head trained by epochs on a frozen encoder's unit-length embeddings learns at the recommended rate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_demo import create_text_demo_project
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Callback, Trainer
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.lr_finder import LRRangeTest
from dmtl_studio.core.training.outputs import BatchOutput, EpochOutput
from dmtl_studio.core.training.text_head_rate import scale_head_rate
from dmtl_studio.core.training.text_setup import build_text_run


def test_only_a_frozen_unit_length_encoders_head_groups_are_scaled() -> None:
    def groups() -> list[dict]:
        return [
            {"name": "backbone", "lr": 1e-4},
            {"name": "head", "lr": 3e-3},
            {"name": "head.no_decay", "lr": 3e-3},
        ]

    scaled = groups()
    assert scale_head_rate(scaled, 384, True, "frozen") == pytest.approx(math.sqrt(384))
    assert [g["lr"] for g in scaled] == pytest.approx([1e-4, 3e-3 * math.sqrt(384), 3e-3 * math.sqrt(384)])
    for width, normalized, transfer in ((384, False, "frozen"), (384, True, "partial"), (384, True, "full")):
        kept = groups()
        assert scale_head_rate(kept, width, normalized, transfer) == 1.0 and kept == groups()
    kept = groups()
    assert scale_head_rate(kept, 384, True, "frozen", head="mlp") == 1.0 and kept == groups()


def _frozen_text_project(tmp_path: Path, epochs: int) -> tuple[Path, TrainConfig]:
    """The text demo, and a frozen run of its head by epochs (no contrastive step, no recipe)."""
    project = tmp_path / "texts"
    create_text_demo_project(project)
    config = TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2",
        linear_probe=False,
        contrastive_steps=0,
        device="cpu",
        seed=0,
        recipe=None,
    )
    return project, config.with_changes(transfer="frozen", epochs=epochs)


class _Epochs(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        self.losses.append(epoch.train_loss)


def test_a_frozen_text_head_trained_by_epochs_learns_at_the_recommended_rate(tmp_path: Path) -> None:
    """At 3e-3 on the unit-length embeddings the head barely moved in 10 epochs (loss 1.38 -> 1.30 on four
    classes, near-uniform predictions: h25); the rate scaled by sqrt(384) fits it."""
    project, config = _frozen_text_project(tmp_path, epochs=10)
    notices: list[str] = []
    with ProjectStore.open(project) as store:
        parts = build_text_run(
            store, config, lambda e: notices.append(e.message) if isinstance(e, RunNotice) else None
        )
        classes = len(parts.classes)
    head = next(g for g in parts.optimizer.param_groups if g["name"] == "head")
    assert head["lr"] == pytest.approx(3e-3 * math.sqrt(384))
    assert any("scaled by 19.6" in n and "0.003 as set, 0.0588 in the optimizer" in n for n in notices), (
        notices
    )
    epochs = _Epochs()
    assert Trainer(parts, [epochs]).fit() == "completed"
    assert epochs.losses[-1] < 0.5 * math.log(classes)  # it was 94 % of ln K


def test_the_range_test_reports_a_scaled_heads_rates_as_set(tmp_path: Path) -> None:
    project, config = _frozen_text_project(tmp_path, epochs=10)
    with ProjectStore.open(project) as store:
        parts = build_text_run(store, config)
    used: list[float] = []

    class Rates(Callback):
        def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
            used.append(next(g["lr"] for g in trainer.parts.optimizer.param_groups if g["name"] == "head"))

    test = LRRangeTest(1e-4, 1e-2, steps=3)
    Trainer(parts, [test, Rates()]).fit(validate=False)
    # The Learning rate box takes the suggestion and the run scales it: the test's rates are the box's.
    assert test.rates == pytest.approx([1e-4, 1e-3, 1e-2])
    assert used == pytest.approx([r * math.sqrt(384) for r in test.rates])


def test_a_run_resumed_from_before_the_scaling_goes_on_at_its_own_rate_and_says_so(tmp_path: Path) -> None:
    """Its notes said 'scaled by 19.6 … 0.0588 in the optimizer' while the restored state trained at 0.003 (h29)."""
    project, config = _frozen_text_project(tmp_path, epochs=2)
    with ProjectStore.open(project) as store:
        parts = build_text_run(store, config)
    state = Trainer(parts).state_dict()
    state["base_lrs"] = [3e-3 for _ in state["base_lrs"]]  # as a run started before the change saved them
    notices: list[object] = []
    resumed = Trainer(parts, notify=notices.append)
    resumed.load_state_dict(state)
    assert parts.optimizer.param_groups[-1]["base_lr"] == pytest.approx(3e-3)
    said = [n.message for n in notices if isinstance(n, RunNotice)]
    assert len(said) == 1 and "goes on at the head's learning rate it started with, 0.003" in said[0]
    assert "a run started now takes 0.0588" in said[0]
    quiet: list[object] = []
    Trainer(parts, notify=quiet.append).load_state_dict(
        Trainer(parts).state_dict()
    )  # a run of now: nothing to say
    assert not quiet
