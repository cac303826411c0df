"""A compiled image recipe: the one path by which an image is augmented, in the editor's preview and in
training alike (made by :meth:`dmtl_studio.core.augment.recipe.Recipe.compile` for a recipe of kind
``"images"``); and how two images are mixed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dmtl_studio.core.augment.choice import OneOf
from dmtl_studio.core.augment.registry import BatchMixer, GeometricTransform, MixSample, PixelTransform
from dmtl_studio.core.augment.warping import warp


@dataclass(frozen=True)
class CompiledRecipe:
    """A recipe's enabled steps with their transforms, applied to uint8 RGB images."""

    kind = "images"

    image_steps: tuple[tuple[float, GeometricTransform | PixelTransform | OneOf], ...]
    mixers: tuple[tuple[float, BatchMixer], ...]

    def augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The image as the model sees it in training, for this draw of ``rng``.

        Each step draws one number to decide whether it fires (``probability``), whatever the outcome, so
        every draw is reproducible from the seed; a ``one_of`` step that fires then picks its operation
        (:meth:`OneOf.pick`). Consecutive geometric steps are combined into one warp.
        """
        height, width = image.shape[:2]
        pending: np.ndarray | None = None
        border = "reflect"
        for probability, step in self.image_steps:
            fires = rng.random() < probability
            if not fires:
                continue
            transform = step.pick(rng) if isinstance(step, OneOf) else step
            if transform is None:  # a one_of whose pick does not fire
                continue
            if isinstance(transform, GeometricTransform):
                matrix = transform.homography(rng, height, width)
                if pending is not None and transform.border != border:
                    image, pending = warp(image, pending, border), None
                border = transform.border
                pending = matrix if pending is None else matrix @ pending
            else:
                if pending is not None:
                    image, pending = warp(image, pending, border), None
                image = transform(image, rng)
        if pending is not None:
            image = warp(image, pending, border)
        return np.ascontiguousarray(image)

    def draw_mix(self, rng: np.random.Generator, height: int, width: int) -> MixSample | None:
        """At most one mixing draw for a batch (or a preview pair): the first mixer that fires, in order.

        Every mixer draws whether it fires, so the draws do not depend on which one did.
        """
        chosen: MixSample | None = None
        for probability, mixer in self.mixers:
            fires = rng.random() < probability
            if fires and chosen is None:
                chosen = mixer.sample(rng, height, width)
        return chosen


def mix_pair(first: np.ndarray, second: np.ndarray, sample: MixSample) -> np.ndarray:
    """``first`` mixed with ``second`` as drawn: blended (``lam``) or with ``box`` pasted from ``second``."""
    if sample.box is None:
        return cv2.addWeighted(first, sample.lam, second, 1.0 - sample.lam, 0.0)
    top, bottom, left, right = sample.box
    out = first.copy()
    out[top:bottom, left:right] = second[top:bottom, left:right]
    return out


def image_seed(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one image of one epoch: reproducible whatever the number of loader workers."""
    return np.random.default_rng((seed, epoch, index))
