"""The settings of the FixMatch rule: how unlabelled images teach a fine-tuned model (see
:mod:`dmtl_studio.core.training.fixmatch`).

A base dataclass only so that the configuration's module stays small; :class:`TrainConfig` is the one type to
use. Free of torch, like the rest of the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmtl_studio.core.training.config_basics import BasicSettings
from dmtl_studio.core.training.settings import UNLABELLED_RULES, described


@dataclass(frozen=True)
class UnlabelledSettings(BasicSettings):
    """The unlabelled images' rule and FixMatch's threshold, weight and class balance; documented on
    :class:`~dmtl_studio.core.training.config.TrainConfig`."""

    unlabelled_rule: str = field(
        default="consistency",
        metadata=described(
            "unlabelled rule",
            label="Unlabelled images learn by",
            help="how unlabelled images teach a partial or full fine-tune of an image project: consistency (the "
            "KL term, as labelled images) or fixmatch (a confident prediction on a flipped, shifted view is the "
            "label of a strongly augmented view; Sohn et al. 2020); a frozen backbone and text runs keep their "
            "own rule",
            choices=UNLABELLED_RULES,
            recommended="fixmatch",
        ),
    )
    pseudo_label_threshold: float = field(
        default=0.95,
        metadata=described(
            "pseudo-label threshold",
            label="Pseudo-label confidence",
            help="fixmatch: an unlabelled image counts only where its weak view's prediction is this confident",
            low=0,
            high=1,
            step=0.01,
            decimals=2,
        ),
    )
    unlabelled_weight: float = field(
        default=1.0,
        metadata=described(
            "unlabelled weight",
            label="Unlabelled weight λu",
            help="fixmatch: weight of the pseudo-label loss on unlabelled images (lambda_u)",
            low=0,
            high=100,
            step=0.25,
            decimals=2,
        ),
    )
    distribution_alignment: bool = field(
        default=True,
        metadata=described(
            "distribution alignment",
            help="distribution alignment of the pseudo-labels (fixmatch): the weak views' predictions scaled "
            "towards the labelled images' class shares before the threshold, so few-shot classes are not swamped "
            "(ReMixMatch, Berthelot et al. 2020)",
        ),
    )
