"""Which files of a list are gone from disk, looked at folder by folder.

A project's images are grouped by folder; a folder that is gone (renamed, moved, on a drive that is not
connected) counts all its files with one ``stat`` instead of one per file — an unplugged network share can take
seconds a ``stat``. Every "is this image's file still there?" of the product goes through :func:`missing_files`:
the look when a project opens, a run's and an export's marking of gone files, ``remove --missing``, the feature
cache's content hashes.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dmtl_studio.core.base.cancel import check


@dataclass(frozen=True)
class MissingFiles:
    """``paths``: the gone files in the order given; ``folders``: ``(folder, gone files below it)`` for each
    gone folder (the highest folder of the path that no longer exists), most first. A file whose own folder
    still exists was deleted or renamed alone and names no folder."""

    paths: tuple[str, ...] = ()
    folders: tuple[tuple[str, int], ...] = ()


def _there(path: str, kind: Callable[[int], bool]) -> bool:
    """Whether ``path`` is on disk as a ``kind`` (``stat.S_ISDIR``, ``stat.S_ISREG``). One that this user may not
    look at (permission denied) is there: it is unreadable, which reading it reports, not gone (h31: a folder made
    unreadable was said to be moved)."""
    try:
        return kind(os.stat(path).st_mode)
    except PermissionError:
        return True
    # Not there, a folder where a file was, a drive not connected, a NUL in the name.
    except (OSError, ValueError):
        return False


def _gone_folder(folder: str, exists: Callable[[str], bool]) -> str | None:
    """The highest folder on ``folder``'s way that no longer exists (None when ``folder`` exists)."""
    if exists(folder):
        return None
    while True:
        parent = os.path.dirname(folder)
        if parent == folder or exists(parent):
            return folder
        folder = parent


def missing_files(paths: Iterable[str], cancelled: Callable[[], bool] = lambda: False) -> MissingFiles:
    """The files of ``paths`` (absolute) that are not on disk, in their order, and the folders gone with them.

    A folder that is gone counts its files without a ``stat`` each; in a folder that exists, each file is looked
    at (a folder or a broken link where the file was is gone too; one this user may not read is not gone: reading
    it says why). Nothing is written.

    Raises
    ------
    Cancelled
        ``cancelled()`` said so (asked between folders and files): a part-look is no answer.
    """
    given = list(paths)
    by_folder: dict[str, list[str]] = {}
    for path in given:
        by_folder.setdefault(os.path.dirname(path), []).append(path)
    seen: dict[str, bool] = {}

    def exists(folder: str) -> bool:
        if folder not in seen:
            seen[folder] = _there(folder, stat.S_ISDIR)
        return seen[folder]

    gone: set[str] = set()
    folders: Counter[str] = Counter()
    for folder, members in by_folder.items():
        check(cancelled)
        went = _gone_folder(folder, exists)
        if went is not None:
            gone.update(members)
            folders[went] += len(members)
            continue
        for path in members:
            check(cancelled)
            if not _there(path, stat.S_ISREG):
                gone.add(path)
    return MissingFiles(tuple(p for p in given if p in gone), tuple(folders.most_common()))
