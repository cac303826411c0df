"""Learning-rate range test: train briefly while the learning rate grows exponentially, and watch the loss.

The loss first barely moves (rate too low), then falls fastest, then explodes (rate too high). The suggested
rate is where the smoothed loss falls fastest, which is the usual choice (Smith, "Cyclical learning rates",
2017). The run uses the same model, transfer strategy and data as training, and stores nothing: the model is
built fresh and thrown away. A frozen backbone runs on cached features, so the test takes seconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from dmtl_studio.core.augment import resolve_recipe
from dmtl_studio.core.backbones import ModelSpec, build_classifier, preprocessing_for
from dmtl_studio.core.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.config import TrainConfig
from dmtl_studio.core.data import ImageDataset, drop_last_batch
from dmtl_studio.core.feature_cache import FeatureCache, FeatureStore
from dmtl_studio.core.store import ProjectStore
from dmtl_studio.core.training import (
    content_hashes,
    labelled_split,
    leave_out_missing_files,
    seed_everything,
    select_device,
)
from dmtl_studio.core.transfer import configure_transfer, forward, set_train_mode

Progress = Callable[[int, int], None]
#: The frozen backbone's feature pass before the first step: (views done, views planned, seconds so far).
PreparationCallback = Callable[[int, int, float], None]


@dataclass(frozen=True)
class LRFinderResult:
    """Learning rates tried (head rates), the smoothed loss at each, and the suggested head rate."""

    learning_rates: tuple[float, ...]
    losses: tuple[float, ...]
    suggestion: float
    transfer: str


def suggest_learning_rate(learning_rates: np.ndarray, losses: np.ndarray) -> float:
    """The rate where the smoothed loss falls fastest (per unit of log rate), before its minimum."""
    if len(losses) < 4:
        return float(learning_rates[int(np.argmin(losses))]) / 10.0
    lowest = int(np.argmin(losses))
    end = max(lowest, 3)
    slopes = np.gradient(losses[: end + 1], np.log10(learning_rates[: end + 1]))
    steepest = int(np.argmin(slopes[1:])) + 1  # the first point's one-sided slope is noisy
    return float(learning_rates[steepest])


def range_test(
    step: Callable[[float], float],
    start_lr: float,
    end_lr: float,
    steps: int,
    on_progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    smoothing: float = 0.9,
    divergence: float = 4.0,
    on_point: Callable[[float, float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Call ``step(lr)`` (one training step, returning its loss) for exponentially growing rates.

    Stops early once the smoothed loss exceeds ``divergence`` times its best value. ``on_point`` receives each
    (rate, smoothed loss) as it is measured, so the curve can be drawn while the test runs.
    """
    ratio = (end_lr / start_lr) ** (1.0 / max(1, steps - 1))
    rates, smoothed = [], []
    average, best = 0.0, math.inf
    for index in range(steps):
        check(should_stop)
        lr = start_lr * ratio**index
        loss = step(lr)
        if not math.isfinite(loss):
            break
        average = smoothing * average + (1.0 - smoothing) * loss
        value = average / (1.0 - smoothing ** (index + 1))  # bias-corrected
        rates.append(lr)
        smoothed.append(value)
        best = min(best, value)
        if on_point is not None:
            on_point(lr, value)
        if on_progress is not None:
            on_progress(index + 1, steps)
        if index > 5 and value > divergence * best:
            break
    return np.asarray(rates), np.asarray(smoothed)


def find_learning_rate(
    project_dir: str | Path,
    config: TrainConfig,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    steps: int = 80,
    on_progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    on_point: Callable[[float, float], None] | None = None,
    on_preparing: PreparationCallback | None = None,
) -> LRFinderResult:
    """Run a learning-rate range test for ``config`` on a project's training images.

    The backbone's rate follows the head's times ``config.backbone_lr_factor``, as in training.

    Parameters
    ----------
    on_progress
        Called with (steps done, steps planned) after each step of the test.
    should_stop
        Polled between batches of the feature pass and between steps; when true, :class:`Cancelled` is raised.
    on_point
        Called with each (rate, smoothed loss) as it is measured.
    on_preparing
        With a frozen backbone, called during the feature pass before the first step with (image views done,
        views planned, seconds so far): that pass is most of the test's time.

    Raises
    ------
    Cancelled
        ``should_stop`` became true.
    ValueError
        The loss was not finite even at the smallest rate.
    """
    seed_everything(config.seed)
    device = select_device(config.device)
    with ProjectStore.open(project_dir) as store:
        leave_out_missing_files(store)
        split = labelled_split(store)
        hash_of = content_hashes(store)
    spec = ModelSpec(
        config.backbone,
        len(split.classes),
        head=config.head,
        dropout=config.dropout,
        hidden=config.hidden_size,
    )
    model = build_classifier(spec, pretrained=True).to(device)
    preprocessing = preprocessing_for(model.backbone, config.input_size)
    train_set = ImageDataset(
        [p for p, _ in split.train],
        [t for _, t in split.train],
        preprocessing,
        augment=True,
        seed=config.seed,
        recipe=resolve_recipe(config.recipe),
    )
    groups = configure_transfer(model, config)
    factors = [group["lr"] / config.learning_rate for group in groups]
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    criterion = nn.CrossEntropyLoss()
    if config.transfer == "frozen":
        cache = FeatureCache(
            model.backbone,
            train_set,
            train_set,
            device,
            1,
            config.batch_size * 2,
            config.num_workers,
            should_stop,
            on_progress=on_preparing,
            # The project's feature cache: views computed here serve the run that follows, and back.
            store=FeatureStore.for_backbone(
                project_dir, config.backbone, model.backbone, preprocessing, device, False, hash_of
            ),
        )
        batches = itertools.cycle(list(cache.train_loader(config.batch_size, config.seed)))
        run = model.head
    else:
        loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(config.seed),
            num_workers=config.num_workers,
            drop_last=drop_last_batch(len(train_set), config.batch_size),
        )
        batches = itertools.chain.from_iterable(itertools.repeat(loader))
        run = None
    set_train_mode(model)

    def step(lr: float) -> float:
        for group, factor in zip(optimizer.param_groups, factors, strict=True):
            group["lr"] = lr * factor
        inputs, targets, _ = next(batches)
        inputs, targets = inputs.to(device), targets.to(device)
        logits = run(inputs) if run is not None else forward(model, inputs, config)
        loss = criterion(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    rates, losses = range_test(step, start_lr, end_lr, steps, on_progress, should_stop, on_point=on_point)
    if len(rates) == 0:
        raise ValueError("the loss was not finite even at the smallest learning rate")
    return LRFinderResult(
        learning_rates=tuple(float(v) for v in rates),
        losses=tuple(float(v) for v in losses),
        suggestion=suggest_learning_rate(rates, losses),
        transfer=config.transfer,
    )
