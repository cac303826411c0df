from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, load_checkpoint
from dmtl_studio.core.models.pretrained import load_bundled_imagenet_model
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult, StepProgress
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.settings import ConfigError
from tests.conftest import TEST_INPUT_SIZE


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3, input_size=TEST_INPUT_SIZE, device="cpu")
    return base.with_changes(**changes)


def test_frozen_training_learns_and_changes_only_the_head(project: Path) -> None:
    events: list[object] = []
    summary = train(project, _config(epochs=3), on_event=events.append)
    assert summary.status == "completed" and summary.epochs_completed == 3
    epochs = [e for e in events if isinstance(e, EpochResult)]
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert len(epochs) == 3 and len(steps) == 3 * steps[0].steps
    assert epochs[-1].val_accuracy > 0.6  # chance is 1/3
    assert epochs[-1].confusion.sum() == 18  # 6 validation images per class

    saved = load_file(str(Path(summary.run_dir) / WEIGHTS_NAME))
    pretrained = load_bundled_imagenet_model().state_dict()
    backbone = {k[len("backbone.") :]: v for k, v in saved.items() if k.startswith("backbone.")}
    assert backbone and all(torch.equal(backbone[k], pretrained[k]) for k in backbone)
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
        assert run.status == "completed"
        assert [m.epoch for m in store.epoch_metrics(run.id)] == [1, 2, 3]


def test_checkpoint_sidecar_describes_the_model(project: Path) -> None:
    summary = train(project, _config(epochs=1))
    sidecar = json.loads((Path(summary.run_dir) / SIDECAR_NAME).read_text())
    assert sidecar["classes"] == ["circle", "square", "triangle"]
    assert sidecar["model"]["backbone"] == "efficientnet_lite0"
    assert sidecar["preprocessing"]["input_size"] == TEST_INPUT_SIZE
    assert sidecar["versions"]["torch"] == torch.__version__
    assert sidecar["config"]["transfer"] == "frozen"
    loaded = load_checkpoint(summary.run_dir)
    assert loaded.classes == sidecar["classes"]
    assert not list(Path(summary.run_dir).glob(".*"))  # no temporary files left behind


def test_saved_models_can_be_read_by_colleagues(project: Path) -> None:
    old_mask = os.umask(0o022)
    try:
        summary = train(project, _config(epochs=1))
    finally:
        os.umask(old_mask)
    for name in (SIDECAR_NAME, "model.safetensors"):
        mode = (Path(summary.run_dir) / name).stat().st_mode & 0o777
        assert mode == 0o644, f"{name} has mode {mode:o}"  # as any new file under umask 022, not owner-only


def test_full_fine_tuning_changes_the_backbone(project: Path) -> None:
    summary = train(project, _config(epochs=1, transfer="full", learning_rate=3e-4))
    saved = load_file(str(Path(summary.run_dir) / WEIGHTS_NAME))
    pretrained = load_bundled_imagenet_model().state_dict()
    changed = [
        k
        for k in pretrained
        if not k.startswith("classifier") and not torch.equal(saved["backbone." + k], pretrained[k])
    ]
    assert len(changed) > 100


def test_stop_request_ends_the_run_cleanly(project: Path) -> None:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    summary = train(project, _config(epochs=5), should_stop=should_stop)
    assert summary.status == "stopped" and summary.epochs_completed == 0
    # Nothing was finished: no "0 epochs" row and no empty folder stay behind.
    assert summary.removed and not Path(summary.run_dir).exists()
    with ProjectStore.open(project) as store:
        assert store.runs() == []
        assert list(store.runs_dir.iterdir()) == []


def test_a_project_without_two_labelled_classes_is_refused(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([("/nowhere/a.png", "only", None, None)])
    with pytest.raises(TrainingError, match="at least 2 classes"):
        train(tmp_path / "p", _config())


def test_bad_settings_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="transfer"):
        TrainConfig(transfer="sideways")
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
