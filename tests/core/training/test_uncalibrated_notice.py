"""A run with too few validation items to fit a temperature says so in its notes, and what that means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmtl_studio.core.models.calibration import MIN_IMAGES
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.reject import RejectError, validation_threshold
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.run import train
from tests.core.text_run import make_text_project, text_probe_config

QUICK = TrainConfig(epochs=1, batch_size=16, input_size=32, device="cpu", feature_views=1)


def _keep_validation(project: Path, count: int) -> None:
    """Move all but ``count`` of the labelled validation images to the training split."""
    with ProjectStore.open(project) as store:
        val = [im for im in store.images(usable_only=True) if im.split == "val" and im.label]
        store.set_splits({im.id: "train" for im in val[count:]})


def _train(project: Path, config: TrainConfig = QUICK) -> tuple[Path, list[str]]:
    events: list[object] = []
    summary = train(project, config, on_event=events.append)
    assert summary.status == "completed"
    return Path(summary.run_dir), [e.message for e in events if isinstance(e, RunNotice)]


def _uncalibrated(notes: list[str]) -> list[str]:
    return [n for n in notes if n.startswith("no calibration")]


def test_two_validation_images_fit_no_temperature_and_the_notes_say_why_and_what_it_means(
    project: Path,
) -> None:
    _keep_validation(project, 2)
    run_dir, notes = _train(project)

    assert "calibration" not in json.loads((run_dir / "model.json").read_text())
    [note] = _uncalibrated(notes)  # said once
    assert f"2 validation image(s), fewer than the {MIN_IMAGES} needed to fit a temperature" in note
    assert "confidences are uncalibrated" in note and "--reject-below" in note
    # What the note says of --target-accuracy is what predict does: a threshold chosen on those 2 images.
    assert "would be chosen on those 2 image(s) alone" in note
    assert validation_threshold(run_dir, 0.9).images == 2


def test_no_validation_image_the_notes_say_target_accuracy_is_refused(project: Path) -> None:
    _keep_validation(project, 0)
    run_dir, notes = _train(project)

    [note] = _uncalibrated(notes)
    assert "no held-out validation image to fit a temperature on" in note
    assert (
        "--target-accuracy" in note
        and "is refused: give a fixed confidence (predict --reject-below P" in note
    )
    assert "'Unsure' below … confidence" in note  # the window's choice too
    with pytest.raises(RejectError, match="no labelled validation image.*give --reject-below P instead"):
        validation_threshold(run_dir, 0.9)


def test_validation_images_that_joined_the_training_are_not_asked_for_again(project: Path) -> None:
    # An epoch run with too few validation images for a pick, and test images: the validation images train.
    _keep_validation(project, 2)
    with ProjectStore.open(project) as store:
        train_ids = [im.id for im in store.images(usable_only=True) if im.split == "train" and im.label]
        store.set_splits({image_id: "test" for image_id in train_ids[:4]})
    _run_dir, notes = _train(project)
    [note] = _uncalibrated(notes)
    assert "the 2 validation image(s) joined the training (above)" in note
    assert "at least 10" not in note and "too many to join the training" in note
    [plan] = [n for n in notes if "too few to pick an epoch on" in n]
    assert "a pick needs" in plan and "fewest: " in plan


def test_enough_validation_images_are_calibrated_without_the_note(project: Path) -> None:
    with ProjectStore.open(project) as store:
        val = sum(1 for im in store.images(usable_only=True) if im.split == "val" and im.label)
    assert val >= MIN_IMAGES
    run_dir, notes = _train(project)
    assert json.loads((run_dir / "model.json").read_text())["calibration"]["images"] == val
    assert _uncalibrated(notes) == []


def test_a_text_run_on_its_out_of_fold_validation_texts_names_texts(tmp_path: Path) -> None:
    # 6 validation texts, and test texts: the validation texts join the probe's fit, scored out of fold.
    project = make_text_project(tmp_path / "texts")
    run_dir, notes = _train(project, text_probe_config(contrastive_steps=0))

    [note] = _uncalibrated(notes)
    assert (
        "6 validation text(s)" in note
        and "add validation texts (at least 10)" in note
        and "image" not in note
    )
    assert "too many to join the training" not in note  # a probe scores its joined texts out of fold
    assert validation_threshold(run_dir, 0.9).images == 6  # out of fold, as the note says


def test_joined_validation_items_are_said_to_be_scored_out_of_fold() -> None:
    from dmtl_studio.core.training.callbacks import uncalibrated_notice

    note = uncalibrated_notice(9, "text", joined=9)
    assert (
        "9 validation text(s) (scored by the models of the folds that left them out, as they joined the fit)"
        in (note)
    )
    assert "(scored" not in uncalibrated_notice(2, "image")


def test_a_probe_with_a_class_of_one_item_is_told_to_label_another_not_to_add_validation_items() -> None:
    """A probe joins its validation items whenever there is a test split: more of them would join too, and
    only a second item of the lone class lets its folds, and so calibration, exist."""
    from dmtl_studio.core.training.callbacks import uncalibrated_notice

    probe = uncalibrated_notice(0, "image", joined=38, probe=True)
    assert "label a second, different image of each class that has only one" in probe
    assert "too many to join" not in probe
    epochs = uncalibrated_notice(0, "image", joined=2)  # an epoch run: too few validation images for a pick
    assert "too many to join the training" in epochs
