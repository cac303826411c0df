"""The fine-tuning recipe's settings of :class:`~dmtl_studio.core.training.config.TrainConfig`: layer-wise
learning-rate decay, weight decay on norms and biases, an exponential moving average of the weights and flip
test-time augmentation.

A base dataclass only so that the configuration's module stays small; :class:`TrainConfig` is the one type to
use. Each stored default is "off" (what a stored configuration without the key meant); what a new run starts
with is each setting's ``recommended`` value, set where a measurement showed a win: all four are on for a new run
(``bench/bench_finetune.py`` at 112 and 224 px on four real image sets, 3 seeds; docs/quality.md "Fine-tuning").
Layer decay and flip test-time augmentation act on partial and full fine-tunes only, the weight average on every
run that trains by steps (not the linear probe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmtl_studio.core.training.config_basics import BasicSettings
from dmtl_studio.core.training.settings import described

#: What a new fine-tune starts with (``bench/bench_finetune.py``, docs/quality.md "Fine-tuning"): layer-wise
#: learning-rate decay 0.75 and a weight average of decay 0.999, with flip test-time augmentation.
RECOMMENDED_LAYER_DECAY = 0.75
RECOMMENDED_EMA_DECAY = 0.999
#: What an image fine-tune asked for ``tta_flip`` says when its recipe never mirrors (the run turns it off).
UNMIRRORED_NOTICE = (
    "the augmentation recipe never mirrors images, so the model does not average its predictions with the mirror "
    "image (flip test-time augmentation off): add a horizontal flip to the recipe if left and right do not "
    "matter in these images"
)


@dataclass(frozen=True)
class FineTuneSettings(BasicSettings):
    """Layer-wise learning-rate decay, norm/bias weight decay, weight averaging and flip test-time augmentation;
    documented on :class:`~dmtl_studio.core.training.config.TrainConfig`."""

    layer_decay: float = field(
        default=1.0,
        metadata=described(
            "layer-wise learning-rate decay",
            label="Layer-wise LR decay",
            help="partial/full: each backbone stage below the top one learns at this factor of the rate of the "
            "stage above it (1: every stage at the backbone rate)",
            low=0,
            low_open=True,
            high=1,
            step=0.05,
            decimals=2,
            recommended=RECOMMENDED_LAYER_DECAY,
        ),
    )
    decay_norm_and_bias: bool = field(
        default=True,
        metadata=described(
            "weight decay on norms and biases",
            help="apply the weight decay to normalisation weights and biases too (off: to weight matrices and "
            "convolution kernels only)",
            recommended=False,
        ),
    )
    ema_decay: float = field(
        default=0.0,
        metadata=described(
            "weight-average decay",
            label="Weight average (EMA)",
            flag="--ema",
            metavar="DECAY",
            help="validate, keep and export an exponential moving average of the weights, updated each step "
            "with min(DECAY, (1 + n) / (10 + n)) after n steps (0: off; not with the linear probe)",
            low=0,
            high=1,
            high_open=True,
            step=0.001,
            decimals=4,
            recommended=RECOMMENDED_EMA_DECAY,
        ),
    )
    tta_flip: bool = field(
        default=False,
        metadata=described(
            "flip test-time augmentation",
            label="Average with the mirror image",
            help="a fine-tuned image model predicts the mean of its probabilities for the image and its "
            "mirror image, in validation, evaluation, prediction and exports (frozen and text runs, and runs "
            "whose augmentation recipe never mirrors images: the image alone)",
            off_help="a fine-tuned image model predicts from the image alone, not the mean of its probabilities "
            "for the image and its mirror image (the default for a run whose recipe mirrors images)",
            recommended=True,
        ),
    )
