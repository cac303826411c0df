"""The project's kind ("images" or "text") and the bodies of a text project's items.

A text item is a row of the ``images`` table (so labels, splits, undo, duplicate grouping and CSV export work on
it unchanged) whose ``path`` is a source key: the ``.txt`` file's path, or ``<file>#<row>`` for one row of a
tabular file. Its ``sha256`` is the hash of the normalised text (:func:`text_sha256`), ``size_bytes`` the body's
UTF-8 length, and width/height are NULL. The body itself lives in the ``texts`` table (schema version 3).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmtl_studio.core.base.search_fold import search_fold
from dmtl_studio.core.project.classes_table import ensure_class
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.folder_scan import natural_key

if TYPE_CHECKING:
    from dmtl_studio.core.project.images_table import ImageRecord

#: The kinds of project. A project's kind is chosen when it is created and never changes once it has items.
PROJECT_KINDS = ("images", "text")


def normalise_text(text: str) -> str:
    """The form two texts are compared in: Unicode NFC, whitespace runs collapsed to one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_sha256(text: str) -> str:
    """Hex SHA-256 of :func:`normalise_text` of ``text`` encoded as UTF-8: equal for texts that differ only in
    spacing or Unicode composition, so the duplicate grouping of images applies to texts unchanged."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TextItem:
    """One text to add: ``source`` is its key in the project (a file path, or ``<file>#<row>``)."""

    source: str
    body: str
    label: str | None = None
    #: Why the text cannot be used (empty, undecodable…), or None.
    problem: str | None = None
    #: What had to be done to read it (encoding fallback, truncation for the model…), or None.
    note: str | None = None


class TextsTable:
    """The text methods of :class:`~dmtl_studio.core.project.store.ProjectStore`, which provides the connection,
    the transactions and the meta table."""

    _conn: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    get_meta: Callable[..., str | None]

    @property
    def kind(self) -> str:
        """``"images"`` or ``"text"``; projects made before text projects existed are ``"images"``."""
        return self.get_meta("kind") or "images"

    def set_kind(self, kind: str) -> None:
        """Choose the project's kind.

        Raises
        ------
        ProjectError
            For an unknown kind, or when the project already holds items of the other kind.
        """
        if kind not in PROJECT_KINDS:
            raise ProjectError(f"unknown project kind {kind!r}; expected one of {', '.join(PROJECT_KINDS)}")
        if kind == self.kind:
            return
        with self.transaction() as conn:
            if conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]:
                raise ProjectError(
                    f"this project already holds {self.kind}; a project is of one kind. Create a new project "
                    f"for {kind}"
                )
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('kind', ?)", (kind,))

    def add_texts(self, items: Iterable[TextItem]) -> int:
        """Add texts in one transaction; returns how many are new.

        A source already in the project gets the new body, problem and note but keeps its label (a re-import
        never loses a label); a label from the file fills only a missing one.

        Raises
        ------
        ProjectError
            When the project is not a text project.
        """
        if self.kind != "text":
            raise ProjectError("texts can only be added to a text project; this one holds images")
        added = 0
        now = time.time()
        class_ids: dict[str, int] = {}
        with self.transaction() as conn:
            for item in items:
                key = os.fsencode(item.source)
                values = (text_sha256(item.body), len(item.body.encode("utf-8")), item.problem, item.note)
                existing = conn.execute("SELECT id, class_id FROM images WHERE path = ?", (key,)).fetchone()
                # A label the item will not take (it keeps the project's) makes no class: no empty class appears.
                if item.label and item.label not in class_ids and (existing is None or existing[1] is None):
                    class_ids[item.label] = ensure_class(conn, item.label)
                class_id = class_ids.get(item.label) if item.label else None
                if existing:
                    item_id = existing[0]
                    conn.execute(
                        "UPDATE images SET sha256=?, size_bytes=?, problem=?, note=?,"
                        " class_id=COALESCE(class_id, ?) WHERE id=?",
                        (*values, class_id, item_id),
                    )
                else:
                    item_id = conn.execute(
                        "INSERT INTO images(path, sha256, size_bytes, problem, note, class_id, added_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (key, *values, class_id, now),
                    ).lastrowid
                    added += 1
                conn.execute(
                    "INSERT OR REPLACE INTO texts(image_id, body) VALUES (?, ?)", (item_id, item.body)
                )
        return added

    def rename_sources(self, renames: dict[str, str]) -> None:
        """Give items new source keys (``{old key: new key}``) in one transaction; ids, labels, splits and
        bodies stay. Keys may trade places (a row that moved to the number another row left).

        Raises
        ------
        ProjectError
            When a new key is held by an item that is not renamed away.
        """
        if not renames:
            return
        with self.transaction() as conn:
            ids = {}
            for old in renames:
                row = conn.execute("SELECT id FROM images WHERE path = ?", (os.fsencode(old),)).fetchone()
                if row is not None:
                    ids[old] = row[0]
            for item_id in ids.values():  # out of the way first, so keys can trade places
                conn.execute(
                    "UPDATE images SET path = ? WHERE id = ?", (os.fsencode(f"\0{item_id}"), item_id)
                )
            for old, item_id in ids.items():
                new = os.fsencode(renames[old])
                if conn.execute("SELECT 1 FROM images WHERE path = ?", (new,)).fetchone():
                    raise ProjectError(f"cannot rename {old} to {renames[old]}: that key is taken")
                conn.execute("UPDATE images SET path = ? WHERE id = ?", (new, item_id))

    def text(self, item_id: int) -> str:
        """The body of one text item.

        Raises
        ------
        KeyError
            When ``item_id`` is not a text of this project.
        """
        row = self._conn.execute("SELECT body FROM texts WHERE image_id = ?", (item_id,)).fetchone()
        if row is None:
            raise KeyError(item_id)
        return row[0]

    def texts(self, item_ids: Sequence[int] | None = None) -> dict[int, str]:
        """``{item id: body}`` for ``item_ids`` (ids without a text are left out), or for every text."""
        if item_ids is None:
            return dict(self._conn.execute("SELECT image_id, body FROM texts ORDER BY image_id").fetchall())
        result: dict[int, str] = {}
        for start in range(0, len(item_ids), 500):
            chunk = list(item_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(f"SELECT image_id, body FROM texts WHERE image_id IN ({marks})", chunk)
            result.update(dict(rows.fetchall()))
        return result

    def search_texts(self, query: str) -> list[int]:
        """The ids of the texts that contain every word of ``query``, in id order.

        Words are compared without case and accents (Unicode case folding, so "STRASSE" finds "Straße", and
        "cafe" finds "Café"; :func:`~dmtl_studio.core.base.search_fold.search_fold`) as substrings of the body
        ("leak" finds "leaks"). The search runs in SQLite, without reading the bodies into Python
        objects for the caller. An empty query (or one of spaces) finds every text.
        """
        words = [search_fold(word) for word in query.split()]
        # The fold as a deterministic SQL function: SQLite's own lower() and LIKE fold ASCII letters only.
        self._conn.create_function("dmtl_casefold", 1, search_fold, deterministic=True)
        if not words:
            return [row[0] for row in self._conn.execute("SELECT image_id FROM texts ORDER BY image_id")]
        conditions = " AND ".join("instr(folded, ?) > 0" for _ in words)
        sql = (
            "SELECT image_id FROM (SELECT image_id, dmtl_casefold(body) AS folded FROM texts)"
            f" WHERE {conditions} ORDER BY image_id"
        )
        return [row[0] for row in self._conn.execute(sql, words)]


def duplicate_groups(records: Sequence[ImageRecord], read: Sequence[TextItem]) -> tuple[tuple[str, ...], ...]:
    """Groups of source keys of the usable ``records`` whose texts are equal (normalised), each holding a text
    of this import."""
    hashes = {text_sha256(item.body) for item in read if item.problem is None}
    groups: dict[str, list[str]] = {}
    for record in records:
        if record.sha256 in hashes:
            groups.setdefault(record.sha256, []).append(record.path)
    return tuple(tuple(sorted(paths, key=natural_key)) for paths in groups.values() if len(paths) > 1)
