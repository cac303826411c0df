"""Speed of the augmentation engine against torchvision.transforms.v2, on the same images, single thread.

Each operation runs with probability 1 through a one-step recipe (the real path, per-step overhead
included); torchvision runs its closest v2 equivalent on uint8 CHW tensors. The typical recipe is the
``medium`` preset against a v2 ``Compose`` of the same steps, each wrapped in ``RandomApply`` with the step's
probability (and the ``strong`` preset, its ``one_of`` step against ``v2.RandomChoice``). Mixers run on float
batches (as in training) against ``v2.MixUp``/``v2.CutMix``.
"""

from __future__ import annotations

import math
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as tvf

from dmtl_studio.core.augment.pixel_ops import blur_kernel_size
from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.augment.registry import operations

BILINEAR = InterpolationMode.BILINEAR
BATCH = 32


@dataclass(frozen=True)
class BenchRow:
    """One line of the table: images per second with this engine and with torchvision v2."""

    name: str
    ours: float
    torchvision: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.torchvision if self.torchvision else math.inf


@dataclass(frozen=True)
class BenchReport:
    rows: tuple[BenchRow, ...]
    recipe: BenchRow
    size: int
    machine: str
    preview_ms: float = 0.0
    #: Other presets, timed like ``recipe`` (the ``strong`` one: one operation of many per image, and cutout).
    other_recipes: tuple[BenchRow, ...] = ()

    @property
    def median_ratio(self) -> float:
        return statistics.median(row.ratio for row in self.rows)


def photo_like_images(count: int = 8, size: int = 256, seed: int = 0) -> list[np.ndarray]:
    """Generated pictures with smooth shading, shapes, texture and noise (like photos, not flat test cards)."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        low = rng.uniform(0, 255, (6, 6, 3)).astype(np.float32)
        image = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
        for _ in range(5):
            center = tuple(int(v) for v in rng.integers(0, size, 2))
            colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
            cv2.circle(image, center, int(rng.integers(size // 16, size // 4)), colour, -1, cv2.LINE_AA)
        texture = cv2.GaussianBlur(rng.normal(0, 18, (size, size, 3)).astype(np.float32), (0, 0), 1.2)
        image = image + texture + rng.normal(0, 4, (size, size, 3)).astype(np.float32)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images


class _RandomQuarterTurn:
    """torch.rot90 by a random multiple of 90° (v2 has no such transform; RandomRotation interpolates).

    torch.rot90 returns a strided view; it is made contiguous, as the next step of a pipeline would need.
    """

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return torch.rot90(image, random.randint(1, 3), dims=(-2, -1)).contiguous()


class _RandomGamma:
    def __init__(self, amount: float) -> None:
        self.amount = amount

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return tvf.adjust_gamma(image, random.uniform(1.0 - self.amount, 1.0 + self.amount))


def torchvision_equivalent(step: Step, size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The closest torchvision v2 transform to one step, applied every time (probability 1)."""
    p = step.values
    name = step.operation
    if name == "one_of":  # one enabled option per image, each with its own probability
        options = [o for o in step.options if o.enabled]
        return v2.RandomChoice(
            [v2.RandomApply([torchvision_equivalent(o, size)], o.probability) for o in options]
        )
    if name == "hflip":
        return v2.RandomHorizontalFlip(1.0)
    if name == "vflip":
        return v2.RandomVerticalFlip(1.0)
    if name == "rotate90":
        return _RandomQuarterTurn()
    if name == "rotate":
        return v2.RandomRotation(p["degrees"], interpolation=BILINEAR)
    if name == "translate":
        return v2.RandomAffine(0, translate=(p["fraction"], p["fraction"]), interpolation=BILINEAR)
    if name == "scale":
        return v2.RandomAffine(0, scale=(1 - p["amount"], 1 + p["amount"]), interpolation=BILINEAR)
    if name == "shear":
        d = p["degrees"]
        return v2.RandomAffine(0, shear=(-d, d, -d, d), interpolation=BILINEAR)
    if name == "perspective":
        return v2.RandomPerspective(p["distortion"], p=1.0, interpolation=BILINEAR)
    if name == "random_resized_crop":
        ratio = (1 / p["max_aspect"], p["max_aspect"])
        return v2.RandomResizedCrop(size, scale=(p["min_area"], 1.0), ratio=ratio, antialias=True)
    if name in ("brightness", "contrast", "saturation"):
        return v2.ColorJitter(**{name: p["strength"]})
    if name == "hue":
        return v2.ColorJitter(hue=p["shift"])
    if name == "gamma":
        return _RandomGamma(p["amount"])
    if name == "gaussian_blur":
        return v2.GaussianBlur(blur_kernel_size(p["sigma"]), sigma=(0.1, p["sigma"]))
    if name == "gaussian_noise":
        # v2.GaussianNoise accepts float images only: the round trip is part of its cost on uint8 images.
        return v2.Compose(
            [
                v2.ToDtype(torch.float32, scale=True),
                v2.GaussianNoise(sigma=p["sigma"] / 255.0),
                v2.ToDtype(torch.uint8, scale=True),
            ]
        )
    if name == "sharpen":
        return v2.RandomAdjustSharpness(1.0 + p["amount"], p=1.0)
    if name == "grayscale":
        return v2.Grayscale(3)
    if name == "posterize":
        return v2.RandomPosterize(p["bits"], p=1.0)
    if name == "solarize":
        return v2.RandomSolarize(p["threshold"] * 255.0, p=1.0)
    if name == "equalize":
        return v2.RandomEqualize(1.0)
    if name == "autocontrast":
        return v2.RandomAutocontrast(1.0)
    if name == "random_erasing":
        return v2.RandomErasing(1.0, scale=(p["min_area"], p["max_area"]), value=0)
    raise KeyError(name)


def torchvision_recipe(recipe: Recipe, size: int) -> v2.Compose:
    """A v2 pipeline of the recipe's enabled per-image steps, each applied with its probability."""
    steps = [s for s in recipe.steps if s.enabled and s.operation not in ("mixup", "cutmix")]
    return v2.Compose([v2.RandomApply([torchvision_equivalent(s, size)], p=s.probability) for s in steps])


def _rate(run_once: Callable[[int], object], items: int, seconds: float) -> float:
    """Items per second of ``run_once(i)`` over at least ``seconds`` (after a warm-up call)."""
    run_once(0)
    count, started = 0, time.perf_counter()
    while True:
        run_once(count)
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and count >= 5:
            return count * items / elapsed


ROUNDS = 3


def _compare(
    ours: Callable[[int], object], theirs: Callable[[int], object], items: int, seconds: float
) -> tuple[float, float]:
    """Best rate of each engine over :data:`ROUNDS` alternating rounds of ``seconds`` each.

    The best round is the one least disturbed by other programs on the machine (as ``timeit`` advises), and
    alternating gives both engines the same chances.
    """
    best_ours = best_theirs = 0.0
    for _ in range(ROUNDS):
        best_ours = max(best_ours, _rate(ours, items, seconds))
        best_theirs = max(best_theirs, _rate(theirs, items, seconds))
    return best_ours, best_theirs


def _single_step(name: str) -> Step:
    step = Step.of(name, 1.0)
    # Like for like: torchvision erases with a constant value.
    return step.with_param("fill", "black") if name == "random_erasing" else step


def benchmark_operations(
    images: list[np.ndarray], seconds: float = 0.5, names: Iterable[str] | None = None
) -> list[BenchRow]:
    """Images per second for each per-image operation and each mixer."""
    size = images[0].shape[0]
    tensors = [torch.from_numpy(im).permute(2, 0, 1).contiguous() for im in images]
    wanted = set(names) if names is not None else None
    rows = []
    for op in operations():
        if wanted is not None and op.name not in wanted:
            continue
        step = _single_step(op.name)
        if op.family == "mixing":
            rows.append(_benchmark_mixer(step, images, seconds))
            continue
        compiled = Recipe((step,)).compile()
        rng = np.random.default_rng(0)
        theirs_fn = torchvision_equivalent(step, size)
        ours, theirs = _compare(
            lambda i, c=compiled, r=rng: c.augment(images[i % len(images)], r),
            lambda i, f=theirs_fn: f(tensors[i % len(tensors)]),
            1,
            seconds,
        )
        note = "torch.rot90 + contiguous" if op.name == "rotate90" else ""
        note = "tv: float round trip" if op.name == "gaussian_noise" else note
        rows.append(BenchRow(op.name, ours, theirs, note))
    return rows


def _benchmark_mixer(step: Step, images: list[np.ndarray], seconds: float) -> BenchRow:
    from dmtl_studio.core.training.mixing import mix_batch

    batch = torch.stack(
        [torch.from_numpy(images[i % len(images)]).permute(2, 0, 1).float() / 255 for i in range(BATCH)]
    )
    targets = torch.randint(0, 10, (BATCH,), generator=torch.Generator().manual_seed(0))
    compiled = Recipe((step,)).compile()
    rng = np.random.default_rng(0)
    alpha = float(step.values["alpha"])
    theirs_fn = (
        v2.MixUp(alpha=alpha, num_classes=10)
        if step.operation == "mixup"
        else v2.CutMix(alpha=alpha, num_classes=10)
    )
    ours, theirs = _compare(
        lambda i: mix_batch(batch, targets, 10, compiled, rng),
        lambda i: theirs_fn(batch, targets),
        BATCH,
        seconds,
    )
    return BenchRow(step.operation, ours, theirs, f"batches of {BATCH}, float")


def benchmark_recipe(images: list[np.ndarray], seconds: float = 2.0, name: str = "medium") -> BenchRow:
    """The per-image part of a preset, this engine against the same steps in torchvision v2."""
    recipe = preset(name)
    size = images[0].shape[0]
    tensors = [torch.from_numpy(im).permute(2, 0, 1).contiguous() for im in images]
    compiled = recipe.compile()
    rng = np.random.default_rng(0)
    pipeline = torchvision_recipe(recipe, size)
    ours, theirs = _compare(
        lambda i: compiled.augment(images[i % len(images)], rng),
        lambda i: pipeline(tensors[i % len(tensors)]),
        1,
        seconds,
    )
    return BenchRow(f"recipe '{name}'", ours, theirs, f"{len(recipe.steps)} steps")


def preview_time_ms(repeats: int = 30) -> float:
    """Median time of one editor preview (12 samples, 224x224, ``medium``), images already decoded."""
    from dmtl_studio.core.augment.preview import PreviewRequest, render_preview

    images = {str(i): im for i, im in enumerate(photo_like_images(4, 224, seed=2))}
    items = tuple((path, "class") for path in images)
    times = []
    for seed in range(repeats):
        request = PreviewRequest(seed, preset("medium"), items, seed=seed)
        started = time.perf_counter()
        render_preview(request, lambda path, size: images[path])
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def single_thread() -> None:
    """Both engines on one thread, so the comparison is of the code, not of the core count."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def machine_description() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}"
    )


def run_benchmark(size: int = 256, seconds: float = 0.5, recipe_seconds: float = 2.0) -> BenchReport:
    """Every operation and the ``medium`` and ``strong`` recipes, single thread, on generated 256x256 photo-like
    images."""
    single_thread()
    images = photo_like_images(8, size)
    rows = benchmark_operations(images, seconds)
    recipe = benchmark_recipe(images, recipe_seconds)
    strong = benchmark_recipe(images, recipe_seconds, "strong")
    return BenchReport(tuple(rows), recipe, size, machine_description(), preview_time_ms(), (strong,))


def format_report(report: BenchReport) -> str:
    """The table (Markdown) and the summary lines; the last line is ``recipe: <ratio>x torchvision v2``."""
    lines = [
        f"Augmentation, {report.size}x{report.size} uint8 RGB, single thread — {report.machine}",
        "",
        "| operation | this engine (img/s) | torchvision v2 (img/s) | ratio | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in (*report.rows, report.recipe, *report.other_recipes):
        lines.append(
            f"| {row.name} | {row.ours:,.0f} | {row.torchvision:,.0f} | {row.ratio:.1f}x | {row.note} |"
        )
    slower = [row.name for row in report.rows if row.ratio < 1.0]
    lines += [
        "",
        f"median operation: {report.median_ratio:.1f}x torchvision v2",
        f"slower than torchvision v2: {', '.join(slower) if slower else 'none'}",
        f"editor preview: 12 samples of the 'medium' recipe at 224x224 in {report.preview_ms:.1f} ms (median)",
        f"recipe: {report.recipe.ratio:.1f}x torchvision v2",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- loader
def loader_scaling(
    workers: Iterable[int] = (0, 1, 2), count: int = 128, size: int = 224, recipe: str = "medium"
) -> list[tuple[int, float, float]]:
    """Training-loader throughput (decode, resize, recipe, to tensor, batch) by number of worker processes.

    Returns ``(workers, first epoch img/s, second epoch img/s)``; the first epoch decodes the files, the
    second reads the in-memory cache (in each worker's own copy, as training does). The main process runs
    single-threaded like the workers: OpenCV's and torch's own threads on 256-pixel images only contend for
    the cores.
    """
    single_thread()
    from torch.utils.data import DataLoader

    from dmtl_studio.core.models.architectures import Preprocessing
    from dmtl_studio.core.training.data import ImageDataset

    results = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, image in enumerate(photo_like_images(count, 320, seed=1)):
            path = Path(folder) / f"{i:04d}.png"
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            paths.append(str(path))
        preprocessing = Preprocessing(size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic", 1.0)
        for n in workers:
            dataset = ImageDataset(paths, [0] * count, preprocessing, augment=True, recipe=preset(recipe))
            loader = DataLoader(dataset, batch_size=32, num_workers=n, persistent_workers=n > 0)
            rates = []
            for epoch in range(2):
                dataset.set_epoch(epoch)
                started = time.perf_counter()
                for _ in loader:
                    pass
                rates.append(count / (time.perf_counter() - started))
            results.append((n, rates[0], rates[1]))
            del loader
    return results


def format_loader(results: list[tuple[int, float, float]]) -> str:
    lines = [
        "| loader workers | epoch 1: decode + augment (img/s) | epoch 2: cached + augment (img/s) |",
        "| ---: | ---: | ---: |",
    ]
    lines += [f"| {n} | {first:,.0f} | {second:,.0f} |" for n, first, second in results]
    return "\n".join(lines)
