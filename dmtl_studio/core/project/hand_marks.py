"""What a person took out of the project by hand, kept by content so that an import never puts it back.

Two decisions an import must not undo (h35: Import again gave an outlier its folder's label back, and brought back
a removed duplicate): an item whose label was taken off (it stays unlabelled, whatever folder or label column
names it), and an item removed while usable (a file of it is left out, and the import says so). Both are kept in
the project's ``meta`` table by content hash (an image's SHA-256, a text's :func:`~dmtl_studio.core.project.
texts_table.text_sha256`), so a moved folder, a moved project or another spelling of a path is the same picture.
Labelling the picture again, or removing it as a problem file (gone, unreadable), lifts the mark.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.texts_table import TextItem, text_sha256

#: ``meta`` key: the content hashes of items whose label was taken off by hand (a JSON list).
TAKEN_OFF = "labels_taken_off"
#: ``meta`` key: content hash -> the removal list that removed it while usable (a JSON object).
REMOVED = "removed_by_hand"


def taken_off(store: ProjectStore) -> set[str]:
    """The content hashes of the items whose label was taken off by hand (empty for a project of an earlier
    version, or when the value cannot be read)."""
    found = _read(store, TAKEN_OFF)
    return {value for value in found if isinstance(value, str)} if isinstance(found, list) else set()


def removed(store: ProjectStore) -> dict[str, str]:
    """Content hash -> the removal list (a path) of each item removed from the project while usable."""
    found = _read(store, REMOVED)
    if not isinstance(found, dict):
        return {}
    return {key: value for key, value in found.items() if isinstance(key, str) and isinstance(value, str)}


def mark_taken_off(store: ProjectStore, off: Iterable[str | None], on: Iterable[str | None]) -> None:
    """Record the hashes ``off`` as taken off and lift the mark of ``on`` (labelled again); written only when the
    set changes."""
    off, on = {h for h in off if h}, {h for h in on if h}
    if not off and not on:
        return
    before = taken_off(store)
    after = (before | off) - on
    if after != before:
        store.set_meta(TAKEN_OFF, json.dumps(sorted(after)))


def mark_removed(
    store: ProjectStore, by_hand: Iterable[str | None], log: str, problems: Iterable[str | None]
) -> None:
    """Record the hashes ``by_hand`` as removed while usable, listed in ``log``; lift the mark of ``problems``
    (removed as problem files: a file that comes back comes back with its folder)."""
    by_hand, problems = {h for h in by_hand if h}, {h for h in problems if h}
    if not by_hand and not problems:
        return
    before = removed(store)
    after = {key: value for key, value in before.items() if key not in problems}
    after.update(dict.fromkeys(by_hand - problems, log))
    if after != before:
        store.set_meta(REMOVED, json.dumps(after, sort_keys=True))


def restored(store: ProjectStore, hashes: Iterable[str | None]) -> None:
    """Lift the removal mark of ``hashes``: their items are in the project again (a removal list imported)."""
    mark_removed(store, (), "", hashes)


class TextMarks:
    """The marks as a text import applies them to each item it reads: a text removed by hand is left out (and
    listed in :attr:`left` with its removal list), a text whose label was taken off comes without its label."""

    def __init__(self, store: ProjectStore) -> None:
        self.off, self.removed = taken_off(store), removed(store)
        self.held = {record.path for record in store.images()} if self.removed else set()
        self.left: list[tuple[str, str]] = []

    def apply(self, item: TextItem) -> TextItem | None:
        """``item`` as the import should write it, or ``None`` to leave it out."""
        if not (self.off or self.removed) or item.problem is not None:
            return item
        sha = text_sha256(item.body)
        if sha in self.removed and item.source not in self.held:
            self.left.append((item.source, self.removed[sha]))
            return None
        return replace(item, label=None) if sha in self.off and item.label else item


def _read(store: ProjectStore, key: str) -> object:
    try:
        return json.loads(store.get_meta(key) or "null")
    except ValueError:  # written by hand, or by a later version: nothing marked rather than a failed import
        return None
