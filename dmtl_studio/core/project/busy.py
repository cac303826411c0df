"""Sharing a project between processes: how long a change waits for another writer, and who that writer is.

Each process that opens a project leaves a small record (pid, command, start time) in the project folder, so that
another process kept waiting can name it. Advisory only: SQLite does the locking.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def report_busy(message: str) -> None:
    """Say that a change is waiting for another process (see :func:`set_busy_reporter`)."""
    _BUSY_REPORTER(message)


def is_busy(exc: BaseException) -> bool:
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


def register_owner(folder: Path) -> Path | None:
    """A small file saying which process has the project open (pid, command, start time), so that another
    process kept waiting can say who holds it. Advisory only: SQLite does the locking."""
    owners = folder / OWNERS_DIR
    record = {"pid": os.getpid(), "command": _command_line(), "started": time.time()}
    path = owners / f"{os.getpid()}-{next(_OWNER_COUNTER)}.json"
    try:
        owners.mkdir(exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        # A full disk must not stop a project from opening (the holder is then "another program"), nor leave
        # an empty record behind.
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None
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


def describe_holders(folder: Path) -> str:
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
