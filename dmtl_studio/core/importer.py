"""Import of image folders into a project, and stratified train/validation/test splits.

A folder whose sub-folders are classes gives labelled images (the first folder level below the root names the
class, deeper folders belong to it); loose files at the root are unlabelled. Files that cannot be decoded are
recorded as problems with a reason; they never stop the import.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.cancel import never_stop
from dmtl_studio.core.imaging import ImageProblem, inspect_image, iter_image_files
from dmtl_studio.core.store import ProjectError, ProjectStore
from dmtl_studio.core.validation import class_name_problem

ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ImportSummary:
    scanned: int
    added: int
    labelled: int
    unlabelled: int
    problems: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]
    cancelled: bool = False


@dataclass(frozen=True)
class SplitSummary:
    counts: dict[str, dict[str, int]]
    warnings: tuple[str, ...]


def import_folder(
    store: ProjectStore,
    images_dir: str | os.PathLike[str],
    *,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] = never_stop,
    batch_size: int = 200,
    files: list[Path] | None = None,
) -> ImportSummary:
    """Scan ``images_dir`` recursively and add every image file to ``store``.

    ``files`` is that scan when the caller has made it already (:func:`iter_image_files` of ``images_dir``).

    Work is committed in batches of ``batch_size`` files, so a cancelled import keeps what it has read.
    New labelled images then get a stratified split (see :func:`assign_splits`).
    """
    root = Path(images_dir)
    if not root.is_dir():
        raise ProjectError(f"{root} is not a folder")
    files = iter_image_files(root) if files is None else files
    total = len(files)
    added = labelled = 0
    problems: list[tuple[str, str]] = []
    classes: set[str] = set()
    pending: list[tuple[str, str | None, object, str | None]] = []
    cancelled = False
    for index, path in enumerate(files):
        if should_stop():
            cancelled = True
            break
        relative = path.relative_to(root)
        class_name = relative.parts[0] if len(relative.parts) > 1 else None
        try:
            if class_name is not None and (why := class_name_problem(class_name.strip())) is not None:
                raise ImageProblem(f"its folder cannot be a class: {why}")
            info, problem = inspect_image(path), None
        except ImageProblem as exc:
            info, problem = None, str(exc)
            problems.append((str(path), problem))
        if class_name and problem is None:
            classes.add(class_name)
            labelled += 1
        pending.append((str(path.absolute()), class_name if problem is None else None, info, problem))
        if len(pending) >= batch_size:
            added += store.add_images(pending)
            pending.clear()
        if progress is not None:
            progress(index + 1, total, str(relative))
    if pending:
        added += store.add_images(pending)
    for name in sorted(classes):
        store.add_class(name)
    assign_splits(store, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    usable = total - len(problems)
    return ImportSummary(
        scanned=total,
        added=added,
        labelled=labelled,
        unlabelled=usable - labelled,
        problems=tuple(problems),
        classes=tuple(sorted(classes)),
        cancelled=cancelled,
    )


def assign_splits(
    store: ProjectStore,
    *,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    reassign: bool = False,
) -> SplitSummary:
    """Give labelled images without a split a stratified train/validation/test split.

    Each class is topped up towards the target fractions, counting the images it already has in each split,
    so labelling images one by one keeps the proportions. Images with identical content always land in the
    same split (no leakage). Existing assignments are kept unless ``reassign`` is true. Fractions and seed
    default to the project's stored ones and are stored, so every later assignment follows them.
    """
    val_fraction = float(store.get_meta("val_fraction", "0.2")) if val_fraction is None else val_fraction
    test_fraction = float(store.get_meta("test_fraction", "0.0")) if test_fraction is None else test_fraction
    seed = int(store.get_meta("split_seed", "0")) if seed is None else seed
    if not 0.0 <= val_fraction < 1.0 or not 0.0 <= test_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
        raise ProjectError("validation and test fractions must each be in [0, 1) and sum to less than 1")
    images = [im for im in store.images(usable_only=True) if im.label is not None]
    # Content already placed decides where its duplicates go.
    placed: dict[str, str] = {}
    existing: dict[str, dict[str, set[str]]] = defaultdict(
        lambda: {s: set() for s in ("train", "val", "test")}
    )
    if not reassign:
        for im in images:
            if im.split:
                key = im.sha256 or f"id:{im.id}"
                placed.setdefault(key, im.split)
                existing[im.label][im.split].add(key)
    new_groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    assignment: dict[int, str] = {}
    for im in images:
        if im.split and not reassign:
            continue
        key = im.sha256 or f"id:{im.id}"
        if key in placed:
            assignment[im.id] = placed[key]
            continue
        new_groups[im.label][key].append(im.id)
    rng = random.Random(seed)
    warnings: list[str] = []
    for class_name in sorted(set(new_groups) | set(existing)):
        keys = sorted(new_groups.get(class_name, {}))
        rng.shuffle(keys)
        have = {split: len(groups) for split, groups in existing[class_name].items()}
        total = sum(have.values()) + len(keys)
        if total < 2 and val_fraction + test_fraction > 0:
            warnings.append(f"class '{class_name}' has only {total} distinct image(s): too few to split")
        want_test = round(total * test_fraction)
        want_val = round(total * val_fraction)
        if total >= 2 and val_fraction > 0 and want_val == 0:
            want_val = 1
        if total - want_val - want_test < 1:  # training comes first: at least one image
            want_val = want_test = 0
        need_test = min(len(keys), max(0, want_test - have["test"]))
        need_val = min(len(keys) - need_test, max(0, want_val - have["val"]))
        for position, key in enumerate(keys):
            split = "test" if position < need_test else "val" if position < need_test + need_val else "train"
            for image_id in new_groups[class_name][key]:
                assignment[image_id] = split
    if assignment:
        store.set_splits(assignment)
    for key, value in (
        ("split_seed", seed),
        ("val_fraction", val_fraction),
        ("test_fraction", test_fraction),
    ):
        store.set_meta(key, str(value))
    return SplitSummary(counts=store.class_counts(), warnings=tuple(warnings))


__all__ = ["ImportSummary", "SplitSummary", "assign_splits", "import_folder"]
