"""``predict --target-accuracy``: the "not sure" threshold is chosen only on validation items the run was not
fitted on (a linear probe takes the validation items into its fit when the project has a test split)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.reject import RejectError, validation_threshold
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.fitted_items import FITTED_NAME
from dmtl_studio.core.training.run import train
from tests.core.text_run import copy_text_project


def _probe() -> TrainConfig:
    return TrainConfig(
        epochs=1, batch_size=8, input_size=32, device="cpu", seed=2, feature_views=1, linear_probe=True
    ).with_changes(transfer="frozen", head="linear")


def _hashes(project: Path, split: str) -> set[str]:
    with ProjectStore.open(project) as store:
        return {im.sha256 for im in store.images(usable_only=True) if im.split == split and im.label}


def test_a_probe_that_fitted_its_validation_images_chooses_no_threshold_on_them(project: Path) -> None:
    with ProjectStore.open(
        project
    ) as store:  # a test split: the probe takes the validation images into its fit
        train_ids = [im.id for im in store.images(usable_only=True) if im.split == "train" and im.label]
        store.set_splits({image_id: "test" for image_id in train_ids[::4]})
    val = _hashes(project, "val")
    run = Path(train(project, _probe()).run_dir)
    fitted = set((run / FITTED_NAME).read_text().split())
    assert val <= fitted  # what the run really fitted on
    with pytest.raises(RejectError, match="was fitted on the validation items"):
        validation_threshold(run, 0.9)
    (run / FITTED_NAME).unlink()  # a run from before the list was kept: its settings and the project say it
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


def test_a_text_probe_that_fitted_its_validation_texts_chooses_no_threshold_on_them(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project, run = copy_text_project(tmp_path_factory)  # a test split: the validation texts joined the fit
    assert _hashes(project, "val") <= set((run / FITTED_NAME).read_text().split())
    with pytest.raises(RejectError, match="was fitted on the validation items"):
        validation_threshold(run, 0.9)
    shutil.rmtree(project / "cache", ignore_errors=True)
