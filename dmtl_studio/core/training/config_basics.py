"""The first group of :class:`~dmtl_studio.core.training.config.TrainConfig`'s settings: the backbone, the
transfer strategy and the optimisation basics (epochs, batch, learning rates, input size, image shape, device, seed, workers).

A base dataclass only so that the configuration's module stays small; :class:`TrainConfig` is the one type to
use. Free of torch, like the rest of the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmtl_studio.core.augment.resize import DEFAULT_RESIZE, RESIZE_MODES
from dmtl_studio.core.training.settings import DEVICES, TRANSFER_MODES, described


@dataclass(frozen=True)
class BasicSettings:
    """Backbone, transfer strategy and optimisation basics; documented on :class:`TrainConfig`."""

    backbone: str = field(
        default="efficientnet_lite0",
        metadata=described("backbone", help="a name from 'dmtl-studio weights list'"),
    )
    transfer: str = field(
        default="frozen",
        metadata=described(
            "transfer",
            help="frozen: train the head on cached features; partial: also the last --unfreeze-stages stages; "
            "full: every layer; auto (image projects): the frozen linear probe first, then the partial fine-tune "
            "if --time-budget allows, keeping the better on the validation split (with too few validation images to "
            "compare on, at least 5 a class, the fine-tune)",
            choices=TRANSFER_MODES,
        ),
    )
    time_budget: float = field(
        default=30.0,
        metadata=described(
            "time budget",
            label="Time budget (minutes)",
            metavar="MINUTES",
            help="--transfer auto: the minutes the whole run may take; the fine-tune runs only when its estimate "
            "(from its first steps) fits in what the linear probe left (0: the linear probe alone)",
            low=0,
            high=10_000,
            step=5,
            decimals=1,
            rule="time budget must be between 0 and 10000 minutes",
        ),
    )
    epochs: int = field(
        default=5,
        metadata=described(
            "epochs",
            label="Epochs",
            low=1,
            shown_high=500,
            recommended=10,
            help="passes over the training images",
        ),
    )
    batch_size: int = field(
        default=32,
        metadata=described(
            "batch size",
            label="Batch size",
            low=1,
            shown_high=1024,
            recommended=16,
            help="images per training step",
        ),
    )
    learning_rate: float = field(
        default=1e-3,
        metadata=described(
            "learning rate",
            label="Head learning rate",
            flag="--lr",
            help="head learning rate; a fine-tuned backbone learns at this rate x --backbone-lr-factor",
            low=0,
            low_open=True,
            shown_high=1.0,
            step=1e-4,
            decimals=6,
            # The head rate docs/transfer.md found best for every strategy.
            recommended=3e-3,
        ),
    )
    backbone_lr_factor: float = field(
        default=0.1,
        metadata=described(
            "backbone learning-rate factor",
            label="Backbone LR factor",
            help="backbone LR = head LR x factor",
            low=0,
            low_open=True,
            shown_high=1.0,
            step=0.05,
            decimals=3,
        ),
    )
    weight_decay: float = field(
        default=0.01,
        metadata=described("weight decay", help="AdamW weight decay", low=0, step=0.01, decimals=4),
    )
    warmup_fraction: float = field(
        default=0.1,
        metadata=described(
            "warm-up fraction",
            help="share of the run the learning rate warms up",
            low=0,
            high=1,
            high_open=True,
        ),
    )
    input_size: int | None = field(
        default=None,
        metadata=described(
            "input size",
            help="override the backbone's input size",
            low=32,
            high=1024,
            rule="input size must be between 32 and 1024 pixels",
        ),
    )
    resize_mode: str = field(
        default=DEFAULT_RESIZE,
        metadata=described(
            "image shape",
            flag="--resize",
            help="pad: keep each image's shape, the longer side scaled to the input size and the rest filled "
            "with white; stretch: scale each side to the input size (runs before this setting stretched)",
            choices=RESIZE_MODES,
        ),
    )
    device: str = field(
        default="auto",
        metadata=described("device", help="where the model runs (training, feature passes)", choices=DEVICES),
    )
    seed: int = field(
        default=0,
        metadata=described("seed", help="random seed (weights of the new head, order, augmentation)"),
    )
    num_workers: int = field(
        default=0,
        metadata=described(
            "data loader workers", flag="--workers", help="data loader worker processes", low=0
        ),
    )
