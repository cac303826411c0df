"""Import of image folders into a project (their splits: :mod:`dmtl_studio.core.splits`).

A folder whose sub-folders are classes gives labelled images (the first folder level below the root names the
class, deeper folders belong to it); loose files at the root are unlabelled. Files that cannot be decoded are
recorded as problems with a reason; they never stop the import.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.cancel import never_stop
from dmtl_studio.core.imaging import ImageProblem, inspect_image, iter_image_files
from dmtl_studio.core.splits import LabelConflict, SplitSummary, assign_splits, label_conflicts
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
    #: The split the labelled images got (counts, the fractions used, classes too small to split).
    split: SplitSummary | None = None
    #: Pictures (identical content) that carry two or more labels; each should get one.
    conflicts: tuple[LabelConflict, ...] = ()

    def describe_split(self) -> list[str]:
        """Lines for the import's summary: the split, then every warning and label conflict."""
        if self.split is None:
            return []
        lines = [self.split.describe(), *(f"note: {w}" for w in self.split.warnings)]
        if self.conflicts:
            lines.append(f"{len(self.conflicts)} picture(s) carry two or more labels (identical files):")
            lines += [f"  {conflict.describe()}" for conflict in self.conflicts[:20]]
            if len(self.conflicts) > 20:
                lines.append(f"  … and {len(self.conflicts) - 20} more (the browser's filter 'Conflicting labels')")
        return lines


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
    New labelled images then get a stratified split (:func:`~dmtl_studio.core.splits.assign_splits`: the
    project's fractions, or the defaults for a new project), reported in the summary with any picture that
    carries two labels.
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
    split = assign_splits(store, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    usable = total - len(problems)
    return ImportSummary(
        scanned=total,
        added=added,
        labelled=labelled,
        unlabelled=usable - labelled,
        problems=tuple(problems),
        classes=tuple(sorted(classes)),
        cancelled=cancelled,
        split=split,
        conflicts=tuple(label_conflicts(store)),
    )


__all__ = ["ImportSummary", "SplitSummary", "assign_splits", "import_folder"]
