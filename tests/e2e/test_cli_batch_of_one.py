"""No training loader forms a batch of one for a module in train mode; a setting that needs one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.settings import ConfigError
from tests.e2e.cli import run_cli

_cli = run_cli


@pytest.mark.parametrize("transfer", ["partial", "full"])
def test_batch_size_one_with_a_training_backbone_is_refused_with_the_reason(transfer: str) -> None:
    with pytest.raises(ConfigError, match="BatchNorm"):
        TrainConfig(transfer=transfer, batch_size=1)
    TrainConfig(transfer="frozen", batch_size=1)  # the head alone has no BatchNorm: a batch of one trains


def test_full_fine_tuning_at_batch_one_is_refused_up_front(project: Path) -> None:
    result = _cli(
        "train", str(project), "--transfer", "full", "--input-size", "32", "--batch-size", "1",
        "--epochs", "1", "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "batch size 1" in result.stderr and "BatchNorm" in result.stderr
    with ProjectStore.open(project) as store:
        assert store.runs() == []  # refused before anything was made


def test_a_single_unlabelled_image_never_forms_a_batch_of_one(tmp_path: Path) -> None:
    images = write_shapes_folder(tmp_path / "images", 4, unlabelled=1, seed=3, size=40)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, seed=0)
        assert store.unlabelled_count() == 1
    result = _cli(
        "train", str(project), "--transfer", "full", "--consistency", "1", "--unlabelled", "--batch-size", "4",
        "--input-size", "32", "--epochs", "1", "--device", "cpu",
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    assert "1 unlabelled image" in result.stderr  # said, not silently dropped
