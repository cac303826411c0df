"""What the recipe editor shows: augmented versions of one image, and mixed pairs with their label weights.

Uses exactly the training path (:meth:`CompiledRecipe.augment` and :meth:`CompiledRecipe.draw_mix`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dmtl_studio.core.augment.image_recipe import CompiledRecipe
from dmtl_studio.core.augment.recipe import Recipe, mix_pair
from dmtl_studio.core.augment.resize import DEFAULT_RESIZE

#: Images are previewed at the size the default backbone trains at.
PREVIEW_SIZE = 224
#: Said when the item previewed has no label and the recipe mixes (``item``: "image" or "text").
UNLABELLED_NOT_MIXED = "mixing steps pair labelled {item}s only: this unlabelled {item} is shown unmixed"


@dataclass(frozen=True)
class PreviewTile:
    """One augmented sample and the label weights it carries, e.g. ``(("cat", 0.7), ("dog", 0.3))``."""

    image: np.ndarray
    weights: tuple[tuple[str, float], ...]
    mixed: bool = False

    @property
    def caption(self) -> str:
        if not self.mixed:
            return self.weights[0][0] if self.weights else "unlabelled"
        return " + ".join(f"{weight:.2f} {label}" for label, weight in self.weights)


def preview_tiles(
    recipe: Recipe | CompiledRecipe,
    image: np.ndarray,
    label: str | None,
    partners: Sequence[tuple[np.ndarray, str | None]] = (),
    count: int = 12,
    seed: int = 0,
) -> list[PreviewTile]:
    """``count`` augmented versions of ``image`` as training makes them, mixed with ``partners`` when drawn.

    Parameters
    ----------
    recipe
        The recipe to show (or the recipe compiled already).
    image, label
        The image (uint8 RGB, already at training size) and its class name (``None``: unlabelled; training mixes
        labelled images only, so an unlabelled one is shown unmixed).
    partners
        Other selected images with their labels: the second sample of mixing steps (unlabelled ones are left
        out). With none, the image is mixed with another augmented version of itself.
    count
        How many tiles.
    seed
        Tile ``k`` uses the generator seeded ``(seed, k)``: the same seed gives the same tiles.
    """
    compiled = recipe.compile() if isinstance(recipe, Recipe) else recipe
    tiles = []
    height, width = image.shape[:2]
    partners = [(other, other_label) for other, other_label in partners if other_label is not None]
    for k in range(count):
        rng = np.random.default_rng((seed, k))
        augmented = compiled.augment(image, rng)
        sample = compiled.draw_mix(rng, height, width)
        if sample is None or label is None:  # the draw still made: the same tiles as a labelled image's
            tiles.append(PreviewTile(augmented, ((label, 1.0),) if label is not None else ()))
            continue
        other, other_label = partners[k % len(partners)] if partners else (image, label)
        second = compiled.augment(other, rng)
        mixed = mix_pair(augmented, second, sample)
        weights: dict[str, float] = {}
        for name, weight in ((label, sample.lam), (other_label, 1.0 - sample.lam)):
            weights[name] = weights.get(name, 0.0) + weight
        tiles.append(PreviewTile(mixed, tuple(weights.items()), mixed=True))
    return tiles


@dataclass(frozen=True)
class PreviewRequest:
    """What the editor wants to see: a recipe on one of the selected images (others are mixing partners)."""

    request_id: int
    recipe: Recipe
    items: tuple[tuple[str, str | None], ...]  # (path, label or None) of the selected images
    current: int = 0
    seed: int = 0
    count: int = 12
    size: int = PREVIEW_SIZE
    asked_at: float = 0.0  # time.perf_counter() when the user changed something
    #: How the images are fitted into the square, as the run will (:data:`~dmtl_studio.core.augment.resize.RESIZE_MODES`).
    resize_mode: str = DEFAULT_RESIZE


@dataclass(frozen=True)
class PreviewResult:
    """The original image (at training size) and its augmented tiles, for one request.

    ``whole`` is the original as it is (aspect ratio kept, nothing cropped or stretched), for showing it.
    """

    request_id: int
    original: np.ndarray
    label: str | None
    tiles: tuple[PreviewTile, ...]
    asked_at: float = 0.0
    compute_ms: float = 0.0
    whole: np.ndarray | None = None
    #: What the tiles do not show that a person might expect (an unlabelled image is never mixed), or "".
    note: str = ""


#: How many other selected items a preview mixes with (each is loaded: a bound on the preview's cost).
MIXING_PARTNERS = 7


def mixing_partners(
    items: Sequence[tuple[str, str | None]], current: int, limit: int = MIXING_PARTNERS
) -> list[int]:
    """Indices of up to ``limit`` labelled items of ``items`` other than ``current`` to mix with, taken from the
    classes in turn — the other classes first — so a selection sorted by class still shows mixing across classes
    (h33: after Ctrl+A on a class-sorted browser the first 8 images were of one class and every tile read
    "1.00 equiaxed"). Unlabelled items are never mixed (training mixes labelled items only)."""
    own = items[current][1]
    by_class: dict[str, list[int]] = {}
    for index, (_, label) in enumerate(items):
        if index != current and label is not None:
            by_class.setdefault(label, []).append(index)
    queues = [queue for name, queue in by_class.items() if name != own] + (
        [by_class[own]] if own in by_class else []
    )
    chosen: list[int] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def render_preview(
    request: PreviewRequest,
    load: Callable[[str, int], np.ndarray],
    load_whole: Callable[[str, int], np.ndarray] | None = None,
) -> PreviewResult:
    """Compute a preview; ``load(path, size)`` returns the image resized as training resizes it, and
    ``load_whole(path, size)`` (optional) the whole image with its aspect ratio, at most ``size`` pixels.

    Raises whatever ``load`` raises for an unreadable image (:class:`dmtl_studio.core.project.image_problems.ImageProblem`).
    """
    started = time.perf_counter()
    path, label = request.items[request.current]
    image = load(path, request.size)
    partners = [
        (load(request.items[i][0], request.size), request.items[i][1])
        for i in mixing_partners(request.items, request.current)
    ]
    compiled = request.recipe.compile()
    tiles = preview_tiles(compiled, image, label, partners, request.count, request.seed)
    note = UNLABELLED_NOT_MIXED.format(item="image") if label is None and compiled.mixers else ""
    return PreviewResult(
        request.request_id,
        image,
        label,
        tuple(tiles),
        request.asked_at,
        (time.perf_counter() - started) * 1000.0,
        load_whole(path, request.size) if load_whole is not None else None,
        note,
    )
