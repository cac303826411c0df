"""The DMTL objective in the engine: unlabelled images never reach the supervised loss, lambda = 0 is plain
training, and a run with consistency and unlabelled images completes, reports both losses and resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import objective
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EpochResult, StepProgress
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.settings import ConfigError
from dmtl_studio.core.training.setup import RunParts

SMALL = 64


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(epochs=2, batch_size=8, learning_rate=3e-3, input_size=SMALL, device="cpu", seed=5)
    return base.with_changes(**changes)


def _step_losses(events: list[object]) -> list[float]:
    return [e.loss for e in events if isinstance(e, StepProgress)]


def test_lambda_zero_reproduces_plain_training_whatever_the_other_consistency_settings(project: Path) -> None:
    plain: list[object] = []
    train(project, _config(), on_event=plain.append)
    inert: list[object] = []
    train(
        project,
        _config(
            consistency_weight=0.0,
            use_unlabelled=True,
            consistency_temperature=0.5,
            consistency_threshold=0.8,
            unlabelled_ratio=7,
        ),
        on_event=inert.append,
    )
    assert _step_losses(plain) == _step_losses(inert)  # exactly: no extra draws, same loader order
    assert all(e.consistency_loss is None for e in inert if isinstance(e, StepProgress | EpochResult))
    dmtl: list[object] = []
    train(project, _config(consistency_weight=1.0), on_event=dmtl.append)
    assert _step_losses(dmtl)[0] == _step_losses(plain)[0]  # the first supervised loss is the same ...
    assert _step_losses(dmtl) != _step_losses(plain)  # ... then the consistency term changes the training


def test_unlabelled_images_never_enter_the_supervised_loss(project: Path, monkeypatch) -> None:  # noqa: ANN001
    seen: list[tuple[RunParts, torch.Tensor, torch.Tensor]] = []
    original = objective.supervised_loss

    def recording(parts, images, targets, epoch, step):  # noqa: ANN001, ANN202
        seen.append((parts, images.detach().clone(), targets.clone()))
        return original(parts, images, targets, epoch, step)

    monkeypatch.setattr(objective, "supervised_loss", recording)
    summary = train(project, _config(consistency_weight=2.0, use_unlabelled=True, unlabelled_ratio=2))
    assert summary.status == "completed"
    run = seen[0][0]
    assert run.unlabelled_set is not None and len(run.unlabelled_set) == 6
    labelled = run.cache.train().features.flatten(0, 1)  # every cached view of every labelled image
    unlabelled = run.cache.unlabelled()
    unlabelled_rows = torch.cat([unlabelled.features.flatten(0, 1), unlabelled.clean])
    count = 0
    for _, features, targets in seen:
        assert bool((targets >= 0).all()) and bool((targets < run.num_classes).all())
        for row in features:
            assert (labelled - row).abs().amax(1).min() < 1e-6  # exactly a labelled image's cached view
            assert (unlabelled_rows - row).abs().amax(1).min() > 1e-3
            count += 1
    assert len(run.train_set) % 8 > 1 and count == 2 * len(run.train_set)  # every labelled image, 2 epochs


def test_unlabelled_images_stay_out_of_the_supervised_loss_when_fine_tuning(
    project: Path, monkeypatch
) -> None:  # noqa: ANN001
    seen: list[tuple[int, RunParts]] = []
    original = objective.supervised_loss

    def recording(parts, images, targets, epoch, step):  # noqa: ANN001, ANN202
        assert bool((targets >= 0).all())
        seen.append((len(targets), parts))
        return original(parts, images, targets, epoch, step)

    monkeypatch.setattr(objective, "supervised_loss", recording)
    events: list[object] = []
    summary = train(
        project,
        _config(transfer="full", epochs=1, consistency_weight=1.0, use_unlabelled=True, unlabelled_ratio=1),
        on_event=events.append,
    )
    assert summary.status == "completed"
    run = seen[0][1]
    assert sum(n for n, _ in seen) == len(run.train_set)  # the labelled images, each once
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert steps and all(e.consistency_loss is not None and e.consistency_loss >= 0 for e in steps)


def test_a_run_with_consistency_and_unlabelled_images_reports_and_stores_both_losses(project: Path) -> None:
    events: list[object] = []
    config = _config(consistency_weight=1.0, use_unlabelled=True, consistency_temperature=0.5)
    summary = train(project, config, on_event=events.append)
    assert summary.status == "completed"
    epochs = [e for e in events if isinstance(e, EpochResult)]
    assert len(epochs) == 2
    assert all(e.consistency_loss > 0 and 0 < e.consistency_mask <= 1 for e in epochs)
    assert summary.metrics["last"]["consistency_loss"] == pytest.approx(epochs[-1].consistency_loss)
    with ProjectStore.open(project) as store:
        run = next(r for r in store.runs() if r.id == summary.run_id)
        assert run.config["consistency_weight"] == 1.0 and run.config["use_unlabelled"] is True
        assert run.final_metrics["last"]["consistency_loss"] > 0
        assert [m.epoch for m in store.epoch_metrics(run.id)] == [1, 2]


def test_a_dmtl_run_resumes_exactly(project: Path) -> None:
    config = _config(epochs=3, consistency_weight=1.0, use_unlabelled=True)
    straight: list[object] = []
    train(project, config, on_event=straight.append)
    first: list[object] = []
    stopped = train(
        project,
        config,
        on_event=first.append,
        should_stop=lambda: sum(isinstance(e, EpochResult) for e in first) >= 1,
    )
    assert stopped.epochs_completed == 1
    rest: list[object] = []
    train(project, config, on_event=rest.append, resume_from=stopped.run_dir)
    combined = [e.consistency_loss for e in first + rest if isinstance(e, EpochResult)]
    expected = [e.consistency_loss for e in straight if isinstance(e, EpochResult)]
    assert combined == pytest.approx(expected, rel=1e-5)
    assert _step_losses(first + rest) == pytest.approx(_step_losses(straight), rel=1e-5)


def test_consistency_settings_are_checked_and_old_configurations_load() -> None:
    with pytest.raises(ConfigError, match="lambda"):
        TrainConfig(consistency_weight=-1)
    with pytest.raises(ConfigError, match="temperature"):
        TrainConfig(consistency_temperature=0)
    with pytest.raises(ConfigError, match="threshold"):
        TrainConfig(consistency_threshold=1.0)
    with pytest.raises(ConfigError, match="ratio"):
        TrainConfig(unlabelled_ratio=0)
    old = {"backbone": "efficientnet_lite0", "transfer": "frozen", "epochs": 3}  # written before DMTL
    config = TrainConfig.from_dict(old)
    assert config.epochs == 3 and config.use_unlabelled is False
