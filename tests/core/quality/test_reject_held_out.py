"""``predict --target-accuracy``: the "not sure" threshold is chosen on validation items the run was not fitted on,
or, for those a linear probe took into its fit (when the project has a test split), on their out-of-fold
probabilities; never on what the model was fitted on."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.models.calibration import softmax, temperature_of, threshold_for_accuracy
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.models.run_notes import read_run_notes
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.reject import RejectError, describe_threshold, validation_threshold
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.fitted_items import FITTED_NAME
from dmtl_studio.core.training.out_of_fold import HELD_OUT_NAME, held_out_logits
from dmtl_studio.core.training.run import train
from tests.core.text_run import copy_text_project
from tests.e2e.cli import run_cli


def _probe() -> TrainConfig:
    return TrainConfig(
        epochs=1, batch_size=8, input_size=32, device="cpu", seed=2, feature_views=1, linear_probe=True
    ).with_changes(transfer="frozen", head="linear")


def _hashes(project: Path, split: str) -> set[str]:
    with ProjectStore.open(project) as store:
        return {im.sha256 for im in store.images(usable_only=True) if im.split == split and im.label}


def _with_test_split(project: Path) -> None:
    with ProjectStore.open(project) as store:  # a test split: validation images may join the fit
        train_ids = [im.id for im in store.images(usable_only=True) if im.split == "train" and im.label]
        store.set_splits({image_id: "test" for image_id in train_ids[::4]})


def _out_of_fold_threshold(project: Path, run: Path, target: float) -> tuple[float, float]:
    """The threshold and coverage ``target`` gives on the run's kept out-of-fold probabilities (calibrated)."""
    loaded = load_checkpoint(run)
    classes = list(loaded.classes)
    kept = held_out_logits(run, classes)
    with ProjectStore.open(project) as store:
        val = [im for im in store.images(usable_only=True) if im.split == "val" and im.label]
    logits = np.stack([kept[im.sha256] for im in val])
    targets = np.asarray([classes.index(im.label) for im in val])
    chosen = threshold_for_accuracy(softmax(logits, temperature_of(loaded.sidecar)), targets, target)
    return chosen.threshold, chosen.coverage


def test_a_probe_that_fitted_its_validation_images_chooses_the_threshold_on_their_out_of_fold_probabilities(
    project: Path, tmp_path: Path
) -> None:
    _with_test_split(project)
    val = _hashes(project, "val")
    run = Path(train(project, _probe()).run_dir)
    fitted = set((run / FITTED_NAME).read_text().split())
    assert val <= fitted  # what the run really fitted on
    chosen = validation_threshold(run, 0.9)
    assert chosen.images == len(val)
    assert (chosen.threshold, chosen.coverage) == _out_of_fold_threshold(project, run, 0.9)
    folder = tmp_path / "new"  # the command line chooses the same threshold
    folder.mkdir()
    with ProjectStore.open(project) as store:
        for im in [im for im in store.images(usable_only=True) if im.split == "test"][:4]:
            shutil.copy(im.path, folder / Path(im.path).name)
    done = run_cli(
        "predict", str(run), str(folder), "--out", str(tmp_path / "p.csv"), "--target-accuracy", "0.9"
    )
    assert done.returncode == 0, done.stderr
    assert describe_threshold(chosen, 0.9) in done.stdout
    (run / FITTED_NAME).unlink()  # a run from before the list was kept: its settings and the project say it
    assert validation_threshold(run, 0.9) == chosen
    (run / HELD_OUT_NAME).unlink()  # nor the out-of-fold logits: nothing honest is left to choose on
    with pytest.raises(RejectError, match="keeps no out-of-fold predictions"):
        validation_threshold(run, 0.9)


def test_a_damaged_file_of_out_of_fold_logits_is_named_as_such(project: Path) -> None:
    _with_test_split(project)
    run = Path(train(project, _probe()).run_dir)
    kept = (run / HELD_OUT_NAME).read_bytes()
    (run / HELD_OUT_NAME).write_bytes(kept[: len(kept) // 2])  # cut short (a copy that did not finish)
    with pytest.raises(
        RejectError, match=f"{HELD_OUT_NAME} in its folder\\) cannot be read: the file is damaged"
    ):
        validation_threshold(run, 0.9)
    (run / HELD_OUT_NAME).write_bytes(kept)  # put back, it chooses again
    assert validation_threshold(run, 0.9).images == len(_hashes(project, "val"))


def test_an_epoch_run_that_trained_on_its_validation_images_chooses_no_threshold_on_them(
    project: Path,
) -> None:
    _with_test_split(project)
    with ProjectStore.open(project) as store:  # too few validation images to pick an epoch on: they train too
        val_ids = [im.id for im in store.images(usable_only=True) if im.split == "val" and im.label]
        store.set_splits({image_id: "test" for image_id in val_ids[6:]})
    val = _hashes(project, "val")
    run = Path(train(project, _probe().with_changes(linear_probe=False)).run_dir)
    assert val <= set((run / FITTED_NAME).read_text().split())
    assert not (run / HELD_OUT_NAME).exists()
    with pytest.raises(RejectError, match="was fitted on the validation items"):
        validation_threshold(run, 0.9)


def test_a_held_out_validation_split_chooses_the_threshold_and_reassigned_images_do_not(
    project: Path,
) -> None:
    val = _hashes(project, "val")  # no test split: the probe's validation images stay held out
    run = Path(train(project, _probe()).run_dir)
    fitted = set((run / FITTED_NAME).read_text().split())
    assert fitted and not fitted & val
    assert validation_threshold(run, 0.9).images == len(val)
    with ProjectStore.open(project) as store:  # training images moved to validation after the run
        moved = [im.id for im in store.images(usable_only=True) if im.split == "train" and im.label][:6]
        store.set_splits({image_id: "val" for image_id in moved})
    assert validation_threshold(run, 0.9).images == len(val)  # the fitted ones are not counted


def test_a_text_probe_that_fitted_its_validation_texts_chooses_the_threshold_out_of_fold(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project, run = copy_text_project(tmp_path_factory)  # a test split: the validation texts joined the fit
    val = _hashes(project, "val")
    assert val <= set((run / FITTED_NAME).read_text().split())
    assert set(held_out_logits(run, load_checkpoint(run).classes)) == val
    chosen = validation_threshold(run, 0.9)
    assert chosen.images == len(val)
    assert (chosen.threshold, chosen.coverage) == _out_of_fold_threshold(project, run, 0.9)
    shutil.rmtree(project / "cache", ignore_errors=True)


def test_the_threshold_is_described_with_the_interval_of_its_accuracy() -> None:
    from dmtl_studio.core.models.calibration import RejectThreshold
    from dmtl_studio.core.quality.model_card import wilson_interval
    from dmtl_studio.core.quality.reject import describe_threshold, describe_threshold_briefly

    few = describe_threshold(RejectThreshold(0.9, 1.0, 0.5, True, 20), 0.95)
    low, high = wilson_interval(10, 10)
    assert "keeps 10 (50.0%" in few and "10 of 10 right" in few and f"{low:.1%} – {high:.1%}" in few
    assert "not yet evidence of 95% on new images: the accuracy may be as low as" in few and low < 0.95
    many = describe_threshold(RejectThreshold(0.5, 0.99, 1.0, True, 2000), 0.95, noun="text")
    assert "1980 of 2000 right" in many and "validation text(s)" in many and "not yet evidence" not in many
    assert "threshold 0.999996 for" in describe_threshold(RejectThreshold(0.999996, 1.0, 1.0, True, 9), 0.9)
    brief = describe_threshold_briefly(RejectThreshold(0.9, 1.0, 0.5, True, 20), 0.95)
    assert (
        brief
        == f"threshold 0.9000 for 95%: it keeps 10 of 20 validation images, 10 right (95 % interval {low:.1%} – {high:.1%}; not yet evidence of 95%)"
    )
    assert "the target is not reached" in describe_threshold_briefly(
        RejectThreshold(0.7, 0.86, 0.54, False, 50), 0.95
    )
    missed = describe_threshold(RejectThreshold(0.7, 0.86, 0.54, False, 50), 0.95)
    assert "(not reached on the validation split" in missed and "27 (54.0%" in missed


def test_a_threshold_that_cannot_be_chosen_is_a_plain_message_in_the_window() -> None:
    from dmtl_studio.core.base.errors import failure_line
    from dmtl_studio.core.quality.reject import RejectError

    # The window's Predict shows this line: the user's situation, not a bug with a log file.
    assert failure_line(RejectError("the project has no validation image"), "the prediction") == (
        "the project has no validation image"
    )


def test_a_probe_that_could_not_cross_validate_says_why_it_keeps_no_out_of_fold_predictions(
    project: Path,
) -> None:
    """A class with a single labelled image: C is fixed, the validation images join the fit, and both the run's
    note and the refusal of a target accuracy say that, not that C was cross-validated or that a probe helps."""
    _with_test_split(project)
    with ProjectStore.open(project) as store:
        labelled = [im for im in store.images(usable_only=True) if im.split in ("train", "val") and im.label]
        name = labelled[0].label
        mine = sorted((im.split != "train", im.id) for im in labelled if im.label == name)
        store.set_label([image_id for _, image_id in mine[1:]], None)  # one training image of it is left
    run = Path(train(project, _probe()).run_dir)
    notes = read_run_notes(run)
    assert any(
        f"its L2 strength is fixed: the class {name} has 1 distinct labelled image" in note for note in notes
    )
    assert not any("chosen by cross-validation" in note for note in notes)
    assert any("by a fixed value (too few images per class)" in note for note in notes)
    with pytest.raises(
        RejectError, match="whose L2 strength was fixed.*label more items of the smallest classes"
    ):
        validation_threshold(run, 0.9)


def test_classes_renamed_or_merged_after_the_run_keep_their_validation_images_for_the_threshold(
    project: Path,
) -> None:
    """The threshold used to keep only the images whose label was still spelled as the run knew it: a rename
    dropped its class's images, a merge scored right answers as wrong."""
    run = Path(train(project, _probe()).run_dir)
    before = validation_threshold(run, 0.9)
    with ProjectStore.open(project) as store:
        first, second, third = store.class_names()[:3]
        store.rename_class(first, "renamed")
    renamed = validation_threshold(run, 0.9)
    assert (renamed.images, renamed.threshold) == (
        before.images,
        before.threshold,
    )  # a rename changes nothing
    with ProjectStore.open(project) as store:
        store.merge_classes([second], third)
    merged = validation_threshold(run, 0.9)
    assert merged.images == before.images  # the merged class's images are scored under the name they have now
    assert merged.accuracy >= before.accuracy  # telling the merged classes apart is no longer needed
