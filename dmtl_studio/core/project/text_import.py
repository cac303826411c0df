"""Import of texts into a text project: a folder of class folders of ``.txt`` files, or a CSV / TSV / JSON Lines
file with a text column and optional label and split columns.

A folder follows the layout rules of images (:mod:`dmtl_studio.core.project.importer`): the first folder level
names the class, loose files at the root are unlabelled, and top folders named after splits (``train/``,
``val/``, ``test/``) give the splits with the classes below them. Every bad input is reported and none is fatal:
a file or row that cannot be used (undecodable, empty, ragged, malformed) is kept in the project as a problem
item with its reason, like an image that does not decode. Duplicate texts (equal after
:func:`~dmtl_studio.core.project.texts_table.normalise_text`) are kept and reported; a text longer than the model
reads is kept whole, with a note. A table that cannot be read as a whole (undecodable, no header, a named column
missing) is refused before anything of it is imported. A text removed from the project while usable is left out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from dmtl_studio.core.base.cancel import never_stop
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.folder_scan import FolderScan, natural_key, walk_files
from dmtl_studio.core.project.hand_marks import TextMarks
from dmtl_studio.core.project.import_sources import remember_source
from dmtl_studio.core.project.importer import SPLIT_FOLDER_NAMES, split_layout
from dmtl_studio.core.project.project_kind import adopt_kind, is_table_file, is_text_file_name
from dmtl_studio.core.project.splits import (
    SplitSettings,
    apply_given_splits,
    assign_splits,
    check_fractions,
    label_conflicts,
    split_leaks,
)
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.table_options import check_columns
from dmtl_studio.core.project.text_decoding import (
    MAX_TEXT_BYTES,
    UndecodableText,
    decode_text_bytes,
    encoding_note,
    join_notes,
    length_note,
    named_note,
    without_control_characters,
)
from dmtl_studio.core.project.text_rows import follow_rows, row_keys, take_file_labels
from dmtl_studio.core.project.text_summary import TextImportSummary, how_table_was_read
from dmtl_studio.core.project.text_tables import Table, blank_rows, cell_text, read_table
from dmtl_studio.core.project.texts_table import TextItem, duplicate_groups
from dmtl_studio.core.project.validation import case_variants, class_name_problem, normal_class_name

ProgressCallback = Callable[[int, int, str], None]

#: Texts committed at once from files and from table rows (each commit waits for the disk; rows are cheap).
FILE_BATCH = 200
ROW_BATCH = 5000
#: Characters of a bad row kept as its body, so the browser can show what was there.
RAW_ROW_CHARS = 2000


def scan_text_folder(root: str | os.PathLike[str]) -> FolderScan:
    """Every ``.txt`` file below ``root`` in natural order, and the other files (skipped), walked as images are
    (:func:`~dmtl_studio.core.project.folder_scan.walk_files`: hidden files left out, links and loops handled)."""
    found: list[Path] = []
    skipped: list[Path] = []
    projects: list[Path] = []
    for entry in walk_files(root, projects):
        try:
            if is_text_file_name(entry.name):
                found.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=True):
                skipped.append(Path(entry.path))
        except OSError:
            continue
    found.sort(key=natural_key)
    skipped.sort(key=natural_key)
    return FolderScan(found, skipped, sorted(projects, key=natural_key))


def read_text_file(path: Path, encoding: str | None = None) -> tuple[str, str | None, str | None]:
    """``(body, problem, note)`` of one ``.txt`` file: the problem says why it cannot be used (unreadable, too
    large, undecodable, empty), the note how it was read (UTF-16, ``encoding``, longer than the model reads).
    ``encoding`` is used for a file without a byte-order mark instead of UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            problem = f"too large: {size / 2**20:,.1f} MB (a text may have {MAX_TEXT_BYTES // 2**20} MB)"
            return "", problem, None
        data = path.read_bytes()
    except OSError as exc:
        return "", f"cannot be read: {exc.strerror or exc}", None
    try:
        body, read_as = decode_text_bytes(data, encoding)
    except UndecodableText as exc:
        return "", str(exc), None
    return _checked(body, encoding_note(read_as))


def _checked(body: str, note: str | None) -> tuple[str, str | None, str | None]:
    body, removed = without_control_characters(body)
    if not body.strip():
        return body, "empty text", None
    return body, None, join_notes(note, removed, length_note(body))


def import_texts(
    store: ProjectStore,
    source: str | os.PathLike[str],
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] = never_stop,
    batch_size: int | None = None,
    labels_from_file: bool = False,
    split_folders: bool = True,
    header: bool = True,
) -> TextImportSummary:
    """Import ``source`` into the text project ``store``: a folder of ``.txt`` files, one ``.txt`` file (one
    text, unlabelled), or a CSV / TSV / JSON Lines file (``text_column`` is then required; see
    :func:`~dmtl_studio.core.project.text_tables.text_columns_guess`).

    A project whose kind was never chosen becomes a text project (see
    :func:`~dmtl_studio.core.project.project_kind.adopt_kind`). Work is committed in batches of ``batch_size``
    texts (default :data:`FILE_BATCH` for files, :data:`ROW_BATCH` for rows), so a cancelled import keeps what it
    has read; new labelled texts then get a stratified split. A table imported again updates its texts' items
    wherever their rows moved (:mod:`~dmtl_studio.core.project.text_rows`); a text labelled differently in the
    file keeps the project's label, unless ``labels_from_file``. ``encoding`` (a codec name, see
    :func:`~dmtl_studio.core.project.text_decoding.checked_encoding`) reads files without a byte-order mark.
    ``split_folders`` false reads every top folder of a folder of texts as a class, even one named like a split.
    ``header`` false reads a CSV/TSV file's first line as a row (its columns: ``column 1``, ``column 2``…).

    Raises
    ------
    ProjectError
        ``source`` does not exist or is no text source; the project holds images; a table cannot be read as a
        whole or lacks a named column; a folder's split folders are mixed with class folders.
    """
    path = Path(source)
    store.require_writable()  # before reading every text
    check_fractions(
        val_fraction, test_fraction, SplitSettings.of_project(store)
    )  # before anything is written
    options = {"val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed}
    if path.is_dir():
        return _import_folder(
            store, path, options, progress, should_stop, batch_size or FILE_BATCH, encoding, split_folders
        )
    if not path.is_file():
        raise ProjectError(f"{path} does not exist")
    if is_text_file_name(path):
        body, problem, note = read_text_file(path, encoding)
        items = [TextItem(str(path.absolute()), body, None, problem, note)]
        return _write(store, path, items, {}, 1, 0, options, progress, should_stop, FILE_BATCH)
    if not is_table_file(path):
        raise ProjectError(
            f"{path.name}: texts are imported from a folder of .txt files, a .txt file, or a CSV, TSV or JSON "
            "Lines file (.csv, .tsv, .jsonl)"
        )
    if not text_column:
        raise ProjectError(f"{path.name}: name the column that holds the text (--text-column)")
    try:
        table = read_table(path, delimiter=delimiter, encoding=encoding, header=header)
    except ProjectError as exc:  # the file is refused whole
        raise ProjectError(f"{exc}; nothing was imported from it") from None
    if not table.rows:
        raise ProjectError(
            f"{path.name} has no rows below its header{named_note(encoding)}; nothing was imported from it"
        )
    items, splits = table_items(table, text_column, label_column, split_column, id_column)
    before = store.class_names()
    match = follow_rows(store, str(path.absolute()), items, table.rows, id_column)
    batch = batch_size or ROW_BATCH
    summary = _write(
        store, path, items, splits, len(items), 0, options, progress, should_stop, batch, table=table
    )
    relabelled = take_file_labels(store, match) if labels_from_file else 0
    if relabelled:  # the file's labels may have made classes too
        created = sorted(name for name in store.class_names() if name not in before)
        summary = dataclasses.replace(summary, case_variants=tuple(case_variants(before, created)))
    return dataclasses.replace(
        summary,
        **match.summary_fields(),
        split_leaks=tuple(split_leaks(store)) if splits else (),
        relabelled=relabelled,
        blank_rows=blank_rows(table),
    )


def table_items(
    table: Table,
    text_column: str,
    label_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
) -> tuple[list[TextItem], dict[str, str]]:
    """The texts of ``table`` (one per data row, bad rows as problem items) and ``{source key: split}`` for
    the labelled rows whose split column names a split. Rows are keyed ``<file>#<row>``, or by their
    ``id_column`` (:func:`~dmtl_studio.core.project.text_rows.row_keys`; a row without a usable id is a problem).

    Raises
    ------
    ProjectError
        When a named column is not in the table (the message lists its columns).
    """
    check_columns(table.path.name, table.columns, text_column, label_column, split_column, id_column)
    base = str(table.path.absolute())
    items: list[TextItem] = []
    splits: dict[str, str] = {}
    keys = row_keys(base, table.rows, id_column) if id_column else {}
    for row in table.rows:
        key, id_problem = keys.get(row.number, (f"{base}#{row.number}", None))
        if row.problem is not None:
            items.append(TextItem(key, row.raw[:RAW_ROW_CHARS], None, row.problem))
            continue
        try:
            body = cell_text(row.values.get(text_column))
        except ValueError as exc:
            items.append(TextItem(key, "", None, f"column '{text_column}' {exc}"))
            continue
        if body is None:
            items.append(TextItem(key, "", None, f"no value in column '{text_column}'"))
            continue
        if len(body.encode("utf-8")) > MAX_TEXT_BYTES:
            items.append(
                TextItem(
                    key,
                    body[:RAW_ROW_CHARS],
                    None,
                    f"too large: a text may have {MAX_TEXT_BYTES // 2**20} MB",
                )
            )
            continue
        body, problem, note = _checked(body, row.note)
        problem = id_problem or problem
        label, label_note = _label(row.values.get(label_column) if label_column else None)
        split, split_note = _split(row.values.get(split_column) if split_column else None)
        if problem is None and label is not None and split is not None:
            splits[key] = split
        items.append(
            TextItem(
                key,
                body,
                label if problem is None else None,
                problem,
                join_notes(note, label_note, split_note),
            )
        )
    return items, splits


def _label(value: object) -> tuple[str | None, str | None]:
    try:
        label = normal_class_name(cell_text(value) or "")
    except ValueError as exc:
        return None, f"label {exc}; left unlabelled"
    if not label:
        return None, None
    why = class_name_problem(label)
    return (None, f"label left out: {why}") if why else (label, None)


def _split(value: object) -> tuple[str | None, str | None]:
    try:
        name = (cell_text(value) or "").strip()
    except ValueError:
        name = "?"
    if not name:
        return None, None
    split = SPLIT_FOLDER_NAMES.get(name.casefold())
    return (
        (split, None)
        if split
        else (None, f"split '{name[:40]}' is not train, val or test; split automatically")
    )


def _import_folder(
    store: ProjectStore,
    root: Path,
    options: dict[str, float | int | None],
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool],
    batch_size: int,
    encoding: str | None,
    split_folders: bool = True,
) -> TextImportSummary:
    scan = scan_text_folder(root)
    if not scan.files:
        extra = f"; {len(scan.skipped)} other file(s) are not .txt files" if scan.skipped else ""
        raise ProjectError(f"{root} holds no .txt files (sub-folders included){extra}")
    by_folder = split_layout(root, scan.files) if split_folders else {}

    def items() -> Iterable[TextItem]:
        for path in scan.files:
            parts = path.relative_to(root).parts
            if len(parts) > 1 and parts[0] in by_folder:
                parts = parts[1:]  # split/class/...: the class is one level down
            label = normal_class_name(parts[0]) if len(parts) > 1 else None
            why = class_name_problem(label) if label is not None else None
            if why is not None:
                yield TextItem(str(path.absolute()), "", None, f"its folder cannot be a class: {why}")
                continue
            body, problem, note = read_text_file(path, encoding)
            yield TextItem(str(path.absolute()), body, label if problem is None else None, problem, note)

    splits = {}
    for path in scan.files:
        parts = path.relative_to(root).parts
        if len(parts) > 2 and parts[0] in by_folder:
            splits[str(path.absolute())] = by_folder[parts[0]]
    return _write(
        store,
        root,
        items(),
        splits,
        len(scan.files),
        len(scan.skipped),
        options,
        progress,
        should_stop,
        batch_size,
        split_folders=tuple(sorted(by_folder.items())),
    )


def _write(
    store: ProjectStore,
    source: Path,
    items: Iterable[TextItem],
    splits: dict[str, str],
    total: int,
    skipped: int,
    options: dict[str, float | int | None],
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool],
    batch_size: int,
    table: Table | None = None,
    split_folders: tuple[tuple[str, str], ...] = (),
) -> TextImportSummary:
    adopt_kind(store, "text")
    existing = store.class_names()
    added = 0
    cancelled = False
    read: list[TextItem] = []
    pending: list[TextItem] = []
    marks = TextMarks(store)  # decisions taken by hand, which no import undoes (h35)
    for done, item in enumerate(items, start=1):
        if should_stop():
            cancelled = True
            break
        if (item := marks.apply(item)) is None:  # type: ignore[assignment]
            continue
        pending.append(item)
        if len(pending) >= batch_size:
            added += store.add_texts(pending)
            read += pending
            pending = []
        if progress is not None:
            progress(done, total, item.source)
    if pending:
        added += store.add_texts(pending)
        read += pending
    records = store.images(usable_only=True)  # the one read of the project's items after the write
    # Only labelled texts take a split from their folder or column, as images do; the rest is split below.
    records, resplit = apply_given_splits(store, records, splits) if splits else (records, 0)
    split = assign_splits(store, records=records, **options)  # type: ignore[arg-type]
    remember_source(store, source)  # a folder, to import again (a table asks for its columns again)
    summary = TextImportSummary.of(
        source=str(source),
        items=read,
        added=added,
        total=total,
        skipped=skipped,
        cancelled=cancelled,
        duplicates=duplicate_groups(records, read),
        how_read=how_table_was_read(table),
        split_folders=split_folders,
        split=split,
        conflicts=tuple(label_conflicts(store)),
        existing_classes=existing,
        created_classes=[name for name in store.class_names() if name not in existing],
        labelled_keys={record.path for record in records if record.label is not None},
        left_removed=tuple(marks.left),
    )
    return dataclasses.replace(summary, resplit=resplit)
