"""Perceptual hashes and thumbnails of images, the near-duplicate rule on them, and their cache in the project.

The rule (:func:`near_duplicate_pairs`) is the one :mod:`dmtl_studio.core.quality.duplicates` documents: pHash
(the signs of the 8 x 8 lowest frequencies of the 2-D DCT of a 32 x 32 grey-level copy, against their median) of
the whole image, of central crops and of the whole image mirrored and rotated, confirmed by 8 x 8 grey and colour
thumbnails (:mod:`dmtl_studio.core.project.thumbnail_match`). It lives here, beside the decoder, so that
evaluation (below the quality checks) can say when a scored image is a near-copy of one the run was fitted on.

:class:`HashStore` keeps each image's hashes and thumbnails in the project (``PROJECT/cache/perceptual``), keyed
by its content hash, so a second duplicate check, an audit or an evaluation decodes no image the first one read.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.project import imaging, thumbnail_match
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.thumbnail_match import (  # noqa: F401  (the rule's names: part of this API)
    COLOUR_DIFFERENCE,
    THUMBNAIL_DIFFERENCE,
    colour_difference,
    thumbnail_difference,
)

#: Largest perceptual-hash distance (bits of 64) of a near-duplicate pair found by the hash alone.
HASH_DISTANCE = 8
#: With features: smallest cosine similarity, and largest hash distance, of a pair the features confirm.
MIN_COSINE = 0.9
LOOSE_HASH_DISTANCE = 16
#: Central fractions (of each side) hashed besides the whole image, to match slightly cropped copies.
CROPS = (0.94, 0.88)
#: Columns of :func:`image_hashes_of` for the whole image and its central crops, as taken.
PLAIN = 1 + len(CROPS)
#: The whole image's other 7 flips and rotations (numpy's ``rot90`` ``k`` quarter turns, of the image or of its
#: left-right mirror), hashed after the plain columns: a copy saved mirrored or rotated is still a copy.
TURNS = ((1, False), (2, False), (3, False), (0, True), (1, True), (2, True), (3, True))
#: Largest hash distance (bits of 64) of a mirrored or rotated pair: a copy saved so is within 0-2 bits (its 32 x
#: 32 grey copy turned, not resampled again; 4 with a JPEG or resized copy for most), and each image meets 7 turns
#: of every other one, so a chance match is 7 times likelier than as taken: stricter than :data:`HASH_DISTANCE`.
TURN_DISTANCE = 4
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


def _grey_side(image: np.ndarray) -> np.ndarray:
    """The ``(32, 32)`` float64 grey-level copy a pHash is taken of."""
    grey = Image.fromarray(image).convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(grey, dtype=np.float64)


def _hash_of_grey(pixels: np.ndarray) -> int:
    low = (_DCT @ pixels @ _DCT.T)[:_LOW, :_LOW].reshape(-1)
    bits = low > np.median(low[1:])  # the DC term would dominate the median
    return int(np.packbits(bits).view(">u8")[0])


def perceptual_hash(image: np.ndarray) -> int:
    """64-bit pHash of an ``(H, W, 3)`` or ``(H, W)`` uint8 image (see the module docstring)."""
    return _hash_of_grey(_grey_side(image))


def turned(array: np.ndarray, turn: tuple[int, bool]) -> np.ndarray:
    """``array`` (rows and columns first) mirrored left-right when ``turn[1]``, then turned ``turn[0]`` quarter
    turns (:data:`TURNS`)."""
    quarters, mirrored = turn
    return np.rot90(array[:, ::-1] if mirrored else array, quarters)


def image_hashes_of(image: np.ndarray) -> np.ndarray:
    """``(PLAIN + 7,)`` uint64: the pHash of the whole image, then of each central crop, then of the whole image
    under each of :data:`TURNS` (its 32 x 32 grey copy turned: no second resize)."""
    height, width = image.shape[:2]
    whole = _grey_side(image)
    hashes = [_hash_of_grey(whole)]
    for fraction in CROPS:
        dy, dx = round(height * (1 - fraction) / 2), round(width * (1 - fraction) / 2)
        hashes.append(perceptual_hash(image[dy : height - dy, dx : width - dx]))
    hashes.extend(_hash_of_grey(turned(whole, turn)) for turn in TURNS)
    return np.array(hashes, dtype=np.uint64)


def thumbnails_of(image: np.ndarray) -> np.ndarray:
    """``(PLAIN + 7, 64, 3)`` float32: 8 x 8 colour thumbnails (red, green, blue) of the whole ``(H, W, 3)``
    or ``(H, W)`` uint8 image, then of each central crop, then of the whole image under each of :data:`TURNS`."""
    height, width = image.shape[:2]
    out = []
    for fraction in (1.0, *CROPS):
        dy, dx = round(height * (1 - fraction) / 2), round(width * (1 - fraction) / 2)
        part = Image.fromarray(image[dy : height - dy, dx : width - dx]).convert("RGB")
        out.append(np.asarray(part.resize((8, 8), Image.Resampling.BOX), dtype=np.float32))
    out.extend(turned(out[0], turn) for turn in TURNS)
    return np.stack([grid.reshape(64, 3) for grid in out])


def pair_matches(
    hashes: np.ndarray,
    thumbnails: np.ndarray,
    other_hashes: np.ndarray,
    other_thumbnails: np.ndarray,
    max_distance: int = HASH_DISTANCE,
) -> bool:
    """Whether two images are near-duplicates by hashes ``(S,)`` and thumbnails ``(S, 64, 3)`` (:func:`image_hashes_of`,
    :func:`thumbnails_of`): as taken (whole against whole or central crop, either way round: hashes within
    ``max_distance`` bits), or one mirrored or rotated (the whole of one against each of the other's :data:`TURNS`:
    within :data:`TURN_DISTANCE` bits) — with the
    thumbnails of that same comparison agreeing (:func:`thumbnail_match.thumbnails_agree`)."""
    plain = min(
        int(np.bitwise_count(hashes[0] ^ other_hashes[:PLAIN]).min()),
        int(np.bitwise_count(other_hashes[0] ^ hashes[:PLAIN]).min()),
    )
    if plain <= max_distance and thumbnail_match.thumbnails_agree(
        thumbnails[:PLAIN], other_thumbnails[:PLAIN]
    ):
        return True
    turns = np.bitwise_count(hashes[0] ^ other_hashes[PLAIN:])
    return any(
        thumbnail_match.thumbnails_agree(thumbnails[:1], other_thumbnails[PLAIN + k : PLAIN + k + 1])
        for k in np.flatnonzero(turns <= min(max_distance, TURN_DISTANCE))
    )


def hamming_distances(hashes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``(N, M)`` number of differing bits between ``uint64`` hashes ``(N,)`` and ``(M,)``.

    For the hashes of :func:`image_hashes_of` ``(N, S)`` and ``(M, S)``: the distance of two images as taken, the
    smallest between the whole of one (column 0) and the whole or a central crop of the other (the first
    :data:`PLAIN` columns), either way round; the turned columns are :func:`turn_distances`'.
    """
    if hashes.ndim == 1:
        return np.bitwise_count(hashes[:, None] ^ others[None, :]).astype(np.int64)
    hashes, others = hashes[:, :PLAIN], others[:, :PLAIN]
    whole = np.bitwise_count(hashes[:, None, :1] ^ others[None, :, :]).min(axis=2)
    other_whole = np.bitwise_count(hashes[:, None, :] ^ others[None, :, :1]).min(axis=2)
    return np.minimum(whole, other_whole).astype(np.int64)


def turn_distances(hashes: np.ndarray, others: np.ndarray) -> np.ndarray | None:
    """``(N, M)`` smallest distance between the whole of one image and the other's :data:`TURNS` (mirrored or
    turned), either way round, for hashes ``(N, S)`` and ``(M, S)`` of :func:`image_hashes_of`; ``None`` for hashes
    without turned columns."""
    if hashes.ndim == 1 or hashes.shape[1] <= PLAIN or others.shape[1] <= PLAIN:
        return None
    turned_other = np.bitwise_count(hashes[:, None, :1] ^ others[None, :, PLAIN:]).min(axis=2)
    turned_self = np.bitwise_count(hashes[:, None, PLAIN:] ^ others[None, :, :1]).min(axis=2)
    return np.minimum(turned_other, turned_self).astype(np.int64)


def _candidates(hashes: np.ndarray, others: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(as taken, close)`` ``(N, M)``: the distance as taken, and which pairs a hash puts forward (as taken
    within ``max_distance``, or turned within :data:`TURN_DISTANCE`)."""
    plain = hamming_distances(hashes, others)
    close = plain <= max_distance
    turned = turn_distances(hashes, others)
    if turned is not None:
        close |= turned <= min(max_distance, TURN_DISTANCE)
    return plain, close


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
        plain, close = _candidates(hashes[rows], hashes, max_distance)
        confirmed = np.zeros_like(close)
        if unit is not None:  # the features confirm a looser hash match as taken
            confirmed = (unit[rows] @ unit.T >= min_cosine) & (plain <= loose_distance)
            close |= confirmed
        for i, j in zip(*np.nonzero(close), strict=True):
            i, j = int(i) + start, int(j)
            if i >= j:
                continue
            limit = loose_distance if confirmed[i - start, j] else max_distance
            if thumbnails is not None and not pair_matches(
                hashes[i], thumbnails[i], hashes[j], thumbnails[j], limit
            ):
                continue
            pairs.append((i, j))
    return pairs


#: Raised whenever decoding changes what an image's pixels are (16-bit colour read with every bit: 2), so that
#: hashes kept from the old decoding are never read.
DECODER_VERSION = 2


class HashStore:
    """Each image's :func:`image_hashes_of` and :func:`thumbnails_of`, kept on disk by its content hash.

    One small file per image under ``PROJECT/cache/perceptual/<rule>/<first two hex digits>/``: the hashes, the
    thumbnails and a CRC-32 of both. ``<rule>`` names the decoding size, the crops and :data:`DECODER_VERSION`, so
    a change of the rule or of the decoder never reads old entries. A damaged or foreign file reads as missing
    (computed again); a file that cannot be written (a read-only project) is skipped: the cache only saves time.
    """

    def __init__(self, project_dir: str | os.PathLike[str]) -> None:
        crops = "-".join(f"{c:g}" for c in CROPS)
        rule = f"side{DECODED_SIDE}-crops{crops}-turns{len(TURNS)}-decoder{DECODER_VERSION}"
        self.root = Path(project_dir) / "cache" / "perceptual" / rule
        self._pruned = False

    def _prune_other_rules(self) -> None:
        """Delete the entries of earlier rules (never read again) once, at this rule's first write."""
        self._pruned = True
        if self.root.is_dir():
            return
        for other in self.root.parent.glob("side*"):
            if other.is_dir() and other != self.root:
                shutil.rmtree(other, ignore_errors=True)

    def _path(self, content: str) -> Path:
        return self.root / content[:2] / f"{content}.phash"

    def read(self, content: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``(hashes (S,) uint64, thumbnails (S, 64, 3) float32)`` of the image with sha256 ``content``, or
        ``None`` when not kept (or damaged)."""
        try:
            data = self._path(content).read_bytes()
        except OSError:
            return None
        scales = PLAIN + len(TURNS)
        body = scales * 8 + scales * 64 * 3 * 4
        if len(data) != body + 4 or struct.unpack("<I", data[body:])[0] != zlib.crc32(data[:body]):
            return None
        hashes = np.frombuffer(data[: scales * 8], dtype="<u8").astype(np.uint64)
        thumbnails = (
            np.frombuffer(data[scales * 8 : body], dtype="<f4").reshape(scales, 64, 3).astype(np.float32)
        )
        return hashes, thumbnails

    def write(self, content: str, hashes: np.ndarray, thumbnails: np.ndarray) -> None:
        """Keep one image's hashes ``(S,)`` and thumbnails ``(S, 64, 3)`` (atomically; errors are ignored)."""
        body = np.asarray(hashes, dtype="<u8").tobytes() + np.asarray(thumbnails, dtype="<f4").tobytes()
        path = self._path(content)
        temporary = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            if not self._pruned:
                self._prune_other_rules()
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)


def image_hashes(
    paths: Sequence[str],
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int], None] | None = None,
    store: HashStore | None = None,
    content: Sequence[str | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Hashes and thumbnails of the files that decode.

    Parameters
    ----------
    store, content
        A :class:`HashStore` and the files' content hashes (sha256 hex; ``None`` for one not known): a file whose
        entry is kept is not decoded, and each one decoded is kept.

    Returns
    -------
    tuple
        ``(hashes (M, S) uint64, thumbnails (M, S, 64, 3) float32, indices of those M files in paths)``.

    Raises
    ------
    dmtl_studio.core.base.cancel.Cancelled
        When ``should_stop`` asks to stop.
    """
    hashes, thumbnails, readable = [], [], []
    for index, path in enumerate(paths):
        check(should_stop)
        key = content[index] if store is not None and content is not None else None
        kept = store.read(key) if key else None
        if kept is not None:
            hashes.append(kept[0])
            thumbnails.append(kept[1])
            readable.append(index)
        else:
            try:
                image = imaging.load_rgb_at_least(path, DECODED_SIDE, DECODED_SIDE)
                hashes.append(image_hashes_of(image))
                thumbnails.append(thumbnails_of(image))
                readable.append(index)
                if key:
                    store.write(key, hashes[-1], thumbnails[-1])
            except (ImageProblem, OSError):
                pass
        if on_progress is not None:
            on_progress(index + 1, len(paths))
    return (*_stacked(hashes, thumbnails), readable)


def kept_hashes(store: HashStore, contents: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """What ``store`` keeps of ``contents`` (sha256 hex), decoding nothing: ``(hashes (M, S), thumbnails
    (M, S, 64, 3), indices of those M in contents)``."""
    hashes, thumbnails, found = [], [], []
    for index, content in enumerate(contents):
        kept = store.read(content) if content else None
        if kept is not None:
            hashes.append(kept[0])
            thumbnails.append(kept[1])
            found.append(index)
    return (*_stacked(hashes, thumbnails), found)


def _stacked(hashes: list[np.ndarray], thumbnails: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(M, S)`` uint64 hashes and ``(M, S, 64, 3)`` float32 thumbnails from per-image lists (``M`` may be 0)."""
    if not hashes:
        scales = PLAIN + len(TURNS)
        return np.zeros((0, scales), dtype=np.uint64), np.zeros((0, scales, 64, 3), dtype=np.float32)
    return np.stack(hashes), np.stack(thumbnails)


def near_copies_of(
    hashes: np.ndarray,
    thumbnails: np.ndarray,
    other_hashes: np.ndarray,
    other_thumbnails: np.ndarray,
    block: int | None = None,
) -> np.ndarray:
    """``(N,)`` bool: which images of a first set (hashes ``(N, S)``, thumbnails ``(N, S, 64, 3)`` of
    :func:`image_hashes`) are near-duplicates, by the rule of :func:`near_duplicate_pairs` (hash and thumbnails), of
    at least one of a second set (``(M, S)``, ``(M, S, 64, 3)``); ``block``: rows compared at once (memory about
    ``block x M x S`` 8-byte words; default: 4 million words)."""
    found = np.zeros(len(hashes), dtype=bool)
    if not len(hashes) or not len(other_hashes):
        return found
    if block is None:
        block = max(1, 4_000_000 // max(1, len(other_hashes) * other_hashes.shape[1]))
    for start in range(0, len(hashes), block):
        close = _candidates(hashes[start : start + block], other_hashes, HASH_DISTANCE)[1]
        for i, j in zip(*np.nonzero(close), strict=True):
            i = int(i) + start
            if found[i]:
                continue
            found[i] = pair_matches(hashes[i], thumbnails[i], other_hashes[int(j)], other_thumbnails[int(j)])
    return found
