"""Images found again at a new place: an imported file whose content is that of a project image whose file is gone.

A user who moves or renames an image folder and imports it from its new place (what the project advises when its
files are missing) expects the labels, splits and notes made in the project to follow the files. By content hash
alone a gone image is recognised in its new folder; among several gone images of the same content (copies), the
one of the same file name is taken, and with no such one and more than one left the file is left new (which copy it
is cannot be told). A file the project already holds is never claimed. An image found in a class folder of another
name than the one it left (a photo moved from ``circle/`` to ``square/`` to fix its label) takes that class; one
found under a folder of the same name (the whole tree moved) keeps the project's label, hand-made ones included.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from dmtl_studio.core.project.validation import normal_class_name


class GoneImages:
    """The project's images by content hash, to find those whose file is no longer on disk.

    ``records`` are the project's images (any objects with ``path`` and ``sha256``). A record is looked up on disk
    only when a new file of its content comes (an import of files the project holds stats none of them).
    """

    def __init__(self, records: Iterable[object]) -> None:
        self._by_hash: dict[str, list[str]] = {}
        for record in records:
            sha = getattr(record, "sha256", None)
            if sha:
                self._by_hash.setdefault(sha, []).append(getattr(record, "path", ""))

    def claim(self, sha256: str | None, path: str) -> str | None:
        """The gone image that the file ``path`` of content ``sha256`` is (its old path), taken off the list;
        ``None`` when no gone image has that content, or when several do and none has the file's name."""
        held = self._by_hash.get(sha256 or "")
        candidates = [old for old in held or () if not os.path.isfile(old)]
        if not candidates:
            return None
        name = os.path.basename(path)
        named = [old for old in candidates if os.path.basename(old) == name]
        chosen = named[0] if named else candidates[0] if len(candidates) == 1 else None
        if chosen is not None:
            held.remove(chosen)
        return chosen


def folder_class(path: str) -> str:
    """The class the folder holding ``path`` would give (its name, as an import reads class folders)."""
    return normal_class_name(os.path.basename(os.path.dirname(path)))
