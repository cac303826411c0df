"""From image files to normalised tensors: one path for training, validation and prediction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from dmtl_studio.core.augment.presets import DEFAULT_PRESET, preset
from dmtl_studio.core.augment.recipe import Recipe, image_seed
from dmtl_studio.core.augment.resize import resize_square
from dmtl_studio.core.models.architectures import Preprocessing
from dmtl_studio.core.models.preprocess import decode_for_input, fit_to_input, to_tensor
from dmtl_studio.core.project.imaging import FileProblem, ImageProblem

#: Decoded, resized images are kept in memory up to this many bytes per dataset (avoids decoding each epoch).
CACHE_BYTES = 1 << 30


def drop_last_batch(count: int, batch_size: int) -> bool:
    """Whether a training loader drops its last, partial batch: only when it would hold a single image.

    BatchNorm cannot train on one image; any larger remainder is used, because with the few images a lab often
    has, dropping it would leave up to a whole batch of them out of every epoch.
    """
    return count > batch_size and count % batch_size == 1


class ImageDataset(Dataset):
    """Images with integer targets (``-1`` for unlabelled), resized once and optionally augmented.

    Each item is ``(tensor, target, index)``. With ``augment``, the per-image steps of ``recipe`` (default:
    the light preset) are applied, by the same code as the editor's preview; mixing steps act on batches in the
    training loop. Randomness comes from a generator seeded by ``(seed, epoch, index)``, so a run is
    reproducible whatever the number of loader workers: an item may be asked for by ``(epoch, index)`` (see
    :class:`EpochIndices`), because a worker process holds its own copy of the dataset, and a persistent one
    never sees a later :meth:`set_epoch` of the main process's copy.
    """

    def __init__(
        self,
        paths: Sequence[str],
        targets: Sequence[int],
        preprocessing: Preprocessing,
        augment: bool = False,
        seed: int = 0,
        recipe: Recipe | None = None,
    ) -> None:
        if len(paths) != len(targets):
            raise ValueError("paths and targets differ in length")
        self.paths = list(paths)
        self.targets = list(targets)
        self.preprocessing = preprocessing
        self.augment = augment
        self.recipe = recipe if recipe is not None else preset(DEFAULT_PRESET)
        self._compiled = self.recipe.compile()
        self.seed = seed
        self.epoch = 0
        size = preprocessing.input_size
        self._cache: dict[int, np.ndarray] | None = (
            {} if len(paths) * size * size * 3 <= CACHE_BYTES else None
        )

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resized(self, index: int) -> np.ndarray:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        path = self.paths[index]
        try:
            image = fit_to_input(decode_for_input(path, self.preprocessing), self.preprocessing)
        except ImageProblem as exc:
            raise FileProblem(f"{path}: {exc}", path, str(exc)) from None
        if self._cache is not None:
            self._cache[index] = image
        return image

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        """``(tensor CHW float32, target, index)`` of item ``key``: an index, or ``(epoch, index)``."""
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        image = self.resized(index)
        if self.augment:
            image = self._compiled.augment(image, image_seed(self.seed, epoch, index))
        return to_tensor(image, self.preprocessing), self.targets[index], index

    def clean_item(self, index: int) -> tuple[torch.Tensor, int, int]:
        """The item without augmentation: the clean view that the consistency term takes as its target."""
        return to_tensor(self.resized(index), self.preprocessing), self.targets[index], index


class EpochIndices(Sampler):
    """The indices of ``sampler`` as ``(epoch, index)`` keys, the epoch read from ``dataset`` as each pass starts.

    The epoch travels with every index to whichever worker reads the item, so each image's augmentation depends on
    (run seed, epoch, index) alone: the same with 0 workers or many, persistent or not.
    """

    def __init__(self, dataset: ImageDataset, sampler: Sampler[int]) -> None:
        self.dataset, self.sampler = dataset, sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.dataset.epoch
        return ((epoch, int(index)) for index in self.sampler)


class CleanViews(Dataset):
    """The clean (un-augmented) views of an :class:`ImageDataset`, as ``(tensor, target, index)`` items."""

    def __init__(self, dataset: ImageDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.dataset.clean_item(index)


__all__ = [
    "CleanViews",
    "EpochIndices",
    "ImageDataset",
    "ImageProblem",
    "drop_last_batch",
    "resize_square",
    "to_tensor",
]
