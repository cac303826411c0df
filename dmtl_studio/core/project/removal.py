"""Removing items (images or texts) from a project, with a log that brings them back with their labels and splits.

The files on disk are never touched: a removed image is only forgotten by the project. Because a label is work
the user did, every removal first writes a CSV of what it removes (``removed/removed-<time>.csv`` in the project
folder: ``path,label,split,problem``, and ``text`` in a text project) and says how to bring the items back:
``labels import-csv`` of that file re-adds images whose files are there, with their labels and splits, and in a
text project the texts themselves, under their own keys (:mod:`~dmtl_studio.core.project.text_labels`). A log that
cannot be written stops the removal before anything is removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.base.csvfile import write_csv
from dmtl_studio.core.base.missing_files import missing_files
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.hand_marks import mark_removed
from dmtl_studio.core.project.images_table import MISSING_REASON, ImageRecord
from dmtl_studio.core.project.store import ProjectStore

#: The folder, inside the project folder, that holds the removal logs.
REMOVED_FOLDER = "removed"


@dataclass(frozen=True)
class RemovalSummary:
    """What :func:`remove_items` removed: ``removed`` items, ``labelled`` of them with a label, and ``log``: the CSV
    that lists them (``None`` when nothing was removed)."""

    removed: int
    labelled: int
    log: Path | None

    def restore_hint(self, kind: str, window: bool = False) -> str:
        """How to bring the removed items back, for a message (empty when nothing was removed); ``window``: in
        the window's words (its menus) rather than the command line's."""
        if self.log is None:
            return ""
        how = "Labels ▸ Import labels from CSV…" if window else "labels import-csv"
        if kind == "text":  # the log holds the texts: they come back under their own keys
            return f"to bring them back with their labels and splits, import the labels of {self.log} ({how})"
        return f"to bring them back with their labels and splits, import the labels of {self.log} ({how})"


def problem_ids(store: ProjectStore, missing_only: bool = False) -> list[int]:
    """Ids of the items with a problem (unreadable, empty, gone from disk…) and of the images whose file is gone now
    (looked at on disk, nothing marked); ``missing_only``: only the images whose file is gone. A text project's
    items live in the project: none is ever missing."""
    if store.kind == "text":
        return [] if missing_only else [r.id for r in store.images() if r.problem is not None]
    records = store.images()
    gone = set(missing_files(r.path for r in records).paths)
    return [r.id for r in records if (r.problem is not None and not missing_only) or r.path in gone]


def ids_at_paths(store: ProjectStore, paths: Sequence[str | os.PathLike[str]]) -> tuple[list[int], list[str]]:
    """``(ids, unknown)``: the items at ``paths`` — an image file, a folder (every item below it), or a text's
    source key (a table's name takes all its rows) — and the given paths that name none."""
    records = store.images()
    by_path = {record.path: record.id for record in records}
    ids: dict[int, None] = {}
    unknown = []
    for given in paths:
        text = os.fspath(given)
        candidates = [text, os.path.abspath(text), os.path.realpath(text)]
        found = [by_path[c] for c in candidates if c in by_path]
        if not found:
            prefixes = {os.path.join(c, "") for c in candidates} | {f"{c}#" for c in candidates}
            found = [r.id for r in records if any(r.path.startswith(p) for p in prefixes)]
        if found:
            ids.update(dict.fromkeys(found))
        else:
            unknown.append(text)
    return list(ids), unknown


def remove_items(store: ProjectStore, image_ids: Sequence[int]) -> RemovalSummary:
    """Remove the items ``image_ids`` from the project (their files stay on disk), after writing the log of what
    goes (see the module docstring). Unknown ids are ignored. One transaction: all of them go, or none.

    Raises
    ------
    ProjectError
        When the log cannot be written (nothing is removed then).
    """
    store.require_writable()
    records: list[ImageRecord] = store.images_by_id(list(dict.fromkeys(image_ids)))
    if not records:
        return RemovalSummary(0, 0, None)
    folder = Path(store.folder) / REMOVED_FOLDER
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log = folder / f"removed-{stamp}.csv"
    counter = 1
    while log.exists():
        counter += 1
        log = folder / f"removed-{stamp}-{counter}.csv"
    header = ["path", "label", "split", "problem"]
    text = store.kind == "text"
    # An image whose file has gone since it was last looked at (the shared look: one stat per gone folder).
    went = set() if text else set(missing_files(r.path for r in records if r.problem is None).paths)
    rows: list[list[object]] = [
        [r.path, r.label or "", r.split or "", r.problem or (MISSING_REASON if r.path in went else "")]
        for r in records
    ]
    if text:
        bodies = store.texts([r.id for r in records])
        header.append("text")
        for row, record in zip(rows, records, strict=True):
            row.append(bodies.get(record.id, ""))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(log, header, rows)
    except OSError as exc:  # a FileWriteError says which file and why
        raise ProjectError(
            f"nothing was removed: the list of the items to remove was not written ({exc})"
        ) from exc
    with store.transaction() as conn:
        conn.executemany("DELETE FROM images WHERE id = ?", [(r.id,) for r in records])
    # Removed while usable: an import leaves its files out; removed as a problem: they come back with their folder.
    usable = [r.problem is None and r.path not in went for r in records]
    mark_removed(
        store,
        [r.sha256 for r, kept in zip(records, usable, strict=True) if kept],
        str(log),
        [r.sha256 for r, kept in zip(records, usable, strict=True) if not kept],
    )
    return RemovalSummary(len(records), sum(r.label is not None for r in records), log)
