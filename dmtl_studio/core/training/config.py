"""Training configuration: plain frozen data, free of torch so the UI can build and show it.

Each field of :class:`TrainConfig` carries a :class:`Setting` in its metadata: its plain name, help, choices,
valid range and what a new run starts with. The configuration validates itself from them, and the command line's
``train`` options and the window's fields are built from them, so no default, choice or range is written twice.
"""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace

from dmtl_studio.core.training.config_finetune import FineTuneSettings
from dmtl_studio.core.training.config_unlabelled import UnlabelledSettings
from dmtl_studio.core.training.settings import (
    BATCH_OF_ONE,
    CONTRASTIVE_STEPS,
    HEADS,
    IMBALANCE,
    MIN_TRAINING_BATCH,
    SCHEDULES,
    SETTING,
    STORED,
    ConfigError,
    Setting,
    described,
)


@dataclass(frozen=True)
class TrainConfig(FineTuneSettings, UnlabelledSettings):
    """What a training run does.

    ``transfer`` is ``"frozen"`` (feature extraction: the pretrained backbone is fixed and only the new head
    learns, on features computed once and cached, ``feature_views`` augmented views per image), ``"partial"``
    (the last ``unfreeze_stages`` stages of the backbone are fine-tuned too) or ``"full"`` (every parameter is
    fine-tuned). A fine-tuned backbone's top stage learns at ``learning_rate * backbone_lr_factor``, each stage
    below it at ``layer_decay`` times the rate of the stage above (layer-wise learning-rate decay; 1: all at that
    rate); ``decay_norm_and_bias`` false keeps the weight decay off normalisation weights and biases. With
    ``ema_decay`` > 0 an exponential moving average of the weights is what is validated, kept and exported;
    ``tta_flip`` makes a fine-tuned image model average its prediction with the mirror image's (where its recipe
    mirrors images); a new run starts with all three on (layer decay 0.75, average 0.999). The new head is
    ``"linear"`` or ``"mlp"`` (``hidden_size`` units), with ``dropout``. In a text project a frozen encoder is first
    adapted to the labelled texts by SetFit's contrastive step, at most ``contrastive_steps`` batches of pairs
    (:mod:`dmtl_studio.core.training.text_contrastive`; 0: off; image runs store 0). ``recipe`` is the augmentation
    recipe as a dict (see :class:`dmtl_studio.core.augment.recipe.Recipe`); ``None`` means the ``light`` preset.

    ``imbalance`` weights the loss by inverse class frequency (``"weighted_loss"``) or samples classes evenly
    (``"balanced_sampler"``). ``schedule`` is warm-up + cosine or one-cycle. ``early_stopping_patience`` ends a
    run after that many epochs without a better validation loss (0: never). ``amp`` (bfloat16 where the GPU
    supports it, else float16 with a gradient scaler) and ``channels_last`` apply on CUDA only.

    The DMTL objective adds ``consistency_weight`` (lambda; 0 is plain supervised training) times the KL
    divergence between the prediction on an image's clean view, held fixed and sharpened by
    ``consistency_temperature``, and the prediction on its augmented view, over the samples whose clean
    prediction is at least ``consistency_threshold`` confident; lambda ramps up over the first
    ``consistency_rampup`` fraction of the run. With ``use_unlabelled`` the project's unlabelled images join the
    consistency term (never the supervised loss), ``unlabelled_ratio`` unlabelled images per labelled one. In a
    partial or full fine-tune, ``unlabelled_rule = "fixmatch"`` gives them FixMatch's loss instead (weight
    ``unlabelled_weight``, pseudo-labels above ``pseudo_label_threshold``, ``distribution_alignment``; see
    :mod:`dmtl_studio.core.training.fixmatch`).

    Each field's :class:`Setting` (``dataclasses.fields(TrainConfig)[i].metadata[SETTING]``, or
    :func:`setting`) holds its help, choices and range; :meth:`recommended` is what a new run starts with. The
    field defaults are what a stored configuration lacking the key meant, and stay as they are.
    """

    recipe: dict | None = field(
        default=None, metadata=described("augmentation recipe", flag=None, help="augmentation recipe (.json)")
    )
    unfreeze_stages: int = field(
        default=2,
        metadata=described("unfreeze stages", help="stages fine-tuned by --transfer partial", low=1),
    )
    head: str = field(default="linear", metadata=described("head", help="the new head", choices=HEADS))
    linear_probe: bool = field(
        default=False,
        metadata=described(
            "linear probe",
            help="frozen backbone and linear head: fit the head to convergence as a linear probe (L-BFGS, L2 "
            "strength chosen by cross-validation on the training features) in place of epochs; with "
            "--unlabelled, class-balanced pseudo-labels from label spreading join the fit",
            off_help="train a frozen backbone's head by epochs (batches, the recipe's mixing steps, early "
            "stopping) in place of the default linear probe fitted to convergence",
            recommended=True,
        ),
    )
    contrastive_steps: int = field(
        default=0,
        metadata=described(
            "contrastive fine-tuning steps",
            label="Contrastive steps",
            metavar="STEPS",
            help="text projects with a frozen encoder: first fine-tune the encoder on pairs of labelled texts of "
            "one class or of two (SetFit's contrastive step), at most STEPS batches of 16 pairs, then cache its "
            "embeddings (0: off)",
            low=0,
            high=100_000,
            step=50,
            recommended=CONTRASTIVE_STEPS,
        ),
    )
    hidden_size: int = field(
        default=256,
        metadata=described(
            "hidden size",
            label="Hidden units",
            flag="--hidden",
            help="hidden units of an mlp head",
            low=1,
            high=16384,
            step=64,
        ),
    )
    dropout: float = field(
        default=0.2,
        metadata=described(
            "dropout",
            label="Dropout",
            help="dropout of the head",
            low=0,
            high=1,
            high_open=True,
            step=0.05,
            decimals=2,
        ),
    )
    feature_views: int = field(
        default=4,
        metadata=described("feature views", help="augmented views cached per image (frozen)", low=1, high=64),
    )
    imbalance: str = field(
        default="none",
        metadata=described(
            "imbalance",
            help="handle unequal class sizes by weighting the loss or by sampling classes evenly",
            choices=IMBALANCE,
        ),
    )
    label_smoothing: float = field(
        default=0.0,
        metadata=described(
            "label smoothing",
            help="share of each target spread over the other classes",
            low=0,
            high=1,
            high_open=True,
        ),
    )
    schedule: str = field(
        default="cosine",
        metadata=described(
            "schedule", help="learning-rate schedule: warm-up + cosine, or one-cycle", choices=SCHEDULES
        ),
    )
    early_stopping_patience: int = field(
        default=0,
        metadata=described(
            "early-stopping patience",
            flag="--early-stopping",
            metavar="EPOCHS",
            help="stop after this many epochs without a better validation loss (0: never)",
            low=0,
            rule="early-stopping patience must be 0 (off) or more epochs",
        ),
    )
    amp: bool = field(default=True, metadata=described("mixed precision", help="mixed precision on CUDA"))
    channels_last: bool = field(
        default=True, metadata=described("channels-last layout", help="channels-last memory layout on CUDA")
    )
    consistency_weight: float = field(
        default=0.0,
        metadata=described(
            "consistency weight (lambda)",
            label="Consistency weight λ",
            flag="--consistency",
            metavar="LAMBDA",
            help="DMTL: weight of the consistency between clean and augmented views (0: supervised only)",
            low=0,
            high=100,
            step=0.25,
            decimals=2,
            # lambda = 1 on labelled images never lowered accuracy with all labels present in docs/dmtl.md.
            recommended=1.0,
            rule="consistency weight (lambda) must be between 0 (off) and 100",
        ),
    )
    consistency_temperature: float = field(
        default=1.0,
        metadata=described(
            "consistency temperature",
            help="target sharpening (<1)",
            low=0.05,
            high=10,
            rule="consistency temperature must be between 0.05 and 10 (1: no sharpening)",
        ),
    )
    consistency_threshold: float = field(
        default=0.0,
        metadata=described(
            "consistency confidence threshold",
            help="target confidence needed",
            low=0,
            high=1,
            high_open=True,
        ),
    )
    consistency_rampup: float = field(
        default=0.3,
        metadata=described(
            "consistency ramp-up",
            help="share of the run over which lambda ramps up",
            low=0,
            high=1,
            rule="consistency ramp-up must be a fraction of the run in [0, 1]",
        ),
    )
    use_unlabelled: bool = field(
        default=False,
        metadata=described(
            "use unlabelled images",
            flag="--unlabelled",
            help="DMTL: unlabelled images join the consistency term",
        ),
    )
    unlabelled_ratio: int = field(
        default=3,
        metadata=described(
            "unlabelled:labelled batch ratio",
            label="Unlabelled : labelled",
            help="unlabelled images per labelled one",
            low=1,
            high=16,
        ),
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            rule: Setting = f.metadata[SETTING]
            value = getattr(self, f.name)
            if not rule.accepts(value):
                raise ConfigError(rule.describe_rule(value))
        if self.transfer != "frozen" and self.batch_size < MIN_TRAINING_BATCH:
            raise ConfigError(BATCH_OF_ONE)
        if self.recipe is not None:
            # Here, not at the top: the recipe engine loads OpenCV, which commands that never train do not need.
            from dmtl_studio.core.augment.recipe import Recipe
            from dmtl_studio.core.augment.registry import RecipeError

            try:
                Recipe.from_dict(self.recipe)
            except RecipeError as exc:
                raise ConfigError(f"augmentation recipe: {exc}") from None

    @classmethod
    def recommended(cls, **changes: object) -> TrainConfig:
        """What a new run starts with, in the window and on the command line alike.

        Parameters
        ----------
        **changes
            Settings that differ from the recommendation.

        Returns
        -------
        TrainConfig
            The stored defaults, with each setting's :attr:`Setting.recommended` value where it has one, then
            ``changes``.

        Raises
        ------
        ConfigError
            A change that cannot be used.
        """
        values = {
            f.name: f.metadata[SETTING].recommended
            for f in fields(cls)
            if f.metadata[SETTING].recommended is not STORED
        }
        return cls(**{**values, **changes})

    @property
    def fits_linear_probe(self) -> bool:
        """Whether the run fits its head as a linear probe: a frozen backbone, a linear head, ``linear_probe``."""
        return self.linear_probe and self.transfer == "frozen" and self.head == "linear"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_changes(self, **changes: object) -> TrainConfig:
        return replace(self, **changes)


def setting(name: str) -> Setting:
    """The :class:`Setting` (help, choices, range, recommendation) of the field ``name``; ``KeyError`` if none."""
    return _SETTINGS[name]


def value_type(name: str) -> type:
    """The plain type of the field ``name``'s values (``int``, ``float``, ``str``, ``bool`` or ``dict``, ``None``
    left out): what a command line converts an option's text to, or which kind of form field shows it.
    ``KeyError`` if there is no such field."""
    return _TYPES[name]


def _plain(annotation: object) -> type:
    if isinstance(annotation, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation  # type: ignore[return-value]


_SETTINGS: dict[str, Setting] = {f.name: f.metadata[SETTING] for f in fields(TrainConfig)}
_TYPES: dict[str, type] = {name: _plain(t) for name, t in typing.get_type_hints(TrainConfig).items()}
