"""The engine under faults: resume equals an uninterrupted run, NaN stops cleanly, OOM halves the batch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dmtl_studio.core.models.checkpoint import WEIGHTS_NAME
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import engine as training
from dmtl_studio.core.training import objective
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.device import probe_device
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult, RunNotice, StepProgress
from dmtl_studio.core.training.labelled import class_weights
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.schedule import schedule_factor

SMALL = 64


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(epochs=4, batch_size=8, learning_rate=3e-3, input_size=SMALL, device="cpu", seed=3)
    return base.with_changes(**changes)


def _epoch_losses(events: list[object]) -> list[tuple[float, float | None]]:
    return [(e.train_loss, e.val_loss) for e in events if isinstance(e, EpochResult)]


@pytest.mark.parametrize("transfer", ["frozen", "full"])
def test_resume_after_stop_equals_an_uninterrupted_run(project: Path, transfer: str) -> None:
    config = _config(transfer=transfer, epochs=3 if transfer == "full" else 4, learning_rate=1e-3)
    straight: list[object] = []
    train(project, config, on_event=straight.append)

    first: list[object] = []
    done_epochs = {"n": 0}

    def stop_after_two() -> bool:
        return done_epochs["n"] >= 2

    def count(event: object) -> None:
        first.append(event)
        if isinstance(event, EpochResult):
            done_epochs["n"] += 1

    stopped = train(project, config, on_event=count, should_stop=stop_after_two)
    assert stopped.status == "stopped" and stopped.epochs_completed == 2
    resumed_events: list[object] = []
    resumed = train(project, config, on_event=resumed_events.append, resume_from=stopped.run_dir)
    assert resumed.status == "completed" and resumed.run_id == stopped.run_id
    assert any(isinstance(e, RunNotice) and "resumed" in e.message for e in resumed_events)
    combined = _epoch_losses(first) + _epoch_losses(resumed_events)
    expected = _epoch_losses(straight)
    assert len(combined) == len(expected)
    for (a_train, a_val), (b_train, b_val) in zip(combined, expected, strict=True):
        assert a_train == pytest.approx(b_train, rel=1e-5, abs=1e-6)
        assert a_val == pytest.approx(b_val, rel=1e-5, abs=1e-6)
    with ProjectStore.open(project) as store:
        run = next(r for r in store.runs() if r.id == resumed.run_id)
        assert run.status == "completed"
        assert [m.epoch for m in store.epoch_metrics(run.id)] == list(range(1, config.epochs + 1))


def test_injected_nan_stops_the_run_and_saves_nothing_non_finite(project: Path, monkeypatch) -> None:  # noqa: ANN001
    original = objective.supervised_loss

    def poisoned(parts, images, targets, epoch, step):  # noqa: ANN001, ANN202
        loss, logits, truth = original(parts, images, targets, epoch, step)
        return (loss * float("nan") if (epoch, step) == (2, 2) else loss), logits, truth

    monkeypatch.setattr(objective, "supervised_loss", poisoned)
    with pytest.raises(TrainingError, match="loss became nan"):
        train(project, _config(transfer="full"))
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
        assert run.status == "failed"
    for weights in Path(run.run_dir).rglob(WEIGHTS_NAME):  # epoch 1 was saved, finite
        assert all(torch.isfinite(t).all() for t in load_file(str(weights)).values() if t.is_floating_point())


def test_out_of_memory_halves_the_batch_and_goes_on(project: Path, monkeypatch) -> None:  # noqa: ANN001
    original = objective.supervised_loss

    def tight(parts, images, targets, epoch, step):  # noqa: ANN001, ANN202
        if len(images) > 2:
            raise torch.OutOfMemoryError("simulated: CUDA out of memory")
        return original(parts, images, targets, epoch, step)

    monkeypatch.setattr(objective, "supervised_loss", tight)
    events: list[object] = []
    summary = train(project, _config(transfer="full", epochs=1, batch_size=8), on_event=events.append)
    assert summary.status == "completed"
    notices = [e.message for e in events if isinstance(e, RunNotice)]
    assert any("batch size is now 4" in n for n in notices) and any(
        "batch size is now 2" in n for n in notices
    )
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert steps[-1].steps == 54 // 2  # 54 training images in batches of 2


def test_out_of_memory_at_the_smallest_batch_ends_cleanly(project: Path, monkeypatch) -> None:  # noqa: ANN001
    def always(parts, images, targets, epoch, step):  # noqa: ANN001, ANN202
        assert len(images) >= 2  # a backbone in training mode never gets a batch of one (BatchNorm)
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(objective, "supervised_loss", always)
    with pytest.raises(TrainingError, match="even with a batch of 2"):
        train(project, _config(transfer="full", epochs=1, batch_size=4))
    with ProjectStore.open(project) as store:  # it saved no epoch: no empty run stays in the history
        assert store.runs() == []


def test_early_stopping_ends_a_run_whose_validation_loss_stops_improving(project: Path, monkeypatch) -> None:  # noqa: ANN001
    losses = iter([1.0, 0.9, 0.95, 0.97, 0.99, 1.2, 1.3, 1.4])

    def fake_evaluate(model, loader, device, num_classes, should_stop, scores=None):  # noqa: ANN001, ANN202
        return next(losses), 0.5, np.eye(num_classes, dtype=np.int64)

    monkeypatch.setattr(training, "evaluate", fake_evaluate)
    events: list[object] = []
    summary = train(project, _config(epochs=8, early_stopping_patience=2), on_event=events.append)
    assert summary.epochs_completed == 4  # best at epoch 2, then two epochs without improvement
    assert any(isinstance(e, RunNotice) and "stopped early after epoch 4" in e.message for e in events)


def test_class_weights_and_balanced_sampling() -> None:
    weights = class_weights([0] * 90 + [1] * 10, 2)
    assert weights.tolist() == pytest.approx([100 / 180, 100 / 20])
    assert class_weights([0, 1, 2], 3).tolist() == pytest.approx([1, 1, 1])


def test_weighted_loss_and_label_smoothing_train(project: Path) -> None:
    summary = train(
        project, _config(epochs=1, imbalance="weighted_loss", label_smoothing=0.1, schedule="onecycle")
    )
    assert summary.status == "completed"
    summary = train(project, _config(epochs=1, transfer="full", imbalance="balanced_sampler"))
    assert summary.status == "completed"


def test_device_probe_falls_back_to_the_cpu_when_a_gpu_fails(monkeypatch) -> None:  # noqa: ANN001
    assert probe_device("cpu") == (torch.device("cpu"), None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # claims a GPU that cannot run anything
    device, notice = probe_device("auto")
    assert device == torch.device("cpu") and "training on the CPU" in notice
    with pytest.raises(TrainingError, match="failed a simple check"):
        probe_device("cuda")


def test_schedules_warm_up_then_decay() -> None:
    cosine = [schedule_factor("cosine", p / 100, 0.1) for p in range(101)]
    assert (
        cosine[0] < 0.05 and max(cosine) == pytest.approx(1.0, abs=0.02) and cosine[-1] == pytest.approx(0.01)
    )
    assert np.argmax(cosine) in range(9, 12)
    onecycle = [schedule_factor("onecycle", p / 100, 0.1) for p in range(101)]
    assert onecycle[0] == pytest.approx(0.04) and np.argmax(onecycle) == 30 and onecycle[-1] < 1e-3
    assert all(math.isfinite(v) and v > 0 for v in cosine + onecycle)


@pytest.fixture
def own_project(tmp_path: Path) -> Path:
    """A project over its own copy of the pictures: these tests delete and overwrite image files."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    images = write_shapes_folder(tmp_path / "images", 8, unlabelled=0, seed=2, size=64)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, seed=0)
    return project


def test_images_gone_from_disk_are_left_out_with_a_notice_and_keep_their_labels(own_project: Path) -> None:
    project = own_project
    with ProjectStore.open(project) as store:
        train_images = [im for im in store.images(usable_only=True) if im.label and im.split == "train"]
    gone = train_images[:2]
    for image in gone:
        Path(image.path).unlink()
    events: list[object] = []
    summary = train(project, _config(epochs=1), on_event=events.append)
    assert summary.status == "completed"
    notices = [e.message for e in events if isinstance(e, RunNotice)]
    assert any("2 image(s) are no longer on disk" in m and gone[0].path in m for m in notices)
    with ProjectStore.open(project) as store:
        problems = dict(store.problems())
        assert all("missing on disk" in problems[im.path] for im in gone)
        labels = {im.path: im.label for im in store.images()}
        assert all(labels[im.path] == im.label for im in gone)  # the labels stay


def test_a_file_that_changed_on_disk_into_no_image_is_left_out_of_the_run_naming_it(
    own_project: Path,
) -> None:
    project = own_project
    with ProjectStore.open(project) as store:
        victim = next(im for im in store.images(usable_only=True) if im.label and im.split == "train")
    Path(victim.path).write_text("this is no longer an image")
    assert train(project, _config(epochs=1)).status == "completed"  # found before the run, which goes on
    with ProjectStore.open(project) as store:
        assert victim.path in dict(store.problems())
        assert victim.id not in {im.id for im in store.images(usable_only=True)}


def test_ctrl_c_while_an_epoch_is_saved_reports_and_records_the_epoch_kept(
    project: Path, monkeypatch
) -> None:  # noqa: ANN001
    from dmtl_studio.core.training import run_state

    original = run_state.save_epoch

    def interrupted_at_epoch_2(run_dir, epoch, files):  # noqa: ANN001, ANN202
        if epoch == 2:  # Ctrl-C arrives while epoch 2 is being written: epoch 1 is what the run keeps
            raise KeyboardInterrupt
        return original(run_dir, epoch, files)

    monkeypatch.setattr(run_state, "save_epoch", interrupted_at_epoch_2)
    with pytest.raises(KeyboardInterrupt) as caught:
        train(project, _config(transfer="full", epochs=3))
    summary = caught.value.summary
    assert summary.status == "interrupted" and summary.epochs_completed == 1
    assert summary.metrics["last"]["epoch"] == 1 and summary.metrics["best"]["epoch"] == 1
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
        assert run.final_metrics["last"]["epoch"] == 1
        assert [m.epoch for m in store.epoch_metrics(run.id)] == [1]
