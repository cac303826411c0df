"""The project store: one SQLite database (WAL) plus a ``runs/`` folder, in one project folder.

Images are referenced in place and never modified. Every change is one transaction. Paths are stored as
bytes (``os.fsencode``) so that any file name a file system allows, even one that is not valid UTF-8, is
kept losslessly.

A connection belongs to the thread that opened it: a worker thread opens its own :class:`ProjectStore`
on the same folder (cheap), which WAL lets run beside the GUI's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.base.fileio import FileWriteError, atomic_target, describe_os_error, is_disk_full
from dmtl_studio.core.project.validation import clean_class_name

DATABASE_NAME = "project.dmtl.sqlite"
RUNS_DIR = "runs"
SCHEMA_VERSION = 2
SPLITS = ("train", "val", "test")


class ProjectError(Exception):
    """A project that cannot be opened or changed; the message says why in plain words."""


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

    @property
    def usable(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    created_at: float
    status: str
    run_dir: str
    config: dict
    final_metrics: dict
    #: Whether the run folder holds a saved epoch to continue from (Continue is offered for such runs).
    resumable: bool = False


#: Statuses of a run that has ended without completing; one with a saved epoch can be continued.
CONTINUABLE = ("stopped", "failed", "interrupted")


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float


def _schema_v1(conn: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would commit the migration's transaction half-way.
    _run_statements(
        conn,
        """
        CREATE TABLE classes (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            color TEXT,
            position INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            sha256 TEXT,
            size_bytes INTEGER,
            width INTEGER,
            height INTEGER,
            problem TEXT,
            class_id INTEGER REFERENCES classes(id) ON DELETE SET NULL,
            split TEXT CHECK (split IN ('train', 'val', 'test')),
            added_at REAL NOT NULL
        );
        CREATE INDEX images_class ON images(class_id);
        CREATE INDEX images_sha ON images(sha256);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            created_at REAL NOT NULL,
            status TEXT NOT NULL,
            run_dir TEXT NOT NULL,
            config_json TEXT NOT NULL,
            final_metrics_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE epoch_metrics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_loss REAL NOT NULL,
            train_accuracy REAL NOT NULL,
            val_loss REAL,
            val_accuracy REAL,
            learning_rate REAL NOT NULL,
            PRIMARY KEY (run_id, epoch)
        );
        """,
    )


def _run_statements(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _schema_v2(conn: sqlite3.Connection) -> None:
    # A note on a usable image: what decoding had to do (rescaled values, which page of several is used).
    conn.execute("ALTER TABLE images ADD COLUMN note TEXT")


#: ``MIGRATIONS[n]`` brings a database from version ``n`` to ``n + 1``. Pure functions of the connection.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _schema_v1, 1: _schema_v2}


def is_project(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / DATABASE_NAME).is_file()


class ProjectBusyError(ProjectError):
    """Another process kept the project's database locked for longer than the product waits."""


class UnknownSchemaError(ProjectError):
    """The database holds triggers, views, tables or indexes the product did not create; ``objects`` names
    them as ``(type, name)``. The project is refused untouched unless they are dropped with consent."""

    def __init__(self, message: str, objects: tuple[tuple[str, str], ...]) -> None:
        super().__init__(message)
        self.objects = objects


class ProjectStore:
    """One open project. Create with :meth:`create` or :meth:`open`; close with :meth:`close`.

    ``read_only`` is true for a project on read-only media or in a folder this user cannot write: it is opened
    for viewing, and every change is refused with a message.
    """

    def __init__(self, folder: Path, conn: sqlite3.Connection, read_only: bool = False) -> None:
        self.folder = folder
        self._conn = conn
        self.read_only = read_only
        self._owner_file = None if read_only else _register_owner(folder)

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, folder: str | os.PathLike[str]) -> ProjectStore:
        """Create a project in ``folder`` (made if missing), or open the one already there."""
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"cannot create the project folder {path}: {describe_os_error(exc)}") from exc
        return cls._connect(path, create=True)

    @classmethod
    def open(cls, folder: str | os.PathLike[str], *, drop_unknown: bool = False) -> ProjectStore:
        """Open an existing project; a missing, damaged, tampered-with or newer-version database is refused and
        never changed.

        Parameters
        ----------
        folder
            The project folder.
        drop_unknown
            Consent to drop triggers, views, tables and indexes the product did not create (see
            :class:`UnknownSchemaError`); without it such a database is refused.

        Raises
        ------
        ProjectError
            With a plain message; :class:`UnknownSchemaError` for objects the product did not create.
        """
        path = Path(folder)
        if not is_project(path):
            raise ProjectError(
                f"{path} is not a DMTL Studio project (no {DATABASE_NAME} in it). To start one from a folder of "
                "images: File ▸ New project…, then File ▸ Import image folder… (or dmtl-studio import PROJECT IMAGES)"
            )
        store = cls._connect(path, create=False, drop_unknown=drop_unknown)
        if not store.read_only:
            store.mark_interrupted_runs()
        return store

    @classmethod
    def _connect(cls, path: Path, create: bool, drop_unknown: bool = False) -> ProjectStore:
        db_path = path / DATABASE_NAME
        existed = db_path.exists() and db_path.stat().st_size > 0
        read_only = _is_read_only(path, db_path)
        if existed:
            _check_sqlite_header(db_path)
            # Checked through a read-only connection first: a damaged or tampered-with database is refused
            # before anything (a journal, a WAL file, a migration, a trigger) can change it.
            unknown = _inspect_once(db_path)
            if unknown and not (drop_unknown and not read_only):
                raise UnknownSchemaError(_unknown_message(path, db_path, unknown), unknown)
        elif read_only:
            raise ProjectError(f"cannot create a project in {path}: the folder is read-only")
        try:
            if read_only:
                conn = sqlite3.connect(
                    _uri(db_path), uri=True, isolation_level=None, timeout=BUSY_SLICE_SECONDS
                )
            else:
                conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_SLICE_SECONDS)
        except sqlite3.Error as exc:
            raise ProjectError(f"cannot open the project database {db_path}: {exc}") from exc
        try:
            # Schema code (triggers, views, defaults) never calls functions with side effects.
            conn.execute("PRAGMA trusted_schema=OFF")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ProjectError(
                    f"this project was written by a newer DMTL Studio (format {version}; this version reads up "
                    f"to {SCHEMA_VERSION}). It was left untouched: open it with the newer version."
                )
            if existed and version == 0 and _has_tables(conn):
                raise ProjectError(
                    f"{db_path} is an SQLite file but not a DMTL Studio project; left untouched"
                )
            if read_only:
                if version < SCHEMA_VERSION:
                    raise ProjectError(
                        f"{path} is read-only and was written by an older DMTL Studio; copy it to a writable "
                        "folder to open it (it needs updating)"
                    )
            else:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                if existed and drop_unknown:
                    _drop_unknown(conn, _unknown_objects(conn))
                _migrate(conn, version)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_busy(exc):
                raise ProjectBusyError(
                    f"{path} is busy: {_describe_holders(path)} is writing to it; try again when it has finished"
                ) from exc
            if not read_only and _is_disk_error(exc):
                raise ProjectError(
                    f"cannot open {db_path}: {_disk_reason(exc, path)}; the project was kept as it was"
                ) from exc
            raise ProjectError(
                f"the project database {db_path} is damaged ({exc}); it was left untouched"
            ) from exc
        except BaseException:
            conn.close()
            raise
        if not read_only:
            try:
                (path / RUNS_DIR).mkdir(exist_ok=True)
            except OSError as exc:
                conn.close()
                raise ProjectError(f"cannot create {path / RUNS_DIR}: {describe_os_error(exc)}") from exc
        return cls(path, conn, read_only)

    def close(self) -> None:
        self._conn.close()
        if self._owner_file is not None:
            self._owner_file.unlink(missing_ok=True)
            self._owner_file = None

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def runs_dir(self) -> Path:
        return self.folder / RUNS_DIR

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed on success, rolled back on any exception.

        Raises
        ------
        ProjectError
            When the project is read-only, or the disk refuses the change (full, read-only): nothing of this
            change is kept, everything committed before is.
        """
        if self.read_only:
            raise ProjectError(f"{self.folder} is read-only (opened for viewing only); nothing was changed")
        self._begin()
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_disk_error(exc):
                raise ProjectError(
                    f"could not write to the project database in {self.folder}: {_disk_reason(exc, self.folder)}. This "
                    "change was not saved; everything saved before it is kept."
                ) from exc
            raise

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``, waiting in short slices while another process writes: the first failed slice
        says who holds the project (see :func:`set_busy_reporter`), and after :func:`busy_wait_seconds` a
        :class:`ProjectBusyError` names it, instead of SQLite's bare "database is locked"."""
        started = time.monotonic()
        reported = False
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
            waited = time.monotonic() - started
            limit = busy_wait_seconds()
            if waited >= limit:
                raise ProjectBusyError(
                    f"{self.folder} is busy: {_describe_holders(self.folder)} has been writing to it for the "
                    f"{waited:.0f} s waited; nothing was changed here. Try again when it has finished."
                )
            if not reported:
                _BUSY_REPORTER(
                    f"{self.folder} is busy: {_describe_holders(self.folder)} is writing to it; "
                    f"waiting up to {limit:.0f} s…"
                )
                reported = True

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ classes
    def class_names(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT name FROM classes ORDER BY position, id")]

    def add_class(self, name: str) -> int:
        name = _clean_class_name(name)
        with self.transaction() as conn:
            return _ensure_class(conn, name)

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
        new = _clean_class_name(new)
        with self.transaction() as conn:
            if new != old and conn.execute("SELECT 1 FROM classes WHERE name = ?", (new,)).fetchone():
                raise ProjectError(f"a class named '{new}' already exists: merge the two classes instead")
            if conn.execute("UPDATE classes SET name = ? WHERE name = ?", (new, old)).rowcount == 0:
                raise ProjectError(f"there is no class '{old}'")

    def merge_classes(self, sources: Sequence[str], target: str) -> int:
        """Move every image of ``sources`` into ``target`` (created if needed) and delete ``sources``.

        Returns the number of images moved.
        """
        target = _clean_class_name(target)
        with self.transaction() as conn:
            target_id = _ensure_class(conn, target)
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
            return moved

    def delete_class(self, name: str) -> int:
        """Delete a class; its images become unlabelled (never deleted). Returns how many were unlabelled."""
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ProjectError(f"there is no class '{name}'")
            count = conn.execute("UPDATE images SET class_id = NULL WHERE class_id = ?", (row[0],)).rowcount
            conn.execute("DELETE FROM classes WHERE id = ?", (row[0],))
            return count

    def backup(self, destination: str | os.PathLike[str]) -> Path:
        """Copy the database to ``destination`` with SQLite's online backup API (consistent while in use)."""
        target = Path(destination)
        if target.exists():
            raise ProjectError(f"{target} already exists; choose a new file name for the backup")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_target(target) as temp:
                copy = sqlite3.connect(temp)
                try:
                    self._conn.backup(copy)
                except sqlite3.Error as exc:
                    reason = "the disk is full" if is_disk_full(exc) else str(exc)
                    raise FileWriteError(target, reason) from exc
                finally:
                    copy.close()
        except OSError as exc:
            message = str(exc) if isinstance(exc, FileWriteError) else f"{target}: {describe_os_error(exc)}"
            raise ProjectError(f"the backup failed: {message}. The project itself is unchanged.") from exc
        return target

    # ------------------------------------------------------------------ images
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
                    class_ids[class_name] = _ensure_class(conn, class_name)
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
                )
                if existing:
                    conn.execute(
                        "UPDATE images SET sha256=?, size_bytes=?, width=?, height=?, problem=?, note=?,"
                        " class_id=COALESCE(class_id, ?) WHERE id=?",
                        (*values, class_id, existing[0]),
                    )
                else:
                    conn.execute(
                        "INSERT INTO images(path, sha256, size_bytes, width, height, problem, note, class_id,"
                        " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, *values, class_id, now),
                    )
                    added += 1
        return added

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
            ids = {name: _ensure_class(conn, name) for name in set(labels.values()) if name}
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

    def _select(self, where: str = "", parameters: Sequence[object] = ()) -> list[ImageRecord]:
        query = (
            "SELECT images.id, path, sha256, size_bytes, width, height, problem, classes.name, split, note"
            " FROM images LEFT JOIN classes ON classes.id = images.class_id" + where + " ORDER BY images.id"
        )
        rows = self._conn.execute(query, list(parameters)).fetchall()
        return [ImageRecord(row[0], os.fsdecode(row[1]), *row[2:]) for row in rows]

    def images(self, usable_only: bool = False) -> list[ImageRecord]:
        return self._select(" WHERE problem IS NULL" if usable_only else "")

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
            class_id = _ensure_class(conn, class_name) if class_name else None
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

    def unlabelled_count(self) -> int:
        return self._conn.execute(
            "SELECT COUNT(*) FROM images WHERE class_id IS NULL AND problem IS NULL"
        ).fetchone()[0]

    # ------------------------------------------------------------------ runs
    def create_run(self, name: str, run_dir: Path, config: dict) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs(name, created_at, status, run_dir, config_json) VALUES (?, ?, 'running', ?, ?)",
                (name, time.time(), str(run_dir), json.dumps(config, sort_keys=True)),
            )
            return int(cursor.lastrowid)

    def record_epoch(self, run_id: int, metrics: EpochMetrics) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO epoch_metrics VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    metrics.epoch,
                    metrics.train_loss,
                    metrics.train_accuracy,
                    metrics.val_loss,
                    metrics.val_accuracy,
                    metrics.learning_rate,
                ),
            )

    def finish_run(self, run_id: int, status: str, final_metrics: dict) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, final_metrics_json = ? WHERE id = ?",
                (status, json.dumps(final_metrics, sort_keys=True), run_id),
            )

    def set_run_status(self, run_id: int, status: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))

    def delete_run(self, run_id: int) -> None:
        """Remove a run's row and its epochs (its folder is the caller's)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM epoch_metrics WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def forget_epochs_after(self, run_id: int, epoch: int) -> None:
        """Drop a run's epoch rows after ``epoch`` (recorded before a kill, never saved; trained again)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM epoch_metrics WHERE run_id = ? AND epoch > ?", (run_id, epoch))

    def mark_interrupted_runs(self) -> list[str]:
        """Runs still "running" whose process is gone (a crash, a kill, a power cut) become "interrupted".

        A live process that holds a run's lock is left alone, as is a lock held on another computer. An
        interrupted run that never saved an epoch's checkpoint is removed with its folder, as a stopped one is.
        Returns the names of the runs marked or removed. A read-only project is left as it is.
        """
        from dmtl_studio.core.project.run_lock import has_checkpoint, run_is_orphaned

        changed = []
        try:
            rows = self._conn.execute(
                "SELECT id, name, run_dir FROM runs WHERE status = 'running'"
            ).fetchall()
            for run_id, name, run_dir in rows:
                if not run_is_orphaned(run_dir):
                    continue
                if has_checkpoint(run_dir):
                    self.set_run_status(run_id, "interrupted")
                else:
                    self.delete_run(run_id)
                    _remove_run_folder(self.runs_dir, Path(run_dir))
                changed.append(name)
        except sqlite3.OperationalError:  # read-only media or a busy database: listing still works
            return changed
        return changed

    def runs(self) -> list[RunRecord]:
        from dmtl_studio.core.project.run_lock import has_checkpoint

        rows = self._conn.execute(
            "SELECT id, name, created_at, status, run_dir, config_json, final_metrics_json FROM runs ORDER BY id"
        )
        return [
            RunRecord(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                json.loads(r[5]),
                json.loads(r[6]),
                resumable=r[3] in CONTINUABLE and has_checkpoint(r[4]),
            )
            for r in rows
        ]

    def run_at(self, run_dir: str | os.PathLike[str]) -> RunRecord | None:
        """The newest run of this project stored in ``run_dir`` (any spelling of the folder), or ``None``.

        Runs are stored with absolute paths; a run recorded with a relative one (by an older version) is
        matched by its name inside this project's runs folder.
        """
        wanted = Path(run_dir).expanduser().resolve()
        runs_dir = self.runs_dir.resolve()
        for run in reversed(self.runs()):
            stored = Path(run.run_dir)
            if stored.is_absolute():
                if stored.resolve() == wanted:
                    return run
            elif wanted == runs_dir / stored.name:
                return run
        return None

    def epoch_metrics(self, run_id: int) -> list[EpochMetrics]:
        rows = self._conn.execute(
            "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate"
            " FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
            (run_id,),
        )
        return [EpochMetrics(*row) for row in rows]

    def integrity_check(self) -> str:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


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


def _clean_class_name(name: str) -> str:
    try:
        return clean_class_name(name)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None


def _remove_run_folder(runs_dir: Path, run_dir: Path) -> None:
    """Delete an empty run's folder, only when it lies inside the project's runs folder."""
    import shutil

    try:
        inside = run_dir.resolve().parent == runs_dir.resolve()
    except OSError:
        return
    if inside and run_dir.is_dir():
        shutil.rmtree(run_dir, ignore_errors=True)


def _ensure_class(conn: sqlite3.Connection, name: str) -> int:
    """The id of class ``name``, created if needed. Every door that creates a class comes through here, so a
    name that could not be a folder name (see :func:`clean_class_name`) never enters a project."""
    row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
    if row:
        return int(row[0])
    name = _clean_class_name(name)
    row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
    if row:
        return int(row[0])
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM classes").fetchone()[0]
    return int(conn.execute("INSERT INTO classes(name, position) VALUES (?, ?)", (name, position)).lastrowid)


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0


def _check_sqlite_header(db_path: Path) -> None:
    with open(db_path, "rb") as handle:
        header = handle.read(16)
    if header and header != b"SQLite format 3\x00":
        raise ProjectError(
            f"{db_path} is not a project database (damaged or another kind of file); left untouched"
        )


#: How long one SQLite call waits for another connection's lock before the product's own retry takes over.
BUSY_SLICE_SECONDS = 1.0
#: How long a change waits for another process that writes to the same project (``DMTL_STUDIO_BUSY_SECONDS``).
BUSY_WAIT_SECONDS = 20.0
OWNERS_DIR = ".dmtl-studio-users"


def busy_wait_seconds() -> float:
    """How long a change waits for another process's write; ``DMTL_STUDIO_BUSY_SECONDS`` overrides it."""
    try:
        return max(0.0, float(os.environ.get("DMTL_STUDIO_BUSY_SECONDS", BUSY_WAIT_SECONDS)))
    except ValueError:
        return BUSY_WAIT_SECONDS


def _log_busy(message: str) -> None:
    logging.getLogger(__name__).warning("%s", message)


_BUSY_REPORTER: Callable[[str], None] = _log_busy


def set_busy_reporter(report: Callable[[str], None]) -> None:
    """Where "the project is busy, waiting…" goes (the command line prints it; the default logs it)."""
    global _BUSY_REPORTER
    _BUSY_REPORTER = report


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


_OWNER_COUNTER = iter(range(1, 1 << 62))


def _command_line() -> str:
    argv = list(sys.argv)
    if not argv or (len(argv) == 1 and argv[0].endswith(("__main__.py", "dmtl-studio"))):
        return "the DMTL Studio window"
    if argv[0].endswith(("__main__.py", "dmtl-studio", "dmtl-studio.exe")):
        argv[0] = "dmtl-studio"
    return " ".join(argv)[:300]


def _register_owner(folder: Path) -> Path | None:
    """A small file saying which process has the project open (pid, command, start time), so that another
    process kept waiting can say who holds it. Advisory only: SQLite does the locking."""
    owners = folder / OWNERS_DIR
    record = {"pid": os.getpid(), "command": _command_line(), "started": time.time()}
    path = owners / f"{os.getpid()}-{next(_OWNER_COUNTER)}.json"
    try:
        owners.mkdir(exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        return None  # a full disk must not stop a project from opening; the holder is then "another program"
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _describe_holders(folder: Path) -> str:
    """``"pid 123 (dmtl-studio import …, since 21:03:05)"`` for each other live process that has the project
    open; stale records of processes that are gone are removed."""
    found = []
    for path in sorted((folder / OWNERS_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid():
            continue
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        since = time.strftime("%H:%M:%S", time.localtime(float(record.get("started", 0))))
        found.append(f"pid {pid} ({record.get('command', '?')}, since {since})")
    if not found:
        return "another program"
    return "; ".join(dict.fromkeys(found))


def _is_read_only(folder: Path, db_path: Path) -> bool:
    """A project that cannot be written here: read-only media (even for an administrator) or permissions."""
    if db_path.exists() and not os.access(db_path, os.W_OK):
        return True
    return not os.access(folder, os.W_OK)


def _uri(db_path: Path) -> str:
    """A read-only URI for ``db_path``; ``immutable`` (no lock or -shm file at all) when no write-ahead log is
    pending beside it, so opening it creates no file."""
    in_use = any(db_path.with_name(db_path.name + suffix).exists() for suffix in ("-wal", "-shm", "-journal"))
    return f"{db_path.absolute().as_uri()}?mode=ro" + ("" if in_use else "&immutable=1")


def _is_disk_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return is_disk_full(exc) or "readonly" in text or "read-only" in text or "disk i/o error" in text


def _disk_reason(exc: BaseException, folder: Path | None = None) -> str:
    text = str(exc).lower()
    if is_disk_full(exc):
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the disk or folder is read-only"
    if folder is not None:
        # SQLite reports a full disk met while mapping its shared-memory file as a plain I/O error.
        with suppress(OSError):
            if shutil.disk_usage(folder).free < 1 << 20:
                return "the disk is full"
    return "the disk reported an input/output error"


_INSPECTED: set[tuple[str, int, int]] = set()


def _inspect_once(db_path: Path) -> tuple[tuple[str, str], ...]:
    """:func:`_inspect`, skipped for a database file this process found sound and that has not changed since
    (worker threads open their own connections often)."""
    stat = db_path.stat()
    key = (str(db_path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _INSPECTED:
        return ()
    unknown = _inspect(db_path)
    if not unknown:
        _INSPECTED.add(key)
    return unknown


def _inspect(db_path: Path) -> tuple[tuple[str, str], ...]:
    """Check an existing database without changing it; returns the objects the product did not create.

    Raises
    ------
    ProjectError
        When the file is damaged (``PRAGMA quick_check`` fails) or cannot be read.
    """
    try:
        conn = sqlite3.connect(_uri(db_path), uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise ProjectError(
            f"cannot read the project database {db_path}: {exc}; it was left untouched"
        ) from exc
    try:
        conn.execute("PRAGMA trusted_schema=OFF")
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise ProjectError(
                f"the project database {db_path} is damaged ({'; '.join(problems)[:300]}); it was refused and "
                "left untouched. Restore a backup (dmtl-studio backup makes one) or re-import the images"
            )
        return _unknown_objects(conn)
    except sqlite3.DatabaseError as exc:
        raise ProjectError(
            f"the project database {db_path} is damaged ({exc}); it was refused and left untouched"
        ) from exc
    finally:
        conn.close()


_EXPECTED: dict[int, frozenset[tuple[str, str, str | None]]] = {}


def _expected_schema(version: int) -> frozenset[tuple[str, str, str | None]]:
    """``(type, name, sql)`` of every object a database of ``version`` holds when the product made it."""
    if version not in _EXPECTED:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for step in range(version):
                MIGRATIONS[step](conn)
            _EXPECTED[version] = frozenset(conn.execute("SELECT type, name, sql FROM sqlite_master"))
        finally:
            conn.close()
    return _EXPECTED[version]


def _unknown_objects(conn: sqlite3.Connection) -> tuple[tuple[str, str], ...]:
    """Objects of the database that the product's schema (at its version) does not hold, or holds otherwise."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 or version > SCHEMA_VERSION:
        return ()  # not a project yet, or a newer one: refused for that reason elsewhere
    expected = _expected_schema(version)
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    return tuple((kind, name) for kind, name, sql in rows if (kind, name, sql) not in expected)


def _unknown_message(folder: Path, db_path: Path, unknown: tuple[tuple[str, str], ...]) -> str:
    names = ", ".join(f"{kind} {name!r}" for kind, name in unknown[:8]) + (" …" if len(unknown) > 8 else "")
    return (
        f"{db_path} holds database objects DMTL Studio did not make ({names}); they could change or delete data "
        "behind the product's back, so the project was refused and left untouched. To remove them, make a "
        f"copy of the folder first, then run: dmtl-studio repair {folder} --drop-unknown"
    )


def _drop_unknown(conn: sqlite3.Connection, unknown: tuple[tuple[str, str], ...]) -> None:
    """Drop what :func:`_unknown_objects` found, in one transaction. A product table whose definition was
    changed cannot be dropped without losing the project: that is refused."""
    product_names = {name for _kind, name, _sql in _expected_schema(SCHEMA_VERSION)}
    changed = [name for _kind, name in unknown if name in product_names]
    if changed:
        raise ProjectError(
            f"the definition of {', '.join(changed)} in the project database was changed outside DMTL Studio; "
            "it cannot be repaired here: restore a backup"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, name in unknown:
            if kind in ("trigger", "view", "index", "table"):
                quoted = '"' + name.replace('"', '""') + '"'
                conn.execute(f"DROP {kind.upper()} IF EXISTS {quoted}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version == 0:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
