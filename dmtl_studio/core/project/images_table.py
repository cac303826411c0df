"""The images table of a project store: adding images, their labels, splits, problems and notes, and the
counts the browser and the training panel show."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple

from dmtl_studio.core.base.missing_files import missing_files
from dmtl_studio.core.project.classes_table import ensure_class
from dmtl_studio.core.project.errors import ProjectError

SPLITS = ("train", "val", "test")
#: The problem of an image whose file is gone from disk since its import (:meth:`ImagesTable.mark_missing_files`).
MISSING_REASON = "missing on disk (moved or deleted after the import); re-import its folder once it is back"


@dataclass(frozen=True)
class ImageRecord:
    id: int
    path: str
    sha256: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    problem: str | None
    label: str | None
    split: str | None
    #: What had to be done to show the file (rescaled values, the page used of several), or None.
    note: str | None = None
    #: The file's modification time (ns) when its content was hashed (None: not recorded).
    mtime_ns: int | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None


class ImagesTable:
    """The image methods of :class:`~dmtl_studio.core.project.store.ProjectStore`, which provides the connection
    and the transactions."""

    _conn: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    class_names: Callable[[], list[str]]

    def add_images(self, rows: Iterable[tuple[str, str | None, object, str | None]]) -> int:
        """Add images in one transaction.

        ``rows`` holds ``(path, class_name or None, ImageInfo or None, problem or None)``. Paths already in
        the project keep their labels (a re-import never loses a label). Returns the number of new images.
        """
        added = 0
        now = time.time()
        class_ids: dict[str, int] = {}  # one look-up per class, not per image
        with self.transaction() as conn:
            for path, class_name, info, problem in rows:
                if class_name and class_name not in class_ids:
                    class_ids[class_name] = ensure_class(conn, class_name)
                class_id = class_ids[class_name] if class_name else None
                key = os.fsencode(path)
                existing = conn.execute("SELECT id, class_id FROM images WHERE path = ?", (key,)).fetchone()
                values = (
                    getattr(info, "sha256", None),
                    getattr(info, "size_bytes", None),
                    getattr(info, "width", None),
                    getattr(info, "height", None),
                    problem,
                    getattr(info, "note", None),
                    getattr(info, "mtime_ns", None),
                )
                if existing:
                    conn.execute(
                        "UPDATE images SET sha256=?, size_bytes=?, width=?, height=?, problem=?, note=?,"
                        " mtime_ns=?, class_id=COALESCE(class_id, ?) WHERE id=?",
                        (*values, class_id, existing[0]),
                    )
                else:
                    conn.execute(
                        "INSERT INTO images(path, sha256, size_bytes, width, height, problem, note, mtime_ns,"
                        " class_id, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, *values, class_id, now),
                    )
                    added += 1
        return added

    def move_images(self, moves: Iterable[tuple[str, str, str | None]]) -> int:
        """Give images found at a new place their new path, ``(old path, new path, class or None)`` each, in one
        transaction: splits and notes stay with them, and labels too unless a class is given (the file was moved
        into another class's folder: that class is its label now); the "missing" problem of a gone file is
        cleared. Returns how many images moved."""
        moved = 0
        with self.transaction() as conn:
            for old, new, class_name in moves:
                class_id = ensure_class(conn, class_name) if class_name else None
                moved += conn.execute(
                    "UPDATE images SET path = ?, problem = CASE WHEN problem = ? THEN NULL ELSE problem END, "
                    "class_id = COALESCE(?, class_id) WHERE path = ?",
                    (os.fsencode(new), MISSING_REASON, class_id, os.fsencode(old)),
                ).rowcount
        return moved

    def mark_problems(self, problems: Iterable[tuple[str, str]]) -> int:
        """Record ``(path, reason)`` for images that can no longer be used (moved, deleted, changed), in one
        transaction. Labels and splits stay: re-importing the folder after the file is back makes it usable again.
        Returns how many images were marked."""
        marked = 0
        with self.transaction() as conn:
            for path, reason in problems:
                marked += conn.execute(
                    "UPDATE images SET problem=? WHERE path=?", (reason, os.fsencode(path))
                ).rowcount
        return marked

    def mark_missing_files(self, below: str | os.PathLike[str] | None = None) -> list[str]:
        """Mark the usable images whose file is gone from disk (moved, renamed, deleted) as problems
        (:data:`MISSING_REASON`), those below the folder ``below`` only when given; returns their paths.

        Folders get reorganised: a file that has gone must not end a run or an export with an error. Its label
        stays, and re-importing the folder where it now lives makes it usable again. A text project's items live
        in the project (their keys name where they came from): none is ever missing."""
        if self.kind == "text":  # type: ignore[attr-defined]
            return []
        prefix = os.path.join(os.path.abspath(below), "") if below is not None else ""
        usable = self.images(usable_only=True)  # type: ignore[attr-defined]
        missing = list(missing_files(im.path for im in usable if im.path.startswith(prefix)).paths)
        if missing:
            self.mark_problems((path, MISSING_REASON) for path in missing)
        return missing

    def update_file_records(self, rows: Iterable[tuple[int, object]]) -> None:
        """Record what a file holds now, ``(image id, ImageInfo)``, in one transaction: its content hash, size,
        dimensions, note and modification time (labels and splits stay)."""
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE images SET sha256=?, size_bytes=?, width=?, height=?, note=?, mtime_ns=? WHERE id=?",
                [
                    (
                        info.sha256,
                        info.size_bytes,
                        info.width,
                        info.height,
                        info.note,
                        info.mtime_ns,
                        image_id,
                    )
                    for image_id, info in rows
                ],
            )

    def labels_of(self, image_ids: Sequence[int]) -> dict[int, str | None]:
        result: dict[int, str | None] = {}
        for start in range(0, len(image_ids), 500):
            chunk = list(image_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT images.id, classes.name FROM images LEFT JOIN classes ON classes.id = images.class_id"
                f" WHERE images.id IN ({marks})",
                chunk,
            )
            result.update(dict(rows.fetchall()))
        return result

    def set_labels(self, labels: dict[int, str | None]) -> None:
        """Give each image its own class (``None`` unlabels), all in one transaction."""
        with self.transaction() as conn:
            ids = {name: ensure_class(conn, name) for name in set(labels.values()) if name}
            conn.executemany(
                "UPDATE images SET class_id = ? WHERE id = ?",
                [(ids[name] if name else None, image_id) for image_id, name in labels.items()],
            )

    def images_by_id(self, image_ids: Sequence[int]) -> list[ImageRecord]:
        records: list[ImageRecord] = []
        for start in range(0, len(image_ids), 500):
            chunk = list(image_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            records += self._select(f" WHERE images.id IN ({marks})", chunk)
        return records

    def _select(
        self, where: str = "", parameters: Sequence[object] = (), limit: int | None = None
    ) -> list[ImageRecord]:
        query = (
            "SELECT images.id, path, sha256, size_bytes, width, height, problem, classes.name, split, note,"
            " mtime_ns FROM images LEFT JOIN classes ON classes.id = images.class_id"
            + where
            + " ORDER BY images.id"
            + (" LIMIT ?" if limit is not None else "")
        )
        rows = self._conn.execute(query, [*parameters, *([limit] if limit is not None else [])]).fetchall()
        return [ImageRecord(row[0], os.fsdecode(row[1]), *row[2:]) for row in rows]

    def images(self, usable_only: bool = False, limit: int | None = None) -> list[ImageRecord]:
        """The project's items in id order (``usable_only``: without problem files; ``limit``: the first ones)."""
        return self._select(" WHERE problem IS NULL" if usable_only else "", limit=limit)

    def images_under(self, prefix: str) -> list[ImageRecord]:
        """The records whose path (a text's source key) starts with ``prefix``: one table's rows, read without
        reading the rest of the project."""
        key = os.fsencode(prefix)
        return self._select(" WHERE substr(images.path, 1, ?) = ?", (len(key), key))

    def split_rows(self) -> list[SplitRow]:
        """``(id, label, split, sha256)`` of the usable labelled items, in id order: what a split assignment
        needs, read without building whole records (a label key on a 24,000-image project read every record,
        paths decoded, in about 160 ms)."""
        rows = self._conn.execute(
            "SELECT images.id, classes.name, images.split, images.sha256 FROM images "
            "JOIN classes ON classes.id = images.class_id WHERE images.problem IS NULL ORDER BY images.id"
        )
        return [SplitRow(*row) for row in rows]

    def gone_placements(self) -> dict[str, str]:
        """``{content hash: split}`` of the items gone from disk (:data:`MISSING_REASON`) that had a split: where a
        renamed or moved file's content was, read without reading every record."""
        rows = self._conn.execute(
            "SELECT sha256, split FROM images WHERE problem = ? AND split IS NOT NULL AND sha256 IS NOT NULL",
            (MISSING_REASON,),
        )
        return {sha: split for sha, split in rows}

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` of this connection: it changes when *another* connection (a command,
        another window, a worker thread) commits a change, never for this one's own."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def item_states(self) -> dict[int, tuple[str | None, str | None, bool]]:
        """``{id: (label, split, has a problem)}`` of every item: what a browser of the items shows of each, to
        compare with what it shows (20,000 items in about 20 ms)."""
        rows = self._conn.execute(
            "SELECT images.id, classes.name, images.split, images.problem IS NOT NULL FROM images "
            "LEFT JOIN classes ON classes.id = images.class_id"
        )
        return {image_id: (label, split, bool(problem)) for image_id, label, split, problem in rows}

    def image_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def notes(self) -> list[tuple[str, str]]:
        """``(path, note)`` of every usable image whose decoding needed a note, by path."""
        rows = self._conn.execute(
            "SELECT path, note FROM images WHERE note IS NOT NULL AND problem IS NULL ORDER BY path"
        )
        return [(os.fsdecode(path), note) for path, note in rows]

    def problems(self) -> list[tuple[str, str]]:
        rows = self._conn.execute("SELECT path, problem FROM images WHERE problem IS NOT NULL ORDER BY path")
        return [(os.fsdecode(path), problem) for path, problem in rows]

    def set_label(self, image_ids: Sequence[int], class_name: str | None) -> None:
        """Give images a class (``None`` removes the label), in one transaction."""
        with self.transaction() as conn:
            class_id = ensure_class(conn, class_name) if class_name else None
            conn.executemany(
                "UPDATE images SET class_id = ? WHERE id = ?", [(class_id, i) for i in image_ids]
            )

    def set_splits(self, assignment: dict[int, str]) -> None:
        for split in set(assignment.values()):
            if split not in SPLITS:
                raise ProjectError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE images SET split = ? WHERE id = ?", [(s, i) for i, s in assignment.items()]
            )

    def split_counts(self) -> dict[str, int]:
        """Usable labelled images per split (``"none"`` for those without one)."""
        rows = self._conn.execute(
            "SELECT COALESCE(split, 'none'), COUNT(*) FROM images"
            " WHERE problem IS NULL AND class_id IS NOT NULL GROUP BY 1"
        )
        return dict(rows.fetchall())

    def class_counts(self) -> dict[str, dict[str, int]]:
        """``{class: {"total": n, "train": n, "val": n, "test": n}}`` over usable images, with every class."""
        counts = {name: {"total": 0, "train": 0, "val": 0, "test": 0} for name in self.class_names()}
        rows = self._conn.execute(
            "SELECT classes.name, images.split, COUNT(*) FROM images JOIN classes ON classes.id = images.class_id"
            " WHERE images.problem IS NULL GROUP BY classes.name, images.split"
        )
        for name, split, count in rows:
            counts[name]["total"] += count
            if split:
                counts[name][split] += count
        return counts

    def label_conflict_rows(self) -> list[tuple[str, int, str, str]]:
        """``(sha256, image id, path, label)`` of usable labelled images whose identical content (same sha256)
        carries more than one label, by image id. One query, so the browser can ask after every label action."""
        rows = self._conn.execute(
            "SELECT images.sha256, images.id, images.path, classes.name FROM images"
            " JOIN classes ON classes.id = images.class_id WHERE images.problem IS NULL AND images.sha256 IN"
            " (SELECT sha256 FROM images WHERE problem IS NULL AND class_id IS NOT NULL AND sha256 IS NOT NULL"
            "  GROUP BY sha256 HAVING COUNT(DISTINCT class_id) > 1)"
            " ORDER BY images.id"
        )
        return [(sha, image_id, os.fsdecode(path), label) for sha, image_id, path, label in rows]

    def split_leak_rows(self) -> list[tuple[str, str]]:
        """``(sha256, path)`` of usable labelled items whose identical content lies in two or more splits, by id."""
        rows = self._conn.execute(
            "SELECT sha256, path FROM images WHERE problem IS NULL AND class_id IS NOT NULL AND sha256 IN"
            " (SELECT sha256 FROM images WHERE problem IS NULL AND class_id IS NOT NULL AND sha256 IS NOT NULL"
            "  AND split IS NOT NULL GROUP BY sha256 HAVING COUNT(DISTINCT split) > 1)"
            " ORDER BY id"
        )
        return [(sha, os.fsdecode(path)) for sha, path in rows]

    def unlabelled_count(self, pool: bool = False) -> int:
        """Usable items without a label; with ``pool``, only those a run learns from (:meth:`unlabelled_pool`)."""
        return self._conn.execute(
            "SELECT COUNT(*) FROM images WHERE class_id IS NULL AND problem IS NULL" + (_POOL if pool else "")
        ).fetchone()[0]

    def unlabelled_pool(self) -> list[str]:
        """The paths, in id order, of the usable unlabelled items a run learns from: none in the validation or
        test split, and no copy (same content hash) of a usable item there
        (:func:`~dmtl_studio.core.training.labelled.unlabelled_paths` says why)."""
        rows = self._conn.execute(
            "SELECT path FROM images WHERE class_id IS NULL AND problem IS NULL" + _POOL + " ORDER BY id"
        )
        return [os.fsdecode(path) for (path,) in rows]


#: The condition an unlabelled item meets to be learnt from (:meth:`ImagesTable.unlabelled_pool`).
_POOL = (
    " AND (split IS NULL OR split NOT IN ('val', 'test')) AND (sha256 IS NULL OR sha256 NOT IN"
    " (SELECT sha256 FROM images WHERE problem IS NULL AND split IN ('val', 'test') AND sha256 IS NOT NULL))"
)


class SplitRow(NamedTuple):
    """A usable labelled item as a split assignment sees it (:meth:`ImagesTable.split_rows`)."""

    id: int
    label: str
    split: str | None
    sha256: str | None


def missing_files_notice(missing: list[str]) -> str:
    """One sentence on the images :meth:`ImagesTable.mark_missing_files` found gone (``missing``, not empty)."""
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return (
        f"{len(missing)} image(s) are no longer on disk and were left out ({missing[0]}{more}); they are listed "
        "among the problem files. If they were moved, import their new folder."
    )
