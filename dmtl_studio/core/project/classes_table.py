"""The classes table of a project store: names, order, colours, renaming, merging and deleting classes."""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.validation import case_variants, clean_class_name

#: The meta key of the renames and merges made so far: a JSON list of ``[old, new, seconds since the epoch]`` (a
#: class merged into another is logged as renamed to it).
RENAMES_KEY = "class_renames"


class ClassesTable:
    """The class methods of :class:`~dmtl_studio.core.project.store.ProjectStore`, which provides the connection
    and the transactions."""

    _conn: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def class_names(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT name FROM classes ORDER BY position, id")]

    def add_class(self, name: str) -> int:
        name = checked_class_name(name)
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM classes WHERE name = ?", (name,)).fetchone():
                _refuse_variant(conn, name)
            return ensure_class(conn, name)

    def class_colors(self) -> dict[str, str]:
        """``{class: "#rrggbb"}``; classes without a chosen colour get one from a fixed palette."""
        rows = self._conn.execute(
            "SELECT name, color, position FROM classes ORDER BY position, id"
        ).fetchall()
        return {name: color or PALETTE[i % len(PALETTE)] for i, (name, color, _) in enumerate(rows)}

    def set_class_color(self, name: str, color: str) -> None:
        with self.transaction() as conn:
            if conn.execute("UPDATE classes SET color = ? WHERE name = ?", (color, name)).rowcount == 0:
                raise ProjectError(f"there is no class '{name}'")

    def rename_class(self, old: str, new: str) -> None:
        new = checked_class_name(new)
        with self.transaction() as conn:
            if new != old and conn.execute("SELECT 1 FROM classes WHERE name = ?", (new,)).fetchone():
                raise ProjectError(f"a class named '{new}' already exists: merge the two classes instead")
            _refuse_variant(conn, new, but=old)
            if conn.execute("UPDATE classes SET name = ? WHERE name = ?", (new, old)).rowcount == 0:
                raise ProjectError(f"there is no class '{old}'")
            if new != old:  # the runs trained before know the class by its old name
                _log_rename(conn, old, new)

    def class_names_now(self, names: Sequence[str], since: float) -> list[str]:
        """The names the classes a run made at ``since`` (seconds since the epoch) knew as ``names`` have now: each
        rename or merge made after it, in order (a run's model keeps the names it was trained with). Classes
        merged since have the same name: the list may hold a name twice."""
        current = list(names)
        for old, new, at in json.loads(self.get_meta(RENAMES_KEY) or "[]"):  # type: ignore[attr-defined]
            if at > since:
                current = [new if name == old else name for name in current]
        return current

    def merge_classes(self, sources: Sequence[str], target: str) -> int:
        """Move every image of ``sources`` into ``target`` (created if needed) and delete ``sources``.

        Returns the number of images moved.
        """
        target = checked_class_name(target)
        with self.transaction() as conn:
            target_id = ensure_class(conn, target)
            moved = 0
            for name in sources:
                if name == target:
                    continue
                row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
                if row is None:
                    raise ProjectError(f"there is no class '{name}'")
                moved += conn.execute(
                    "UPDATE images SET class_id = ? WHERE class_id = ?", (target_id, row[0])
                ).rowcount
                conn.execute("DELETE FROM classes WHERE id = ?", (row[0],))
                _log_rename(conn, name, target)  # the runs trained before know the merged class by its name
            return moved

    def normalize_class_names(self) -> list[str]:
        """Store in NFC form the class names an older version kept decomposed (NFD), so that a label of the same
        name, now stored NFC, joins its class rather than making a second one.

        A name whose NFC form no other class has is renamed; one whose NFC form is another class is merged into
        it (as ``dmtl-studio labels rename`` merges: every item moves, each in one transaction). A class that
        cannot be renamed or merged is left as it was.

        Returns
        -------
        list[str]
            One line per class changed or left as it was (empty when every name was already NFC).
        """
        lines = []
        for name in self.class_names():
            standard = unicodedata.normalize("NFC", name)
            if standard == name:
                continue
            try:
                if standard in self.class_names():
                    moved = self.merge_classes([name], standard)
                    lines.append(
                        f"class '{standard}' was stored twice, in two Unicode forms of the same name: merged "
                        f"into one ({moved} item(s) moved)"
                    )
                else:
                    self.rename_class(name, standard)
                    lines.append(f"class '{standard}': its name is now stored in the standard Unicode form")
            except ProjectError as exc:
                lines.append(
                    f"class '{name}' is stored in another Unicode form than new labels of that name and was left "
                    f"as it was ({exc}); rename it: dmtl-studio labels rename PROJECT OLD NEW"
                )
        return lines

    def delete_class(self, name: str) -> int:
        """Delete a class; its images become unlabelled (never deleted). Returns how many were unlabelled."""
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ProjectError(f"there is no class '{name}'")
            count = conn.execute("UPDATE images SET class_id = NULL WHERE class_id = ?", (row[0],)).rowcount
            conn.execute("DELETE FROM classes WHERE id = ?", (row[0],))
            return count


#: Distinct colours for classes (colour-blind friendly first), reused in order.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#7f7f7f",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#9467bd",
)


def checked_class_name(name: str) -> str:
    try:
        return clean_class_name(name)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None


def ensure_class(conn: sqlite3.Connection, name: str) -> int:
    """The id of class ``name``, created if needed. Every door that creates a class comes through here, so a
    name that could not be a folder name (see :func:`clean_class_name`) never enters a project."""
    row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
    if row:
        return int(row[0])
    name = checked_class_name(name)
    row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
    if row:
        return int(row[0])
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM classes").fetchone()[0]
    return int(conn.execute("INSERT INTO classes(name, position) VALUES (?, ?)", (name, position)).lastrowid)


def _log_rename(conn: sqlite3.Connection, old: str, new: str) -> None:
    """Add ``[old, new, now]`` to the project's log of renames and merges (``RENAMES_KEY``)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (RENAMES_KEY,)).fetchone()
    renames = [*json.loads(row[0] if row else "[]"), [old, new, time.time()]]
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (RENAMES_KEY, json.dumps(renames)))


def _refuse_variant(conn: sqlite3.Connection, name: str, but: str | None = None) -> None:
    """Refuse a new class name that differs from another class's only in case, or spells the same number
    (:func:`~dmtl_studio.core.project.validation.case_variants`): the two would share one folder when labels are
    exported as class folders on Windows and macOS. ``but``: the class being renamed, which may change its case."""
    others = [row[0] for row in conn.execute("SELECT name FROM classes") if row[0] not in (name, but)]
    for _new, other in case_variants(others, [name]):
        raise ProjectError(
            f"'{name}' differs from the class '{other}' only in case or in how a number is written: the two "
            "would share one folder when labels are exported as class folders on Windows and macOS; merge them "
            "instead, or choose another name"
        )
