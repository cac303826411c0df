"""A project moved (or its drive mounted elsewhere) with its images inside its folder, or beside it in the folder
that holds both, keeps them, labels and all.

Stored image paths are absolute (:mod:`~dmtl_studio.core.project.store`). The project remembers the folder it was
last moved to (meta ``project_folder``); opened from another folder, each image stored below the old folder whose
file is gone and whose file is found at the same place below the new folder is pointed there, an image marked
missing for that reason is usable again, and the new folder is remembered. Nothing else changes: an image that
still exists where it was (the project was copied, not moved) keeps its path. When the project's folder kept its
name, the same is done one level up: images stored below the folder that held the project (``lab/images`` beside
``lab/p``) are found below the folder that holds it now, as a lab moves a project and its data together; images
elsewhere keep their paths; a copy keeps remembering its original's folder, so that it finds its own images if the
original is deleted later. Opening writes nothing unless images were found, or the folder was never remembered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.import_sources import move_sources


class ProjectStore(Protocol):
    """What this module uses of :class:`dmtl_studio.core.project.store.ProjectStore` (which calls it)."""

    read_only: bool
    kind: str
    folder: Path

    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def images(self) -> list[ImageRecord]: ...
    def images_under(self, prefix: str) -> list[ImageRecord]: ...
    def move_images(self, moves: Iterable[tuple[str, str, str | None]]) -> int: ...


log = logging.getLogger(__name__)

#: The meta key holding the absolute folder the project was last opened in.
FOLDER_KEY = "project_folder"


def follow_moved_project(store: ProjectStore) -> int:
    """Point the images left behind by a move of ``store``'s folder to their files below its folder now, and
    remember that folder. A read-only project or a text project is left as it is.

    Returns
    -------
    int
        How many images were pointed to their new place.
    """
    if store.read_only or store.kind == "text":
        return 0
    now = os.path.abspath(store.folder)
    before = store.get_meta(FOLDER_KEY)
    if before is None:  # a project from before this was remembered (or a new one): remember it once
        store.set_meta(FOLDER_KEY, now)
        return 0
    if before == now:
        return 0
    moved = _repoint(store, os.path.join(before, ""), os.path.join(now, ""))
    parent_before, parent_now = os.path.dirname(before), os.path.dirname(now)
    if os.path.basename(before) == os.path.basename(now) and parent_before != parent_now:
        # The project and its images side by side in one folder (lab/p and lab/images), moved together: the
        # images are found at the same place below the folder that holds both.
        moved += _repoint(store, os.path.join(parent_before, ""), os.path.join(parent_now, ""))
    if moved:  # a copy, whose images are still where they were, keeps the folder it came from
        store.set_meta(FOLDER_KEY, now)
        log.warning("%s: the project was moved; %d image(s) found at their new place", now, moved)
    return moved


def _repoint(store: ProjectStore, old: str, new: str) -> int:
    below = store.images_under(old)
    # The first image still there: a copy, not a move (one look, every opening).
    if not below or os.path.isfile(below[0].path):
        return 0
    known = {image.path for image in store.images()}
    changes = []
    for image in below:
        target = new + image.path[len(old) :]
        if not os.path.isfile(image.path) and os.path.isfile(target) and target not in known:
            changes.append((image.path, target, None))
    if not changes:
        return 0
    move_sources(store, old, new)  # File ▸ Import again offers the folders where they are now
    return store.move_images(changes)
