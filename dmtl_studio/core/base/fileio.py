"""Every file the product writes goes through here: a temporary file beside the target, flushed to disk, then
renamed over it; a failure removes the temporary file and leaves the target as it was.

A disk error (no space, read-only folder, no permission) becomes a :class:`FileWriteError` whose message names
the file and says, in plain words, what happened and that nothing was written there.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

#: Plain words for the disk errors a person can do something about.
_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk or folder is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EFBIG: "the file is larger than this disk or system allows",
    errno.ENOENT: "the folder does not exist",
    errno.EIO: "the disk reported an input/output error",
}


class FileWriteError(OSError):
    """A file could not be written; ``str()`` is one plain sentence naming the file and what was kept.

    It is an :class:`OSError` (with the original ``errno``) so code that already handles those keeps working.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, error_number: int | None = None) -> None:
        super().__init__(error_number or 0, reason)
        self.path = Path(path)
        self.reason = reason
        #: Whether a file was there already (it is kept as it was).
        self.earlier = os.path.lexists(self.path)

    def __str__(self) -> str:
        kept = " (the earlier file is kept)" if self.earlier else ""
        return f"could not write {self.path}: {self.reason}; nothing was written there{kept}"


class OutputExistsError(Exception):
    """A command's output file exists already; ``str()`` names it, what it is, and what to do instead."""


def refuse_existing(
    path: str | os.PathLike[str], what: str | None = None, remedy: str = "choose another file name"
) -> None:
    """Refuse to write a command's output over a file that exists (a link counts, even a broken one).

    ``what`` says what the existing file is when the command knows (``"one of the images being predicted"``);
    ``remedy`` what to do instead, besides moving the file away (``"export into another folder"``).

    Raises
    ------
    OutputExistsError
        When ``path`` exists; nothing was written.
    """
    target = Path(path)
    if os.path.lexists(target):
        role = f" and is {what}" if what else ""
        raise OutputExistsError(
            f"{target} already exists{role}: {remedy}, or move that file away first (nothing was written)"
        )


def is_inside(path: str | os.PathLike[str], folder_or_file: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder_or_file`` itself or lies below it (links and ``..`` resolved)."""
    try:
        target, other = Path(path).resolve(), Path(folder_or_file).resolve()
    except (OSError, RuntimeError):
        return False
    return target == other or other in target.parents


def describe_os_error(exc: BaseException) -> str:
    """Plain words for an ``OSError`` (``"the disk is full"``), or its own text for any other error."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT and exc.filename:
        # A file read that is not there, or a write into a folder that is not: say which
        missing_folder = not os.path.isdir(os.path.dirname(os.path.abspath(os.fsdecode(exc.filename))))
        return "the folder does not exist" if missing_folder else "the file does not exist"
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    text = getattr(exc, "strerror", None) or str(exc)
    return text or type(exc).__name__


def is_disk_error(exc: BaseException) -> bool:
    """Whether ``exc`` (an SQLite or OS error) comes from the disk: full, read-only, or an I/O error."""
    text = str(exc).lower()
    return is_disk_full(exc) or "readonly" in text or "read-only" in text or "disk i/o error" in text


def disk_reason(exc: BaseException, folder: Path | None = None) -> str:
    """Plain words for a disk error (:func:`is_disk_error`); ``folder``: where to look for a full disk, which
    SQLite reports as a plain I/O error when it cannot map its shared-memory file."""
    text = str(exc).lower()
    if is_disk_full(exc):
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the disk or folder is read-only"
    if folder is not None:
        with suppress(OSError):
            if shutil.disk_usage(folder).free < 1 << 20:
                return "the disk is full"
    return "the disk reported an input/output error"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full, including SQLite's own wording."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    return "disk is full" in str(exc) or "disk full" in str(exc)


def new_temp_file(folder: str | os.PathLike[str], prefix: str, suffix: str = "") -> tuple[int, str]:
    """Create a new, empty temporary file in ``folder``; returns ``(descriptor, path)``.

    Unlike ``tempfile.mkstemp`` (owner-only files), it gets the permissions of any new file (0o666 less the
    user's umask, applied by the system), which the final file keeps after the rename: models, reports and
    exports live in folders that colleagues open.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def atomic_target(
    path: str | os.PathLike[str], suffix: str = ".partial", durable: bool = True
) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that wants a file name (SQLite's backup, a
    library); on success it is flushed to disk and renamed to ``path``, on any failure it is removed.

    Raises
    ------
    FileWriteError
        When the disk refuses the write (full, read-only, no permission); ``path`` is then unchanged.
    """
    target = Path(path)
    try:
        handle, temp = new_temp_file(target.parent, prefix=f".{target.name}.", suffix=suffix)
        os.close(handle)
    except OSError as exc:
        raise FileWriteError(target, describe_os_error(exc), exc.errno) from exc
    try:
        yield Path(temp)
        if durable:
            with open(temp, "rb+") as stream:
                os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise FileWriteError(target, describe_os_error(exc), exc.errno) from exc
        raise
    if durable:
        _sync_folder(target.parent)


def atomic_write(path: str | os.PathLike[str], write: Callable[[object], None], durable: bool = True) -> None:
    """Call ``write(stream)`` on a binary stream, then put what it wrote at ``path`` atomically.

    Readers see the old file or the new one, never a part; on failure the temporary file is removed.
    ``durable=False`` skips the flush to disk (caches and generated files that can be made again).

    Raises
    ------
    FileWriteError
        When the disk refuses the write (full, read-only, no permission); ``path`` is then unchanged.
    """
    with atomic_target(path, suffix="", durable=durable) as temp, open(temp, "wb") as stream:
        write(stream)
        stream.flush()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    Raises
    ------
    FileWriteError
        When the disk refuses the write (full, read-only, no permission); ``path`` is then unchanged.
    """
    atomic_write(path, lambda stream: stream.write(data), durable)


def atomic_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Copy ``source`` to ``target`` through a temporary file (content only, in 1 MiB blocks), keeping the
    source's modification time.

    Raises
    ------
    FileWriteError
        When the disk refuses the write; ``target`` is then unchanged. Reading ``source`` raises ``OSError``.
    """

    with open(source, "rb") as reader:  # a source that cannot be read is its own OSError, naming it
        stat = os.fstat(reader.fileno())

        def copy(stream: object) -> None:
            for block in iter(lambda: reader.read(1 << 20), b""):
                stream.write(block)  # type: ignore[attr-defined]

        atomic_write(target, copy)
    with suppress(OSError):
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FolderNotMade(OSError):
    """:func:`folder_made_for` could not make its folder (the errno and reason of the failed ``mkdir``)."""


@contextmanager
def folder_made_for(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Make the folder ``path`` (and its missing parents) for the work of the ``with`` block; when the block
    raises, the folders it made are removed again if they are still empty (a project that could not be created
    leaves no empty folder behind).

    Raises
    ------
    FolderNotMade
        The folder cannot be made (nothing was made).
    """
    target = Path(path)
    made = [folder for folder in (target, *target.parents) if not folder.exists()]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FolderNotMade(exc.errno, exc.strerror, exc.filename) from exc
    try:
        yield target
    except BaseException:
        for folder in made:  # the deepest first
            with suppress(OSError):
                folder.rmdir()
        raise
