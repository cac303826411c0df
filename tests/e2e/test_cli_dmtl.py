"""The DMTL objective and cross-validation through the real command."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert "2-fold accuracy:" in result.stdout and "fold 2/2" in result.stderr  # fold runs are marked:
    with ProjectStore.open(project) as store:
        runs = store.runs()
    assert len(runs) == 2 and all(r.name.startswith("cv-") for r in runs)
    assert all(r.config["consistency_weight"] == 1.0 and r.config["use_unlabelled"] for r in runs)


def test_a_bad_consistency_setting_is_refused_with_its_name(project: Path) -> None:
    result = _cli("train", str(project), "--consistency", "-1", "--device", "cpu")
    assert result.returncode != 0 and "consistency weight" in result.stderr
