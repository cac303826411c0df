"""Settings given for a run that the run will not use, and why: the command line says so instead of ignoring them.

A setting belongs to one strategy or one option (the time budget to Auto, the contrastive step to a frozen text
encoder, the unfreezing depth to a partial fine-tune…). Given for a run of another kind, it changes nothing; a user
who typed it expects it to, so :func:`unused_settings` names each such setting with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.settings import AUTO, AUTO_FINETUNE

#: The settings of the unlabelled-images objective: used only when the run learns from unlabelled images.
UNLABELLED_SETTINGS = (
    "unlabelled_rule",
    "pseudo_label_threshold",
    "unlabelled_weight",
    "unlabelled_ratio",
    "distribution_alignment",
)


#: The settings of training by epochs: a head fitted as a linear probe (to convergence, L-BFGS) uses none of them.
EPOCH_SETTINGS = (
    "epochs",
    "learning_rate",
    "weight_decay",
    "warmup_fraction",
    "schedule",
    "early_stopping_patience",
    "label_smoothing",
    "dropout",
    "ema_decay",
)
#: The settings of a fine-tuned backbone's (or encoder's) learning rates.
BACKBONE_SETTINGS = ("backbone_lr_factor", "layer_decay")


def _epochs(config: TrainConfig, kind: str) -> str | None:
    if config.fits_linear_probe:
        return (
            "the head is fitted as a linear probe, to convergence, not trained by epochs (give --no-linear-probe "
            "to train it by epochs)"
        )
    return None


def _backbone_rates(config: TrainConfig, kind: str) -> str | None:
    if config.transfer == "frozen":
        what = "encoder" if kind == "text" else "backbone"
        return f"a frozen run does not train the {what}; it is for a partial or full fine-tune (or Auto's)"
    return None


def _time_budget(config: TrainConfig, kind: str) -> str | None:
    if config.transfer != AUTO:
        return f"only Auto (transfer auto) has a time budget; this is a {config.transfer} run"
    return None


def _contrastive_steps(config: TrainConfig, kind: str) -> str | None:
    if config.contrastive_steps <= 0:
        return None
    if kind != "text":
        return "the contrastive step adapts a text encoder; a project of images has none"
    if config.transfer == AUTO:
        return "the contrastive step runs before a frozen encoder's run only; Auto is for projects of images"
    if config.transfer != "frozen":
        return (
            f"the contrastive step runs before a frozen encoder's run only; a {config.transfer} fine-tune learns "
            "from the labels through its own loss"
        )
    return None


def _unfreeze_stages(config: TrainConfig, kind: str) -> str | None:
    fine_tune = AUTO_FINETUNE if config.transfer == AUTO else config.transfer  # what trains the weights
    if fine_tune != "partial":
        return f"only a partial fine-tune (or Auto's) unfreezes stages; this is a {config.transfer} run"
    return None


def _hidden_size(config: TrainConfig, kind: str) -> str | None:
    if config.head != "mlp" or config.transfer == AUTO:
        head = "linear (Auto's)" if config.transfer == AUTO else config.head
        return f"only an mlp head has hidden units; this run's head is {head}"
    return None


def _auto_head(config: TrainConfig, kind: str) -> str | None:
    if config.transfer == AUTO and (config.head != "linear" or not config.linear_probe):
        return "Auto fits a linear head as a probe, then fine-tunes that head: its head is linear, fitted as a probe"
    return None


def _unlabelled(config: TrainConfig, kind: str) -> str | None:
    if not config.use_unlabelled:
        return "the run does not learn from unlabelled items (give --unlabelled for that)"
    if config.fits_linear_probe:
        how = "texts by self-training" if kind == "text" else "images by label spreading"
        return (
            f"a linear probe learns from the unlabelled {how}, which has no such setting; it is for runs trained "
            "by epochs (a fine-tune, or --no-linear-probe)"
        )
    return None


def _resize_mode(config: TrainConfig, kind: str) -> str | None:
    if kind == "text":
        return "a text project's texts are tokenised, never resized to a square"
    return None


def _input_size(config: TrainConfig, kind: str) -> str | None:
    if kind == "text":
        return "a text project's texts are tokenised (the encoder reads up to its own number of tokens), not resized"
    return None


RULES: dict[str, Callable[[TrainConfig, str], str | None]] = {
    "time_budget": _time_budget,
    "resize_mode": _resize_mode,
    "input_size": _input_size,
    "contrastive_steps": _contrastive_steps,
    "unfreeze_stages": _unfreeze_stages,
    "hidden_size": _hidden_size,
    "head": _auto_head,
    "linear_probe": _auto_head,
    **{name: _unlabelled for name in UNLABELLED_SETTINGS},
    **{name: _epochs for name in EPOCH_SETTINGS},
    **{name: _backbone_rates for name in BACKBONE_SETTINGS},
}


def unused_settings(config: TrainConfig, given: Iterable[str], kind: str) -> list[tuple[str, str]]:
    """``(setting, reason)`` for each setting in ``given`` (names of :class:`TrainConfig` fields the user set) that
    the run ``config`` on a project of ``kind`` (``"images"`` or ``"text"``) will not use, in ``given``'s order.

    Settings without a rule here are always taken as used.
    """
    unused = []
    for name in given:
        rule = RULES.get(name)
        reason = rule(config, kind) if rule is not None else None
        if reason is not None:
            unused.append((name, reason))
    return unused


def fit_stage_count(config: TrainConfig, backbone: object, emit: Callable[[object], None]) -> TrainConfig:
    """``config`` with ``unfreeze_stages`` at most the stages of ``backbone`` (a partial fine-tune's), and a
    :class:`~dmtl_studio.core.training.events.RunNotice` when it was more: the run's stored settings then name
    what learnt."""
    from dmtl_studio.core.models.architectures import parameter_stages
    from dmtl_studio.core.training.events import RunNotice

    stages = len(parameter_stages(backbone))  # type: ignore[arg-type]
    if config.transfer != "partial" or config.unfreeze_stages <= stages:
        return config
    emit(
        RunNotice(
            f"{config.unfreeze_stages} stages to unfreeze is more than the {stages} stages of {config.backbone}: "
            f"all {stages} learn, as in a full fine-tune"
        )
    )
    return config.with_changes(unfreeze_stages=stages)
