"""The DMTL objective and cross-validation through the real command; a fold counts the images it used."""

from __future__ import annotations

import json
from pathlib import Path

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from tests.e2e.cli import run_cli

_cli = run_cli


def test_train_with_consistency_and_unlabelled_images_cross_validated(project: Path) -> None:
    result = _cli(
        "train", str(project), "--folds", "2", "--consistency", "1", "--unlabelled", "--epochs", "1",
        "--batch-size", "16", "--input-size", "64", "--device", "cpu", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["folds"] == 2 and len(report["per_fold"]) == 2
    assert "2-fold accuracy:" in result.stderr and "fold 2/2" in result.stderr  # fold runs are marked:
    with ProjectStore.open(project) as store:
        runs = store.runs()
    assert len(runs) == 2 and all(r.name.startswith("cv-") for r in runs)
    assert all(r.config["consistency_weight"] == 1.0 and r.config["use_unlabelled"] for r in runs)


def test_a_bad_consistency_setting_is_refused_with_its_name(project: Path) -> None:
    result = _cli("train", str(project), "--consistency", "-1", "--device", "cpu")
    assert result.returncode != 0 and "consistency weight" in result.stderr


def test_cross_validation_counts_only_the_images_it_used_when_one_is_gone(tmp_path: Path) -> None:
    folder = write_shapes_folder(tmp_path / "images", 6, unlabelled=0, seed=3, size=48)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, folder, val_fraction=0.25, test_fraction=0.0, seed=0)
        labelled = [im.path for im in store.images(usable_only=True) if im.label]
    Path(labelled[0]).unlink()
    result = _cli(
        "train", str(project), "--folds", "2", "--epochs", "1", "--input-size", "32", "--feature-views", "1",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no longer on disk and were left out" in result.stderr
    per_fold = json.loads(result.stdout.strip().splitlines()[-1])["per_fold"]
    # With 2 folds each image is trained on once and held out once: the gone one is neither.
    assert sum(f["test_images"] for f in per_fold) == len(labelled) - 1
    assert sum(f["train_images"] for f in per_fold) == len(labelled) - 1
    table = result.stderr.splitlines()  # --json: the table on stderr, the JSON alone on stdout
    for f in per_fold:  # the printed table says the same
        row = f"{f['fold']:4d}  {f['train_images']:5d}  {f['test_images']:8d}  {f['accuracy']:8.3f}"
        assert f"{row}  {f['balanced_accuracy']:8.3f}" in table
