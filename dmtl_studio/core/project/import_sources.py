"""The folders a project's images (or texts) were imported from, newest first, so they can be imported again.

A folder imported again adds the files put in it since (a re-import keeps every label and split; see
:func:`~dmtl_studio.core.project.importer.import_folder`), and marks the files gone from it. Tables of texts are
not kept: importing one again asks for its columns, as the first time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol


class ProjectStore(Protocol):
    """What this module uses of :class:`dmtl_studio.core.project.store.ProjectStore` (whose opening moves these
    folders with a moved project, :mod:`~dmtl_studio.core.project.relocate`: no import of it here)."""

    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


#: The meta key under which the folders are kept (a JSON list of absolute paths, newest first).
KEY = "import_sources"
#: How many folders are kept.
LIMIT = 10


def import_sources(store: ProjectStore) -> list[str]:
    """The folders imported into ``store``, newest first (at most :data:`LIMIT`; gone ones too)."""
    try:
        found = json.loads(store.get_meta(KEY) or "[]")
    except ValueError:  # written by hand, or by a later version: nothing to offer rather than a failed open
        return []
    return [path for path in found if isinstance(path, str)][:LIMIT] if isinstance(found, list) else []


def remember_source(store: ProjectStore, folder: str | os.PathLike[str]) -> None:
    """Put ``folder`` (absolute) first in the project's import sources; a file (a table of texts) is not kept."""
    path = Path(folder).absolute()
    if not path.is_dir():
        return
    kept = [str(path)] + [other for other in import_sources(store) if other != str(path)]
    store.set_meta(KEY, json.dumps(kept[:LIMIT]))


def move_sources(store: ProjectStore, old: str, new: str) -> None:
    """Folders below ``old`` (a path ending in a separator) read below ``new`` now: the project moved with them
    (:mod:`~dmtl_studio.core.project.relocate`); the others are kept as they are."""
    sources = import_sources(store)
    moved = [new + path[len(old) :] if (path + os.sep).startswith(old) else path for path in sources]
    if moved != sources:
        store.set_meta(KEY, json.dumps([path.rstrip(os.sep) or os.sep for path in moved]))
