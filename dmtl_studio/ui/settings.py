"""The window's own settings (layout, recent projects) in one INI file in the application's data folder.

Kept beside the rest of the application's files, so ``DMTL_STUDIO_HOME`` moves them too (tests, portable
installs) and no test ever reads or writes the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

from dmtl_studio.core.base.paths import app_data_dir

RECENT_KEY = "recent_projects"
MAX_RECENT = 10


def studio_settings() -> QSettings:
    """The settings file ``settings.ini`` in :func:`~dmtl_studio.core.base.paths.app_data_dir`."""
    return QSettings(str(app_data_dir() / "settings.ini"), QSettings.Format.IniFormat)


def _as_list(value: object) -> list[str]:
    # An INI file gives back a one-element list as a plain string, and no list at all as None.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(item) for item in value]  # type: ignore[union-attr]


def recent_projects() -> list[str]:
    """The projects opened last, newest first (absolute paths; some may no longer exist)."""
    return _as_list(studio_settings().value(RECENT_KEY))


def remember_project(folder: str | os.PathLike[str]) -> None:
    """Put ``folder`` first in the recent projects (at most :data:`MAX_RECENT` are kept)."""
    path = str(Path(folder).absolute())
    projects = [path, *(p for p in recent_projects() if p != path)][:MAX_RECENT]
    settings = studio_settings()
    settings.setValue(RECENT_KEY, projects)
    settings.sync()


def forget_project(folder: str) -> None:
    """Remove ``folder`` from the recent projects (the folder itself is not touched)."""
    settings = studio_settings()
    settings.setValue(RECENT_KEY, [p for p in recent_projects() if p != folder])
    settings.sync()
