"""The frozen encoder's embeddings of a run's texts, computed once and kept in the project's feature cache.

:class:`TextFeatureCache` is the image runs' :class:`~dmtl_studio.core.training.feature_cache.FeatureCache` for
text: the same training, validation and unlabelled views, loaders and progress, with each embedding kept on disk
in a :class:`~dmtl_studio.core.models.features.FeatureStore` keyed by the encoder (its name, a hash of its weights,
its maximum length, the device kind) and the text's sha256. Cached augmented view ``v`` of a text is drawn from a
generator seeded by (text hash, ``v``), so it is the same in every run with the same augmentation. Texts are
embedded shortest first, so a batch carries little padding.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dmtl_studio.core.models.features import FEATURES_DIR, FeatureStore, _short_hash, weights_hash
from dmtl_studio.core.models.text_encoder import TextEncoder
from dmtl_studio.core.training.feature_cache import FeatureCache, view_generator
from dmtl_studio.core.training.text_data import TextDataset


def text_feature_store(
    project_dir: str | os.PathLike[str], encoder: TextEncoder, device: torch.device
) -> FeatureStore:
    """The project's store of ``encoder``'s embeddings (its weights are hashed here)."""
    space = _short_hash(
        {
            "format": 1,
            "kind": "text",
            "encoder": encoder.preprocessing.encoder,
            "weights": weights_hash(encoder),
            "preprocessing": encoder.preprocessing.to_dict(),
            "device": device.type,
        }
    )
    return FeatureStore(Path(project_dir) / FEATURES_DIR, space, lambda key: key)


class _TextViews(Dataset):
    """Items ``indices`` of a text dataset, clean (``view=None``) or as cached augmented view ``view``."""

    def __init__(self, dataset: TextDataset, indices: list[int], view: int | None) -> None:
        self.dataset, self.indices, self.view = dataset, indices, view

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int, int]:
        index = self.indices[position]
        if self.view is None:
            return self.dataset.clean_item(index)
        ids = self.dataset.view(index, view_generator(self.dataset.hashes[index], self.view))
        return ids, self.dataset.targets[index], index


class _NothingKept:
    """A store that keeps nothing: embeddings live for the run only."""

    def read(self, key: str, variant: str) -> None:
        return None

    def write(self, key: str, variant: str, vector: np.ndarray) -> None:
        pass

    def prune(self) -> int:
        return 0


class TextFeatureCache(FeatureCache):
    """:class:`FeatureCache` over :class:`TextDataset` (see the module docstring). Without a ``store`` the
    embeddings are kept for the run only."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.store is None:  # every pass then goes through _views
            self.store = _NothingKept()  # type: ignore[assignment]

    def _views(self, dataset: Dataset, view: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(dataset, TextDataset)
        store = self.store
        if self._fill_started is None:
            self._fill_started = time.perf_counter()
        augmented = view is not None and dataset.augment
        variant = f"{_short_hash(dataset.recipe.to_dict())}-v{view}" if augmented else "clean"
        vectors: list[np.ndarray | None] = [store.read(h, variant) for h in dataset.hashes]
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        hits = len(vectors) - len(missing)
        self.reused += hits
        self.done += hits
        if hits:
            self._report()
        if missing:
            lengths = dataset.lengths()
            missing.sort(key=lambda i: int(lengths[i]))  # little padding per batch

            def keep(features: torch.Tensor, indices: torch.Tensor) -> None:
                rows = features.detach().to("cpu").numpy()
                for row, index in zip(rows, indices.tolist(), strict=True):
                    store.write(dataset.hashes[index], variant, row)
                    vectors[index] = row.copy()

            self._extract(_TextViews(dataset, missing, view if augmented else None), keep)
            if not self._pruned:
                self._pruned = True
                store.prune()
        targets = torch.as_tensor(list(dataset.targets), dtype=torch.long, device=self.device)
        if not vectors:
            return torch.empty(0, device=self.device), targets
        return torch.from_numpy(np.stack(vectors)).to(self.device), targets
