"""The project store: one SQLite database (WAL) plus a ``runs/`` folder, in one project folder.

Images are referenced in place and never modified. Every change is one transaction. Paths are stored as
bytes (``os.fsencode``) so that any file name a file system allows, even one that is not valid UTF-8, is
kept losslessly.

A connection belongs to the thread that opened it: a worker thread opens its own :class:`ProjectStore`
on the same folder (cheap), which WAL lets run beside the GUI's.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from dmtl_studio.core.base import fileio
from dmtl_studio.core.base.fileio import (
    FileWriteError,
    atomic_target,
    describe_os_error,
    disk_reason,
    is_disk_error,
    is_disk_full,
)
from dmtl_studio.core.base.paths import DATABASE_NAME as DATABASE_NAME
from dmtl_studio.core.base.paths import RUN_SIDECAR_NAME
from dmtl_studio.core.project.busy import (
    BUSY_SLICE_SECONDS,
    busy_wait_seconds,
    describe_holders,
    is_busy,
    register_owner,
    report_busy,
)
from dmtl_studio.core.project.classes_table import ClassesTable
from dmtl_studio.core.project.errors import ProjectBusyError, ProjectError, UnknownSchemaError
from dmtl_studio.core.project.images_table import ImagesTable
from dmtl_studio.core.project.relocate import follow_moved_project

# EpochMetrics is also named here because the training engine's recorder imports it from the store.
from dmtl_studio.core.project.runs_table import EpochMetrics as EpochMetrics
from dmtl_studio.core.project.runs_table import RunsTable
from dmtl_studio.core.project.schema import (
    SCHEMA_VERSION,
    drop_unknown_objects,
    has_tables,
    inspect_once,
    migrate,
    read_only_uri,
    unknown_message,
    unknown_objects,
)
from dmtl_studio.core.project.texts_table import TextsTable

RUNS_DIR = "runs"

log = logging.getLogger(__name__)


def is_project(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / DATABASE_NAME).is_file()


def _no_new_project_in(folder: Path) -> str | None:
    """Why no new project may be made in ``folder``, or ``None``: a trained run's folder (it holds the run's
    ``model.json``), or a folder inside a project (a project never holds another)."""
    folder = folder.absolute()
    if (folder / RUN_SIDECAR_NAME).is_file():
        return (
            f"{folder} is a trained run's folder, not a project: give the project's folder (the one holding "
            f"{DATABASE_NAME})"
        )
    for parent in folder.parents:
        if is_project(parent):
            return f"{folder} is inside the project {parent}: choose a folder outside it for a new project"
    return None


class ProjectStore(ClassesTable, ImagesTable, TextsTable, RunsTable):
    """One open project. Create with :meth:`create` or :meth:`open`; close with :meth:`close`.

    ``read_only`` is true for a project on read-only media or in a folder this user cannot write: it is opened
    for viewing, and every change is refused with a message.
    """

    def __init__(self, folder: Path, conn: sqlite3.Connection, read_only: bool = False) -> None:
        self.folder = folder
        self._conn = conn
        self.read_only = read_only
        self._owner_file = None if read_only else register_owner(folder)
        #: What opening changed in class names stored by an older version, or could not (see
        #: :meth:`normalize_class_names`), as lines for the person.
        self.class_name_notes: tuple[str, ...] = ()
        #: ``(kind, name)`` of each schema object not made by DMTL Studio that opening with ``drop_unknown``
        #: removed.
        self.dropped_objects: tuple[tuple[str, str], ...] = ()
        #: Images found below the project's folder after it was moved (:mod:`~dmtl_studio.core.project.relocate`).
        self.moved_images = 0

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, folder: str | os.PathLike[str], kind: str | None = None) -> ProjectStore:
        """Create a project in ``folder`` (made if missing), or open the one already there.

        ``kind`` ("images" or "text") is the new project's kind; for an existing project it must match (a
        :class:`ProjectError` says so otherwise); None keeps whatever is there ("images" for a new one).
        """
        path = Path(folder)
        if not is_project(path):
            refused = _no_new_project_in(path)
            if refused:
                raise ProjectError(refused)
        try:
            with fileio.folder_made_for(path):  # nothing left behind when the database cannot be made
                store = cls._connect(path, create=True)
        except fileio.FolderNotMade as exc:
            raise ProjectError(f"cannot create the project folder {path}: {describe_os_error(exc)}") from exc
        if kind is not None and kind != store.kind:
            try:
                store.set_kind(kind)
            except BaseException:
                store.close()
                raise
        return store

    @classmethod
    def open(
        cls, folder: str | os.PathLike[str], *, drop_unknown: bool = False, read_only: bool = False
    ) -> ProjectStore:
        """Open an existing project; a missing, damaged, tampered-with or newer-version database is refused and
        never changed.

        Parameters
        ----------
        folder
            The project folder.
        drop_unknown
            Consent to drop triggers, views, tables and indexes the product did not create (see
            :class:`UnknownSchemaError`); without it such a database is refused.
        read_only
            Open for reading only, even where the folder is writable (the other processes of a distributed run
            read the project that its first process writes).

        Raises
        ------
        ProjectError
            With a plain message; :class:`UnknownSchemaError` for objects the product did not create.
        """
        path = Path(folder)
        if not is_project(path) and (path / RUN_SIDECAR_NAME).is_file():  # PROJECT/runs/NAME
            project = path.absolute().parent.parent
            known = is_project(project)
            whose = f"its project is {project}" if known else "give the project's folder"
            raise ProjectError(
                f"{path} is a trained run's folder, not a project: {whose} (a stopped run continues with: "
                f"dmtl-studio train {project if known else 'PROJECT'} --resume {path})"
            )
        if not is_project(path):
            raise ProjectError(
                f"{path} is not a DMTL Studio project (no {DATABASE_NAME} in it). To start one from a folder of "
                "images: File ▸ New project…, then File ▸ Import image folder… (or dmtl-studio import PROJECT IMAGES)"
            )
        store = cls._connect(path, create=False, drop_unknown=drop_unknown, read_only=read_only)
        if not store.read_only:
            store.mark_interrupted_runs()
        return store

    @classmethod
    def _connect(
        cls, path: Path, create: bool, drop_unknown: bool = False, read_only: bool = False
    ) -> ProjectStore:
        db_path = path / DATABASE_NAME
        existed = db_path.exists() and db_path.stat().st_size > 0
        read_only = read_only or _is_read_only(path, db_path)
        dropped: tuple[tuple[str, str], ...] = ()
        if existed:
            # Checked through a read-only connection first: a damaged or tampered-with database is refused
            # before anything (a journal, a WAL file, a migration, a trigger) can change it.
            unknown = inspect_once(db_path)
            if unknown and not (drop_unknown and not read_only):
                raise UnknownSchemaError(unknown_message(path, db_path, unknown), unknown)
        elif read_only:
            raise ProjectError(f"cannot create a project in {path}: the folder is read-only")
        try:
            if read_only:
                conn = sqlite3.connect(
                    read_only_uri(db_path), uri=True, isolation_level=None, timeout=BUSY_SLICE_SECONDS
                )
            else:
                conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_SLICE_SECONDS)
        except sqlite3.Error as exc:
            long = f" (its path is {len(os.fsencode(db_path))} bytes; SQLite opens about 500 at most)"
            raise ProjectError(
                f"cannot open the project database {db_path}: {exc}{long if len(os.fsencode(db_path)) > 480 else ''}"
            ) from exc
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
            if existed and version == 0 and has_tables(conn):
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
                    dropped = tuple(unknown_objects(conn))
                    drop_unknown_objects(conn, dropped)
                migrate(conn, version)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if is_busy(exc):
                raise ProjectBusyError(
                    f"{path} is busy: {describe_holders(path)} is writing to it; try again when it has finished"
                ) from exc
            if is_disk_error(exc):  # a full disk is no damaged database (h30)
                raise ProjectError(
                    f"cannot open {db_path}: {disk_reason(exc, path)}; the project was kept as it was"
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
        store = cls(path, conn, read_only)
        store.dropped_objects = dropped
        if existed and not read_only:
            try:
                store.class_name_notes = tuple(store.normalize_class_names())
            except BaseException:
                store.close()
                raise
            for line in store.class_name_notes:
                log.warning("%s: %s", path, line)
        if not read_only:
            try:
                store.moved_images = follow_moved_project(store)
            except BaseException:
                store.close()
                raise
        return store

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

    def require_writable(self) -> None:
        """Refuse a change before any work for it starts (an import's decoding, a removal's log).

        Raises
        ------
        ProjectError
            When the project is read-only (opened for viewing only).
        """
        if self.read_only:
            raise ProjectError(f"{self.folder} is read-only (opened for viewing only); nothing was changed")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed on success, rolled back on any exception.

        Raises
        ------
        ProjectError
            When the project is read-only, or the disk refuses the change (full, read-only): nothing of this
            change is kept, everything committed before is.
        """
        self.require_writable()
        self._begin()
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and is_disk_error(exc):
                raise ProjectError(
                    f"could not write to the project database in {self.folder}: {disk_reason(exc, self.folder)}. This "
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
                if not is_busy(exc):
                    raise
            waited = time.monotonic() - started
            limit = busy_wait_seconds()
            if waited >= limit:
                raise ProjectBusyError(
                    f"{self.folder} is busy: {describe_holders(self.folder)} has been writing to it for the "
                    f"{waited:.0f} s waited; nothing was changed here. Try again when it has finished."
                )
            if not reported:
                report_busy(
                    f"{self.folder} is busy: {describe_holders(self.folder)} is writing to it; "
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

    def integrity_check(self) -> str:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


def _is_read_only(folder: Path, db_path: Path) -> bool:
    """A project that cannot be written here: read-only media (even for an administrator) or permissions."""
    if db_path.exists() and not os.access(db_path, os.W_OK):
        return True
    return not os.access(folder, os.W_OK)
