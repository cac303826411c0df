"""Import of image folders into a project, and stratified train/validation/test splits.

A folder whose sub-folders are classes gives labelled images (the first folder level below the root names the
class, deeper folders belong to it); loose files at the root are unlabelled. When the top folders are named
after splits (``train/``, ``valid/``, ``test/`` ...) with the classes below them, the folders give the splits
and the next level the classes. Files that cannot be decoded are recorded as problems with a reason; they
never stop the import. Files that are images by content are imported whatever their name; the others are
counted as skipped.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.cancel import never_stop
from dmtl_studio.core.imaging import FolderScan, ImageProblem, inspect_image, scan_folder
from dmtl_studio.core.store import ProjectError, ProjectStore

ProgressCallback = Callable[[int, int, str], None]

#: Top folder names (compared case-insensitively) that name a split rather than a class.
SPLIT_FOLDER_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


@dataclass(frozen=True)
class ImportSummary:
    """What an import did.

    ``notes`` holds ``(path, note)`` for images that decoded only with a remark (rescaled values, one page
    of several); ``skipped`` counts files that are not images by name or content; ``split_folders`` maps each
    split-named top folder to the split its images were given (empty for a folder of class folders).
    """

    scanned: int
    added: int
    labelled: int
    unlabelled: int
    problems: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]
    cancelled: bool = False
    notes: tuple[tuple[str, str], ...] = ()
    skipped: int = 0
    split_folders: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """The summary in plain words, one sentence per fact."""
        parts = [
            f"scanned {self.scanned} file(s): {self.added} new to the project; {self.labelled} labelled, "
            f"{self.unlabelled} unlabelled, {len(self.problems)} problem(s)"
        ]
        if self.notes:
            parts.append(f"{len(self.notes)} image(s) with a note on how they were read (values rescaled, page chosen)")
        if self.skipped:
            parts.append(f"skipped {self.skipped} non-image file(s)")
        if self.split_folders:
            used = ", ".join(f"{folder}/ -> {split}" for folder, split in self.split_folders)
            parts.append(f"split folders used as splits ({used}); classes from the folders below them")
        return "; ".join(parts)


def _parts_below(root: Path, path: Path) -> tuple[str, ...]:
    """``path.relative_to(root).parts``, by string slicing when it can (an import calls this per file)."""
    prefix = os.path.join(str(root), "")
    text = str(path)
    if text.startswith(prefix):
        return tuple(text[len(prefix) :].split(os.sep))
    return path.relative_to(root).parts


def split_layout(root: Path, files: list[Path]) -> dict[str, str]:
    """``{top folder: split}`` when the top folders of ``root`` name splits with classes below, else ``{}``.

    Raises
    ------
    ProjectError
        When split-named and other top folders are mixed, or split folders hold images but no class
        folders: either reading would mislabel images, so the import is refused with what to change.
    """
    tops: dict[str, bool] = {}  # top folder -> holds a sub-folder with images
    for path in files:
        parts = _parts_below(root, path)
        if len(parts) > 1:
            tops[parts[0]] = tops.get(parts[0], False) or len(parts) > 2
    splits = {name: SPLIT_FOLDER_NAMES[name.casefold()] for name in tops if name.casefold() in SPLIT_FOLDER_NAMES}
    if not splits:
        return {}
    others = sorted(name for name in tops if name not in splits)
    named = ", ".join(f"{name}/" for name in sorted(splits))
    if others:
        raise ProjectError(
            f"{root} mixes split folders ({named}) with other folders ({', '.join(others[:5])}); nothing was "
            "imported. Put the class folders inside each split folder (train/cat/..., valid/cat/...), or "
            "rename the split folders if they are classes"
        )
    flat = sorted(name for name in splits if not tops[name])
    if flat:
        raise ProjectError(
            f"{root} has split folders ({named}) but {', '.join(f'{n}/' for n in flat)} holds images without "
            "class folders; nothing was imported. Put each split's images into class folders "
            "(train/cat/..., valid/cat/...), or rename the folders if they are classes"
        )
    return splits


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
    scan: FolderScan | None = None,
) -> ImportSummary:
    """Scan ``images_dir`` recursively and add every image file to ``store``.

    ``scan`` is that scan when the caller has made it already (:func:`scan_folder` of ``images_dir``).

    Work is committed in batches of ``batch_size`` files, so a cancelled import keeps what it has read.
    Images below split-named top folders get those splits (see :func:`split_layout`); other new labelled
    images then get a stratified split (see :func:`assign_splits`).

    Raises
    ------
    ProjectError
        When ``images_dir`` is not a folder, or its split folders cannot be read without mislabelling.
    """
    root = Path(images_dir)
    if not root.is_dir():
        raise ProjectError(f"{root} is not a folder")
    scan = scan_folder(root) if scan is None else scan
    files = scan.files
    splits_by_folder = split_layout(root, files)
    total = len(files)
    added = labelled = 0
    problems: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    folder_splits: dict[str, str] = {}  # absolute path -> split given by its folder
    classes: set[str] = set()
    pending: list[tuple[str, str | None, object, str | None]] = []
    cancelled = False
    for index, path in enumerate(files):
        if should_stop():
            cancelled = True
            break
        parts = _parts_below(root, path)
        split = splits_by_folder.get(parts[0]) if len(parts) > 1 else None
        if split is not None:
            parts = parts[1:]  # split/class/...: the class is one level down
        class_name = parts[0] if len(parts) > 1 else None
        try:
            info, problem = inspect_image(path), None
        except ImageProblem as exc:
            info, problem = None, str(exc)
            problems.append((str(path), problem))
        if info is not None and info.note:
            notes.append((str(path), info.note))
        if class_name and problem is None:
            classes.add(class_name)
            labelled += 1
            if split is not None:
                folder_splits[str(path.absolute())] = split
        pending.append((str(path.absolute()), class_name if problem is None else None, info, problem))
        if len(pending) >= batch_size:
            added += store.add_images(pending)
            pending.clear()
        if progress is not None:
            progress(index + 1, total, os.path.join(*parts))
    if pending:
        added += store.add_images(pending)
    for name in sorted(classes):
        store.add_class(name)
    if folder_splits:
        store.set_splits(
            {record.id: folder_splits[record.path] for record in store.images() if record.path in folder_splits}
        )
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
        notes=tuple(notes),
        skipped=len(scan.skipped),
        split_folders=tuple(sorted(splits_by_folder.items())),
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


__all__ = ["SPLIT_FOLDER_NAMES", "ImportSummary", "SplitSummary", "assign_splits", "import_folder", "split_layout"]
