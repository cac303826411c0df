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
import re
from collections.abc import Iterable, Sequence
from typing import Protocol

#: The ``meta`` key of the last check's groups (JSON: ``{"groups": [[content hash, ...], ...], "newest_id": n}``).
META_KEY = "near_duplicate_groups"
_HASH = re.compile(r"[0-9a-f]{64}")


class _Meta(Protocol):
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


def remember_groups(store: _Meta, groups: Iterable[Sequence[str | None]], newest_id: int = 0) -> None:
    """Keep the content hashes of each group's members (groups of one content are left out: identical items share
    a split anyway), replacing the groups of the check before; ``newest_id``: the project's newest item id when the
    check read the items (items with a larger id came after it)."""
    kept = sorted(sorted(contents) for contents in ({c for c in g if c} for g in groups) if len(contents) > 1)
    store.set_meta(META_KEY, json.dumps({"groups": kept, "newest_id": int(newest_id)}))


def _kept(store: _Meta) -> dict | None:
    """What the last check kept, or ``None`` when nothing is kept or it is not a list of groups of content hashes
    and a newest id (edited by hand, damaged)."""
    try:
        kept = json.loads(store.get_meta(META_KEY) or "null")
    except ValueError:
        return None
    if not isinstance(kept, dict) or not isinstance(kept.get("newest_id", 0), int):
        return None
    groups = kept.get("groups")
    if not isinstance(groups, list) or not all(
        isinstance(group, list) and group and all(isinstance(c, str) and _HASH.fullmatch(c) for c in group)
        for group in groups
    ):
        return None
    return kept


def group_keys(store: _Meta) -> dict[str, str] | None:
    """``{content hash: key shared by its group}`` from the last check (``None`` when no check has kept groups,
    or what is kept cannot be read)."""
    kept = _kept(store)
    return None if kept is None else {c: f"look-alike:{g[0]}" for g in kept["groups"] for c in g}


def checked_up_to(store: _Meta) -> int | None:
    """The newest item id the last check read (items with a larger id were added after it), or ``None``."""
    kept = _kept(store)
    return int(kept.get("newest_id", 0)) if kept is not None else None
