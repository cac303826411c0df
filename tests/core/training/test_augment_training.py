"""Recipes in training: the run uses and records its recipe; mixing steps train with soft labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.models.checkpoint import SIDECAR_NAME
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.settings import ConfigError
from tests.conftest import TEST_INPUT_SIZE


def test_a_run_with_mixing_records_its_recipe(project: Path) -> None:
    recipe = Recipe(
        (Step.of("hflip", 0.5), Step.of("brightness", 0.5), Step.of("mixup", 1.0), Step.of("cutmix", 0.5)),
        "mixing test",
    )
    config = TrainConfig(
        epochs=1, batch_size=16, input_size=TEST_INPUT_SIZE, device="cpu", recipe=recipe.to_dict()
    )
    summary = train(project, config)
    assert summary.status == "completed"
    sidecar = json.loads((Path(summary.run_dir) / SIDECAR_NAME).read_text())
    assert Recipe.from_dict(sidecar["augmentation"]) == recipe
    assert Recipe.from_dict(sidecar["config"]["recipe"]) == recipe
    with ProjectStore.open(project) as store:
        assert store.runs()[-1].status == "completed"


def test_default_run_records_the_light_preset(project: Path) -> None:
    summary = train(project, TrainConfig(epochs=1, batch_size=32, input_size=TEST_INPUT_SIZE, device="cpu"))
    sidecar = json.loads((Path(summary.run_dir) / SIDECAR_NAME).read_text())
    assert Recipe.from_dict(sidecar["augmentation"]) == preset("light")


def test_a_config_with_a_bad_recipe_is_refused() -> None:
    bad = {"schema_version": 1, "steps": [{"operation": "rotate", "params": {"degrees": -5}}]}
    with pytest.raises(ConfigError, match=r"augmentation recipe: step 1 \(rotate\): field 'degrees'"):
        TrainConfig(recipe=bad)
    config = TrainConfig(recipe=preset("documents").to_dict())
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
