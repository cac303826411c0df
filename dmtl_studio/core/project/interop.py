"""Labels in and out of a project: CSV files (``path,label``) and ImageFolder trees (``class/image``).

In a text project the ``path`` is the text's source key (a ``.txt`` path, or ``<file>#<row>``), and an exported
CSV file has a third column, ``text``, with each text in full, so the file serves other tools on its own. A label
import reads only ``path,label`` and applies labels by source key; it never adds texts.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from dmtl_studio.core.base.cancel import never_stop
from dmtl_studio.core.base.csvfile import CsvLimitError, read_csv, write_csv
from dmtl_studio.core.base.fileio import FileWriteError, atomic_copy, atomic_write_bytes, describe_os_error
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.hand_marks import restored
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.imaging import inspect_image
from dmtl_studio.core.project.label_files import OTHER_SPELLINGS, apply_labels, label_header_error
from dmtl_studio.core.project.label_files import SPLIT_NAMES as SPLIT_NAMES
from dmtl_studio.core.project.label_files import LabelImportSummary as LabelImportSummary
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.splits import move_to_split
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_labels import import_text_labels
from dmtl_studio.core.project.validation import (
    class_name_problem,
    normal_class_name,
    path_inside,
    resolve_image_file,
)


def export_csv(
    store: ProjectStore,
    out: str | os.PathLike[str],
    include_unlabelled: bool = False,
    encoding: str | None = None,
) -> int:
    """Write ``path,label`` rows (absolute paths; empty label for unlabelled), formula-safe
    (:func:`~dmtl_studio.core.base.csvfile.escape_cell`), in UTF-8 or ``encoding``; a text project's rows add the
    ``text``. Returns the row count. Raises ``ValueError`` when ``encoding`` cannot write a character (nothing is
    written)."""
    images = [
        image for image in store.images(usable_only=True) if image.label is not None or include_unlabelled
    ]
    if store.kind == "text":
        bodies = store.texts([image.id for image in images])
        rows = [(image.path, image.label or "", bodies.get(image.id, "")) for image in images]
        write_csv(out, ["path", "label", "text"], rows, encoding)
    else:
        write_csv(out, ["path", "label"], [(image.path, image.label or "") for image in images], encoding)
    return len(images)


def import_csv(
    store: ProjectStore,
    csv_path: str | os.PathLike[str],
    should_stop: Callable[[], bool] = never_stop,
    *,
    unlabel_empty: bool = False,
    editor: LabelEditor | None = None,
    encoding: str | None = None,
) -> LabelImportSummary:
    """Apply ``path,label`` rows: relative paths are read from the CSV's folder; images not yet in the project
    are added (and checked), rows whose file does not exist are skipped and reported. An empty label leaves the
    item's label as it is (``unlabel_empty``: unlabels it); a label that is not a class yet becomes one
    (reported, with any class it differs from only in case). The labels are applied as one action of
    ``editor`` (a new one if not given) with the rules of labelling in the window: a problem file of the
    project is not labelled (reported), newly labelled items get a split, the action can be undone.

    Every path is resolved (``..``, ``./`` and links), so all spellings of one file are one image; it must be a
    regular file that decodes as an image, and may lie anywhere the user can read (images are referenced in
    place). Labels go through the project's one class-name check. A row that fails a check is reported and not
    applied; the rest of the file is. Time and memory grow linearly with the number of rows; the file may have
    at most :data:`~dmtl_studio.core.base.csvfile.MAX_ROWS` rows of fields up to
    :data:`~dmtl_studio.core.base.csvfile.MAX_FIELD_CHARS` characters. It is read as UTF-8, or in ``encoding``
    (a codec name: ``"cp1252"`` for a CSV Excel saved on Windows) when given.

    In a text project, rows name texts by source key (a relative one is read from the CSV's folder); rows
    naming no text of the project are skipped and reported (``not_found``).

    In a project of images, an optional ``split`` column (``train``, ``val``/``validation``, ``test``; empty: the
    split is left to the usual rules) puts each labelled item in that split, with its identical copies — how a
    removal log (:mod:`~dmtl_studio.core.project.removal`) brings images back where they were.

    Raises
    ------
    ProjectError
        The file cannot be read, lacks the ``path,label`` header, has a row of one field, or exceeds a limit.
    """
    csv_path = Path(csv_path)
    editor = editor if editor is not None else LabelEditor(store)
    if store.kind == "text":
        return import_text_labels(store, csv_path, editor, unlabel_empty, encoding)
    base = csv_path.absolute().parent
    wanted: dict[str, str | None] = {}
    named: dict[str, str] = {}  # resolved path -> the path as the row wrote it
    wanted_splits: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    not_found: list[str] = []
    duplicates = 0
    conflicting: list[tuple[str, str, str]] = []
    try:
        rows = read_csv(csv_path, encoding=encoding)
        header = [h.strip().lower() for h in next(rows, (1, []))[1]]
        if header[:2] != ["path", "label"]:
            raise label_header_error(csv_path.name)
        split_at = header.index("split") if "split" in header[2:] else None
        for line, row in rows:
            if not row:
                continue
            if len(row) < 2:
                raise ProjectError(f"{csv_path.name}, line {line}: expected 'path,label'")
            label = normal_class_name(row[1]) or None
            why = class_name_problem(label) if label else None
            if why is not None:
                problems.append((row[0], f"line {line}: {why}"))
                continue
            try:
                path = str(resolve_image_file(row[0], base))
                named[path] = os.path.normpath(base / row[0])  # as written (a link stays a link)
            except FileNotFoundError:
                # A typo or a moved file must not become a permanent row of the project.
                not_found.append(row[0] if os.path.isabs(row[0]) else str(base / row[0]))
                continue
            except ValueError as exc:
                problems.append((row[0], f"line {line}: {exc}"))
                continue
            duplicates += path in wanted
            if path in wanted and wanted[path] != label:
                conflicting.append((row[0], wanted[path] or "", label or ""))
            wanted[path] = label
            given = row[split_at].strip().lower() if split_at is not None and len(row) > split_at else ""
            if given:
                split = SPLIT_NAMES.get(given)
                if split is None:
                    problems.append(
                        (
                            row[0],
                            f"line {line}: the split {given!r} is none of train, val, test (or {OTHER_SPELLINGS}); kept",
                        )
                    )
                else:
                    wanted_splits[path] = split
    except CsvLimitError as exc:
        raise ProjectError(str(exc)) from None
    except OSError as exc:
        raise ProjectError(f"cannot read {csv_path}: {exc.strerror or exc}") from exc
    known = _known_images(store, named)
    new_rows = []
    unreadable: set[str] = set()
    for path in wanted:
        if should_stop():
            break
        if path in known:
            continue
        try:
            new_rows.append((path, None, inspect_image(path), None))
        except ImageProblem as exc:
            # Not an image: reported, never stored (a label file must not fill a project with any file it names).
            problems.append((path, str(exc)))
            unreadable.add(path)
    added = store.add_images(new_rows) if new_rows else 0
    # Back in the project (a removal list imported): no import leaves their pictures out any more.
    restored(store, [getattr(info, "sha256", None) for _path, _label, info, _problem in new_rows])
    if added:
        known.update({image.path: image.id for image in store.images()})
    labels = {
        known[path]: label for path, label in wanted.items() if path in known and path not in unreadable
    }
    counts = apply_labels(store, labels, editor, unlabel_empty, f"import labels from {csv_path.name}")
    by_split: dict[str, list[int]] = {}
    for path, split in wanted_splits.items():
        if path in known and path not in unreadable:
            by_split.setdefault(split, []).append(known[path])
    # After the labels: only a labelled item has a split; identical copies move along (one split a picture).
    moved = [(set(move_to_split(store, ids, split)), set(ids)) for split, ids in by_split.items()]
    given = sum(len(done) for done, _ in moved)
    return LabelImportSummary(
        unlabel_empty=unlabel_empty,
        added=added,
        problems=(*problems, *counts.pop("problems")),
        not_found=tuple(not_found),
        duplicates=duplicates,
        conflicting=tuple(conflicting),
        splits_given=given,
        splits_copies=sum(len(done - asked) for done, asked in moved),
        **counts,
    )


def export_imagefolder(store: ProjectStore, out_dir: str | os.PathLike[str], link: bool = False) -> int:
    """Copy (or symlink) labelled images into ``out_dir/<class>/``. Name clashes get the image id as a prefix.
    A text project's labelled texts are written as UTF-8 ``.txt`` files (a table's row ``notes.csv#12`` as
    ``notes_row12.txt``), whatever ``link`` says.

    Every target is resolved and checked to lie inside ``out_dir`` before anything is written, so a class name
    that is not a plain folder name (from a project made before names were checked) writes nothing anywhere.
    Returns the number of images written. ``out_dir`` must be new or empty, and no file is ever overwritten.
    An image whose file is gone from disk is left out (call ``store.mark_missing_files()`` first to learn which).

    Raises
    ------
    ProjectError
        ``out_dir`` is a file or not empty, or a class name would lead outside it (the message names the class).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ProjectError(
            f"{out} is a file; the export makes one folder per class: choose a new folder for it"
        )
    if out.exists() and any(out.iterdir()):
        raise ProjectError(f"{out} is not empty; choose a new folder for the export")
    folders: dict[str, str] = {}
    for name in store.class_names():
        other = folders.setdefault(name.casefold(), name)
        if other != name:  # one folder on case-insensitive file systems (Windows, macOS): labels would mix
            raise ProjectError(
                f"classes '{other}' and '{name}' differ only in case, so they would share one folder; rename one "
                "first. Nothing was written"
            )
    plan: list[tuple[Path, Path, int]] = []
    used: set[str] = set()
    bodies = store.texts() if store.kind == "text" else None
    for image in store.images(usable_only=True):
        if image.label is None:
            continue
        source = Path(image.path)
        if bodies is None and not source.is_file():
            continue  # gone from disk since the import: nothing to copy
        name = source.name if bodies is None else _text_file_name(image.path)
        why = class_name_problem(image.label)
        try:
            if why is not None:
                raise ValueError(why)
            target = path_inside(out, image.label, name)
            if str(target).casefold() in used:
                target = path_inside(out, image.label, f"{image.id}_{name}")
        except ValueError as exc:
            raise ProjectError(
                f"class '{image.label}' cannot be exported as a folder ({exc}); rename it first. Nothing was written"
            ) from None
        used.add(str(target).casefold())
        plan.append((source, target, image.id))
    count = 0
    for source, target, image_id in plan:
        try:
            if os.path.lexists(target):  # never overwrite
                raise FileExistsError(errno.EEXIST, "the file exists already", str(target))
            target.parent.mkdir(parents=True, exist_ok=True)
            if bodies is not None:
                atomic_write_bytes(target, bodies.get(image_id, "").encode("utf-8"))
            elif link:
                target.symlink_to(source.absolute())
            else:
                atomic_copy(source, target)  # a full disk leaves no partly copied image behind
        except OSError as exc:
            reason = exc.reason if isinstance(exc, FileWriteError) else describe_os_error(exc)
            if bodies is None and not source.is_file():  # the error is the source's, not the target's
                reason = f"its source {source} is gone from disk"
            raise ProjectError(
                f"the export to {out} stopped at {target}: {reason}. The {count} image(s) copied before are "
                "complete and kept; nothing else was written"
            ) from exc
        count += 1
    return count


def _known_images(store: ProjectStore, named: dict[str, str]) -> dict[str, int]:
    """``{resolved path: item id}`` for the rows' files (``named``: resolved path -> the path as written) that the
    project holds: under the path as written, under the resolved one, or under another spelling of the same file
    (a folder reached through a link). An item stored as a link to a file matches only a row that names a link
    too: a row naming the file itself is that file, not the link beside it (a removal log brings the file back,
    never relabels the link)."""
    stored: dict[str, int] = {}
    by_real: dict[str, int] = {}
    by_real_link: dict[str, int] = {}
    for image in store.images():
        stored[image.path] = image.id
        aliases = by_real_link if os.path.islink(image.path) else by_real
        aliases.setdefault(os.path.realpath(image.path), image.id)
    known = dict(stored)
    for path, written in named.items():
        found = stored.get(written, stored.get(path, by_real.get(path)))
        if found is None and os.path.islink(written):
            found = by_real_link.get(path)
        if found is not None:
            known[path] = found
    return known


def _text_file_name(key: str) -> str:
    """The ``.txt`` file name a text is exported under: its own file's name, ``<table>_row<N>.txt``,
    ``<table>_id<ID>.txt`` for a row keyed by its id (characters a file name cannot hold made ``_``), or, for a
    row since removed from its table (key ``<table>#removed-<id>``), ``<table>_removed<id>.txt``."""
    table, id_mark, row_id = key.partition("#id=")
    if id_mark:
        safe = "".join(c if c.isalnum() or c in "-_.+ " else "_" for c in row_id).strip(" .")
        return f"{Path(table).stem}_id{safe[:120]}.txt"
    file, hash_mark, row = key.rpartition("#")
    if hash_mark and row.isdigit():
        return f"{Path(file).stem}_row{row}.txt"
    if hash_mark and row.startswith("removed-") and row[len("removed-") :].isdigit():
        return f"{Path(file).stem}_removed{row[len('removed-') :]}.txt"
    name = Path(key).name
    return name if name.lower().endswith(".txt") else f"{name}.txt"
