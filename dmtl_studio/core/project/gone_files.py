"""The images of a project whose files are gone from disk, looked at when the project opens.

A lab renames a folder, moves it to another drive, or opens the project on a machine where the drive is not
mounted: the project then holds labels for files it cannot read. Found only when a run starts, the images had
already vanished from every count ("0 labelled … label some images first"). This module tells, without writing
anything, how many of the project's images are gone, how many of them are labelled, and which folders went with
them (the highest folder of each path that no longer exists), so the window can say so when the project opens
and offer to import the folder from its new place (:mod:`~dmtl_studio.core.project.moved_images` then gives the
files back their labels, splits and notes by content).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dmtl_studio.core.project.images_table import MISSING_REASON, ImageRecord


class ProjectStore(Protocol):
    """What this module uses of :class:`dmtl_studio.core.project.store.ProjectStore`."""

    kind: str

    def images(self, usable_only: bool = False, limit: int | None = None) -> list[ImageRecord]: ...


@dataclass(frozen=True)
class GoneFiles:
    """The images whose file is gone, of those the project could use or has marked missing.

    ``folders``: ``(folder, gone images below it)`` for each gone folder, most first (a file
    whose own folder still exists was deleted or renamed alone and names none); ``first``: one gone path.
    """

    gone: int = 0
    labelled: int = 0
    total: int = 0
    folders: tuple[tuple[str, int], ...] = ()
    first: str = ""
    #: The gone files in project order (for the caller's log; the window shows the counts).
    paths: tuple[str, ...] = field(default=(), repr=False)

    def message(self) -> str:
        """Two or three sentences for the person, or "" when nothing is gone."""
        if not self.gone:
            return ""
        where = (
            f"the folder {self.folders[0][0]} is gone"
            if len(self.folders) == 1
            else f"{len(self.folders)} folders are gone, {self.folders[0][0]} the largest"
            if self.folders
            else f"{self.first} and others were deleted or renamed"
        )
        labels = (
            f"Their labels ({self.labelled} labelled), splits and notes are kept. " if self.labelled else ""
        )
        return (
            f"{self.gone} of this project's {self.total} images are no longer on disk: {where} (moved, renamed, "
            f"or on a drive that is not connected). {labels}If the folder was moved, import it from its new "
            "place: its images are recognised by their content and keep what the project holds for them."
        )


def _gone_folder(path: str) -> str | None:
    """The highest folder on ``path``'s way that no longer exists (None when the file's own folder exists)."""
    folder = os.path.dirname(path)
    if os.path.isdir(folder):
        return None
    while True:
        parent = os.path.dirname(folder)
        if parent == folder or os.path.isdir(parent):
            return folder
        folder = parent


def find_gone_files(store: ProjectStore, cancelled: Callable[[], bool] = lambda: False) -> GoneFiles:
    """Look on disk for each image the project could use or has marked missing; nothing is written.

    A text project's items live in the project: nothing is ever gone. ``cancelled`` is asked between images (the
    project was closed meanwhile); the figures then cover the images looked at.

    Returns
    -------
    GoneFiles
        The counts and the gone folders. One ``stat`` per image (a second per gone file's folders).
    """
    if store.kind == "text":
        return GoneFiles()
    records = [r for r in store.images() if r.problem in (None, MISSING_REASON)]
    gone: list[ImageRecord] = []
    for record in records:
        if cancelled():
            break
        if not os.path.isfile(record.path):
            gone.append(record)
    if not gone:
        return GoneFiles(total=len(records))
    folders: Counter[str] = Counter()
    known: dict[str, str | None] = {}
    for record in gone:
        parent = os.path.dirname(record.path)
        if parent not in known:
            known[parent] = _gone_folder(record.path)
        if known[parent] is not None:
            folders[known[parent]] += 1  # type: ignore[index]
    return GoneFiles(
        gone=len(gone),
        labelled=sum(1 for r in gone if r.label is not None),
        total=len(records),
        folders=tuple(folders.most_common()),
        first=gone[0].path,
        paths=tuple(r.path for r in gone),
    )
