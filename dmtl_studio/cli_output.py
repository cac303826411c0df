"""Where a command writes its output: the folders it makes for it, said on stderr (``output_folders``)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path


def first_missing_folder(path: Path | None) -> Path | None:
    """The top-most folder above ``path`` that does not exist yet (``None`` when its parent exists)."""
    if path is None:
        return None
    missing = None
    folder = path.parent
    while not folder.exists() and folder.parent != folder:
        missing, folder = folder, folder.parent
    return missing


@contextlib.contextmanager
def output_folders(path: Path | None) -> Iterator[None]:
    """Around an output command's work: refuse a ``path`` under a file before any work, and afterwards name the
    folders the command created above ``path`` (a mistyped path would otherwise make a folder tree unseen); when the
    command fails, the folders it created are removed again while empty.

    Raises
    ------
    OutputExistsError
        A file stands where a folder above ``path`` must be (nothing is done).
    """
    from dmtl_studio.core.base.fileio import OutputExistsError

    if path is None:
        yield
        return
    missing = first_missing_folder(path)
    existing = missing.parent if missing is not None else path.parent
    if existing.exists() and not existing.is_dir():
        raise OutputExistsError(
            f"{existing} is a file, not a folder: choose another place for {path.name} (nothing was written)"
        )
    try:
        yield
    except BaseException:
        if missing is not None:  # what the command made, while empty: the deepest first
            folder = path.parent
            while folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                if folder == missing:
                    break
                folder = folder.parent
        raise
    if missing is not None and path.parent.is_dir():
        where = str(missing) if missing == path.parent else f"{missing} (down to {path.parent})"
        print(f"note: created the folder {where}, which did not exist", file=sys.stderr)
