"""Which images a browser filter shows, and the warnings a project's classes deserve.

The filter keys are plain text (``"all"``, ``"unlabelled"``, ``"problems"``, ``"conflicts"``,
``"class:NAME"``, ``"split:train"``…) so a view can keep them as item data; what each one means lives here.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

from dmtl_studio.core.base.search_fold import search_fold
from dmtl_studio.core.project.images_table import SPLITS, ImageRecord
from dmtl_studio.core.project.labels import needs_label
from dmtl_studio.core.project.splits import LabelConflict

#: The filters every project has, with their titles.
FIXED_FILTERS = (
    ("All images", "all"),
    ("Unlabelled", "unlabelled"),
    ("Problem files", "problems"),
    ("Conflicting labels", "conflicts"),
)
#: Each split's name in plain words.
SPLIT_TITLES = dict(zip(SPLITS, ("training", "validation", "test"), strict=True))
#: A class needs this many images to keep one for validation.
MIN_CLASS_IMAGES = 2
CLASS_PREFIX, SPLIT_PREFIX = "class:", "split:"


def class_filter(name: str) -> str:
    """The filter key of one class's images."""
    return CLASS_PREFIX + name


def split_filter(split: str) -> str:
    """The filter key of one split's images."""
    return SPLIT_PREFIX + split


#: File names (and the query) folded once: the browser matches every name again on each keystroke of its search.
_folded = lru_cache(maxsize=1 << 17)(search_fold)


def matches(record: ImageRecord, key: str, text: str = "", conflicting: Collection[int] = ()) -> bool:
    """Whether a filter shows an image.

    A problem file shows only under ``"all"`` and ``"problems"``; only labelled images have a split, so a split
    filter shows no unlabelled image.

    Parameters
    ----------
    record
        The image.
    key
        The filter key (see the module's docstring); an unknown key shows every usable image.
    text
        Text the file's name must contain, case and accents ignored (``""``: any name;
        :func:`~dmtl_studio.core.base.search_fold.search_fold`).
    conflicting
        The ids of images whose identical copies carry other labels (for ``"conflicts"``).

    Returns
    -------
    bool
        ``True`` when the image is shown.
    """
    if text and _folded(text) not in _folded(os.path.basename(record.path)):
        return False
    if key == "all":
        return True
    if key == "problems":
        return record.problem is not None
    if record.problem is not None:
        return False
    if key == "unlabelled":
        return needs_label(record)
    if key == "conflicts":
        return record.id in conflicting
    if key.startswith(CLASS_PREFIX):
        return record.label == key[len(CLASS_PREFIX) :]
    if key.startswith(SPLIT_PREFIX):
        return record.label is not None and record.split == key[len(SPLIT_PREFIX) :]
    return True


def class_warnings(
    counts: Mapping[str, Mapping[str, int]],
    split_warnings: Sequence[str] = (),
    conflicts: Sequence[LabelConflict] = (),
    kind: str = "images",
) -> list[str]:
    """What the classes panel should warn about: classes too small to validate, and conflicting labels.

    Parameters
    ----------
    counts
        ``{class: {"total": n, …}}`` (:meth:`ProjectStore.class_counts`).
    split_warnings
        The latest split assignment's warnings: a class they already name is not named again.
    conflicts
        The project's label conflicts (:func:`~dmtl_studio.core.project.splits.label_conflicts`).
    kind
        The project's kind, ``"images"`` or ``"text"``: what the warnings call the items.

    Returns
    -------
    list of str
        One sentence per warning, the split's own warnings last.
    """
    noun = "text" if kind == "text" else "image"
    # A split warning about a class deleted or emptied since stays no longer (it named a deleted class, h30).
    split_warnings = [
        w
        for w in split_warnings
        if not w.startswith("class '")
        or any(w.startswith(f"class '{name}' ") and c["total"] > 0 for name, c in counts.items())
    ]
    warnings = [
        f"Class '{name}' has only {c['total']} {noun}(s): too few to keep a validation {noun}."
        for name, c in counts.items()
        if 0 < c["total"] < MIN_CLASS_IMAGES and not any(f"class '{name}'" in w for w in split_warnings)
    ]
    if conflicts:
        same = "(equal texts)" if kind == "text" else "(identical files)"
        warnings.append(
            f"{len(conflicts)} {'text' if kind == 'text' else 'picture'}(s) carry two or more labels {same}: "
            "see the filter 'Conflicting labels'."
        )
    return warnings + list(split_warnings)
