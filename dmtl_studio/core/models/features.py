"""A backbone's pooled features: computed in batches (:func:`extract_features`) and kept on disk per project.

With a :class:`FeatureStore` the vectors live in the project (``PROJECT/cache/features``), shared by every run,
continuation, cross-validation fold, learning-rate test, evaluation and data-quality pass. A vector is a pure
function of the image's content hash, the backbone and a hash of its weights, the preprocessing (input size,
normalisation), the device kind and, for an augmented view, the recipe and the view number: the augmentation of
view ``v`` of an image is drawn from a generator seeded by (content hash, ``v``), not by the image's position in a
run. Each vector is written as soon as its batch is computed (a pass stopped half-way keeps its work), carries a
checksum (a damaged entry is computed again, never trusted), and the folder is kept under a size limit by removing
the entries used least recently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.models.feature_engine import TORCH_CUDA_AMP, FeatureEngine, choose_engine, engine_for
from dmtl_studio.core.models.feature_engine import weights_hash as weights_hash
from dmtl_studio.core.models.preprocess import describe_preprocessing

log = logging.getLogger(__name__)

#: Augmentation "epoch" numbers used for cached views, so their draws differ from every training epoch's.
VIEW_EPOCH_BASE = 1_000_000


def extract_features(
    backbone: nn.Module,
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 64,
    num_workers: int = 0,
    should_stop: ShouldStop = never_stop,
    on_batch: Callable[[int], None] | None = None,
    on_features: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
    engine: FeatureEngine | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features and targets of every item of ``dataset``, in order, with the backbone in eval mode.

    The backbone runs where it is fastest on ``device`` (:mod:`dmtl_studio.core.models.feature_engine`: an
    onnxruntime session on the CPU, PyTorch with channels_last and float16 autocast on CUDA); the features equal
    PyTorch's within that module's tolerance.

    Parameters
    ----------
    backbone
        Maps images ``(B, 3, H, W)`` to pooled features ``(B, F)``.
    dataset
        Yields ``(image (3, H, W) float32, target, index)``.
    on_batch
        Called with the size of each batch once its features are computed.
    on_features
        Called with the batch's features ``(B, F)`` and the items' own indices ``(B,)`` (before ``on_batch``).
    engine
        An engine to use, or ``"auto"`` / ``"onnxruntime"`` / ``"torch"`` to choose one (``None``: auto, or
        ``DMTL_STUDIO_FEATURE_ENGINE``).

    Returns
    -------
    tuple
        Features ``(N, F)`` float32 and targets ``(N,)`` int64, on ``device``; empty tensors for an empty dataset.

    Raises
    ------
    Cancelled
        ``should_stop`` became true between batches.
    FileProblem
        An image could not be read any more (it changed on disk after the import).
    """
    backbone.eval()
    # Its own generator: starting a loader must not draw from the global RNG that dropout uses, or a resumed
    # run (which extracts after restoring that RNG) would differ from an uninterrupted one.
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, generator=torch.Generator()
    )
    features, targets = [], []
    chosen = engine if isinstance(engine, FeatureEngine) else None
    for images, batch_targets, indices in loader:
        check(should_stop)
        if chosen is None:  # made at the first batch: it depends on the images' shape
            chosen = (
                engine_for(backbone, device, tuple(images.shape[1:]), engine)
                if images.dim() == 4 and images.is_floating_point()
                else _in_pytorch(backbone, device)  # token ids of texts: the encoder as it is
            )
        features.append(chosen(images).to(device))
        targets.append(torch.as_tensor(batch_targets).to(device))
        if on_features is not None:
            on_features(features[-1], torch.as_tensor(indices))
        if on_batch is not None:
            on_batch(len(images))
    if not features:
        return torch.empty(0, device=device), torch.empty(0, dtype=torch.long, device=device)
    return torch.cat(features), torch.cat(targets)


def _in_pytorch(backbone: nn.Module, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """A batch that is not images (a text encoder's token ids) through the backbone in PyTorch, as it is."""

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return backbone.eval()(batch.to(device)).float().clone()

    return run


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


FEATURES_DIR = os.path.join("cache", "features")
#: Disk used by a project's feature cache at most (MiB); ``DMTL_STUDIO_FEATURE_CACHE_MB`` changes it.
DEFAULT_LIMIT_MB = 2048
_MAGIC = b"DMF1"
_HEADER = struct.Struct("<4sII")  # magic, feature count, crc32 of the float32 payload


def _short_hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


class FeatureStore:
    """A project's feature vectors on disk (see the module docstring).

    Parameters
    ----------
    root
        ``PROJECT/cache/features``.
    space
        Names everything the vectors depend on besides the image and the view (backbone, weights, preprocessing,
        device kind); made by :meth:`for_backbone`.
    hash_of
        The content hash (sha256 hex) of an image path.
    limit_bytes
        Size the whole cache folder is kept under.
    """

    def __init__(
        self, root: Path, space: str, hash_of: Callable[[str], str], limit_bytes: int | None = None
    ) -> None:
        self.root, self.space, self.hash_of = Path(root), space, hash_of
        if limit_bytes is None:
            limit_bytes = int(os.environ.get("DMTL_STUDIO_FEATURE_CACHE_MB", DEFAULT_LIMIT_MB)) << 20
        self.limit_bytes = limit_bytes
        self.written = 0  # vectors written by this object (for pruning and tests)
        self.unwritable: str | None = None  # why the cache cannot be written (read-only media, a full disk)

    @classmethod
    def for_backbone(
        cls,
        project_dir: str | os.PathLike[str],
        backbone_name: str,
        backbone: nn.Module,
        preprocessing: object,
        device: torch.device,
        channels_last: bool,
        hash_of: Callable[[str], str],
    ) -> FeatureStore:
        """The store for one frozen backbone in one project (its weights are hashed here)."""
        space = _short_hash(
            {
                "format": 1,
                "backbone": backbone_name,
                "weights": weights_hash(backbone),
                # What the inputs really are (crop_pct, unused, differs between a backbone's config and a run's
                # sidecar): the description every sidecar carries.
                "preprocessing": describe_preprocessing(preprocessing),
                "device": device.type,
                "channels_last": channels_last,
                # float16 autocast on CUDA gives other features than float32; the CPU engines (onnxruntime,
                # PyTorch) agree within feature_engine.TOLERANCE and share the cache, as before them.
                **({"precision": "float16-autocast"} if choose_engine(device.type) == TORCH_CUDA_AMP else {}),
            }
        )
        return cls(Path(project_dir) / FEATURES_DIR, space, hash_of)

    def path(self, image_hash: str, variant: str) -> Path:
        return self.root / self.space / image_hash[:2] / f"{image_hash}.{variant}.f32"

    def read(self, image_hash: str, variant: str) -> np.ndarray | None:
        """The stored vector ``(F,)`` float32, or ``None`` when absent or damaged (a damaged one is removed)."""
        path = self.path(image_hash, variant)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            magic, count, crc = _HEADER.unpack_from(data)
            payload = data[_HEADER.size :]
            if magic != _MAGIC or len(payload) != 4 * count or count == 0 or zlib.crc32(payload) != crc:
                raise ValueError("damaged")
        except (ValueError, struct.error):
            log.warning("damaged feature cache entry %s is computed again", path)
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return np.frombuffer(payload, dtype="<f4")

    def write(self, image_hash: str, variant: str, vector: np.ndarray) -> None:
        """Store a vector (temporary file, then rename; no fsync: a torn entry fails its checksum)."""
        if self.unwritable is not None:  # said once: every other vector would fail the same way
            return
        payload = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        path = self.path(image_hash, variant)
        temp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(_HEADER.pack(_MAGIC, len(payload) // 4, zlib.crc32(payload)) + payload)
            os.replace(temp, path)
            self.written += 1
        except OSError as exc:  # a cache that cannot be written only costs time later
            with contextlib.suppress(OSError):  # read-only media refuse even removing what is not there
                temp.unlink(missing_ok=True)
            self.unwritable = str(exc.strerror or exc)
            log.info(
                "the feature cache is not written (%s): features are computed each time", self.unwritable
            )

    def prune(self) -> int:
        """Remove the least recently used entries until the cache is under its limit; returns how many."""
        entries = []
        total = 0
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                entries.append((info.st_mtime, info.st_size, path))
                total += info.st_size
        removed = 0
        if total <= self.limit_bytes:
            return 0
        target = self.limit_bytes * 0.9
        for _, size, path in sorted(entries):
            if total <= target:
                break
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= size
            removed += 1
        log.info("feature cache over its limit: %d entries removed", removed)
        return removed
