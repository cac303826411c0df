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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dmtl_studio.core.base.missing_files import missing_files
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
    #: The gone files in project order, and their labels (None: unlabelled).
    paths: tuple[str, ...] = field(default=(), repr=False)
    labels: tuple[str | None, ...] = field(default=(), repr=False)
    #: Their record ids: what the window reads again, instead of every record, when labels change.
    ids: tuple[int, ...] = field(default=(), repr=False)

    def message(self) -> str:
        """Two or three sentences for the person, or "" when nothing is gone."""
        if not self.gone:
            return ""
        if not self.folders:  # files deleted or renamed one by one: no folder to find again
            others = f" and {self.gone - 1} other(s)" if self.gone > 1 else ""
            return (
                f"{self.gone} of this project's {self.total} images are no longer on disk: {self.first}{others} "
                f"were deleted or renamed. {self._kept()}A run leaves them out; Labels ▸ Remove problem files "
                "from project… forgets them (dmtl-studio remove PROJECT --missing)."
            )
        where = (
            f"the folder {self.folders[0][0]} is gone"
            if len(self.folders) == 1
            else f"{len(self.folders)} folders are gone, {self.folders[0][0]} the largest"
        )
        return (
            f"{self.gone} of this project's {self.total} images are no longer on disk: {where} (moved, renamed, "
            f"or on a drive that is not connected). {self._kept()}If the folder was moved, {WAY_BACK}"
        )

    def _kept(self) -> str:
        return (
            f"Their labels ({self.labelled} labelled), splits and notes are kept. " if self.labelled else ""
        )


#: How the product says what gives gone images back (the window's box, the training panel, a run, ``info``).
WAY_BACK = (
    "import it from its new place (File ▸ Import image folder…, dmtl-studio import PROJECT FOLDER): its images are "
    "recognised by their content and keep their labels, splits and notes."
)
#: :data:`WAY_BACK` in a line of the window, which has its menu at hand: the training panel's ready line.
WAY_BACK_IN_WINDOW = (
    "import it from its new place (File ▸ Import image folder…): its images keep their labels."
)


def find_gone_files(store: ProjectStore, cancelled: Callable[[], bool] = lambda: False) -> GoneFiles:
    """Look on disk for each image the project could use or has marked missing; nothing is written.

    The images are taken folder by folder (:func:`~dmtl_studio.core.base.missing_files.missing_files`: a folder
    that is gone counts all its images without one ``stat`` each). A text project's items live in the project:
    nothing is ever gone.

    Raises
    ------
    Cancelled
        ``cancelled()`` said so (asked between folders and files): a part-look is no answer.
    """
    if store.kind == "text":
        return GoneFiles()
    records = [r for r in store.images() if r.problem in (None, MISSING_REASON)]
    missing = missing_files((r.path for r in records), cancelled)
    if not missing.paths:
        return GoneFiles(total=len(records))
    went = set(missing.paths)
    gone = [r for r in records if r.path in went]
    return GoneFiles(
        gone=len(gone),
        labelled=sum(1 for r in gone if r.label is not None),
        total=len(records),
        folders=missing.folders,
        first=gone[0].path,
        paths=tuple(r.path for r in gone),
        labels=tuple(r.label for r in gone),
        ids=tuple(r.id for r in gone),
    )
