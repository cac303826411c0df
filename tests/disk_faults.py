"""Real disk faults for tests: a tiny full file system (tmpfs), a read-only mount, a file-size limit.

Mounting needs root (or the right capability); where it is refused, the test is skipped and says why. The
file-size limit (``RLIMIT_FSIZE``) needs no privilege: Python ignores ``SIGXFSZ``, so a write past the limit
fails with ``EFBIG`` in the child process exactly where a full disk would fail.
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.cli import run_cli


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextmanager
def full_disk(
    folder: Path, free_kib: int = 0, prepare: Callable[[Path], None] | None = None, size_kib: int = 256
) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size_kib`` KiB on which ``prepare(folder)`` runs first, then filled until
    about ``free_kib`` KiB are left. Delete ``folder/.filler-kept`` to free the space again."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({mounted.stderr.strip() or 'mount refused'})")
    try:
        if prepare is not None:
            prepare(folder)
        filler = folder / ".filler"
        handle = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(handle, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(handle)
        if free_kib:
            os.truncate(filler, max(0, filler.stat().st_size - free_kib * 1024))
        filler.rename(folder / ".filler-kept")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """``folder`` (with its content) bind-mounted read-only onto itself: writes fail with ``EROFS`` even for
    root, as on read-only media."""
    bound = _mount("--bind", str(folder), str(folder))
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount a folder read-only here ({bound.stderr.strip() or 'mount refused'})")
    try:
        again = _mount("-o", "remount,ro,bind", str(folder))
        if again.returncode != 0:
            pytest.skip(f"cannot remount a folder read-only here ({again.stderr.strip()})")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextmanager
def immutable_folder(folder: Path) -> Iterator[Path]:
    """``folder`` made immutable (``chattr +i``): creating a file in it fails with ``EPERM``, even for root."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot make a folder immutable here ({done.stderr.strip() or 'chattr refused'})")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def user_files(folder: Path) -> list[str]:
    """What is in ``folder`` apart from the filler of :func:`full_disk`."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.startswith(".filler"))


def run_cli_with_file_limit(limit_bytes: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``dmtl-studio ARGS`` in a child process that cannot write files larger than ``limit_bytes``."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return run_cli(*args, timeout=600, preexec_fn=limit)
