"""Frozen-backbone training on cached features: the backbone runs once per image, the head trains in seconds.

With a frozen backbone (fixed weights, eval mode) an image always yields the same feature vector, so running the
backbone every epoch only repeats work. :class:`FeatureCache` computes the pooled features of every training
image once — ``views`` times when augmentation is on, each time with a different augmentation draw — and of
every validation image once. Each epoch then feeds the head one randomly chosen cached view per image.

Batch mixing (mixup, cutmix) cannot paste pixels into a feature vector; on cached features a mixing draw blends
the two feature vectors and their labels by the drawn weight (for cutmix, the visible fraction), which is mixup
in feature space.

For the DMTL consistency term the cache also keeps one clean (un-augmented) view per training image, and the
clean view plus ``views`` augmented views of each unlabelled image; the consistency term then compares the head's
predictions on a clean and an augmented feature vector of the same image, at the cost of the head alone.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional
from torch.utils.data import DataLoader, Dataset

from dmtl_studio.core.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.data import drop_last_batch

log = logging.getLogger(__name__)

#: Augmentation "epoch" numbers used for cached views, so their draws differ from every training epoch's.
VIEW_EPOCH_BASE = 1_000_000


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 64,
    num_workers: int = 0,
    should_stop: ShouldStop = never_stop,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features and targets of every item of ``dataset``, in order, with the backbone in eval mode.

    ``on_batch`` is called with the size of each batch once its features are computed.
    """
    backbone.eval()
    # Its own generator: starting a loader must not draw from the global RNG that dropout uses, or a resumed
    # run (which extracts after restoring that RNG) would differ from an uninterrupted one.
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, generator=torch.Generator()
    )
    features, targets = [], []
    for images, batch_targets, _ in loader:
        check(should_stop)
        features.append(backbone(images.to(device)).float())
        targets.append(torch.as_tensor(batch_targets).to(device))
        if on_batch is not None:
            on_batch(len(images))
    if not features:
        return torch.empty(0, device=device), torch.empty(0, dtype=torch.long, device=device)
    return torch.cat(features), torch.cat(targets)


@dataclass
class CachedFeatures:
    """``features``: ``(views, N, F)`` for training or ``(1, N, F)`` for validation; ``targets``: ``(N,)``."""

    features: torch.Tensor
    targets: torch.Tensor
    clean: torch.Tensor | None = None  # (N, F): the clean view of each image, when asked for

    @property
    def views(self) -> int:
        return int(self.features.shape[0])

    def __len__(self) -> int:
        return int(self.targets.shape[0])


class _Batches:
    """A loader-like iterable over cached features: ``len()`` is known before anything is computed."""

    def __init__(self, cache: FeatureCache, training: bool, batch_size: int, seed: int) -> None:
        self.cache, self.training, self.batch_size, self.seed = cache, training, batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        count = self.cache.train_count if self.training else self.cache.val_count
        if self.training and drop_last_batch(count, self.batch_size):
            return count // self.batch_size  # as the image loader does
        return math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        data = self.cache.train() if self.training else self.cache.val()
        count = len(data)
        if count == 0:
            return
        device = data.features.device
        if self.training:
            self.epoch += 1
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(count, generator=generator).to(device)
            views = torch.randint(data.views, (count,), generator=generator).to(device)
        else:
            order = torch.arange(count, device=device)
            views = torch.zeros(count, dtype=torch.long, device=device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield data.features[views[index], index], data.targets[index], index


class FeatureCache:
    """Features of a run's training and validation images, computed on first use (cancellable).

    Parameters
    ----------
    backbone
        The frozen backbone (put in eval mode here).
    train_set, val_set
        Image datasets yielding ``(tensor, target, index)``; ``train_set`` augments when its ``augment`` is true
        and draws a different augmentation for each ``set_epoch`` value.
    views
        Augmented views cached per training image (1 when the training set does not augment).
    clean_views
        Also cache each training image's clean view (:meth:`train_clean`), for the consistency term.
    unlabelled_set
        Unlabelled images (an augmenting :class:`~dmtl_studio.core.data.ImageDataset`), cached as a clean view
        plus ``views`` augmented views each (:meth:`unlabelled`); they never reach the training batches.
    """

    def __init__(
        self,
        backbone: nn.Module,
        train_set: Dataset,
        val_set: Dataset,
        device: torch.device,
        views: int = 4,
        batch_size: int = 64,
        num_workers: int = 0,
        should_stop: ShouldStop = never_stop,
        clean_views: bool = False,
        unlabelled_set: Dataset | None = None,
        on_progress: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.backbone = backbone
        self.clean_views, self.unlabelled_set = clean_views, unlabelled_set
        self._unlabelled: CachedFeatures | None = None
        self.train_set, self.val_set = train_set, val_set
        self.device = device
        self.views = max(1, int(views)) if getattr(train_set, "augment", False) else 1
        self.batch_size, self.num_workers = batch_size, num_workers
        self.should_stop = should_stop
        self.train_count, self.val_count = len(train_set), len(val_set)
        self._train: CachedFeatures | None = None
        self._val: CachedFeatures | None = None
        self.seconds = 0.0  # time spent computing features
        # Progress over everything the cache will compute: (images done, images planned, seconds so far).
        self.on_progress = on_progress
        unlabelled = len(unlabelled_set) if unlabelled_set is not None else 0
        self.planned = (
            self.views * self.train_count
            + (self.train_count if clean_views else 0)
            + (self.views + 1) * unlabelled
            + self.val_count
        )
        self.done = 0
        self._fill_started: float | None = None

    def _extract(self, dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        if self._fill_started is None:
            self._fill_started = time.perf_counter()

        def counted(images: int) -> None:
            self.done += images
            if self.on_progress is not None:
                self.on_progress(self.done, self.planned, time.perf_counter() - self._fill_started)

        return extract_features(
            self.backbone, dataset, self.device, self.batch_size, self.num_workers, self.should_stop, counted
        )

    def train(self) -> CachedFeatures:
        if self._train is None:
            started = time.perf_counter()
            stacks, targets = [], None
            set_epoch = getattr(self.train_set, "set_epoch", None)
            for view in range(self.views):
                if set_epoch is not None:
                    # Each view is a different augmentation draw, numbered far beyond any real epoch.
                    set_epoch(VIEW_EPOCH_BASE + view)
                features, targets = self._extract(self.train_set)
                stacks.append(features)
            clean = None
            if self.clean_views:
                from dmtl_studio.core.data import CleanViews

                clean, _ = self._extract(CleanViews(self.train_set))
            self._train = CachedFeatures(torch.stack(stacks), targets, clean)
            self.seconds += time.perf_counter() - started
            log.info(
                "cached %d x %d training feature vectors in %.1f s",
                self.views,
                self.train_count,
                self.seconds,
            )
        return self._train

    def train_clean(self) -> torch.Tensor:
        """``(N, F)`` clean-view features of the training images (needs ``clean_views``)."""
        clean = self.train().clean
        if clean is None:
            raise RuntimeError("this cache was built without clean views")
        return clean

    def unlabelled(self) -> CachedFeatures:
        """Augmented views ``(views, M, F)`` and clean views ``(M, F)`` of the unlabelled images."""
        if self._unlabelled is None:
            if self.unlabelled_set is None:
                raise RuntimeError("this cache was built without unlabelled images")
            from dmtl_studio.core.data import CleanViews

            started = time.perf_counter()
            stacks, targets = [], None
            for view in range(self.views):
                self.unlabelled_set.set_epoch(VIEW_EPOCH_BASE + view)
                features, targets = self._extract(self.unlabelled_set)
                stacks.append(features)
            clean, _ = self._extract(CleanViews(self.unlabelled_set))
            self._unlabelled = CachedFeatures(torch.stack(stacks), targets, clean)
            self.seconds += time.perf_counter() - started
        return self._unlabelled

    def val(self) -> CachedFeatures:
        if self._val is None:
            started = time.perf_counter()
            features, targets = self._extract(self.val_set)
            self._val = CachedFeatures(features.unsqueeze(0), targets)
            self.seconds += time.perf_counter() - started
        return self._val

    def train_loader(self, batch_size: int, seed: int = 0) -> _Batches:
        return _Batches(self, True, batch_size, seed)

    def val_loader(self, batch_size: int) -> _Batches:
        return _Batches(self, False, batch_size, 0)


def mix_features(
    features: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    recipe: object,
    rng: np.random.Generator,
    image_size: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A recipe's batch mixing applied to cached features (see the module docstring)."""
    mixers = getattr(recipe, "mixers", ())
    if not mixers or len(features) < 2:
        return features, None
    sample = recipe.draw_mix(rng, image_size, image_size)
    if sample is None:
        return features, None
    lam = float(sample.lam)
    one_hot = functional.one_hot(targets, num_classes).to(features.dtype)
    mixed = features * lam + features.roll(1, 0) * (1.0 - lam)
    return mixed, one_hot * lam + one_hot.roll(1, 0) * (1.0 - lam)
