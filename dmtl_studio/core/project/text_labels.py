"""``labels import-csv`` in a text project: labels applied by source key, and removed texts brought back.

A label file names texts by their key in the project (``<file>#<row>``, or a ``.txt`` file's path). A row whose key
the project does not hold is reported, unless it carries the text itself (a ``text`` column: an export with its
texts, or the log a removal wrote, :mod:`~dmtl_studio.core.project.removal`): that text is added back under its own
key, with its label and its ``split``, so that importing the table it came from again finds it there instead of
adding it twice.
"""

from __future__ import annotations

import os
from pathlib import Path

from dmtl_studio.core.base.csvfile import CsvLimitError, read_csv
from dmtl_studio.core.project.delimited_rows import allow_long_fields
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.hand_marks import restored as lift_removal_marks
from dmtl_studio.core.project.label_files import (
    SPLIT_NAMES,
    LabelImportSummary,
    apply_labels,
    label_header_error,
)
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_decoding import MAX_TEXT_BYTES
from dmtl_studio.core.project.texts_table import TextItem, text_sha256
from dmtl_studio.core.project.validation import class_name_problem, normal_class_name


def _refuse_undecoded(name: str, line: int, row: list[str], encoding: str | None = None) -> None:
    """A text project's keys, labels and texts are text: a byte that is not UTF-8 (a file re-saved by Excel as
    "CSV (Comma delimited)" on Windows, in cp1252) would enter the project as a broken character."""
    for cell in row:
        bad = next((c for c in cell if "\udc80" <= c <= "\udcff"), None)
        if bad is not None:
            byte = f"{name}, line {line}: byte 0x{ord(bad) - 0xDC00:02x}"
            if encoding is not None:  # the encoding named cannot read it either
                raise ProjectError(
                    f"{byte} is no character in {encoding}, the encoding named; nothing was imported"
                )
            raise ProjectError(
                f"{byte} is not UTF-8 (a spreadsheet saved it in another encoding: in Excel, save as 'CSV UTF-8'; "
                "on the command line, name it: labels import-csv --encoding cp1252); nothing was imported from it"
            )


def label_rows(
    csv_path: Path, max_field: int, encoding: str | None = None
) -> list[tuple[int, str, str, str | None, str | None]]:
    """``(line, path, label, text, split)`` of a ``path,label`` file; ``text`` and ``split`` are ``None`` when it
    has no such column (or an empty cell).

    Raises
    ------
    ProjectError
        The file cannot be read, lacks the header, has a row of one field, or exceeds a limit.
    """
    try:
        rows = read_csv(csv_path, max_field=max_field, encoding=encoding)
        header = [h.strip().lower() for h in next(rows, (1, []))[1]]
        if header[:2] != ["path", "label"]:
            raise label_header_error(csv_path.name)
        at = {name: header.index(name) for name in ("text", "split") if name in header[2:]}
        result = []
        for line, row in rows:
            if not row:
                continue
            if len(row) < 2:
                raise ProjectError(f"{csv_path.name}, line {line}: expected 'path,label'")
            text, split = (
                (row[at[n]] or None) if n in at and len(row) > at[n] else None for n in ("text", "split")
            )
            _refuse_undecoded(csv_path.name, line, row, encoding)
            result.append((line, row[0], row[1], text, split))
        return result
    except CsvLimitError as exc:
        raise ProjectError(str(exc)) from None
    except OSError as exc:
        raise ProjectError(f"cannot read {csv_path}: {exc.strerror or exc}") from exc


def import_text_labels(
    store: ProjectStore, csv_path: Path, editor: LabelEditor, unlabel_empty: bool, encoding: str | None = None
) -> LabelImportSummary:
    """:func:`~dmtl_studio.core.project.interop.import_csv` for a text project (see the module docstring): the
    labels applied as one action of ``editor``; texts brought back are counted in ``added``."""
    allow_long_fields()  # the file may be an export with its text column
    base = csv_path.absolute().parent
    known = {image.path: image.id for image in store.images()}
    labels: dict[int, str | None] = {}
    problems: list[tuple[str, str]] = []
    not_found: list[str] = []
    back: list[TextItem] = []
    splits: dict[str, str] = {}
    duplicates = 0
    conflicting: list[tuple[str, str, str]] = []
    restored: dict[str, str | None] = {}  # key -> label of the texts brought back
    for line, key, cell, text, split in label_rows(csv_path, MAX_TEXT_BYTES, encoding):
        label = normal_class_name(cell) or None
        why = class_name_problem(label) if label else None
        if why is not None:
            problems.append((key, f"line {line}: {why}"))
            continue
        item_id = known.get(key)
        if item_id is None and not os.path.isabs(key):
            item_id = known.get(os.path.normpath(os.path.join(base, key)))
        if item_id is None and text is not None and text.strip():
            duplicates += key in restored
            if key in restored and restored[key] != label:
                conflicting.append((key, restored[key] or "", label or ""))
            if key not in restored:
                back.append(TextItem(key, text, None))  # labelled below, as one action with the others
            restored[key] = label
            given = SPLIT_NAMES.get((split or "").strip().lower())
            if label is not None and given is not None:
                splits[key] = given
            continue
        if item_id is None:
            not_found.append(key)
            continue
        duplicates += item_id in labels
        if item_id in labels and labels[item_id] != label:
            conflicting.append((key, labels[item_id] or "", label or ""))
        labels[item_id] = label
    if back:
        store.add_texts(back)
        # Back in the project: no import leaves them out any more.
        lift_removal_marks(store, [text_sha256(item.body) for item in back])
        ids = {record.path: record.id for record in store.images() if record.path in restored}
        labels.update({ids[key]: label for key, label in restored.items()})
        store.set_splits({ids[key]: split for key, split in splits.items()})
    counts = apply_labels(store, labels, editor, unlabel_empty, f"import labels from {csv_path.name}")
    return LabelImportSummary(
        unlabel_empty=unlabel_empty,
        added=len(back),
        problems=(*problems, *counts.pop("problems")),
        not_found=tuple(not_found),
        duplicates=duplicates,
        conflicting=tuple(conflicting),
        splits_given=len(splits),
        **counts,
    )
