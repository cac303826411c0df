"""Duplicate and near-duplicate images, grouped, with the leaks and label conflicts they cause.

Two images are put in one group when

- their content is identical (the sha256 the project stored at import), or
- their perceptual hashes (pHash: the signs of the 8 x 8 lowest frequencies of the 2-D DCT of a 32 x 32
  grey-level copy, against their median) differ in at most :data:`HASH_DISTANCE` of 64 bits, which survives
  resizing and re-encoding. A crop changes the field of view, so each image also has the hashes of its central
  :data:`CROPS` fractions, and the distance of two images is the smallest between the whole of one and the whole
  or a central crop of the other. A copy saved mirrored or turned is matched by the hashes of each image's 7 other
  flips and quarter turns (:data:`~dmtl_studio.core.project.perceptual.TURNS`), within
  :data:`~dmtl_studio.core.project.perceptual.TURN_DISTANCE` bits. The pair is confirmed by 8 x 8 thumbnails of
  the same comparison (:mod:`dmtl_studio.core.project.thumbnail_match`): grey ones within
  :data:`THUMBNAIL_DIFFERENCE` grey levels on average, because the hash of a nearly flat picture is mostly noise
  and ignores brightness (two plain walls of different greys must not match), and colour ones within
  :data:`COLOUR_DIFFERENCE` levels (hash and grey thumbnails are blind to hue: a green circle on pink and a pink
  square on green of the same luminance matched) unless either picture is grey (a grey copy of a colour picture),
  or, for pictures with structure, after matching their exposure (a brighter or darker copy); or
- when frozen features are given: their cosine similarity is at least :data:`MIN_COSINE` and their hashes differ in
  at most :data:`LOOSE_HASH_DISTANCE` bits (the features confirm what the hash alone would not), thumbnails
  agreeing as above.

The items of a text project are texts: two are put in one group when their normalised texts are identical (the
sha256 the importer stored) or when the cosine similarity of their embeddings (the pretrained text encoder,
:func:`~dmtl_studio.core.quality.features.text_embeddings`, always computed) is at least :data:`TEXT_MIN_COSINE`.
That is stricter than for images' features, which a hash must confirm: texts of opposite meaning that differ by
one word ("the order arrived" / "the order did not arrive") can reach 0.9.

Identical items always share a group; near pairs make star-shaped groups, each member near the group's centre
(:func:`linked_groups`: connected components chained look-alikes into one group of thousands). A group warns when
it spans more than one split
(a copy in validation or test is scored on what training saw) or holds two different labels.
:func:`keep_group_in_one_split` moves a group into one split through the project's split API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.file_changes import current_hashes
from dmtl_studio.core.project.look_alikes import remember_groups
from dmtl_studio.core.project.perceptual import (  # noqa: F401  (the rule's names: part of this API)
    COLOUR_DIFFERENCE,
    CROPS,
    DECODED_SIDE,
    HASH_DISTANCE,
    LOOSE_HASH_DISTANCE,
    MIN_COSINE,
    THUMBNAIL_DIFFERENCE,
    HashStore,
    colour_difference,
    hamming_distances,
    image_hashes,
    image_hashes_of,
    near_duplicate_pairs,
    perceptual_hash,
    thumbnail_difference,
    thumbnails_of,
)
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.groups import (  # noqa: F401  (keep_group_in_one_split: part of this API)
    DuplicateGroup,
    GroupMember,
    group_warnings,
    keep_group_in_one_split,
)
from dmtl_studio.core.training.config import TrainConfig

#: Smallest cosine similarity of the text encoder's embeddings of two near-duplicate texts.
TEXT_MIN_COSINE = 0.95


def cosine_pairs(features: np.ndarray, min_cosine: float, block: int = 1024) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of rows of ``features`` ``(N, F)`` whose cosine is at least
    ``min_cosine``, compared ``block`` rows at a time."""
    unit = np.asarray(features, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    pairs = []
    for start in range(0, len(unit), block):
        close = np.triu(unit[start : start + block] @ unit.T >= min_cosine, k=start + 1)
        pairs.extend((int(i) + start, int(j)) for i, j in zip(*np.nonzero(close), strict=True))
    return pairs


def connected_groups(count: int, pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Groups (sorted index lists, two or more members) of the graph of ``count`` nodes and ``pairs`` edges."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for i in range(count):
        members.setdefault(root(i), []).append(i)
    return sorted((g for g in members.values() if len(g) > 1), key=lambda g: g[0])


def linked_groups(
    count: int, near: Sequence[tuple[int, int]], same: Sequence[tuple[int, int]] = ()
) -> list[list[int]]:
    """Groups (sorted index lists, two or more members) of ``count`` items: ``same`` pairs (identical content)
    always share a group; ``near`` pairs make star-shaped groups, each around a centre near every other member
    (the items with the most near neighbours become centres first: an original and its resized, re-saved and
    cropped copies are one group around the original). Joined by any near pair (connected components), pictures
    that each look like the next chained into one group: 12,895 inspection photos of five classes on a flat
    background, which one "keep in one split" then moved into training whole."""
    units = connected_groups(count, same)
    unit_of = list(range(count))
    for unit in units:
        for i in unit:
            unit_of[i] = unit[0]
    neighbours: dict[int, set[int]] = {}
    for i, j in near:
        a, b = unit_of[i], unit_of[j]
        if a != b:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
    centre_of: dict[int, int] = {}
    for centre in sorted(neighbours, key=lambda u: (-len(neighbours[u]), u)):
        if centre in centre_of:
            continue
        centre_of[centre] = centre
        for other in neighbours[centre]:
            centre_of.setdefault(other, centre)
    members: dict[int, list[int]] = {}
    for i in range(count):
        unit = unit_of[i]
        members.setdefault(centre_of.get(unit, unit), []).append(i)
    return sorted((g for g in members.values() if len(g) > 1), key=lambda g: g[0])


@dataclass(frozen=True)
class DuplicateReport:
    """The groups found (those with warnings first), how many images were compared and which could not be read."""

    groups: tuple[DuplicateGroup, ...]
    images: int
    unreadable: tuple[str, ...]
    used_features: bool

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "used_features": self.used_features,
            "groups": [g.to_dict() for g in self.groups],
            "unreadable": list(self.unreadable),
        }


def find_duplicates(
    project_dir: str | Path,
    use_features: bool = False,
    config: TrainConfig | None = None,
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int], None] | None = None,
    remember: bool = True,
) -> DuplicateReport:
    """Exact and near-duplicate groups among a project's usable images (labelled or not).

    With ``remember`` the groups are kept in the project for its split assignments
    (:mod:`dmtl_studio.core.project.look_alikes`), when it can be written (a busy or full project: not kept, the
    report still given); an audit passes false, so its check without features never replaces a user's own.

    In a text project the items are texts, compared by their hashes and embeddings (the module docstring); the
    embeddings are always computed there, whatever ``use_features``.

    Parameters
    ----------
    use_features
        Also compare frozen features (backbone of ``config``) as the module docstring says; costs a feature pass.
    config
        The backbone (a text project: the encoder, when it names one), device and batch size of a feature pass.
    on_progress
        Called with ``(items hashed or embedded, items)``.

    Raises
    ------
    dmtl_studio.core.models.text_encoder.TextEncoderError
        A text project's encoder cannot be read.
    dmtl_studio.core.base.cancel.Cancelled
        When ``should_stop`` asks to stop.
    """
    thumbnails = None
    with ProjectStore.open(project_dir) as store:
        images = store.images(usable_only=True)
        if store.kind == "text":  # every text is read from the project; near-duplicates by embeddings alone
            from dmtl_studio.core.quality.features import text_embeddings

            readable = list(range(len(images)))
            progress = (lambda done, total, seconds: on_progress(done, total)) if on_progress else None
            features = text_embeddings(store, [im.id for im in images], config, should_stop, progress)
        else:
            now = current_hashes(store, images)[0]  # the cache is keyed by the content as it is now
            hashes, thumbnails, readable = image_hashes(
                [im.path for im in images],
                should_stop,
                on_progress,
                store=HashStore(project_dir),
                content=[now.get(im.path) for im in images],
            )
            features = None
            if use_features and readable:
                from dmtl_studio.core.quality.features import frozen_features

                features = frozen_features(store, [images[i].path for i in readable], config, should_stop)
    kept = [images[i] for i in readable]
    if thumbnails is None:
        pairs = cosine_pairs(features, TEXT_MIN_COSINE) if kept else []
    else:
        pairs = near_duplicate_pairs(hashes, features, thumbnails)
    by_content: dict[str, int] = {}
    same = []
    for position, im in enumerate(kept):  # identical content is always one group, whatever its hash says
        if im.sha256:
            first = by_content.setdefault(im.sha256, position)
            if first != position:
                same.append((first, position))
    groups = []
    for indices in linked_groups(len(kept), pairs, same):
        members = tuple(
            GroupMember(kept[i].id, kept[i].path, kept[i].label, kept[i].split, kept[i].sha256)
            for i in indices
        )
        contents = {kept[i].sha256 or kept[i].path for i in indices}
        groups.append(
            DuplicateGroup("exact" if len(contents) == 1 else "near", members, group_warnings(members))
        )
    groups.sort(key=lambda g: (not g.warnings, g.members[0].path))
    if remember:
        with (
            ProjectStore.open(project_dir) as store,
            suppress(ProjectError),
        ):  # best effort: the report stands
            if not store.read_only:  # splits keep each group together from now on
                remember_groups(
                    store,
                    [[m.sha256 for m in g.members] for g in groups],
                    max((im.id for im in images), default=0),
                )
    unreadable = tuple(images[i].path for i in sorted(set(range(len(images))) - set(readable)))
    return DuplicateReport(tuple(groups), len(images), unreadable, features is not None)
