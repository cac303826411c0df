"""The near-duplicate groups the last duplicate check found, kept in the project so that splits keep each together.

Identical items share a split by their content hash (:mod:`dmtl_studio.core.project.splits`). Near-duplicates (a
resized, re-encoded, cropped, mirrored, turned, grey or brightened copy; a text of nearly the same words) are found
only by a duplicate check (:func:`dmtl_studio.core.quality.duplicates.find_duplicates`), which is too costly to run
at every assignment. So each check keeps its groups here, as the content hashes (sha256 hex) of their members, in
the project's ``meta`` table; an assignment of splits then treats each group as one item: *Reassign splits* and
``dmtl-studio splits`` no longer pull apart what *keep in one split* put together, and a copy labelled later joins
its group's split. Items added after the check are not in its groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Protocol

#: The ``meta`` key of the last check's groups (JSON: a list of lists of content hashes).
META_KEY = "near_duplicate_groups"


class _Meta(Protocol):
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


def remember_groups(store: _Meta, groups: Iterable[Sequence[str | None]]) -> None:
    """Keep the content hashes of each group's members (groups of one content are left out: identical items share
    a split anyway), replacing the groups of the check before."""
    kept = sorted(sorted(contents) for contents in ({c for c in g if c} for g in groups) if len(contents) > 1)
    store.set_meta(META_KEY, json.dumps(kept))


def group_keys(store: _Meta) -> dict[str, str] | None:
    """``{content hash: key shared by its group}`` from the last check (``None`` when no check has kept groups,
    or what is kept cannot be read)."""
    text = store.get_meta(META_KEY)
    if text is None:
        return None
    try:
        groups = json.loads(text)
        return {content: f"look-alike:{group[0]}" for group in groups for content in group}
    except (ValueError, TypeError, IndexError, KeyError):
        return None
