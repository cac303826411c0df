"""Each setting's default, choices and range live once, on the configuration's fields."""

from __future__ import annotations

from dataclasses import fields

import pytest

from dmtl_studio.core.training.config import TrainConfig, setting, value_type
from dmtl_studio.core.training.settings import SETTING, ConfigError, Setting


def test_stored_defaults_keep_their_meaning_and_new_runs_start_from_the_recommendation() -> None:
    stored = TrainConfig()
    # What a stored configuration without these keys always meant.
    assert (stored.epochs, stored.batch_size, stored.learning_rate, stored.consistency_weight) == (
        5,
        32,
        1e-3,
        0.0,
    )
    assert TrainConfig.from_dict({}) == stored
    new = TrainConfig.recommended()
    assert (new.epochs, new.batch_size, new.learning_rate, new.consistency_weight) == (10, 16, 3e-3, 1.0)
    changed = {f.name for f in fields(TrainConfig) if getattr(new, f.name) != getattr(stored, f.name)}
    assert changed == {
        "epochs",
        "batch_size",
        "learning_rate",
        "consistency_weight",
        "linear_probe",
        "unlabelled_rule",
        "decay_norm_and_bias",
        "layer_decay",
        "ema_decay",
        "tta_flip",
        "contrastive_steps",
    }
    # A new fine-tune starts with the recipe bench_finetune.py measured (docs/quality.md, "Fine-tuning").
    assert (new.layer_decay, new.ema_decay, new.tta_flip) == (0.75, 0.999, True)
    assert new.linear_probe and not stored.linear_probe
    # A text run stored before the contrastive step existed had none; a new one starts with SetFit's step.
    assert (stored.contrastive_steps, new.contrastive_steps) == (0, 200)
    # The fine-tuning recipe's stored defaults are "off": a run saved before it existed reloads unchanged.
    assert (stored.layer_decay, stored.ema_decay, stored.tta_flip, stored.decay_norm_and_bias) == (
        1.0,
        0.0,
        False,
        True,
    )
    assert TrainConfig.recommended(epochs=3).epochs == 3


def test_every_field_has_a_setting_with_help() -> None:
    for f in fields(TrainConfig):
        assert isinstance(f.metadata[SETTING], Setting) and setting(f.name).help, f.name
    assert value_type("input_size") is int and value_type("recipe") is dict and value_type("amp") is bool


@pytest.mark.parametrize("name", [f.name for f in fields(TrainConfig) if setting(f.name).choices])
def test_a_value_outside_the_choices_is_refused_in_the_settings_words(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{setting(name).what} must be one of"):
        TrainConfig(**{name: "nonsense"})


def _outside(rule: Setting, kind: type) -> list[float]:
    step = 1 if kind is int else 1e-9
    values = []
    if rule.low is not None:
        values.append(rule.low if rule.low_open else rule.low - step)
    if rule.high is not None:
        values.append(rule.high if rule.high_open else rule.high + step)
    return values


def _inside(rule: Setting, kind: type) -> list[float]:
    step = 1 if kind is int else 1e-6
    values = []
    if rule.low is not None:
        values.append(rule.low + step if rule.low_open else rule.low)
    if rule.high is not None:
        values.append(rule.high - step if rule.high_open else rule.high)
    return values


NUMERIC = [f.name for f in fields(TrainConfig) if setting(f.name).low is not None]


@pytest.mark.parametrize("name", NUMERIC)
def test_the_range_of_each_setting_is_what_validation_enforces(name: str) -> None:
    rule, kind = setting(name), value_type(name)
    # Partial transfer, so that the batch-size rule of fine-tuning does not hide the plain range.
    base = {"transfer": "frozen"}
    for value in _outside(rule, kind):
        with pytest.raises(ConfigError) as caught:
            TrainConfig(**base, **{name: kind(value)})
        assert str(caught.value) == rule.describe_rule(kind(value))
        assert not rule.accepts(kind(value))
    for value in _inside(rule, kind):
        assert getattr(TrainConfig(**base, **{name: kind(value)}), name) == kind(value)


def test_error_messages_name_the_setting_and_its_range() -> None:
    with pytest.raises(ConfigError, match=r"^dropout must be in \[0, 1\)$"):
        TrainConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="^learning rate must be positive$"):
        TrainConfig(learning_rate=0.0)
    with pytest.raises(ConfigError, match="^epochs must be at least 1$"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="BatchNorm"):
        TrainConfig(transfer="full", batch_size=1)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    "name", ["learning_rate", "weight_decay", "backbone_lr_factor", "warmup_fraction", "consistency_weight"]
)
def test_a_setting_that_is_not_a_finite_number_is_refused_up_front(name: str, value: float) -> None:
    """NaN passed every range check: --lr nan failed after the whole feature pass, others trained with it."""
    with pytest.raises(ConfigError, match=r"must be a number, not (nan|inf|-inf)"):
        TrainConfig(**{name: value})
