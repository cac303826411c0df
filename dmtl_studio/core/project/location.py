"""Where a new project goes: the folder a name and a location make, and whether a project may be made there."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.project.store import is_project

#: Characters no folder name may hold on one of the systems the product runs on (Windows is the strictest).
FORBIDDEN_NAME_CHARACTERS = '<>:"/\\|?*'


@dataclass(frozen=True)
class NewProjectFolder:
    """The verdict on a new project's folder.

    Attributes
    ----------
    folder
        ``location / name`` (absolute), the folder that will hold the project; made if missing.
    problem
        Why no project can be made there (``None`` when it can).
    existing_entries
        How many files and folders are already in ``folder`` (0 when it is missing or empty): a project may
        be made in a folder that is not empty only after the user agreed to it.
    """

    folder: Path
    problem: str | None
    existing_entries: int

    @property
    def needs_confirmation(self) -> bool:
        return self.problem is None and self.existing_entries > 0


#: Files the system leaves in folders by itself (besides hidden ones): no one's data, no reason to ask.
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


def visible_entries(folder: Path) -> int:
    """How many files and folders ``folder`` holds that a person put there: hidden ones (``.DS_Store``, ``.git``)
    and the system's own (``Thumbs.db``, ``desktop.ini``) are not counted. Raises ``OSError`` as ``iterdir``."""
    return sum(
        1
        for entry in folder.iterdir()
        if not entry.name.startswith(".") and entry.name.lower() not in SYSTEM_FILES
    )


def check_new_project_folder(location: str | os.PathLike[str], name: str) -> NewProjectFolder:
    """Decide whether a project named ``name`` may be made in the folder ``location / name``.

    Parameters
    ----------
    location
        The parent folder; it need not exist yet (it is made with the project). ``~`` is expanded.
    name
        The project's name, which becomes its folder name. Surrounding spaces are ignored.

    Returns
    -------
    NewProjectFolder
        The folder, the reason it cannot be used (an empty or unusable name, a location that is a file, a
        folder that already holds a project) and how many entries it already has.
    """
    name = name.strip()
    location_text = str(location).strip()
    base = Path(location_text).expanduser() if location_text else Path()
    folder = (base / name).absolute() if name else base.absolute()
    if not name:
        return NewProjectFolder(folder, "Give the project a name: it becomes the name of its folder.", 0)
    bad = sorted({c for c in name if c in FORBIDDEN_NAME_CHARACTERS or ord(c) < 32})
    if bad or name in (".", "..") or name.endswith("."):
        shown = " ".join(repr(c) for c in bad) if bad else repr(name)
        return NewProjectFolder(
            folder, f"A folder cannot be named {name!r} (not allowed: {shown}). Choose another name.", 0
        )
    if not location_text:
        return NewProjectFolder(folder, "Choose the folder the project goes in.", 0)
    for parent in (base, *base.parents):
        if parent.exists():
            if not parent.is_dir():
                return NewProjectFolder(
                    folder, f"{parent} is a file, not a folder: choose another location.", 0
                )
            break
    if folder.exists() and not folder.is_dir():
        return NewProjectFolder(folder, f"{folder} is a file: choose another name.", 0)
    if is_project(folder):
        return NewProjectFolder(
            folder, f"{folder} already holds a project: open it with File ▸ Open project… instead.", 0
        )
    try:
        entries = visible_entries(folder) if folder.is_dir() else 0
    except OSError as exc:
        return NewProjectFolder(folder, f"Cannot read {folder}: {exc.strerror or exc}", 0)
    return NewProjectFolder(folder, None, entries)
