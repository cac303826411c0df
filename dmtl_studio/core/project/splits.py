"""Train/validation/test splits: the one default, stratified assignment, moves, and identical content.

Every way an image gets a split (an import, ``dmtl-studio splits``, *Reassign splits…*, labelling new images,
moving images by hand) goes through this module, so two rules hold everywhere:

* the default fractions are :data:`DEFAULT_VAL_FRACTION` and :data:`DEFAULT_TEST_FRACTION`, used until a project
  stores its own (each assignment stores the fractions it used);
* images with identical content (the same sha256) always share one split, even under different labels, so no
  picture is both trained on and scored. A picture that carries two labels is a conflict the user should
  resolve: :func:`label_conflicts` lists them. So do the near-duplicate groups the last duplicate check kept
  (:mod:`dmtl_studio.core.project.look_alikes`).
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.images_table import SPLITS, ImageRecord
from dmtl_studio.core.project.look_alikes import checked_up_to, group_keys
from dmtl_studio.core.project.store import ProjectStore

#: Share of each class kept for validation (choosing the best epoch), unless a project stores its own.
DEFAULT_VAL_FRACTION = 0.2
#: Share of each class kept for the final evaluation, unless a project stores its own.
DEFAULT_TEST_FRACTION = 0.1
DEFAULT_SEED = 0


@dataclass(frozen=True)
class SplitSettings:
    """Fractions (each in [0, 1), sum below 1) and the seed of a stratified split."""

    val_fraction: float = DEFAULT_VAL_FRACTION
    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = DEFAULT_SEED

    @classmethod
    def of_project(cls, store: ProjectStore) -> SplitSettings:
        """The settings the project's last assignment used, or the defaults for a project that has none."""
        return cls(
            val_fraction=float(store.get_meta("val_fraction", str(DEFAULT_VAL_FRACTION))),
            test_fraction=float(store.get_meta("test_fraction", str(DEFAULT_TEST_FRACTION))),
            seed=int(store.get_meta("split_seed", str(DEFAULT_SEED))),
        )

    def describe(self) -> str:
        return f"validation {self.val_fraction:.0%}, test {self.test_fraction:.0%} of each class, seed {self.seed}"


@dataclass(frozen=True)
class SplitSummary:
    counts: dict[str, dict[str, int]]
    warnings: tuple[str, ...]
    settings: SplitSettings = SplitSettings()
    #: Labelled images given a split by this assignment (``None``: not said) and those that kept theirs.
    assigned: int | None = None
    kept: int = 0
    noun: str = "image"
    #: Near-duplicate groups of the last duplicate check that this assignment kept in one split each (``None``: no
    #: check has kept groups), and the labelled items it split that came after that check (in no group).
    look_alike_groups: int | None = None
    unchecked: int = 0

    def totals(self) -> dict[str, int]:
        """Labelled images per split over all classes: ``{"train": n, "val": n, "test": n}``."""
        return {split: sum(c[split] for c in self.counts.values()) for split in SPLITS}

    def describe(self) -> str:
        """What the split is and what this assignment did, e.g. ``split: 50 train, 14 validation, 8 test
        (validation 19%, test 11%); 72 image(s) given a split aiming at validation 20%, test 10% of each class,
        seed 0``.

        The shares are the ones reached; the fractions are named only when they were applied to some image,
        and images that kept the split they had (from split folders, a split column, an earlier import) are counted.
        """
        t = self.totals()
        total = sum(t.values())
        line = f"split: {t['train']} train, {t['val']} validation, {t['test']} test"
        if total:
            line += f" (validation {t['val'] / total:.0%}, test {t['test'] / total:.0%})"
        if self.assigned is None:
            return f"{line} ({self.settings.describe()})"
        done = []
        if self.assigned:
            done.append(f"{self.assigned} {self.noun}(s) given a split aiming at {self.settings.describe()}")
        if self.kept:
            done.append(
                f"{self.kept} {self.noun}(s) kept the split they had (from split folders, a split column or an "
                "earlier import)"
            )
        if not done:
            done.append(f"no labelled {self.noun} to split")
        if self.assigned and self.look_alike_groups:
            done.append(
                f"{self.look_alike_groups} near-duplicate group(s) of the last duplicate check kept in one split each"
            )
        if self.assigned and self.unchecked:
            done.append(
                f"{self.unchecked} {self.noun}(s) came after that check and are in none of its groups (run it again)"
            )
        if self.assigned and self.warnings:
            done.append("some classes are too small for those fractions (see the notes)")
        return f"{line}; " + "; ".join(done)


@dataclass(frozen=True)
class LabelConflict:
    """One picture (identical content) that carries more than one label."""

    sha256: str
    labels: tuple[str, ...]
    paths: tuple[str, ...]
    image_ids: tuple[int, ...]

    def describe(self, item: str = "picture") -> str:
        """One line: ``item`` is what the project holds ("picture", or "text" in a text project)."""
        return f"the same {item} is labelled {' and '.join(self.labels)}: {', '.join(self.paths)}"


def label_conflicts(store: ProjectStore) -> list[LabelConflict]:
    """Usable images whose identical content (sha256) carries two or more labels, by first path."""
    groups: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for sha, image_id, path, label in store.label_conflict_rows():
        groups[sha].append((image_id, path, label))
    conflicts = [
        LabelConflict(
            sha,
            tuple(sorted({label for _, _, label in members})),
            tuple(path for _, path, _ in members),
            tuple(image_id for image_id, _, _ in members),
        )
        for sha, members in groups.items()
    ]
    return sorted(conflicts, key=lambda c: c.paths[0])


def split_leaks(store: ProjectStore) -> list[tuple[str, ...]]:
    """Paths of the usable labelled items whose identical content (sha256) lies in two or more splits, one tuple
    a content: what split folders or a split column can do (every other way of giving splits keeps identical
    items in one split), a train/test leak. One query."""
    paths: dict[str, list[str]] = defaultdict(list)
    for sha, path in store.split_leak_rows():
        paths[sha].append(path)
    return sorted(tuple(group) for group in paths.values())


#: Label conflicts an import's summary lists one by one; the others are counted.
CONFLICTS_LISTED = 20


def listed_conflicts(heading: str, described: Sequence[str]) -> list[str]:
    """An import summary's label conflicts: ``heading``, then the first :data:`CONFLICTS_LISTED` of ``described``
    (one line each, indented), then how many more; nothing when ``described`` is empty."""
    if not described:
        return []
    lines = [heading, *(f"  {line}" for line in described[:CONFLICTS_LISTED])]
    if len(described) > CONFLICTS_LISTED:
        more = len(described) - CONFLICTS_LISTED
        lines.append(f"  … and {more} more (the browser's filter 'Conflicting labels')")
    return lines


def split_leak_sentence(leaks: Sequence[Sequence[str]], noun: str) -> str:
    """The import summary's sentence for :func:`split_leaks` (``noun``: ``"image"`` or ``"text"``)."""
    first = ", ".join(os.path.basename(path) for path in leaks[0][:2])
    return (
        f"{len(leaks)} identical {noun}(s) were put in two splits by the split {'folders' if noun == 'image' else 'column'} "
        f"({first}{', …' if len(leaks) > 1 else ''}): a leak that makes test figures optimistic; keep each in one "
        "split (Labels ▸ Find duplicates and leaks; dmtl-studio duplicates PROJECT --keep-in-one-split)"
    )


def check_fractions(
    val_fraction: float | None, test_fraction: float | None, stored: SplitSettings | None = None
) -> None:
    """Raise :class:`ProjectError` unless each fraction is in [0, 1) and they sum to less than 1; a fraction not
    given is ``stored``'s (the project's, :meth:`SplitSettings.of_project`; the defaults for a new project).
    Imports call it before they write anything."""
    stored = stored or SplitSettings()
    val = stored.val_fraction if val_fraction is None else val_fraction
    test = stored.test_fraction if test_fraction is None else test_fraction
    if not 0.0 <= val < 1.0 or not 0.0 <= test < 1.0 or val + test >= 1.0:
        # Say the values used: one not given is the project's (--val-fraction 0.9 with its test 0.1 sums to 1).
        missing = [
            name for name, given in (("validation", val_fraction), ("test", test_fraction)) if given is None
        ]
        whose = f"; {' and '.join(missing)} not given: the project's" if missing else ""
        raise ProjectError(
            "validation and test fractions must each be in [0, 1) and sum to less than 1 "
            f"(here validation {val:g} and test {test:g}{whose})"
        )


def assign_splits(
    store: ProjectStore,
    *,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    reassign: bool = False,
    records: Sequence[ImageRecord] | None = None,
) -> SplitSummary:
    """Give labelled images without a split a stratified train/validation/test split.

    Each class is topped up towards the target fractions, counting the images it already has in each split,
    so labelling images one by one keeps the proportions. Images with identical content always land in the
    same split, whatever their labels (no leakage), and so do the members of each near-duplicate group the last
    duplicate check kept (:func:`~dmtl_studio.core.project.look_alikes.group_keys`). Existing assignments are kept
    unless ``reassign`` is true.
    Fractions and seed default to the project's stored ones (:meth:`SplitSettings.of_project`) and are stored,
    so every later assignment follows them. A class too small to give a validation or test image is named in
    the summary's warnings. ``records``: the project's usable records as they are now, when the caller has just
    read them (else they are read here).

    Raises
    ------
    ProjectError
        A fraction outside [0, 1), or fractions summing to 1 or more.
    """
    stored = SplitSettings.of_project(store)
    val_fraction = stored.val_fraction if val_fraction is None else val_fraction
    test_fraction = stored.test_fraction if test_fraction is None else test_fraction
    seed = stored.seed if seed is None else seed
    check_fractions(val_fraction, test_fraction)
    usable = store.split_rows() if records is None else records
    images = [im for im in usable if im.label is not None]
    noun = "text" if store.kind == "text" else "image"
    groups_kept, newest = group_keys(store), checked_up_to(store) or 0
    together = groups_kept or {}

    def key_of(im: ImageRecord) -> str:  # one key for identical content, and for a near-duplicate group
        return together.get(im.sha256, im.sha256) if im.sha256 else f"id:{im.id}"

    # Content already placed decides where its duplicates go.
    placed: dict[str, str] = {}
    existing: dict[str, dict[str, set[str]]] = defaultdict(lambda: {s: set() for s in SPLITS})
    if not reassign:
        for im in images:
            if im.split:
                key = key_of(im)
                placed.setdefault(key, im.split)
                existing[im.label][im.split].add(key)
        # A file renamed or moved since: its old record is gone from disk, its content back under a new name
        # keeps the split it had (a test image renamed went to training: a leak).
        for sha, split in store.gone_placements().items():
            placed.setdefault(together.get(sha, sha), split)
    new_groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    assignment: dict[int, str] = {}
    for im in images:
        if im.split and not reassign:
            continue
        key = key_of(im)
        if key in placed:
            assignment[im.id] = placed[key]
            existing[im.label][placed[key]].add(key)  # this class now has that content in that split too
            continue
        new_groups[im.label][key].append(im.id)
    rng = random.Random(seed)
    warnings: list[str] = []
    for class_name in sorted(set(new_groups) | set(existing)):
        groups = new_groups.get(class_name, {})
        have = {split: len(keys) for split, keys in existing[class_name].items()}
        # Content that another class placed in this pass (a picture under two labels) goes where it went there.
        for key in sorted(k for k in groups if k in placed):
            have[placed[key]] += 1
            assignment.update(dict.fromkeys(groups[key], placed[key]))
        keys = sorted(k for k in groups if k not in placed)
        rng.shuffle(keys)
        total = sum(have.values()) + len(keys)
        want_test = round(total * test_fraction)
        want_val = round(total * val_fraction)
        if total >= 2 and val_fraction > 0 and want_val == 0:
            want_val = 1
        if total - want_val - want_test < 1:  # training comes first: at least one image
            want_val = want_test = 0
        if total < 2 and val_fraction + test_fraction > 0 and have["train"] + len(keys) == 0:
            held = "validation" if have["val"] else "test"  # where its content already was (another label's)
            warnings.append(
                f"class '{class_name}' has only {total} distinct {noun}(s) (a near-duplicate group counts once), in "
                f"the {held} split (where the same or a near-duplicate {noun} of another class already is): the model "
                f"never trains on it; label more {noun}s of it"
            )
        elif total < 2 and val_fraction + test_fraction > 0:
            warnings.append(
                f"class '{class_name}' has only {total} distinct {noun}(s): too few to split, so it only trains "
                "and is never scored"
            )
        elif test_fraction > 0 and want_test == 0 and have["test"] == 0 and keys:
            # none given (a split column or folder) either, and some were drawn now: a class whose items all
            # came with their split (train/ and val/ folders, no test/) was asked for no test item
            warnings.append(
                f"class '{class_name}' has only {total} distinct {noun}(s): too few to keep a test {noun}"
            )
        need_test = min(len(keys), max(0, want_test - have["test"]))
        need_val = min(len(keys) - need_test, max(0, want_val - have["val"]))
        for position, key in enumerate(keys):
            split = "test" if position < need_test else "val" if position < need_test + need_val else "train"
            placed[key] = split
            assignment.update(dict.fromkeys(groups[key], split))
    if assignment:
        store.set_splits(assignment)
    for key, value in (
        ("split_seed", seed),
        ("val_fraction", val_fraction),
        ("test_fraction", test_fraction),
    ):
        store.set_meta(key, str(value))
    return SplitSummary(
        counts=store.class_counts(),
        warnings=tuple(_grouped(warnings, noun)),
        settings=SplitSettings(val_fraction, test_fraction, seed),
        assigned=len(assignment),
        kept=sum(1 for im in images if im.split and not reassign),
        noun=noun,
        look_alike_groups=None if groups_kept is None else _groups_together(images, assignment, together),
        unchecked=0
        if groups_kept is None
        else sum(1 for im in images if im.id in assignment and im.id > newest),
    )


def _groups_together(
    images: Sequence[ImageRecord], assignment: dict[int, str], together: dict[str, str]
) -> int:
    """How many near-duplicate groups have two or more of their labelled members in ``assignment``."""
    members = Counter(together[im.sha256] for im in images if im.id in assignment and im.sha256 in together)
    return sum(1 for count in members.values() if count > 1)


def apply_given_splits(
    store: ProjectStore, records: Sequence[ImageRecord], given: dict[str, str]
) -> tuple[list[ImageRecord], int]:
    """Give the labelled ``records`` (as the project holds them before this) the split their folder or split column
    names (``given``: item path or key -> split). Returns the records as they are now, and how many had another
    split in the project, which the column's replaced (a split column edited, or a split changed in the project
    since: the import says so, h38)."""
    ids = {record.path: record.id for record in records if record.label is not None}
    wanted = {ids[key]: split for key, split in given.items() if key in ids}
    before = {record.id: record.split for record in records}
    if wanted:
        store.set_splits(wanted)
    now = [dataclasses.replace(r, split=wanted[r.id]) if r.id in wanted else r for r in records]
    return now, sum(1 for i, split in wanted.items() if before.get(i) not in (None, split))


def _grouped(warnings: list[str], noun: str, most: int = 3) -> list[str]:
    """``warnings`` with more than ``most`` "too few to keep a test" ones made one line (45 classes of two images
    printed 45 such lines)."""
    few = [w for w in warnings if w.endswith(f"too few to keep a test {noun}")]
    if len(few) <= most:
        return warnings
    named = ", ".join(w[len("class '") : w.rindex("' has only")] for w in few[:5]) + (
        ", …" if len(few) > 5 else ""
    )
    line = f"{len(few)} classes have too few distinct {noun}s to keep a test {noun} ({named}): label more of them"
    return [w for w in warnings if w not in few] + [line]


def move_to_split(store: ProjectStore, image_ids: Sequence[int], split: str) -> list[int]:
    """Put labelled images into ``split`` by hand, with every labelled image of identical content.

    Returns the ids moved (sorted): unlabelled images have no split and are left out.

    Raises
    ------
    ProjectError
        ``split`` is not one of ``train``, ``val``, ``test``.
    """
    if split not in SPLITS:
        raise ProjectError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    chosen = [im for im in store.images_by_id(list(image_ids)) if im.label is not None]
    hashes = {im.sha256 for im in chosen if im.sha256}
    ids = {im.id for im in chosen}
    if hashes:
        ids |= {im.id for im in store.images() if im.label is not None and im.sha256 in hashes}
    moved = sorted(ids)
    store.set_splits(dict.fromkeys(moved, split))
    return moved


__all__ = [
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_VAL_FRACTION",
    "LabelConflict",
    "SplitSettings",
    "SplitSummary",
    "assign_splits",
    "label_conflicts",
    "move_to_split",
]
