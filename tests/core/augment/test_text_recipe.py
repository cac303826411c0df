"""Text recipes: the kind in recipe files, old files, kind mismatches, presets and WordNet's location."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.augment import wordnet
from dmtl_studio.core.augment.presets import (
    PRESETS,
    TEXT_PRESETS,
    default_recipe,
    preset,
    presets,
    resolve_recipe,
)
from dmtl_studio.core.augment.recipe import CompiledRecipe, Recipe, Step, load_recipe, save_recipe
from dmtl_studio.core.augment.registry import RecipeError
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.augment.wordnet import WORDNET_ENV, WordNetMissing, find_wordnet, wordnet_available

needs_wordnet = pytest.mark.skipif(
    not (wordnet.SYSTEM_WORDNET / "data.noun").is_file(), reason="Debian's wordnet-base is not installed"
)


@pytest.mark.parametrize("name", list(TEXT_PRESETS))
def test_text_presets_round_trip_through_json(name: str, tmp_path: Path) -> None:
    recipe = preset(name, "text")
    assert recipe.kind == "text"
    data = json.loads(recipe.to_json())
    assert data["kind"] == "text"
    assert Recipe.from_json(recipe.to_json()) == recipe
    save_recipe(recipe, tmp_path / "r.json")
    assert load_recipe(tmp_path / "r.json") == recipe


def test_image_recipes_are_written_as_before_and_old_files_load() -> None:
    medium = preset("medium")
    assert (
        medium.kind == "images" and "kind" not in medium.to_dict()
    )  # files, runs and caches keep their form
    old = {"schema_version": 1, "name": "old", "steps": [{"operation": "hflip", "probability": 0.5}]}
    loaded = Recipe.from_dict(old)
    assert loaded.kind == "images" and isinstance(loaded.compile(), CompiledRecipe)
    assert Recipe.from_dict({**old, "kind": "images"}) == loaded
    assert set(presets("images")) == set(PRESETS) and all(r.kind == "images" for r in PRESETS.values())


def test_an_image_operation_in_a_text_recipe_is_refused() -> None:
    data = {
        "schema_version": 1,
        "kind": "text",
        "steps": [{"operation": "random_swap"}, {"operation": "rotate", "params": {"degrees": 10}}],
    }
    with pytest.raises(
        RecipeError, match=r"step 2 \(rotate\) is an image operation and cannot be used in a text"
    ):
        Recipe.from_dict(data)
    with pytest.raises(
        RecipeError, match=r"step 1 \(random_swap\) is a text operation .* in an image recipe"
    ):
        Recipe.from_dict({"schema_version": 1, "steps": [{"operation": "random_swap"}]})
    with pytest.raises(RecipeError, match="is an image operation"):
        Recipe((Step.of("random_swap"), Step.of("mixup")), kind="text").compile()
    with pytest.raises(RecipeError, match="is a text operation"):
        Recipe((Step.of("embedding_mixup"),)).compile()
    with pytest.raises(RecipeError, match="'kind' must be one of images, text, not 'audio'"):
        Recipe.from_dict({"schema_version": 1, "kind": "audio", "steps": []})


def test_a_training_configuration_gets_a_recipe_of_its_projects_kind() -> None:
    assert resolve_recipe(None, "text") == default_recipe("text") == preset("eda_light", "text")
    assert resolve_recipe(None) == preset("light")
    assert resolve_recipe(preset("typos", "text").to_dict(), "text") == preset("typos", "text")
    with pytest.raises(RecipeError, match="an image recipe cannot augment a text project"):
        resolve_recipe(preset("light").to_dict(), "text")
    with pytest.raises(KeyError, match="no text preset 'light'"):
        preset("light", "text")


@needs_wordnet
def test_a_compiled_text_recipe_is_a_function_of_text_and_generator() -> None:
    compiled = preset("eda_typos", "text").compile()
    assert isinstance(compiled, CompiledTextRecipe)
    text = "Operators reported a strange noise from the second pump before the shutdown."
    outputs = [compiled(text, np.random.default_rng(seed)) for seed in range(10)]
    assert all(isinstance(out, str) and out for out in outputs) and len(set(outputs)) > 5
    assert preset("none", "text").compile()(text, np.random.default_rng(0)) == text


def test_missing_wordnet_is_a_clear_error_and_other_operations_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORDNET_ENV, str(tmp_path))
    assert find_wordnet() is None  # a folder the user named is not silently replaced by another
    message = wordnet_available()
    assert message is not None and "apt-get install wordnet-base" in message and str(tmp_path) in message
    with pytest.raises(WordNetMissing, match="apt-get install wordnet-base"):
        preset("eda_light", "text").compile()
    with pytest.raises(
        RecipeError, match="Synonym operations \\(synonym replacement, random insertion\\) need WordNet"
    ):
        Recipe((Step.of("random_insertion"),), kind="text").compile()
    # A switched-off synonym step needs nothing; the other operations need no WordNet at all.
    recipe = Recipe(
        (
            Step.of("synonym_replacement", enabled=False),
            Step.of("random_swap", 1.0),
            Step.of("random_deletion", 1.0, rate=0.3),
            Step.of("keyboard_typos", 1.0),
        ),
        kind="text",
    )
    out = recipe.compile()("the pump failed twice during the night shift", np.random.default_rng(0))
    assert out and out != "the pump failed twice during the night shift"
    assert preset("typos", "text").compile()("some text", np.random.default_rng(1)) != "some text"


@needs_wordnet
def test_wordnet_is_found_by_variable_then_bundle_then_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = tmp_path / "named"
    named.mkdir()
    for name in wordnet.REQUIRED_FILES + ("noun.exc", "verb.exc", "adj.exc", "adv.exc"):
        shutil.copyfile(wordnet.SYSTEM_WORDNET / name, named / name)  # nltk refuses links out of the folder
    monkeypatch.setenv(WORDNET_ENV, str(named))
    assert find_wordnet() == named
    assert wordnet_available() is None  # readable there, with the standard lexnames supplied
    monkeypatch.delenv(WORDNET_ENV)
    bundle = tmp_path / "bundle"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert wordnet.candidate_folders() == [bundle / "wordnet", wordnet.SYSTEM_WORDNET]
    assert find_wordnet() == wordnet.SYSTEM_WORDNET  # the bundle has none: the system's
    shutil.copytree(named, bundle / "wordnet")
    assert find_wordnet() == bundle / "wordnet"


def test_a_recipe_without_wordnet_keeps_every_other_step_and_option() -> None:
    from dmtl_studio.core.augment.presets import without_wordnet

    recipe = Recipe(
        (
            Step.of("synonym_replacement", 0.5, rate=0.1),
            Step.one_of(Step.of("random_insertion", 1.0, rate=0.1), Step.of("random_swap", 1.0, rate=0.1)),
            Step.one_of(Step.of("random_insertion", 1.0, rate=0.2)),
            Step.of("random_deletion", 0.5, rate=0.1),
        ),
        "mine",
        "text",
    )
    kept, left_out = without_wordnet(recipe)
    assert left_out == 3 and kept.name == "mine" and kept.kind == "text"
    assert [step.operation for step in kept.steps] == [recipe.steps[1].operation, "random_deletion"]
    assert [option.operation for option in kept.steps[0].options] == ["random_swap"]


def test_without_wordnet_the_preview_shows_the_other_steps_and_says_which_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default recipe previewed nothing at all without WordNet, while a run used its other steps (h25)."""
    from dmtl_studio.core.augment.text_preview import TextPreviewRequest, render_text_preview

    monkeypatch.setenv(WORDNET_ENV, str(tmp_path))
    text = "Operators reported a strange noise from the second pump before the shutdown of the line."
    request = TextPreviewRequest(1, preset("eda_light", "text"), ((text, "pump"),), count=6)
    result = render_text_preview(request)
    assert len(result.samples) == 6 and any(sample.text != text for sample in result.samples)
    assert result.note.startswith("2 synonym step(s) left out here and in training")
    assert "synonym replacement, random insertion" in result.note
    only_synonyms = Recipe((Step.of("synonym_replacement"),), kind="text")
    with pytest.raises(RecipeError, match="need WordNet"):  # nothing else to show: the reason, as before
        render_text_preview(TextPreviewRequest(2, only_synonyms, ((text, "pump"),)))
