"""Frozen-backbone training on cached features: the backbone runs once per image, the head trains in seconds.

With a frozen backbone (fixed weights, eval mode) an image always yields the same feature vector, so running the
backbone every epoch only repeats work. :class:`FeatureCache` computes the pooled features of every training
image once — ``views`` times when augmentation is on, each time with a different augmentation draw — and of
every validation image once. Each epoch then feeds the head one randomly chosen cached view per image.

Batch mixing (mixup, cutmix) cannot paste pixels into a feature vector; on cached features a mixing draw blends
the two feature vectors and their labels by the drawn weight (for cutmix, the visible fraction), which is mixup
in feature space (:func:`~dmtl_studio.core.training.mixing.mix_vectors`).

For the DMTL consistency term the cache also keeps one clean (un-augmented) view per training image, and the
clean view plus ``views`` augmented views of each unlabelled image; the consistency term then compares the head's
predictions on a clean and an augmented feature vector of the same image, at the cost of the head alone.

With a :class:`~dmtl_studio.core.models.features.FeatureStore` the vectors also live on disk, in the project,
shared by every run (see that module).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.models.features import (
    VIEW_EPOCH_BASE,
    CachedFeatures,
    FeatureStore,
    _short_hash,
    extract_features,
)
from dmtl_studio.core.models.preprocess import to_tensor
from dmtl_studio.core.training.data import drop_last_batch
from dmtl_studio.core.training.distributed import FeatureShards, World

log = logging.getLogger(__name__)


def view_generator(image_hash: str, view: int) -> np.random.Generator:
    """The augmentation draw of cached view ``view`` of an image: a function of its content alone."""
    return np.random.default_rng((int(image_hash[:16], 16), VIEW_EPOCH_BASE + view))


class _ContentViews(Dataset):
    """Items ``indices`` of an image dataset, clean (``view=None``) or as cached view ``view``."""

    def __init__(
        self, dataset: Dataset, indices: Sequence[int], hashes: Sequence[str], view: int | None
    ) -> None:
        self.dataset, self.indices, self.hashes, self.view = dataset, list(indices), hashes, view
        self.compiled = dataset.recipe.compile() if view is not None else None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int, int]:
        index = self.indices[position]
        image = self.dataset.resized(index)
        if self.compiled is not None:
            image = self.compiled.augment(image, view_generator(self.hashes[index], self.view))
        return to_tensor(image, self.dataset.preprocessing), self.dataset.targets[index], index


class _Batches:
    """A loader-like iterable over cached features: ``len()`` is known before anything is computed."""

    def __init__(self, cache: FeatureCache, training: bool, batch_size: int, seed: int) -> None:
        self.cache, self.training, self.batch_size, self.seed = cache, training, batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        count = self.cache.train_count if self.training else self.cache.val_count
        world = self.cache.world
        if self.training and world is not None:
            count = world.share(count)  # each rank's share, as its order in __iter__
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
            if self.cache.world is not None:
                order = self.cache.world.shard(order)
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
        Unlabelled images (an augmenting :class:`~dmtl_studio.core.training.data.ImageDataset`), cached as a clean view
        plus ``views`` augmented views each (:meth:`unlabelled`); they never reach the training batches.
    store
        Keep and reuse the vectors on disk (the datasets must then be
        :class:`~dmtl_studio.core.training.data.ImageDataset`); ``reused`` and ``computed`` count the views of each kind.
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
        store: FeatureStore | None = None,
    ) -> None:
        self.backbone = backbone
        self.store = store
        self.reused = self.computed = 0
        self._pruned = False
        self.compute_seconds = 0.0
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
        # Set for a distributed run: training batches are this rank's share, the feature pass is split across
        # ranks and gathered, and only rank 0 writes the store.
        self.world: World | None = None
        self.shards: FeatureShards | None = None

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.planned, time.perf_counter() - self._fill_started)

    def _extract(
        self, dataset: Dataset, on_features: Callable[[torch.Tensor, torch.Tensor], None] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self._fill_started is None:
            self._fill_started = time.perf_counter()

        def counted(images: int) -> None:
            self.done += images
            self.computed += images
            self._report()

        started = time.perf_counter()
        try:
            return extract_features(
                self.backbone,
                dataset,
                self.device,
                self.batch_size,
                self.num_workers,
                self.should_stop,
                counted,
                on_features,
            )
        finally:
            self.compute_seconds += time.perf_counter() - started

    def eta_seconds(self) -> float | None:
        """Time the rest of the feature pass will take, at the rate of the views computed so far."""
        if not self.computed or self.compute_seconds <= 0:
            return None
        return (self.planned - self.done) * self.compute_seconds / self.computed

    def _views(self, dataset: Dataset, view: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`_extract` with a :class:`FeatureStore`: stored vectors are read, only the others computed.

        ``view`` is the cached view number of an augmenting dataset, or ``None`` for the clean view.
        """
        assert self.store is not None
        if self._fill_started is None:
            self._fill_started = time.perf_counter()
        store = self.store
        hashes = [store.hash_of(path) for path in dataset.paths]
        augmented = view is not None and getattr(dataset, "augment", False)
        variant = f"{_short_hash(dataset.recipe.to_dict())}-v{view}" if augmented else "clean"
        vectors: list[np.ndarray | None] = [store.read(h, variant) for h in hashes]
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        hits = len(vectors) - len(missing)
        self.reused += hits
        self.done += hits
        if hits:
            self._report()
        content, extracted = (view if augmented else None), bool(missing)
        if self.shards is not None:  # every rank takes part, even with nothing missing here
            computed, rows = self.shards.compute(
                missing,
                lambda subset, keep: self._extract(_ContentViews(dataset, subset, hashes, content), keep),
            )
            self.done += len(rows) - computed  # the other ranks' share
            self._report()
            for index, row in rows.items():
                vectors[index] = row
                if self.shards.writes:
                    store.write(hashes[index], variant, row)
            missing, extracted = [], bool(rows)
        if missing:

            def keep(features: torch.Tensor, indices: torch.Tensor) -> None:
                # Written per batch: a pass stopped half-way keeps what it computed.
                rows = features.detach().to("cpu").numpy()
                for row, index in zip(rows, indices.tolist(), strict=True):
                    store.write(hashes[index], variant, row)
                    vectors[index] = row.copy()

            self._extract(_ContentViews(dataset, missing, hashes, content), keep)
        if extracted and not self._pruned and (self.shards is None or self.shards.writes):
            self._pruned = True  # once per run: it walks the whole cache folder
            store.prune()
        targets = torch.as_tensor(list(dataset.targets), dtype=torch.long, device=self.device)
        if not vectors:
            return torch.empty(0, device=self.device), targets
        return torch.from_numpy(np.stack(vectors)).to(self.device), targets

    def train(self) -> CachedFeatures:
        if self._train is None:
            started = time.perf_counter()
            stacks, targets = [], None
            set_epoch = getattr(self.train_set, "set_epoch", None)
            for view in range(self.views):
                if self.store is not None:
                    features, targets = self._views(self.train_set, view)
                    stacks.append(features)
                    continue
                if set_epoch is not None:
                    # Each view is a different augmentation draw, numbered far beyond any real epoch.
                    set_epoch(VIEW_EPOCH_BASE + view)
                features, targets = self._extract(self.train_set)
                stacks.append(features)
            clean = None
            if self.clean_views and self.store is not None:
                clean, _ = self._views(self.train_set, None)
            elif self.clean_views:
                from dmtl_studio.core.training.data import CleanViews

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

    def clean_of(self, dataset: Dataset) -> torch.Tensor:
        """``(M, F)`` features of the items of ``dataset`` (not augmenting, of the training set's kind) computed as
        the validation items' are; the linear probe's out-of-fold logits of joined validation items use them."""
        self.planned += len(dataset)
        if (
            self.store is not None and self.shards is None
        ):  # the shards' pass needs every rank: rank 0 asks alone
            return self._views(dataset, None)[0]
        return self._extract(dataset)[0]

    def unlabelled(self) -> CachedFeatures:
        """Augmented views ``(views, M, F)`` and clean views ``(M, F)`` of the unlabelled images."""
        if self._unlabelled is None:
            if self.unlabelled_set is None:
                raise RuntimeError("this cache was built without unlabelled images")
            from dmtl_studio.core.training.data import CleanViews

            started = time.perf_counter()
            stacks, targets = [], None
            for view in range(self.views):
                if self.store is not None:
                    features, targets = self._views(self.unlabelled_set, view)
                else:
                    self.unlabelled_set.set_epoch(VIEW_EPOCH_BASE + view)
                    features, targets = self._extract(self.unlabelled_set)
                stacks.append(features)
            if self.store is not None:
                clean, _ = self._views(self.unlabelled_set, None)
            else:
                clean, _ = self._extract(CleanViews(self.unlabelled_set))
            self._unlabelled = CachedFeatures(torch.stack(stacks), targets, clean)
            self.seconds += time.perf_counter() - started
        return self._unlabelled

    def val(self) -> CachedFeatures:
        if self._val is None:
            started = time.perf_counter()
            if self.store is not None:
                features, targets = self._views(self.val_set, None)
            else:
                features, targets = self._extract(self.val_set)
            self._val = CachedFeatures(features.unsqueeze(0), targets)
            self.seconds += time.perf_counter() - started
        return self._val

    def train_loader(self, batch_size: int, seed: int = 0) -> _Batches:
        return _Batches(self, True, batch_size, seed)

    def val_loader(self, batch_size: int) -> _Batches:
        return _Batches(self, False, batch_size, 0)
