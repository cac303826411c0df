"""Atomic file writes: a temporary file beside the target, flushed to disk, then renamed over it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_shareable(path: str | os.PathLike[str]) -> None:
    """Give a file written through a private temporary file the permissions of a normally created one.

    ``tempfile.mkstemp`` creates files readable by their owner only; models, reports and exports live in
    folders that colleagues open, so they get ``0o666`` less the user's umask, as any other new file.
    """
    if os.name == "posix":
        os.chmod(path, 0o666 & ~_current_umask())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        make_shareable(temp)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
