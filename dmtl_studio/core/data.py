"""From image files to normalised tensors: one path for training, validation and prediction."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dmtl_studio.core.backbones import Preprocessing
from dmtl_studio.core.imaging import ImageProblem, load_rgb

_INTERPOLATION = {
    "bicubic": cv2.INTER_CUBIC,
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
}

#: Decoded, resized images are kept in memory up to this many bytes per dataset (avoids decoding each epoch).
CACHE_BYTES = 1 << 30


def resize_square(image: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """Resize the whole image to ``size x size`` (nothing is cropped away: objects at the edges stay)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    shrinking = image.shape[0] > size and image.shape[1] > size
    flag = cv2.INTER_AREA if shrinking else _INTERPOLATION.get(interpolation, cv2.INTER_LINEAR)
    return cv2.resize(image, (size, size), interpolation=flag)


def fixed_light_augmentation(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Horizontal flip (p=0.5) and a rotation in [-15°, 15°] (p=0.5) with reflected edges."""
    if rng.random() < 0.5:
        image = image[:, ::-1]
    if rng.random() < 0.5:
        angle = float(rng.uniform(-15.0, 15.0))
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
        image = cv2.warpAffine(
            np.ascontiguousarray(image),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    return np.ascontiguousarray(image)


def to_tensor(image: np.ndarray, preprocessing: Preprocessing) -> torch.Tensor:
    """uint8 HWC RGB -> normalised float CHW tensor."""
    array = image.astype(np.float32) * (1.0 / 255.0)
    array -= np.asarray(preprocessing.mean, dtype=np.float32)
    array /= np.asarray(preprocessing.std, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class ImageDataset(Dataset):
    """Images with integer targets (``-1`` for unlabelled), resized once and optionally augmented.

    Each item is ``(tensor, target, index)``. Augmentation randomness comes from a generator seeded by
    ``(seed, epoch, index)``, so a run is reproducible whatever the number of loader workers.
    """

    def __init__(
        self,
        paths: Sequence[str],
        targets: Sequence[int],
        preprocessing: Preprocessing,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        if len(paths) != len(targets):
            raise ValueError("paths and targets differ in length")
        self.paths = list(paths)
        self.targets = list(targets)
        self.preprocessing = preprocessing
        self.augment = augment
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
        image = resize_square(
            load_rgb(self.paths[index]), self.preprocessing.input_size, self.preprocessing.interpolation
        )
        if self._cache is not None:
            self._cache[index] = image
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        image = self.resized(index)
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image = fixed_light_augmentation(image, rng)
        return to_tensor(image, self.preprocessing), self.targets[index], index


__all__ = ["ImageDataset", "ImageProblem", "fixed_light_augmentation", "resize_square", "to_tensor"]
