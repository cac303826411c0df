"""``train``'s options are built from the configuration's settings: every flag name still works, and the
defaults are the recommended configuration's."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from dmtl_studio.cli import _parser, train_config
from dmtl_studio.core.training.config import TrainConfig, setting
from dmtl_studio.core.training.settings import ConfigError


def _config(*options: str) -> TrainConfig:
    return train_config(_parser().parse_args(["train", "project", *options]))


def test_no_option_gives_the_recommended_configuration() -> None:
    assert _config() == TrainConfig.recommended()
    assert _config("--recipe", "recipe.json").recipe is None  # a file, read by train itself


def test_every_flag_name_reaches_its_setting() -> None:
    config = _config(
        "--transfer", "partial", "--backbone", "mobilenetv3_small_100", "--unfreeze-stages", "3",
        "--head", "mlp", "--no-linear-probe", "--hidden", "64", "--dropout", "0.3", "--backbone-lr-factor", "0.5",
        "--feature-views", "2", "--epochs", "7", "--batch-size", "4", "--lr", "0.01", "--input-size", "64",
        "--device", "cpu", "--seed", "9", "--workers", "1", "--imbalance", "balanced_sampler",
        "--label-smoothing", "0.1", "--schedule", "onecycle", "--early-stopping", "2", "--no-amp",
        "--no-channels-last", "--consistency", "0.5", "--unlabelled", "--unlabelled-ratio", "2",
        "--consistency-temperature", "0.5", "--consistency-threshold", "0.8", "--layer-decay", "0.75",
        "--decay-norm-and-bias", "--ema", "0.999", "--tta-flip",
    )  # fmt: skip
    assert config == TrainConfig.recommended(
        transfer="partial", backbone="mobilenetv3_small_100", unfreeze_stages=3, head="mlp", linear_probe=False,
        hidden_size=64,
        dropout=0.3, backbone_lr_factor=0.5, feature_views=2, epochs=7, batch_size=4, learning_rate=0.01,
        input_size=64, device="cpu", seed=9, num_workers=1, imbalance="balanced_sampler", label_smoothing=0.1,
        schedule="onecycle", early_stopping_patience=2, amp=False, channels_last=False, consistency_weight=0.5,
        use_unlabelled=True, unlabelled_ratio=2, consistency_temperature=0.5, consistency_threshold=0.8,
        layer_decay=0.75, decay_norm_and_bias=True, ema_decay=0.999, tta_flip=True,
    )  # fmt: skip


def test_a_switch_that_became_the_default_is_still_accepted_and_can_be_turned_off() -> None:
    assert TrainConfig.recommended().tta_flip
    assert _config("--tta-flip").tta_flip and not _config("--no-tta-flip").tta_flip
    assert _config("--ema", "0").ema_decay == 0.0 and _config("--layer-decay", "1").layer_decay == 1.0


def test_every_setting_has_an_option() -> None:
    parser = _parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # noqa: SLF001 - argparse keeps no public map
    dests = {action.dest for action in train._actions}  # noqa: SLF001
    assert {f.name for f in fields(TrainConfig)} <= dests  # the recipe as a file, by its own option


def test_choices_and_help_come_from_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["train", "p", "--head", "transformer"])
    assert "linear" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {TrainConfig.recommended().epochs})" in text
    assert " ".join(setting("early_stopping_patience").help.split()) in text


def test_a_value_out_of_range_is_refused_by_the_configuration() -> None:
    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\)"):
        _config("--dropout", "1.5")


def test_the_quality_commands_read_the_same_backbone_options(tmp_path: Path) -> None:
    args = _parser().parse_args(["label-errors", str(tmp_path), "--backbone", "mobilenetv3_small_100"])
    assert (args.backbone, args.device, args.input_size) == ("mobilenetv3_small_100", None, None)


def test_a_text_project_trains_the_default_text_encoder_unless_backbone_names_one(tmp_path: Path) -> None:
    from dmtl_studio.cli import _project_kind
    from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER
    from dmtl_studio.core.project.project_kind import create_project

    with create_project(tmp_path / "texts", kind="text"):
        pass
    with create_project(tmp_path / "images", kind="images"):
        pass
    kinds = {name: _project_kind(tmp_path / name) for name in ("texts", "images", "missing")}
    assert kinds == {"texts": "text", "images": "images", "missing": "images"}
    args = _parser().parse_args(["train", str(tmp_path / "texts")])
    # No image backbone (and so no note that it was swapped for the encoder) in a text run nobody configured.
    assert train_config(args, "text").backbone == DEFAULT_TEXT_ENCODER
    assert train_config(args, "text") == TrainConfig.recommended(backbone=DEFAULT_TEXT_ENCODER)
    assert train_config(args).backbone == TrainConfig.recommended().backbone
    named = _parser().parse_args(["train", "p", "--backbone", "text/mine"])
    assert train_config(named, "text").backbone == "text/mine"


def test_switching_the_linear_probe_off_is_described_as_what_it_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    off = text.split("--no-linear-probe ", 1)[1].split(" --hidden", 1)[0]
    assert off.startswith("train a frozen backbone's head by epochs") and "default linear probe" in off
    assert "no frozen backbone" not in text  # "no " + the setting's help said the opposite of the option
    assert "--no-amp no mixed precision on CUDA" in text  # the others still read "no " + their help


def test_recipe_names_a_file_or_a_preset_of_the_projects_kind(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from dmtl_studio.cli import RECIPE_EXAMPLES, recipe_option
    from dmtl_studio.core.augment.presets import preset, presets
    from dmtl_studio.core.augment.recipe import save_recipe
    from dmtl_studio.core.augment.registry import RecipeError

    for kind, names in RECIPE_EXAMPLES.items():  # the help's examples are presets
        assert set(names) <= set(presets(kind))
    monkeypatch.chdir(tmp_path)
    assert recipe_option(tmp_path / "strong", "images") == preset("strong")
    assert recipe_option(tmp_path / "eda_mixup", "text") == preset("eda_mixup", "text")
    with pytest.raises(
        RecipeError, match="'strong' is a preset for images; the presets of this text project"
    ):
        recipe_option(tmp_path / "strong", "text")
    with pytest.raises(RecipeError, match=r"no image preset named 'stronk' \(presets: none, light"):
        recipe_option(tmp_path / "stronk", "images")
    save_recipe(preset("light"), tmp_path / "strong")  # a file of that name wins over the preset
    assert recipe_option(tmp_path / "strong", "images") == preset("light")


def test_the_auto_transfer_and_its_time_budget_are_options() -> None:
    config = _config("--transfer", "auto", "--time-budget", "12.5")
    assert config == TrainConfig.recommended(transfer="auto", time_budget=12.5)
    assert _config("--transfer", "auto").time_budget == TrainConfig.recommended().time_budget == 30.0
    with pytest.raises(ConfigError, match="time budget"):
        _config("--transfer", "auto", "--time-budget", "-1")


def test_an_option_the_run_will_not_use_is_named_with_the_reason(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dmtl_studio.cli import _run_config

    def notes(*options: str, folder: Path = project) -> list[str]:
        _run_config(_parser().parse_args(["train", str(folder), *options]))
        return [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]

    assert (
        notes("--time-budget", "10", folder=tmp_path / "none") == []
    )  # no project: train says so, nothing else
    assert notes("--time-budget", "10") == [
        "note: --time-budget is not used: only Auto (transfer auto) has a time budget; this is a frozen run"
    ]
    assert notes("--transfer", "auto", "--time-budget", "10") == []
    assert notes("--contrastive-steps", "50") == [
        "note: --contrastive-steps is not used: the contrastive step adapts a text encoder; a project of images "
        "has none"
    ]
    said = notes("--transfer", "full", "--unfreeze-stages", "3", "--hidden", "64", "--unlabelled-ratio", "2")
    assert [line.split(" is not used")[0] for line in said] == [
        "note: --unfreeze-stages",
        "note: --hidden",
        "note: --unlabelled-ratio",
    ]
    assert (
        notes("--transfer", "partial", "--unfreeze-stages", "3", "--unlabelled", "--unlabelled-ratio", "2")
        == []
    )
    [probe] = notes("--unlabelled", "--unlabelled-ratio", "2")  # the frozen default fits a linear probe
    assert probe.startswith(
        "note: --unlabelled-ratio is not used: a linear probe learns from the unlabelled images"
    )
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(project) as store:  # one class left labelled: the run will refuse, and say why
        store.set_label([im.id for im in store.images() if im.label not in (None, "circle")], None)
    assert notes("--time-budget", "10") == []


def test_the_note_names_the_flag_as_it_was_typed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dmtl_studio.cli import _run_config

    # On by default, so switched off as --no-…: the note names that form, not the hidden switch on.
    _run_config(_parser().parse_args(["train", str(project), "--no-distribution-alignment"]))
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert line.startswith("note: --no-distribution-alignment is not used: ")


def test_train_uses_the_recipe_the_project_keeps_unless_one_is_named(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recipe edited in the window is the project's: a run from the command line uses it too, and says so."""
    from dmtl_studio.cli import _run_config
    from dmtl_studio.core.augment.presets import preset
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.training.project_recipe import keep_project_recipe

    assert _run_config(_parser().parse_args(["train", str(project)])).recipe is None  # none kept: the default
    with ProjectStore.open(project) as store:
        keep_project_recipe(store, preset("strong"))
    config = _run_config(_parser().parse_args(["train", str(project)]))
    assert config.recipe == preset("strong").to_dict()
    assert "recipe: the project's own, 'strong'" in capsys.readouterr().err
    named = _run_config(_parser().parse_args(["train", str(project), "--recipe", "light"]))
    assert named.recipe == preset("light").to_dict()  # --recipe wins
    with ProjectStore.open(project) as store:
        keep_project_recipe(store, preset("eda_light", "text"))  # of the other kind: not used, and said
    assert _run_config(_parser().parse_args(["train", str(project)])).recipe is None
    assert (
        "warning: The project's stored recipe was not used — it is a recipe for text, and this project holds "
        "images; the default recipe is used (--recipe NAME|FILE chooses one)"
    ) in capsys.readouterr().err
    with ProjectStore.open(project) as store:  # from a newer version: its message ends with a full stop
        store.set_meta("recipe", '{"schema_version": 99, "name": "future", "steps": []}')
    assert _run_config(_parser().parse_args(["train", str(project)])).recipe is None
    said = capsys.readouterr().err
    assert "Open it with the newer version; the default recipe is used" in said and ".;" not in said


def test_a_wrong_backbone_or_encoder_name_is_the_first_and_only_thing_train_says(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dmtl_studio.cli import main

    assert main(["train", str(project), "--backbone", "resnet9000", "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    # Not "unknown backbone timm has no model named …", and no note on --epochs or the validation images first.
    assert err.startswith("dmtl-studio train: unknown backbone resnet9000: did you mean"), err
    assert "note:" not in err and err.count("\n") == 1
    table = tmp_path / "t.csv"
    rows = [f"ticket {i} about the printer,hardware" for i in range(8)]
    rows += [f"invoice {i} was charged twice,billing" for i in range(8)]
    table.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "texts"), str(table)]) == 0
    capsys.readouterr()
    # A typo of an encoder's name was trained with the default encoder, its note calling it "an image backbone".
    assert main(["train", str(tmp_path / "texts"), "--backbone", "all-MiniLM-L6", "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "dmtl-studio train: unknown text encoder 'all-MiniLM-L6': the text encoders here are all-MiniLM-L6-v2"
    ), err
    assert "note:" not in err and err.count("\n") == 1


def test_a_bare_timm_model_name_in_a_text_project_is_an_image_backbone_not_a_typo() -> None:
    from dmtl_studio.core.models.text_catalog import TextEncoderError
    from dmtl_studio.core.models.text_classifier import run_text_encoder

    name, notice = run_text_encoder("resnet50")  # a timm model: the settings may start from it (h29)
    assert name == "all-MiniLM-L6-v2" and notice.startswith("resnet50 is an image backbone")
    with pytest.raises(TextEncoderError, match="unknown text encoder 'resnet9000'"):
        run_text_encoder("resnet9000")
