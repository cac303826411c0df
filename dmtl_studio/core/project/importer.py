"""Import of image folders into a project (their splits: :mod:`dmtl_studio.core.project.splits`).

A folder whose sub-folders are classes gives labelled images (the first folder level below the root names the
class, deeper folders belong to it); loose files at the root are unlabelled. When the top folders are named
after splits (``train/``, ``valid/``, ``test/`` ...) with the classes below them, the folders give the splits
and the next level the classes. Files that cannot be decoded are recorded as problems with a reason; they
never stop the import. Files that are images by content are imported whatever their name; the others are
counted as skipped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from dmtl_studio.core.base.cancel import never_stop
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.folder_scan import FolderScan, scan_folder
from dmtl_studio.core.project.hand_marks import removed as removed_by_hand
from dmtl_studio.core.project.hand_marks import taken_off
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.imaging import inspect_image
from dmtl_studio.core.project.import_sources import remember_source
from dmtl_studio.core.project.import_summary import ImportSummary
from dmtl_studio.core.project.moved_images import GoneImages, folder_class
from dmtl_studio.core.project.project_kind import adopt_kind
from dmtl_studio.core.project.split_folders import (  # noqa: F401 (part of this API)
    SPLIT_FOLDER_NAMES,
    class_folders,
    mixed_split_folders,
    parts_below,
    split_layout,
)
from dmtl_studio.core.project.splits import (
    SplitSettings,
    SplitSummary,
    assign_splits,
    check_fractions,
    label_conflicts,
    split_leaks,
)
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.validation import (
    case_variants,
    class_name_problem,
    normal_class_name,
)

ProgressCallback = Callable[[int, int, str], None]


def _held_elsewhere(info: object, held: dict[str, list[str]]) -> bool:
    """Whether a new file's content is that of an image the project holds, whose file is still on disk (a file
    moved to another folder is no copy: its old path is gone)."""
    paths = held.get(getattr(info, "sha256", None) or "", [])
    return any(os.path.isfile(path) for path in paths)


class _KnownFiles:
    """The project's images by file identity (device, inode), read on first use: a file of the folder that the
    project holds under another spelling of its path (the folder reached through a symbolic link, or through its
    real path after the link) is that image, not a new one."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._by_identity: dict[tuple[int, int], str] | None = None

    def spelling(self, path: Path) -> str | None:
        """The path the project holds the file ``path`` under, or ``None`` when it holds no such file."""
        if not self.paths:
            return None
        if self._by_identity is None:
            self._by_identity = {}
            for known in self.paths:
                with contextlib.suppress(OSError):
                    stat = os.stat(known)
                    self._by_identity.setdefault((stat.st_dev, stat.st_ino), known)
        try:
            stat = path.stat()
        except OSError:
            return None
        return self._by_identity.get((stat.st_dev, stat.st_ino))


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
    split_folders: bool = True,
) -> ImportSummary:
    """Scan ``images_dir`` recursively and add every image file to ``store``.

    ``scan`` is that scan when the caller has made it already (:func:`scan_folder` of ``images_dir``).
    ``split_folders`` false reads every top folder as a class, even one named like a split (a class ``train``
    of vehicles, ``valid`` / ``invalid`` parts).

    Work is committed in batches of ``batch_size`` files, so a cancelled import keeps what it has read.
    Images below split-named top folders get those splits (see :func:`split_layout`); other new labelled
    images then get a stratified split (see :func:`assign_splits`).

    Raises
    ------
    ProjectError
        When ``images_dir`` is not a folder or holds no image file (and no image of the project lies below it),
        its split folders cannot be read without mislabelling, or the
        project is a text project (see :func:`~dmtl_studio.core.project.project_kind.adopt_kind`).
    """
    root = Path(images_dir)
    if not root.is_dir():
        raise ProjectError(f"{root} is not a folder")
    store.require_writable()  # before reading the folder, or decoding every file
    scan = scan_folder(root) if scan is None else scan
    if not scan.files and not store.images_under(str(root.absolute()).rstrip(os.sep) + os.sep):
        # An empty folder was "imported" with a summary of zeros, and offered by Import again from then on (h35);
        # one whose images the project holds is read: they are gone from it.
        others = f"; {len(scan.skipped)} other file(s) are not images" if scan.skipped else ""
        raise ProjectError(
            f"{root} holds no image files (sub-folders included){others}; nothing was imported"
        )
    check_fractions(
        val_fraction, test_fraction, SplitSettings.of_project(store)
    )  # before anything is written
    existing = store.class_names()
    held_records = store.images()  # before the import: to count copies and to know files by another spelling
    known = {im.path: im.sha256 for im in held_records if im.usable}
    held_labels = {im.path for im in held_records if im.label is not None}
    held_splits = {im.path: im.split for im in held_records if im.split and im.label is not None}
    kept_own_split = 0
    # Decisions taken by hand that no import undoes (h35; core/project/hand_marks.py, by content): a label taken off
    # stays off, a picture removed while usable is left out.
    off, removed = taken_off(store), removed_by_hand(store)
    files = scan.files
    splits_by_folder = split_layout(root, files) if split_folders else {}
    adopt_kind(store, "images")  # after every refusal: a refused first import decides nothing (h36)
    total = len(files)
    added = labelled = 0
    problems: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    folder_splits: dict[str, str] = {}  # absolute path -> split given by its folder
    classes: set[str] = set()
    pending: list[tuple[str, str | None, object, str | None]] = []
    cancelled = False
    copies = nested = kept_labels = kept_unlabelled = 0
    left_removed: list[tuple[str, str]] = []  # (path, the removal list that removed its picture)
    gave: set[str] = set()  # the class folders (split/class below split folders) that gave a labelled image
    nested_example = ""
    held: dict[str, list[str]] = {}  # content hash -> paths of the project's images holding it
    for known_path, sha in known.items():
        held.setdefault(sha, []).append(known_path)
    read = 0  # files looked at (all of them unless cancelled)
    held_paths = {record.path for record in held_records}  # problem files too
    same_files = _KnownFiles(sorted(held_paths))
    gone = GoneImages(held_records)  # a moved folder's files are these images at their new place
    moves: list[tuple[str, str, str | None]] = []  # (old path, new path, class it takes or None)
    moved = 0
    remember_source(
        store, root
    )  # first: an import stopped or killed part-way is offered by Import again (h30)
    for index, path in enumerate(files):
        if should_stop():
            cancelled = True
            break
        read = index + 1
        parts = parts_below(root, path)
        split = splits_by_folder.get(parts[0]) if len(parts) > 1 else None
        folder = f"{parts[0]}/{parts[1]}" if split is not None and len(parts) > 2 else parts[0]
        if split is not None:
            parts = parts[1:]  # split/class/...: the class is one level down
        class_name = normal_class_name(parts[0]) if len(parts) > 1 else None
        if len(parts) > 2:
            nested += 1
            nested_example = nested_example or "/".join(parts[:-1])
        try:
            if class_name is not None and (why := class_name_problem(class_name)) is not None:
                raise ImageProblem(f"its folder cannot be a class: {why}")
            info, problem = inspect_image(path), None
        except ImageProblem as exc:
            info, problem = None, str(exc)
            problems.append((str(path), problem))
        absolute = str(path.absolute())
        if absolute not in held_paths:  # the same file under another spelling keeps the project's path
            absolute = same_files.spelling(path) or absolute
        sha = getattr(info, "sha256", None)
        if sha in removed and absolute not in held_paths:  # its picture was removed by hand: not brought back
            left_removed.append((absolute, removed[sha]))
            if progress is not None:
                progress(index + 1, total, os.path.join(*parts))
            continue
        if info is not None and info.note:
            notes.append((str(path), info.note))
        old = gone.claim(info.sha256, absolute) if info is not None and absolute not in held_paths else None
        if old is not None:  # moved into another class's folder: relabelled so (how folders label)
            relabel = class_name if class_name and class_name != folder_class(old) else None
            moves.append((old, absolute, relabel if problem is None else None))
            if old in held_labels:  # a loose file labelled in the project keeps its label there too
                held_labels.add(absolute)
        if class_name is None and problem is None and absolute in held_labels:
            kept_labels += 1  # a loose file the project labelled: it keeps its label
        if class_name and problem is None and sha in off:  # its label was taken off by hand: it stays off
            kept_unlabelled += 1
            gave.add(folder)  # its folder is no empty class folder
            class_name = None
        if class_name and problem is None:
            classes.add(class_name)
            gave.add(folder)
            labelled += 1
            if split is not None and old is None and held_splits.get(absolute, split) != split:
                # Its folder's split was given at an earlier import; the project's since is a choice made there
                # (Reassign splits, keep in one split, a move by hand): kept (h38: importing again undid them).
                kept_own_split += 1
            elif split is not None:
                folder_splits[absolute] = split
        if absolute not in known and old is None and _held_elsewhere(info, held):
            copies += 1
        pending.append((absolute, class_name if problem is None else None, info, problem))
        if len(pending) >= batch_size:
            moved += store.move_images(moves)  # first: the rows then update the moved images
            added += store.add_images(pending)
            pending.clear()
            moves.clear()
        if progress is not None:
            progress(index + 1, total, os.path.join(*parts))
    if pending:
        moved += store.move_images(moves)
        added += store.add_images(pending)
    missing = store.mark_missing_files(below=root)  # before the conflicts: a moved file is no conflict
    for name in sorted(classes):
        store.add_class(name)
    if folder_splits:
        store.set_splits(
            {
                record.id: folder_splits[record.path]
                for record in store.images()
                if record.path in folder_splits
            }
        )
    split = assign_splits(store, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    remember_source(store, root)  # again: newest first, after any import made meanwhile
    usable = read - len(problems) - len(left_removed)
    return ImportSummary(
        scanned=total,
        added=added,
        labelled=labelled,
        unlabelled=usable - labelled - kept_labels,
        kept_labels=kept_labels,
        kept_unlabelled=kept_unlabelled,
        left_removed=tuple(left_removed),
        problems=tuple(problems),
        classes=tuple(sorted(classes)),
        cancelled=cancelled,
        notes=tuple(notes),
        skipped=len(scan.skipped),
        hidden=len(scan.hidden),
        projects=tuple(str(path) for path in scan.projects),
        split_folders=tuple(sorted(splits_by_folder.items())),
        split_leaks=tuple(split_leaks(store)) if splits_by_folder else (),
        split=split,
        conflicts=tuple(label_conflicts(store)),
        case_variants=tuple(case_variants(existing, sorted(classes - set(existing)))),
        missing=tuple(missing),
        copies=copies,
        moved=moved,
        kept_own_split=kept_own_split,
        nested=nested,
        nested_example=nested_example,
        empty_folders=tuple(name for name in class_folders(root, splits_by_folder) if name not in gave)
        if not cancelled
        else (),
    )


__all__ = [
    "SPLIT_FOLDER_NAMES",
    "ImportSummary",
    "SplitSummary",
    "assign_splits",
    "import_folder",
    "split_layout",
]
