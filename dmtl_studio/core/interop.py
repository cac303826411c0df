"""Labels in and out of a project: CSV files (``path,label``) and ImageFolder trees (``class/image``)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.cancel import never_stop
from dmtl_studio.core.fileio import FileWriteError, atomic_copy, atomic_write_bytes, describe_os_error
from dmtl_studio.core.imaging import ImageProblem, inspect_image
from dmtl_studio.core.store import ProjectError, ProjectStore


@dataclass(frozen=True)
class LabelImportSummary:
    labelled: int
    added: int
    problems: tuple[tuple[str, str], ...]
    #: Rows whose file does not exist: not added to the project, only reported.
    not_found: tuple[str, ...] = ()
    #: Labels of the file that were not classes of the project yet (they are now).
    new_classes: tuple[str, ...] = ()


def export_csv(store: ProjectStore, out: str | os.PathLike[str], include_unlabelled: bool = False) -> int:
    """Write ``path,label`` rows (absolute paths; empty label for unlabelled). Returns the row count."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["path", "label"])
    rows = 0
    for image in store.images(usable_only=True):
        if image.label is None and not include_unlabelled:
            continue
        writer.writerow([image.path, image.label or ""])
        rows += 1
    atomic_write_bytes(Path(out), buffer.getvalue().encode("utf-8", "surrogateescape"))
    return rows


def import_csv(
    store: ProjectStore,
    csv_path: str | os.PathLike[str],
    should_stop: Callable[[], bool] = never_stop,
) -> LabelImportSummary:
    """Apply ``path,label`` rows: relative paths are read from the CSV's folder; images not yet in the project
    are added (and checked), rows whose file does not exist are skipped and reported. An empty label unlabels;
    a label that is not a class yet becomes one (reported). All labels are applied in one transaction."""
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_bytes().decode("utf-8-sig", "surrogateescape")
    except OSError as exc:
        raise ProjectError(f"cannot read {csv_path}: {exc.strerror or exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or [h.strip().lower() for h in header[:2]] != ["path", "label"]:
        raise ProjectError(f"{csv_path.name}: the first line must be the header 'path,label'")
    known = {image.path: image for image in store.images()}
    wanted: dict[str, str | None] = {}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < 2:
            raise ProjectError(f"{csv_path.name}, line {line}: expected 'path,label'")
        path = row[0]
        if not os.path.isabs(path):
            path = str((csv_path.parent / path).absolute())
        wanted[path] = row[1].strip() or None
    new_rows = []
    problems: list[tuple[str, str]] = []
    not_found: list[str] = []
    for path in wanted:
        if should_stop():
            break
        if path in known:
            continue
        if not os.path.exists(path):
            not_found.append(path)  # a typo or a moved file must not become a permanent row of the project
            continue
        try:
            info, problem = inspect_image(path), None
        except ImageProblem as exc:
            info, problem = None, str(exc)
            problems.append((path, problem))
        new_rows.append((path, None, info, problem))
    added = store.add_images(new_rows) if new_rows else 0
    ids = {image.path: image.id for image in store.images()}
    labels = {
        ids[path]: label for path, label in wanted.items() if path in ids and path not in dict(problems)
    }
    existing_classes = set(store.class_names())
    new_classes = tuple(sorted({label for label in labels.values() if label and label not in existing_classes}))
    store.set_labels(labels)
    return LabelImportSummary(
        labelled=sum(1 for v in labels.values() if v),
        added=added,
        problems=tuple(problems),
        not_found=tuple(not_found),
        new_classes=new_classes,
    )


def export_imagefolder(store: ProjectStore, out_dir: str | os.PathLike[str], link: bool = False) -> int:
    """Copy (or symlink) labelled images into ``out_dir/<class>/``. Name clashes get the image id as a prefix.

    Returns the number of images written. ``out_dir`` must not exist yet, so nothing is overwritten.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ProjectError(f"{out} is not empty; choose a new folder for the export")
    count = 0
    used: set[Path] = set()
    for image in store.images(usable_only=True):
        if image.label is None:
            continue
        source = Path(image.path)
        target = out / image.label / source.name
        if target in used:
            target = target.with_name(f"{image.id}_{source.name}")
        used.add(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if link:
                target.symlink_to(source.absolute())
            else:
                atomic_copy(source, target)  # a full disk leaves no partly copied image behind
        except OSError as exc:
            reason = exc.reason if isinstance(exc, FileWriteError) else describe_os_error(exc)
            raise ProjectError(
                f"the export to {out} stopped at {target}: {reason}. The {count} image(s) copied before are "
                "complete and kept; nothing else was written"
            ) from exc
        count += 1
    return count
