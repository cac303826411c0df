"""The project database's schema: its versions, the pure migrations between them, and the read-only inspection
that refuses a damaged or tampered-with database before anything can change it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from dmtl_studio.core.base.fileio import disk_reason, is_disk_error
from dmtl_studio.core.project.errors import ProjectError

SCHEMA_VERSION = 4


def schema_v1(conn: sqlite3.Connection) -> None:
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


def schema_v2(conn: sqlite3.Connection) -> None:
    # A note on a usable image: what decoding had to do (rescaled values, which page of several is used).
    conn.execute("ALTER TABLE images ADD COLUMN note TEXT")


def schema_v3(conn: sqlite3.Connection) -> None:
    # Text projects: the body of each text item (a row of images whose path is its source key).
    conn.execute(
        "CREATE TABLE texts (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,"
        " body TEXT NOT NULL)"
    )


def schema_v4(conn: sqlite3.Connection) -> None:
    # The modification time (ns) of each image file when it was hashed: a file whose size or time differs is
    # hashed again before its cached features are used (NULL: recorded before this version, hashed once).
    conn.execute("ALTER TABLE images ADD COLUMN mtime_ns INTEGER")


#: ``MIGRATIONS[n]`` brings a database from version ``n`` to ``n + 1``. Pure functions of the connection.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: schema_v1,
    1: schema_v2,
    2: schema_v3,
    3: schema_v4,
}


def has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0


def read_only_uri(db_path: Path) -> str:
    """A read-only URI for ``db_path``; ``immutable`` (no lock or -shm file at all) when no write-ahead log is
    pending beside it, so opening it creates no file."""
    in_use = any(db_path.with_name(db_path.name + suffix).exists() for suffix in ("-wal", "-shm", "-journal"))
    return f"{db_path.absolute().as_uri()}?mode=ro" + ("" if in_use else "&immutable=1")


_INSPECTED: set[tuple[str, int, int]] = set()


def inspect_once(db_path: Path) -> tuple[tuple[str, str], ...]:
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

    Only SQLite reads the file (its header too): a process's POSIX locks on a file are dropped when *any* of its
    descriptors of that file is closed, so a plain ``open``/``close`` of the database here would drop the locks of
    the process's other connections, and another process leaving the project would then delete the write-ahead log
    they still write to (https://www.sqlite.org/howtocorrupt.html, section 2.2). SQLite keeps such descriptors
    open until its last lock on the file is released.

    Raises
    ------
    ProjectError
        When the file is damaged (``PRAGMA quick_check`` fails) or cannot be read.
    """
    try:
        conn = sqlite3.connect(read_only_uri(db_path), uri=True, isolation_level=None)
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
        return unknown_objects(conn)
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode == sqlite3.SQLITE_NOTADB:  # its header is not SQLite's
            raise ProjectError(
                f"{db_path} is not a project database (damaged or another kind of file); left untouched"
            ) from exc
        if is_disk_error(exc):  # a full disk read as "damaged" sent people to restore a backup (h30)
            raise ProjectError(
                f"cannot read the project database {db_path}: {disk_reason(exc, Path(db_path).parent)}; it was "
                "left untouched (free some space, or check the drive, and open it again)"
            ) from exc
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


def unknown_objects(conn: sqlite3.Connection) -> tuple[tuple[str, str], ...]:
    """Objects of the database that the product's schema (at its version) does not hold, or holds otherwise."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 or version > SCHEMA_VERSION:
        return ()  # not a project yet, or a newer one: refused for that reason elsewhere
    expected = _expected_schema(version)
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    return tuple((kind, name) for kind, name, sql in rows if (kind, name, sql) not in expected)


def unknown_message(folder: Path, db_path: Path, unknown: tuple[tuple[str, str], ...]) -> str:
    names = ", ".join(f"{kind} {name!r}" for kind, name in unknown[:8]) + (" …" if len(unknown) > 8 else "")
    return (
        f"{db_path} holds database objects DMTL Studio did not make ({names}); they could change or delete data "
        "behind the product's back, so the project was refused and left untouched. To remove them, make a "
        f"copy of the folder first, then run: dmtl-studio repair {folder} --drop-unknown"
    )


def drop_unknown_objects(conn: sqlite3.Connection, unknown: tuple[tuple[str, str], ...]) -> None:
    """Drop what :func:`unknown_objects` found, in one transaction. A product table whose definition was
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


def migrate(conn: sqlite3.Connection, version: int) -> None:
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
