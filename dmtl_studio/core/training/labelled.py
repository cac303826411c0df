"""Which images a run learns from: the labelled split, the unlabelled images, and the files gone from disk."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.project.file_changes import FileChanges, check_image_files
from dmtl_studio.core.project.gone_files import WAY_BACK
from dmtl_studio.core.project.images_table import MISSING_REASON, missing_files_notice
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import RunNotice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledSplit:
    """A project's usable labelled images as ``(path, class index)`` pairs, per split, and the class names."""

    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]
    val: tuple[tuple[str, int], ...]


def labelled_split(store: ProjectStore) -> LabelledSplit:
    """The usable labelled images (or texts) of a project, as ``(path, class index)`` per split.

    Images without a split train. Raises :class:`TrainingError` with fewer than 2 labelled classes or a class that
    has no training image.
    """
    images = [im for im in store.images(usable_only=True) if im.label is not None]
    present = {im.label for im in images}
    classes = tuple(name for name in store.class_names() if name in present)
    noun = "texts" if store.kind == "text" else "images"
    if len(classes) < 2:
        gone = [im for im in store.images() if im.label is not None and im.problem == MISSING_REASON]
        if (
            len(present | {im.label for im in gone}) >= 2
        ):  # "label some first" would have them done again (h28)
            raise TrainingError(
                f"training needs labelled {noun} of at least 2 classes; this project has {len(classes)} usable, "
                f"and {len(gone)} labelled {noun[:-1]}(s) whose files are no longer on disk ({gone[0].path}…). If "
                f"their folder was moved or renamed, {WAY_BACK}"
            )
        raise TrainingError(
            f"training needs labelled {noun} of at least 2 classes; this project has {len(classes)}. "
            f"Label some {noun} first."
        )
    index = {name: i for i, name in enumerate(classes)}
    train = tuple((im.path, index[im.label]) for im in images if im.split in (None, "train"))
    val = tuple((im.path, index[im.label]) for im in images if im.split == "val")
    missing = [name for name in classes if not any(t == index[name] for _, t in train)]
    if missing:
        raise TrainingError(
            f"no training {noun} for class(es): {', '.join(missing)}: each of their labelled {noun} is in the "
            f"validation or test split. Label more {noun} of them, or draw the splits anew (Labels ▸ Reassign "
            f"splits…, dmtl-studio splits PROJECT: a class too small to split then only trains)"
        )
    return LabelledSplit(classes, train, val)


def files_for_run(
    store: ProjectStore, split: LabelledSplit | None, emit: Callable[[object], None]
) -> LabelledSplit:
    """``split`` (default: the project's :func:`labelled_split`) without the files gone from disk, after the
    files changed on disk since the import have their new content recorded (before any feature is looked up by
    its content hash); each finding is sent to ``emit`` as a :class:`RunNotice`.

    Raises :class:`TrainingError` as :func:`labelled_split` does.
    """
    missing = [] if store.read_only else store.mark_missing_files()
    if missing:
        log.info("%d image(s) missing on disk marked as problems, first: %s", len(missing), missing[0])
    changes = FileChanges() if store.read_only else check_image_files(store)
    for notice in (missing and missing_files_notice(missing), changes.notice()):
        if notice:  # (none on a read-only store: the other ranks of a distributed run take rank 0's split)
            emit(RunNotice(notice))
    if split is not None:  # folds chosen before: drop the files found gone now, or by an earlier fold's run
        usable = {im.path for im in store.images(usable_only=True)}
        split = LabelledSplit(
            split.classes,
            tuple(item for item in split.train if item[0] in usable),
            tuple(item for item in split.val if item[0] in usable),
        )
    return split if split is not None else labelled_split(store)


def unlabelled_paths(store: ProjectStore) -> tuple[str, ...]:
    """The usable items of a project that have no label and are not held out: material for the consistency term
    and the pseudo-labels only. An unlabelled item in the validation or test split (a copy of a test image that
    "keep in one split" put beside it, a held-out image whose label was taken off) is left out: learning from it
    would learn the held-out content the scores are read on. So is an unlabelled copy of a held-out item — the same
    content hash, a copy imported later from another file or folder (h32: an unlabelled copy of a validation
    ticket from a second CSV was pseudo-labelled into training)."""
    return tuple(store.unlabelled_pool())


def content_hashes(store: ProjectStore) -> Callable[[str], str]:
    """``hash_of(path)``: an image's content hash from the project (computed from the file if it has none)."""
    known = {im.path: im.sha256 for im in store.images() if im.sha256}

    def hash_of(path: str) -> str:
        if path not in known:
            known[path] = file_sha256(path)
        return known[path]

    return hash_of


def class_weights(targets: list[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``(num_classes,)``, normalised so a balanced set gets 1 for every class."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)
