"""The built-in batch mixing operations (MixUp, CutMix): each draws how two images of a batch are mixed; the mixing
itself, on tensors, is the training's (:mod:`dmtl_studio.core.training.mixing`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from dmtl_studio.core.augment.registry import (
    BatchMixer,
    MixSample,
    Operation,
    ParamSpec,
    ParamValue,
    register,
)


class _MixUp(BatchMixer):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.alpha = float(params["alpha"])

    def sample(self, rng: np.random.Generator, height: int, width: int) -> MixSample:
        return MixSample(float(rng.beta(self.alpha, self.alpha)))


class _CutMix(BatchMixer):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.alpha = float(params["alpha"])

    def sample(self, rng: np.random.Generator, height: int, width: int) -> MixSample:
        lam = float(rng.beta(self.alpha, self.alpha))
        side = math.sqrt(1.0 - lam)
        box_h, box_w = int(height * side), int(width * side)
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        top, bottom = max(0, cy - box_h // 2), min(height, cy + box_h // 2)
        left, right = max(0, cx - box_w // 2), min(width, cx + box_w // 2)
        # The label weight is the area really kept once the box is clipped at the image edges.
        kept = 1.0 - (bottom - top) * (right - left) / float(height * width)
        return MixSample(kept, (top, bottom, left, right))


register(
    Operation(
        "mixup",
        "Mixup",
        "mixing",
        _MixUp,
        (
            ParamSpec(
                "alpha",
                "Alpha",
                "float",
                0.2,
                0.05,
                4.0,
                0.05,
                "",
                "Weights from Beta(alpha, alpha): small alpha keeps one image dominant.",
            ),
        ),
        0.5,
        "Blend two training images and their labels: z = a·x1 + (1 − a)·x2. Applies to whole batches.",
    )
)
register(
    Operation(
        "cutmix",
        "CutMix",
        "mixing",
        _CutMix,
        (
            ParamSpec(
                "alpha",
                "Alpha",
                "float",
                1.0,
                0.05,
                4.0,
                0.05,
                "",
                "Pasted area from Beta(alpha, alpha); labels weighted by the visible areas.",
            ),
        ),
        0.5,
        "Paste a rectangle of another training image; labels weighted by area. Applies to whole batches.",
    )
)
