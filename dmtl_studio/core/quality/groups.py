"""Groups of duplicate images: their members, what is wrong with a group, and keeping a group in one split.

Plain data and store writes only (no decoding, no model), so the window can use it directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.images_table import SPLITS
from dmtl_studio.core.project.store import ProjectStore


@dataclass(frozen=True)
class GroupMember:
    image_id: int
    path: str
    label: str | None
    split: str | None
    #: The content hash (``None`` when unknown): in a near-duplicate group, members sharing one are identical copies.
    sha256: str | None = None


@dataclass(frozen=True)
class DuplicateGroup:
    """Images that are copies of each other; ``kind`` is ``"exact"`` when all share one content hash."""

    kind: str
    members: tuple[GroupMember, ...]
    warnings: tuple[str, ...]

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(sorted({m.split or "none" for m in self.members}, key=_split_order))

    def identical(self, member: GroupMember) -> bool:
        """Whether another member of the group holds the same content as ``member`` (byte for byte)."""
        return member.sha256 is not None and any(
            m.sha256 == member.sha256 and m.image_id != member.image_id for m in self.members
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({m.label for m in self.members if m.label is not None}))

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "warnings": list(self.warnings),
            "members": [
                {
                    "image_id": m.image_id,
                    "path": m.path,
                    "label": m.label,
                    "split": m.split,
                    "identical_copy": self.identical(m),
                }
                for m in self.members
            ],
        }


def _split_order(split: str) -> int:
    return SPLITS.index(split) if split in SPLITS else len(SPLITS)


def group_warnings(members: Sequence[GroupMember]) -> tuple[str, ...]:
    """What is wrong with a group: it spans splits (a leak), or holds two different labels.

    A member without a split (an unlabelled image) is on the training side: a copy of it in the training split is
    no leak; one in validation or test is (the images without labels train a run that learns from them).
    """
    warnings = []
    splits = Counter(m.split or "none" for m in members)
    if len({"train" if split == "none" else split for split in splits}) > 1:
        listed = ", ".join(f"{s} ({splits[s]})" for s in sorted(splits, key=_split_order))
        warnings.append(f"spans splits: {listed}")
    labels = sorted({m.label for m in members if m.label is not None})
    if len(labels) > 1:
        warnings.append(f"different labels: {', '.join(labels)}")
    return tuple(warnings)


def keep_group_in_one_split(store: ProjectStore, image_ids: Sequence[int], split: str | None = None) -> str:
    """Put every image of a group in one split; returns that split.

    Parameters
    ----------
    store
        The open project.
    image_ids
        The group's images.
    split
        The split to use; default: the one holding most of the group (ties: train, then val, then test), so a
        copy that leaked into validation or test joins its training twin.

    Raises
    ------
    ProjectError
        For an unknown split or image.
    """
    records = store.images_by_id(list(image_ids))
    if len(records) != len(set(image_ids)):
        raise ProjectError("some images of the group are no longer in the project")
    split = split if split is not None else group_split(records)
    store.set_splits({r.id: split for r in records})
    return split


def group_split(members: Sequence[object]) -> str:
    """The split :func:`keep_group_in_one_split` puts a group in: the one holding most of its ``members``
    (anything with a ``split``), train on a tie, then validation, then test."""
    counts = Counter(m.split for m in members if m.split in SPLITS)  # type: ignore[attr-defined]
    return min(SPLITS, key=lambda s: (-counts.get(s, 0), _split_order(s)))
