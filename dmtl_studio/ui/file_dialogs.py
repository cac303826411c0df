"""File and folder dialogs that open where the person last went, not in the folder the application started from.

Every dialog of the window asks through these helpers: each opens in the folder last chosen in any of them (kept
in the window's settings, so across sessions too), or the home folder the first time, or the folder a caller
knows better (the parent of a folder gone from disk). A save dialog's suggested file name is put in that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from dmtl_studio.ui.settings import studio_settings

#: The settings key of the folder last chosen in a dialog.
LAST_FOLDER_KEY = "last_dialog_folder"


def start_folder(near: str | os.PathLike[str] | None = None) -> str:
    """Where a dialog opens: the deepest existing folder on ``near``'s way when given, else the folder last
    chosen in a dialog, else the home folder."""
    if near:  # a gone folder's nearest existing parent, unless only a drive's root is left of it
        for folder in (Path(near), *Path(near).parents):
            if folder.is_dir() and folder != Path(folder.anchor):
                return str(folder)
    last = studio_settings().value(LAST_FOLDER_KEY)
    if isinstance(last, str) and last:
        for folder in (Path(last), *Path(last).parents):  # a drive's root (E:\, a USB stick) is a place too
            if folder.is_dir():
                return str(folder)
    return str(Path.home())


def remember_folder(chosen: str) -> None:
    """Keep the folder of ``chosen`` (a folder, or a file's folder) as where the next dialog opens."""
    if not chosen:
        return
    path = Path(chosen)
    folder = path if path.is_dir() else path.parent
    settings = studio_settings()
    settings.setValue(LAST_FOLDER_KEY, str(folder.absolute()))
    settings.sync()


def ask_folder(parent: QWidget | None, title: str, near: str | None = None) -> str:
    """A folder chosen by the person ("" when cancelled), remembered for the next dialog."""
    folder = QFileDialog.getExistingDirectory(parent, title, start_folder(near))
    remember_folder(folder)
    return folder


def ask_open_file(parent: QWidget | None, title: str, filters: str, near: str | None = None) -> str:
    """A file to read, chosen by the person ("" when cancelled), its folder remembered."""
    path, _ = QFileDialog.getOpenFileName(parent, title, start_folder(near), filters)
    remember_folder(path)
    return path


def ask_save_file(parent: QWidget | None, title: str, suggested: str, filters: str = "") -> str:
    """Where to write a file ("" when cancelled), its folder remembered. ``suggested``: a file name, put in the
    folder last chosen, or a whole path, kept as it is."""
    return ask_save_file_and_filter(parent, title, suggested, filters)[0]


def ask_save_file_and_filter(
    parent: QWidget | None, title: str, suggested: str, filters: str = ""
) -> tuple[str, str]:
    """:func:`ask_save_file`, with the filter the person chose (an export's format)."""
    suggestion = suggested if os.path.isabs(suggested) else os.path.join(start_folder(), suggested)
    path, chosen = QFileDialog.getSaveFileName(parent, title, suggestion, filters)
    remember_folder(path)
    return path, chosen
