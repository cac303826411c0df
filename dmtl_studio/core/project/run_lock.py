"""Who is training a run, and whether a run folder can be continued: file checks only (no torch).

A lock file, ``run.lock`` in the run folder, names the process (pid, host, process start) that trains the run.
A run whose status is still "running" but whose process is gone was interrupted (:func:`run_is_orphaned`);
the project store marks such runs when it opens and when it lists runs.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes

CHECKPOINTS_DIR = "checkpoints"
LOCK_NAME = "run.lock"
LEGACY_STATE = "resume_state.pt"  # the training state as saved before epochs were saved as units
_UNIT = re.compile(r"^epoch-(\d{6})$")


def unit_folders(root: Path) -> list[tuple[int, Path]]:
    """Committed epoch folders ``(epoch, folder)`` under a run's ``checkpoints`` folder, newest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _UNIT.match(p.name)) and p.is_dir()]
    return sorted(found, reverse=True)


def has_checkpoint(run_dir: str | os.PathLike[str]) -> bool:
    """Whether the run folder holds a committed epoch unit (or a state saved by an older version)."""
    run_dir = Path(run_dir)
    return bool(unit_folders(run_dir / CHECKPOINTS_DIR)) or (run_dir / LEGACY_STATE).is_file()


def _process_start(pid: int) -> str | None:
    """An identifier of the process's start (Linux: clock ticks after boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return None


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            kernel.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A process killed whose parent has not reaped it yet (a zombie, state Z) still answers signal 0 (h30).
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): signal 0 answered


def write_lock(run_dir: Path) -> None:
    """Record that this process trains the run (pid, host, process start); replaces an older lock."""
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "process_start": _process_start(os.getpid()),
        "since": time.time(),
    }
    atomic_write_bytes(run_dir / LOCK_NAME, json.dumps(record).encode())


def remove_lock(run_dir: Path) -> None:
    try:
        record = json.loads((run_dir / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if record.get("pid") == os.getpid() and record.get("host") == socket.gethostname():
        (run_dir / LOCK_NAME).unlink(missing_ok=True)


def run_is_orphaned(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a run marked "running" has no live process behind it.

    A run folder without a lock (gone, or a crash before the lock was written) has none. A lock held by a
    process on another host is left alone: it cannot be checked from here.
    """
    try:
        record = json.loads((Path(run_dir) / LOCK_NAME).read_text(encoding="utf-8"))
        pid, host = int(record["pid"]), str(record["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return True
    if host != socket.gethostname():
        return False
    if not _process_alive(pid):
        return True
    started = record.get("process_start")
    return started is not None and _process_start(pid) not in (None, started)
