"""Duplicate and near-duplicate images, grouped, with the leaks and label conflicts they cause.

Two images are put in one group when

- their content is identical (the sha256 the project stored at import), or
- their perceptual hashes (pHash: the signs of the 8 x 8 lowest frequencies of the 2-D DCT of a 32 x 32
  grey-level copy, against their median) differ in at most :data:`HASH_DISTANCE` of 64 bits, which survives
  resizing and re-encoding. A crop changes the field of view, so each image also has the hashes of its central
  :data:`CROPS` fractions, and the distance of two images is the smallest between the whole of one and the whole
  or a central crop of the other; and their 8 x 8 grey thumbnails (whole against whole or central crop, as
  for the hashes) differ by at most :data:`THUMBNAIL_DIFFERENCE` grey levels on average, because the hash of a
  nearly flat picture is mostly noise and ignores brightness (two plain walls of different greys must not match),
  and their colours by at most :data:`COLOUR_DIFFERENCE` levels on average (hash and grey thumbnails are blind to
  hue: a green circle on pink and a pink square on green of the same luminance matched); or
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.project import imaging
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.groups import (  # noqa: F401  (keep_group_in_one_split: part of this API)
    DuplicateGroup,
    GroupMember,
    group_warnings,
    keep_group_in_one_split,
)
from dmtl_studio.core.training.config import TrainConfig

#: Largest perceptual-hash distance (bits of 64) of a near-duplicate pair found by the hash alone.
HASH_DISTANCE = 8
#: With features: smallest cosine similarity, and largest hash distance, of a pair the features confirm.
MIN_COSINE = 0.9
LOOSE_HASH_DISTANCE = 16
#: Smallest cosine similarity of the text encoder's embeddings of two near-duplicate texts.
TEXT_MIN_COSINE = 0.95
#: Largest mean absolute difference (grey levels of 255) of the 8 x 8 thumbnails of a near-duplicate pair.
THUMBNAIL_DIFFERENCE = 8.0
#: Largest mean absolute difference (levels of 255, over the red, green and blue values) of their colour thumbnails.
COLOUR_DIFFERENCE = 16.0
#: ITU-R 601 luma weights, as Pillow's ``convert("L")``: the grey thumbnail from the colour one.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: Central fractions (of each side) hashed besides the whole image, to match slightly cropped copies.
CROPS = (0.94, 0.88)
_HASH_SIDE = 32
#: A camera photo is decoded at a reduced JPEG scale that keeps this many pixels a side (8 times the hash's): the
#: hash and the 8 x 8 thumbnails of its crops average over far more pixels than that.
DECODED_SIDE = 8 * _HASH_SIDE
_LOW = 8


def _dct_matrix(size: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``(size, size)``."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT = _dct_matrix(_HASH_SIDE)


def perceptual_hash(image: np.ndarray) -> int:
    """64-bit pHash of an ``(H, W, 3)`` or ``(H, W)`` uint8 image (see the module docstring)."""
    grey = Image.fromarray(image).convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:_LOW, :_LOW].reshape(-1)
    bits = low > np.median(low[1:])  # the DC term would dominate the median
    return int(np.packbits(bits).view(">u8")[0])


def image_hashes_of(image: np.ndarray) -> np.ndarray:
    """``(1 + len(CROPS),)`` uint64: the pHash of the whole image, then of each central crop."""
    height, width = image.shape[:2]
    hashes = [perceptual_hash(image)]
    for fraction in CROPS:
        dy, dx = round(height * (1 - fraction) / 2), round(width * (1 - fraction) / 2)
        hashes.append(perceptual_hash(image[dy : height - dy, dx : width - dx]))
    return np.array(hashes, dtype=np.uint64)


def thumbnails_of(image: np.ndarray) -> np.ndarray:
    """``(1 + len(CROPS), 64, 3)`` float32: 8 x 8 colour thumbnails (red, green, blue) of the whole ``(H, W, 3)``
    or ``(H, W)`` uint8 image, then of each central crop."""
    height, width = image.shape[:2]
    out = []
    for fraction in (1.0, *CROPS):
        dy, dx = round(height * (1 - fraction) / 2), round(width * (1 - fraction) / 2)
        part = Image.fromarray(image[dy : height - dy, dx : width - dx]).convert("RGB")
        out.append(np.asarray(part.resize((8, 8), Image.Resampling.BOX), dtype=np.float32).reshape(64, 3))
    return np.stack(out)


def _closest(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute difference ``(S, K)`` vs ``(S, K)``, whole against whole or central crop, either way round."""
    whole_first = np.abs(second - first[0]).mean(axis=1).min()
    whole_second = np.abs(first - second[0]).mean(axis=1).min()
    return float(min(whole_first, whole_second))


def thumbnail_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute grey difference (levels of 255) of two :func:`thumbnails_of` results, whole against whole or
    central crop."""
    return _closest(first @ _LUMA, second @ _LUMA)


def colour_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute difference (levels of 255, over the three colour values) of two :func:`thumbnails_of`
    results, whole against whole or central crop."""
    return _closest(first.reshape(len(first), -1), second.reshape(len(second), -1))


def hamming_distances(hashes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``(N, M)`` number of differing bits between ``uint64`` hashes ``(N,)`` and ``(M,)``.

    For multi-scale hashes ``(N, S)`` and ``(M, S)`` (:func:`image_hashes_of`): the smallest distance between
    the whole of one image (column 0) and any column of the other, either way round.
    """
    if hashes.ndim == 1:
        return np.bitwise_count(hashes[:, None] ^ others[None, :]).astype(np.int64)
    whole = np.bitwise_count(hashes[:, None, :1] ^ others[None, :, :]).min(axis=2)
    other_whole = np.bitwise_count(hashes[:, None, :] ^ others[None, :, :1]).min(axis=2)
    return np.minimum(whole, other_whole).astype(np.int64)


def near_duplicate_pairs(
    hashes: np.ndarray,
    features: np.ndarray | None = None,
    thumbnails: np.ndarray | None = None,
    max_distance: int = HASH_DISTANCE,
    min_cosine: float = MIN_COSINE,
    loose_distance: int = LOOSE_HASH_DISTANCE,
    block: int | None = None,
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, that are near-duplicates by the rules of the module docstring.

    Parameters
    ----------
    hashes
        ``(N,)`` uint64 perceptual hashes, or ``(N, S)`` multi-scale ones (:func:`image_hashes_of`).
    features
        ``(N, F)`` feature vectors, or ``None`` to use the hashes alone.
    thumbnails
        ``(N, S, 64, 3)`` from :func:`thumbnails_of`, or ``None`` not to compare them.
    block
        Rows compared at once (memory is about ``block x N x S`` 8-byte words); default: 4 million words.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    unit = None
    if features is not None and len(features):
        unit = np.asarray(features, dtype=np.float32)
        unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    pairs: list[tuple[int, int]] = []
    count = len(hashes)
    if block is None:
        scales = hashes.shape[1] if hashes.ndim == 2 else 1
        block = max(1, 4_000_000 // max(1, count * scales))
    for start in range(0, count, block):
        rows = slice(start, min(count, start + block))
        distance = hamming_distances(hashes[rows], hashes)
        close = distance <= max_distance
        if unit is not None:
            cosine = unit[rows] @ unit.T
            close |= (cosine >= min_cosine) & (distance <= loose_distance)
        for i, j in zip(*np.nonzero(close), strict=True):
            i, j = int(i) + start, int(j)
            if i >= j:
                continue
            if thumbnails is not None and (
                thumbnail_difference(thumbnails[i], thumbnails[j]) > THUMBNAIL_DIFFERENCE
                or colour_difference(thumbnails[i], thumbnails[j]) > COLOUR_DIFFERENCE
            ):
                continue
            pairs.append((i, j))
    return pairs


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


def image_hashes(
    paths: Sequence[str],
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Hashes and thumbnails of the files that decode.

    Returns
    -------
    tuple
        ``(hashes (M, S) uint64, thumbnails (M, S, 64, 3) float32, indices of those M files in paths)``.
    """
    hashes, thumbnails, readable = [], [], []
    for index, path in enumerate(paths):
        check(should_stop)
        try:
            image = imaging.load_rgb_at_least(path, DECODED_SIDE, DECODED_SIDE)
            hashes.append(image_hashes_of(image))
            thumbnails.append(thumbnails_of(image))
            readable.append(index)
        except (ImageProblem, OSError):
            pass
        if on_progress is not None:
            on_progress(index + 1, len(paths))
    if not hashes:
        scales = 1 + len(CROPS)
        return (
            np.zeros((0, scales), dtype=np.uint64),
            np.zeros((0, scales, 64, 3), dtype=np.float32),
            readable,
        )
    return np.stack(hashes), np.stack(thumbnails), readable


def find_duplicates(
    project_dir: str | Path,
    use_features: bool = False,
    config: TrainConfig | None = None,
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int], None] | None = None,
) -> DuplicateReport:
    """Exact and near-duplicate groups among a project's usable images (labelled or not).

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
            hashes, thumbnails, readable = image_hashes([im.path for im in images], should_stop, on_progress)
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
    unreadable = tuple(images[i].path for i in sorted(set(range(len(images))) - set(readable)))
    return DuplicateReport(tuple(groups), len(images), unreadable, features is not None)
