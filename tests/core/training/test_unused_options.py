"""Settings given for a run that will not use them are named, with the reason; settings it uses are not."""

from __future__ import annotations

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.unused_options import unused_settings


def _unused(kind: str, **given: object) -> list[str]:
    config = TrainConfig.recommended(**given)
    return [name for name, _ in unused_settings(config, given, kind)]


def test_the_contrastive_step_is_used_by_a_frozen_text_run_only() -> None:
    assert _unused("text", contrastive_steps=50) == []
    assert _unused("images", contrastive_steps=50) == ["contrastive_steps"]
    assert _unused("text", contrastive_steps=50, transfer="full") == ["contrastive_steps"]
    assert _unused("images", contrastive_steps=0) == []  # turning it off is never a surprise


def test_strategy_settings_are_used_by_their_strategy_only() -> None:
    assert _unused("images", time_budget=5.0, transfer="auto") == []
    assert _unused("images", time_budget=5.0, transfer="partial", unfreeze_stages=1) == ["time_budget"]
    assert _unused("images", unfreeze_stages=1, transfer="frozen") == ["unfreeze_stages"]
    assert _unused("images", unfreeze_stages=1, transfer="auto") == []  # Auto's fine-tune is the partial one
    assert _unused("images", hidden_size=64, head="mlp") == []
    assert _unused("images", hidden_size=64) == ["hidden_size"]
    # Auto's head is linear, fitted as a probe, then fine-tuned: an mlp head or no probe is not what it trains.
    assert _unused("images", transfer="auto", head="mlp", hidden_size=64) == ["head", "hidden_size"]
    assert _unused("images", transfer="auto", linear_probe=False) == ["linear_probe"]
    assert _unused("images", transfer="auto", head="linear", linear_probe=True) == []


def test_unlabelled_settings_need_the_unlabelled_items() -> None:
    assert _unused("images", pseudo_label_threshold=0.9, unlabelled_rule="fixmatch") == [
        "pseudo_label_threshold",
        "unlabelled_rule",
    ]
    assert _unused("images", pseudo_label_threshold=0.9, use_unlabelled=True, transfer="full") == []
    assert _unused("images", unlabelled_ratio=5, use_unlabelled=True, linear_probe=False) == []


def test_unlabelled_settings_are_not_used_by_a_linear_probe() -> None:
    # The recommended frozen run fits a probe: its unlabelled items get label spreading (texts: self-training).
    for kind, how in (("images", "label spreading"), ("text", "self-training")):
        assert _unused(kind, unlabelled_ratio=5, use_unlabelled=True) == ["unlabelled_ratio"]
        config = TrainConfig.recommended(use_unlabelled=True)
        [(_, reason)] = unused_settings(config, ["unlabelled_ratio"], kind)
        assert "linear probe" in reason and how in reason
    assert _unused("images", unlabelled_ratio=5, use_unlabelled=True, transfer="auto") == []  # its fine-tune


def test_the_reason_names_the_run() -> None:
    config = TrainConfig.recommended(transfer="full")
    [(name, reason)] = unused_settings(config, ["time_budget", "epochs"], "images")
    assert name == "time_budget" and "full run" in reason


def test_epoch_settings_are_not_used_by_a_linear_probe() -> None:
    epochs = {"epochs": 50, "learning_rate": 10.0, "label_smoothing": 0.5, "ema_decay": 0.99}
    assert _unused("images", **epochs) == list(epochs)  # the recommended frozen run fits a probe
    assert _unused("text", **epochs) == list(epochs)
    assert _unused("images", **epochs, linear_probe=False) == []
    assert _unused("images", **epochs, head="mlp") == []  # an mlp head is trained by epochs
    for transfer in ("partial", "full", "auto"):
        assert _unused("images", **epochs, transfer=transfer) == []
    config = TrainConfig.recommended()
    [(_, reason)] = unused_settings(config, ["epochs"], "images")
    assert "linear probe" in reason and "--no-linear-probe" in reason


def test_backbone_learning_rates_are_for_a_fine_tune() -> None:
    rates = {"backbone_lr_factor": 0.5, "layer_decay": 0.8}
    assert _unused("images", **rates, linear_probe=False) == list(rates)
    assert "encoder" in unused_settings(TrainConfig.recommended(), ["layer_decay"], "text")[0][1]
    for transfer in ("partial", "full", "auto"):
        assert _unused("images", **rates, transfer=transfer) == []


def test_more_stages_to_unfreeze_than_the_backbone_has_are_said_and_stored_as_what_learnt() -> None:
    from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
    from dmtl_studio.core.training.events import RunNotice
    from dmtl_studio.core.training.unused_options import fit_stage_count

    backbone = build_classifier(ModelSpec("efficientnet_lite0", 2), pretrained=False).backbone
    said: list[object] = []
    config = fit_stage_count(
        TrainConfig.recommended(transfer="partial", unfreeze_stages=99), backbone, said.append
    )
    assert config.unfreeze_stages == 8
    assert [e.message for e in said if isinstance(e, RunNotice)] == [
        "99 stages to unfreeze is more than the 8 stages of efficientnet_lite0: all 8 learn, as in a full fine-tune"
    ]
    for fits in (TrainConfig.recommended(transfer="partial", unfreeze_stages=8), TrainConfig.recommended()):
        said.clear()
        assert fit_stage_count(fits, backbone, said.append) == fits and said == []


def test_image_shape_settings_are_not_used_by_a_text_project() -> None:
    assert _unused("text", input_size=64, resize_mode="stretch") == ["input_size", "resize_mode"]
    assert _unused("images", input_size=64, resize_mode="stretch") == []
