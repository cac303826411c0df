"""The Auto transfer: the linear probe, then the partial fine-tune within the time budget, keeping the better."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dmtl_studio.core.evaluation.predict import predict_folder
from dmtl_studio.core.evaluation.report import build_report
from dmtl_studio.core.models.classifier import build_head
from dmtl_studio.core.models.run_folder import read_sidecar
from dmtl_studio.core.models.run_notes import read_run_notes
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.auto import (
    FORWARD_SHARE,
    MAX_START_WEIGHT,
    _Budget,
    _RunClock,
    balanced_accuracy,
    start_head_from_probe,
)
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult, PhaseStarted, RunNotice, StepProgress
from dmtl_studio.core.training.linear_probe import fit_linear_probe
from dmtl_studio.core.training.out_of_fold import held_out_confusion
from dmtl_studio.core.training.probe_model import to_module
from dmtl_studio.core.training.run import train
from tests.core.text_run import make_text_project


def _auto(**changes: object) -> TrainConfig:
    base = dict(
        transfer="auto",
        epochs=1,
        batch_size=16,
        input_size=32,
        device="cpu",
        feature_views=1,
        time_budget=30.0,
    )
    return TrainConfig.recommended(**{**base, **changes})


def _notes(events: list[object]) -> list[str]:
    return [e.message for e in events if isinstance(e, RunNotice)]


def _phase_of(events: list[object]) -> list[int]:
    """The phase each event came in (0 before the first)."""
    phase, phases = 0, []
    for event in events:
        if isinstance(event, PhaseStarted):
            phase = event.phase
        phases.append(phase)
    return phases


def test_auto_trains_the_probe_then_the_fine_tune_and_keeps_the_better_on_validation(project: Path) -> None:
    events: list[object] = []
    summary = train(project, _auto(), on_event=events.append)

    assert [e.phase for e in events if isinstance(e, PhaseStarted)] == [1, 2]
    choice = summary.metrics["auto"]
    assert Path(choice["probe_run"]).name.startswith("auto-probe-")
    assert Path(choice["finetune_run"]).name.startswith("auto-finetune-")
    # Both scores are the balanced accuracy of each phase's kept epoch on the same validation images.
    epochs = [(p, e) for p, e in zip(_phase_of(events), events, strict=True) if isinstance(e, EpochResult)]
    probe_epoch = next(e for p, e in epochs if p == 1)
    finetune_epoch = next(e for p, e in epochs if p == 2 and e.epoch == summary.metrics["best"]["epoch"])
    assert choice["probe"] == balanced_accuracy(probe_epoch.confusion)
    assert choice["finetune"] == balanced_accuracy(finetune_epoch.confusion)
    assert probe_epoch.confusion.sum() == finetune_epoch.confusion.sum() >= 5 * 3
    kept = "probe" if choice["probe"] > choice["finetune"] else "finetune"
    assert choice["kept"] == kept
    assert summary.run_dir == choice[f"{kept}_run"] and summary.status == "completed"
    notes = _notes(events)
    assert "Auto: the fine-tune's head starts from the linear probe's (LP-FT)" in notes
    # The estimate that let the fine-tune go on is said once, when it is made (after the first steps).
    told = [n for n in notes if n.startswith("Auto: the fine-tune goes on, estimated ")]
    assert len(told) == 1 and "within the budget of 30 min (measured on its first 2 step(s))" in told[0]
    assert choice["note"] in notes and "balanced accuracy" in choice["note"]
    # The second phase is the partial fine-tune default (the benchmark's better fine-tune), with the run's depth.
    assert [e.title for e in events if isinstance(e, PhaseStarted)][1] == "partial fine-tune"
    finetune_config = read_sidecar(choice["finetune_run"])["config"]
    assert (finetune_config["transfer"], finetune_config["unfreeze_stages"]) == ("partial", 2)
    with ProjectStore.open(project) as store:
        assert {r.name for r in store.runs()} == {
            Path(choice["probe_run"]).name,
            Path(choice["finetune_run"]).name,
        }
        # The choice is stored with the run kept (it lived in memory only: a reopened project forgot it, h29).
        stored = {r.run_dir: r.final_metrics for r in store.runs()}
    assert stored[summary.run_dir]["auto"] == choice and "best" in stored[summary.run_dir]
    assert "auto" not in stored[choice["probe_run" if kept == "finetune" else "finetune_run"]]


def test_with_a_test_split_the_probe_is_compared_by_its_out_of_fold_predictions(project: Path) -> None:
    with ProjectStore.open(
        project
    ) as store:  # a test split: the probe takes the validation images into its fit
        train_ids = [im.id for im in store.images(usable_only=True) if im.split == "train" and im.label]
        store.set_splits({image_id: "test" for image_id in train_ids[::4]})
        val_images = sum(1 for im in store.images(usable_only=True) if im.split == "val" and im.label)
    events: list[object] = []
    summary = train(project, _auto(), on_event=events.append)

    choice = summary.metrics["auto"]
    probe_epochs = [
        e for p, e in zip(_phase_of(events), events, strict=True) if p == 1 and isinstance(e, EpochResult)
    ]
    assert all(e.confusion is None for e in probe_epochs)  # the probe scored no held-out validation image
    out_of_fold = held_out_confusion(choice["probe_run"], summary.classes)
    assert out_of_fold is not None and out_of_fold.sum() == val_images >= 5 * 3
    assert choice["probe"] == balanced_accuracy(out_of_fold)
    assert choice["finetune"] is not None and "out of fold" in choice["note"]
    assert choice["kept"] == ("probe" if choice["probe"] > choice["finetune"] else "finetune")


def test_a_budget_too_small_for_the_fine_tune_keeps_the_probe_alone(project: Path) -> None:
    events: list[object] = []
    summary = train(project, _auto(time_budget=0.001), on_event=events.append)

    assert summary.status == "completed" and Path(summary.run_dir).name.startswith("auto-probe-")
    assert summary.metrics["auto"]["kept"] == "probe"
    assert "fine-tune skipped" in summary.metrics["auto"]["note"]
    assert summary.metrics["auto"]["note"] in _notes(events)
    assert [e.phase for e in events if isinstance(e, PhaseStarted)] == [1]
    with ProjectStore.open(project) as store:
        assert [r.name for r in store.runs()] == [Path(summary.run_dir).name]
    # The kept run keeps why it was kept, says it is Auto's, and its time budget is not "unused".
    assert summary.metrics["auto"]["note"] in read_run_notes(summary.run_dir)
    config = read_sidecar(summary.run_dir)["config"]
    assert config["strategy"] == "auto" and "time_budget" not in config["unused_settings"]
    sidecar, notes = read_sidecar(summary.run_dir), read_run_notes(summary.run_dir)
    text = build_report(summary.run_dir, None, [], None, sidecar, run_notes=notes)
    assert "Auto: its linear probe" in text and "fine-tune skipped" in text


def test_auto_s_first_phase_is_the_linear_probe_whatever_the_frozen_strategy_s_box_says(
    project: Path,
) -> None:
    """With 'Fit as a linear probe' unticked, Auto's first phase trained a head for 6 epochs while its notes, the
    history and the report called it the linear probe."""
    summary = train(project, _auto(time_budget=0.001, linear_probe=False, head="mlp"))
    assert summary.metrics["auto"]["kept"] == "probe"
    config = read_sidecar(summary.run_dir)["config"]
    assert config["linear_probe"] is True and config["head"] == "linear"
    # Its fine-tune starts from that head (LP-FT): a linear one too.
    started = train(project, _auto(linear_probe=False, head="mlp"))
    assert (
        read_sidecar(started.metrics["auto"]["finetune_run"] or started.run_dir)["config"]["head"] == "linear"
    )


def test_the_estimate_from_the_first_steps_stops_a_fine_tune_over_the_budget() -> None:
    # One minute spent, two minutes of budget: 100 s of training steps left is over it, 30 s is not.
    def step(eta: float) -> StepProgress:
        return StepProgress(1, 2, 2, 10, 1.0, 1e-3, images_per_second=8.0, eta_seconds=eta)

    for eta, over in ((100.0, True), (30.0, False)):
        budget = _Budget(lambda: 60.0, budget_s=120, val_images=24, views=2)
        assert budget(step(eta)) is False  # the first step: no estimate yet
        assert budget.estimate_s is None and not budget.over
        assert budget(step(eta)) is True  # the estimate is made on this step, once
        assert budget(step(eta)) is False
        validation = (
            2 * 24 * 2 / 8.0 * FORWARD_SHARE
        )  # both epochs' passes over 24 images and their mirror images
        assert budget.estimate_s == pytest.approx(60 + eta + validation)
        assert budget.over is over


def test_the_first_epoch_s_whole_time_estimates_again_and_can_stop_the_fine_tune() -> None:
    # The first steps said the run fits; the first epoch (steps, validation with TTA, checkpoint) says otherwise.
    clock = {"now": 60.0}
    budget = _Budget(
        lambda: clock["now"], budget_s=120, val_images=24, views=2
    )  # the fine-tune starts at 60 s
    clock["now"] = 65.0  # 3 s of set-up, then a first step of 2 s (of 10 an epoch)
    for _ in range(2):
        budget(StepProgress(1, 4, 2, 10, 1.0, 1e-3, images_per_second=8.0, eta_seconds=10.0))
    assert budget.estimate_s is not None and not budget.over and budget.made_on() == "first 2 step(s)"
    clock["now"] = (
        83.0  # 18 s for the other 9 steps, validation and checkpoint: an epoch is 20 s, set-up aside
    )
    budget.epoch_ended(EpochResult(1, 4, 0.5, 0.8, 0.6, 0.7, 1e-3))
    assert budget.estimate_s == pytest.approx(83 + 3 * 20) and budget.over  # 143 s, over the 120 s budget
    assert budget.made_on() == "first epoch"
    within = _Budget(
        lambda: clock["now"], budget_s=300, val_images=24, views=2
    )  # no step seen: from its start
    clock["now"] += 20.0
    within.epoch_ended(EpochResult(1, 4, 0.5, 0.8, 0.6, 0.7, 1e-3))
    assert not within.over and within.estimate_s == pytest.approx(103 + 3 * 20)
    within.epoch_ended(EpochResult(2, 4, 0.5, 0.8, 0.6, 0.7, 1e-3))  # only the first epoch's end counts
    assert within.estimate_s == pytest.approx(163)


def test_stopped_during_the_fine_tune_the_probe_is_the_complete_usable_result(
    project: Path, shapes_dir: Path, tmp_path: Path
) -> None:
    events: list[object] = []

    def stop_in_the_fine_tune() -> bool:
        phases = _phase_of(events)
        return any(isinstance(e, StepProgress) and p == 2 for e, p in zip(events, phases, strict=True))

    summary = train(project, _auto(), on_event=events.append, should_stop=stop_in_the_fine_tune)

    assert summary.status == "completed" and Path(summary.run_dir).name.startswith("auto-probe-")
    assert summary.metrics["auto"]["kept"] == "probe"
    assert "the fine-tune was stopped" in summary.metrics["auto"]["note"]
    images = tmp_path / "new"
    images.mkdir()
    for picture in sorted((shapes_dir / "circle").glob("*.png"))[:3]:
        (images / picture.name).write_bytes(picture.read_bytes())
    result = predict_folder(summary.run_dir, images, tmp_path / "out.csv")
    assert len(result.predictions) == 3 and (tmp_path / "out.csv").is_file()


def test_a_text_project_refuses_the_auto_transfer(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "texts")
    with pytest.raises(TrainingError, match="Auto transfer is for image projects"):
        train(project, _auto())
    with ProjectStore.open(project) as store:
        assert store.runs() == []


def test_the_fine_tunes_head_starts_with_the_probes_logits() -> None:
    generator = np.random.default_rng(0)
    features = generator.normal(2.0, 3.0, (60, 8)).astype(np.float32)
    targets = np.arange(60) % 3
    probe = fit_linear_probe(features, targets, num_classes=3, seed=0)
    layer = to_module(probe)
    # The probe's checkpoint: its linear layer in the product's linear head (dropout, then the layer).
    probe_head = build_head("linear", 8, 3, 0, 0.2)
    probe_head[1].load_state_dict(layer.state_dict())
    weights = {f"head.{k}": v for k, v in probe_head.state_dict().items()}
    weights["backbone.stem.weight"] = torch.zeros(1)

    finetune = nn.Module()
    finetune.head = build_head("linear", 8, 3, 0, 0.2)
    assert start_head_from_probe(finetune, weights) == (
        True,
        "the fine-tune's head starts from the linear probe's (LP-FT)",
    )
    x = torch.from_numpy(features)
    with torch.no_grad():
        assert torch.allclose(finetune.head.eval()(x), layer(x), atol=1e-5)

    mlp = nn.Module()
    mlp.head = build_head("mlp", 8, 3, 16, 0.2)
    before = {k: v.clone() for k, v in mlp.head.state_dict().items()}
    assert not start_head_from_probe(mlp, weights)[0]
    assert all(torch.equal(before[k], v) for k, v in mlp.head.state_dict().items())


def test_a_probe_head_leaning_on_a_near_constant_feature_is_not_a_fine_tunes_start() -> None:
    generator = np.random.default_rng(0)
    features = generator.normal(2.0, 3.0, (60, 8)).astype(np.float32)
    targets = np.arange(60) % 3
    features[:, 0] = (
        1.0 + 1e-3 * (targets - 1) + 1e-4 * generator.normal(size=60)
    )  # tiny spread, tells the class
    probe = fit_linear_probe(features, targets, num_classes=3, seed=0)
    layer = to_module(probe)
    largest = float(layer.weight.detach().abs().max())
    assert largest > MAX_START_WEIGHT  # the folded standardisation divides by the feature's spread
    probe_head = build_head("linear", 8, 3, 0, 0.2)
    probe_head[1].load_state_dict(layer.state_dict())
    weights = {f"head.{k}": v for k, v in probe_head.state_dict().items()}
    finetune = nn.Module()
    finetune.head = build_head("linear", 8, 3, 0, 0.2)
    before = {k: v.clone() for k, v in finetune.head.state_dict().items()}
    copied, note = start_head_from_probe(finetune, weights)
    assert not copied and f"a weight of {largest:.0f}" in note and "starts from its default" in note
    assert all(torch.equal(before[k], v) for k, v in finetune.head.state_dict().items())


def test_a_pause_does_not_count_against_the_budget() -> None:
    paused = [True]

    def should_stop() -> bool:
        if paused[0]:  # the window holds a paused run here
            time.sleep(0.3)
            paused[0] = False
        return False

    clock = _RunClock(should_stop)
    assert not clock.should_stop()
    assert clock.waited >= 0.3 and clock.elapsed() < 0.1


def test_a_fine_tune_its_probe_beat_says_so_and_is_not_the_run_named_for_a_project(tmp_path: Path) -> None:
    """Both phases stay in the history; the newer fine-tune was offered as the latest run although Auto kept the
    probe."""
    import os
    from types import SimpleNamespace

    from dmtl_studio.cli import _runs_hint
    from dmtl_studio.core.models.run_folder import SIDECAR_NAME
    from dmtl_studio.core.models.run_notes import NOT_KEPT, not_kept_note
    from dmtl_studio.core.training.auto import _with_choice
    from dmtl_studio.core.training.events import RunSummary

    runs = tmp_path / "p" / "runs"
    probe, finetune = runs / "auto-probe-1", runs / "auto-finetune-1"
    for age, run in enumerate((finetune, probe)):
        run.mkdir(parents=True)
        (run / SIDECAR_NAME).write_text("{}")
        os.utime(run / SIDECAR_NAME, (1e9 + 10 * (1 - age), 1e9 + 10 * (1 - age)))  # the fine-tune is newer
    assert _runs_hint(tmp_path / "p").startswith(f"give one of its runs, the latest is {finetune}")
    summary = RunSummary(1, str(probe), "completed", 1, ("a", "b"), "cpu", {})
    note = "Auto kept the linear probe: balanced accuracy 0.9 vs 0.8"
    stored: list[tuple[int, dict]] = []
    store = SimpleNamespace(add_run_metrics=lambda run_id, extra: stored.append((run_id, extra)))
    choice = {"kept": "probe", "finetune_run": str(finetune), "note": note}
    kept = _with_choice(store, summary, choice, lambda e: None)
    assert kept.metrics["auto"]["kept"] == "probe" and not_kept_note(probe) == ""
    assert stored == [(1, {"auto": choice})]  # kept with the run it kept
    assert not_kept_note(finetune) == f"{NOT_KEPT} auto-probe-1: {note}"
    assert _runs_hint(tmp_path / "p").startswith(f"give one of its runs, the latest is {probe}")
