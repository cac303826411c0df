"""The ``one_of`` step: each image gets ONE operation picked at random from a list, at a random magnitude.

This is how TrivialAugment (Müller & Hutter, 2021, "TrivialAugment: Tuning-free Yet State-of-the-Art Data
Augmentation") augments: per image, one operation drawn uniformly from a fixed list, its magnitude drawn uniformly
from that operation's range. RandAugment with random magnitudes (Cubuk et al., 2020; as FixMatch, Sohn et al.,
2020, uses it) is two ``one_of`` steps in a row. Every operation of this engine already draws its magnitude
uniformly within its range for each image (``rotate`` with ``degrees = 30`` turns by an angle uniform in ±30°), so
an option's parameters are its range and nothing else is needed.

The picked option then fires with its own probability (1 for TrivialAugment). Options are per-image operations
(geometry, pixels, erasing); mixing acts on batches and a ``one_of`` inside a ``one_of`` says nothing two steps
would not, so neither is an option.
"""

from __future__ import annotations

import numpy as np

from dmtl_studio.core.augment.registry import GeometricTransform, PixelTransform

#: The step's name in a recipe file, where an operation's name would be.
ONE_OF = "one_of"
#: What the editor calls it.
ONE_OF_LABEL = "One of (TrivialAugment)"
ONE_OF_HELP = (
    "Each image gets one of these operations, picked at random with equal chances, at a random strength within "
    "its range (TrivialAugment). Untick an operation to leave it out of the draw."
)
#: The operation families a ``one_of`` may pick from.
OPTION_FAMILIES = ("geometry", "pixel", "erasing")


class OneOf:
    """The compiled ``one_of`` step: ``options`` are ``(probability, transform)`` of its enabled operations."""

    def __init__(self, options: tuple[tuple[float, GeometricTransform | PixelTransform], ...]) -> None:
        if not options:
            raise ValueError("a one_of step needs at least one enabled operation")
        self.options = options

    def pick(self, rng: np.random.Generator) -> GeometricTransform | PixelTransform | None:
        """The transform this image gets, or ``None`` when the picked option does not fire.

        Draws two numbers, whatever the outcome (which option, then whether it fires), so the draws that follow
        do not depend on the pick.
        """
        probability, transform = self.options[int(rng.integers(len(self.options)))]
        fires = rng.random() < probability
        return transform if fires else None
