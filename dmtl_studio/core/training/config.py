"""Training configuration: plain frozen data, free of torch so the UI can build and show it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

TRANSFER_MODES = ("frozen", "partial", "full")
HEADS = ("linear", "mlp")
DEVICES = ("auto", "cpu", "cuda")
IMBALANCE = ("none", "weighted_loss", "balanced_sampler")
SCHEDULES = ("cosine", "onecycle")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


#: The smallest training batch a backbone in training mode takes: BatchNorm cannot normalise a single image
#: (one value per channel once the image has shrunk to 1 x 1), and its statistics from one image are noise.
MIN_TRAINING_BATCH = 2

BATCH_OF_ONE = (
    "batch size 1 cannot fine-tune a backbone: its BatchNorm layers need at least 2 images in every training "
    "batch. Choose a batch size of 2 or more, or the frozen transfer (only the new head learns)"
)


#: What a new run starts with in the window and on the command line alike. The dataclass's own defaults stay as
#: they were, so a stored configuration that lacks a key means what it meant when it was written. The head rate
#: is the one docs/transfer.md found best for every strategy; lambda = 1 on labelled images never lowered
#: accuracy with all labels present in docs/dmtl.md.
RECOMMENDED = {"epochs": 10, "batch_size": 16, "learning_rate": 3e-3, "consistency_weight": 1.0}


@dataclass(frozen=True)
class TrainConfig:
    """What a training run does.

    ``transfer`` is ``"frozen"`` (feature extraction: the pretrained backbone is fixed and only the new head
    learns, on features computed once and cached, ``feature_views`` augmented views per image), ``"partial"``
    (the last ``unfreeze_stages`` stages of the backbone are fine-tuned too) or ``"full"`` (every parameter is
    fine-tuned). A fine-tuned backbone learns at ``learning_rate * backbone_lr_factor``. The new head is
    ``"linear"`` or ``"mlp"`` (``hidden_size`` units), with ``dropout``. ``recipe`` is the augmentation
    recipe as a dict (see :class:`dmtl_studio.core.augment.Recipe`); ``None`` means the ``light`` preset.

    ``imbalance`` weights the loss by inverse class frequency (``"weighted_loss"``) or samples classes evenly
    (``"balanced_sampler"``). ``schedule`` is warm-up + cosine or one-cycle. ``early_stopping_patience`` ends a
    run after that many epochs without a better validation loss (0: never). ``amp`` (bfloat16 where the GPU
    supports it, else float16 with a gradient scaler) and ``channels_last`` apply on CUDA only.

    The DMTL objective adds ``consistency_weight`` (lambda; 0 is plain supervised training) times the KL
    divergence between the prediction on an image's clean view, held fixed and sharpened by
    ``consistency_temperature``, and the prediction on its augmented view, over the samples whose clean
    prediction is at least ``consistency_threshold`` confident; lambda ramps up over the first
    ``consistency_rampup`` fraction of the run. With ``use_unlabelled`` the project's unlabelled images join the
    consistency term (never the supervised loss), ``unlabelled_ratio`` unlabelled images per labelled one.
    """

    backbone: str = "efficientnet_lite0"
    transfer: str = "frozen"
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    backbone_lr_factor: float = 0.1
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    input_size: int | None = None
    device: str = "auto"
    seed: int = 0
    num_workers: int = 0
    recipe: dict | None = None
    unfreeze_stages: int = 2
    head: str = "linear"
    hidden_size: int = 256
    dropout: float = 0.2
    feature_views: int = 4
    imbalance: str = "none"
    label_smoothing: float = 0.0
    schedule: str = "cosine"
    early_stopping_patience: int = 0
    amp: bool = True
    channels_last: bool = True
    consistency_weight: float = 0.0
    consistency_temperature: float = 1.0
    consistency_threshold: float = 0.0
    consistency_rampup: float = 0.3
    use_unlabelled: bool = False
    unlabelled_ratio: int = 3

    def __post_init__(self) -> None:
        if self.transfer not in TRANSFER_MODES:
            raise ConfigError(f"transfer must be one of {', '.join(TRANSFER_MODES)}, not {self.transfer!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.epochs < 1:
            raise ConfigError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ConfigError("batch size must be at least 1")
        if self.transfer != "frozen" and self.batch_size < MIN_TRAINING_BATCH:
            raise ConfigError(BATCH_OF_ONE)
        if not self.learning_rate > 0:
            raise ConfigError("learning rate must be positive")
        if self.input_size is not None and not 32 <= self.input_size <= 1024:
            raise ConfigError("input size must be between 32 and 1024 pixels")
        if not 0 <= self.warmup_fraction < 1:
            raise ConfigError("warm-up fraction must be in [0, 1)")
        if self.unfreeze_stages < 1:
            raise ConfigError("unfreeze stages must be at least 1")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}, not {self.head!r}")
        if not 1 <= self.hidden_size <= 16384:
            raise ConfigError("hidden size must be between 1 and 16384")
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout must be in [0, 1)")
        if not 1 <= self.feature_views <= 64:
            raise ConfigError("feature views must be between 1 and 64")
        if not self.backbone_lr_factor > 0:
            raise ConfigError("backbone learning-rate factor must be positive")
        if self.imbalance not in IMBALANCE:
            raise ConfigError(f"imbalance must be one of {', '.join(IMBALANCE)}, not {self.imbalance!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("label smoothing must be in [0, 1)")
        if self.early_stopping_patience < 0:
            raise ConfigError("early-stopping patience must be 0 (off) or more epochs")
        if not 0 <= self.consistency_weight <= 100:
            raise ConfigError("consistency weight (lambda) must be between 0 (off) and 100")
        if not 0.05 <= self.consistency_temperature <= 10:
            raise ConfigError("consistency temperature must be between 0.05 and 10 (1: no sharpening)")
        if not 0 <= self.consistency_threshold < 1:
            raise ConfigError("consistency confidence threshold must be in [0, 1)")
        if not 0 <= self.consistency_rampup <= 1:
            raise ConfigError("consistency ramp-up must be a fraction of the run in [0, 1]")
        if not 1 <= self.unlabelled_ratio <= 16:
            raise ConfigError("unlabelled:labelled batch ratio must be between 1 and 16")
        if self.recipe is not None:
            # Here, not at the top: the recipe engine loads OpenCV, which commands that never train do not need.
            from dmtl_studio.core.augment.recipe import Recipe
            from dmtl_studio.core.augment.registry import RecipeError

            try:
                Recipe.from_dict(self.recipe)
            except RecipeError as exc:
                raise ConfigError(f"augmentation recipe: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_changes(self, **changes: object) -> TrainConfig:
        return replace(self, **changes)
