"""What the two label imports (images: :mod:`~dmtl_studio.core.project.interop`, texts:
:mod:`~dmtl_studio.core.project.text_labels`) share: their summary, the header rule, split names, and how a file's
labels are applied as one action that can be undone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.importer import SPLIT_FOLDER_NAMES
from dmtl_studio.core.project.labels import LabelEditor, can_label
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.validation import case_variants


@dataclass(frozen=True)
class LabelImportSummary:
    #: Items the file gives a label: ``changed`` plus ``unchanged``.
    labelled: int
    added: int
    #: Rows not applied, with the reason: the file is not a readable image, the label cannot be a class name,
    #: or the item is a problem file of the project (a problem file cannot be labelled).
    problems: tuple[tuple[str, str], ...]
    #: Rows whose file does not exist: not added to the project, only reported.
    not_found: tuple[str, ...] = ()
    #: Labels of the file that were not classes of the project yet (they are now).
    new_classes: tuple[str, ...] = ()
    #: Rows naming a file an earlier row named already (another spelling of the same path); the last one wins.
    duplicates: int = 0
    #: Of those, the rows that gave another label: ``(item as the row named it, earlier label, label kept)``
    #: (``""`` for an empty label), in the file's order.
    conflicting: tuple[tuple[str, str, str], ...] = ()
    #: Items the import gave a label they did not have (newly labelled or relabelled).
    changed: int = 0
    #: Items that had the file's (non-empty) label already.
    unchanged: int = 0
    #: Rows with an empty label: the item keeps its label (unless ``unlabel_empty`` was asked).
    empty_kept: int = 0
    #: Items an empty label unlabelled (only with ``unlabel_empty``).
    unlabelled: int = 0
    #: Whether an empty label unlabelled its item (``unlabel_empty``) rather than leaving its label as it was.
    unlabel_empty: bool = False
    #: ``(new class, other class)`` pairs that differ only in case: kept apart, worth a rename or merge.
    case_variants: tuple[tuple[str, str], ...] = ()
    #: Warnings of the split given to newly labelled items.
    split_warnings: tuple[str, ...] = ()
    #: Labelled items put in the split a ``split`` column gave them (a removal log's, see ``removal``).
    splits_given: int = 0
    #: Of ``splits_given``, identical copies of the file's items the file does not name, moved along with them
    #: (one split a picture: a copy set in another split by hand moves too).
    splits_copies: int = 0

    def conflict_lines(self, name: Callable[[str], str] = str) -> list[str]:
        """One line a row of :attr:`conflicting`: ``name`` shortens the item's key (a path to its file name).
        An empty label is said as what it did, not as ``''`` (h36)."""

        def said(label: str, last: bool) -> str:
            if label:
                return f"'{label}'"
            if not last:
                return "an empty label"
            return (
                "an empty label (kept: unlabelled)"
                if self.unlabel_empty
                else "an empty label (its label stays)"
            )

        return [
            f"{name(key)}: {said(before, False)}, then {said(kept, True)}" + (" (kept)" if kept else "")
            for key, before, kept in self.conflicting
        ]


def label_header_error(name: str) -> ProjectError:
    """The refusal of a label file ``name`` whose first line is not the ``path,label`` header."""
    return ProjectError(
        f"{name}: the first line must be the header 'path,label' (cells separated by commas, or by semicolons or "
        "tabs)"
    )


#: The names a ``split`` column may give a split: those a split folder may have (``training``, ``valid``…).
SPLIT_NAMES = SPLIT_FOLDER_NAMES
OTHER_SPELLINGS = ", ".join(name for name in SPLIT_NAMES if name not in ("train", "val", "test"))


def apply_labels(
    store: ProjectStore,
    labels: dict[int, str | None],
    editor: LabelEditor,
    unlabel_empty: bool,
    description: str,
) -> dict[str, Any]:
    """Apply a label file's ``{item: label}`` through ``editor``; the summary's counts, as keywords."""
    records = {record.id: record for record in store.images_by_id(list(labels))}
    changes: dict[int, str | None] = {}
    problems: list[tuple[str, str]] = []
    unchanged = empty_kept = 0
    for item_id, label in labels.items():
        record = records[item_id]
        if label is None and not unlabel_empty:
            empty_kept += 1
        elif not can_label(record):
            problems.append(
                (record.path, f"not labelled: a problem file cannot be labelled ({record.problem})")
            )
        elif record.label == label:
            unchanged += label is not None
        else:
            changes[item_id] = label
    changed = sum(1 for label in changes.values() if label is not None)
    existing = store.class_names()
    new_classes = sorted({label for label in changes.values() if label and label not in existing})
    editor.apply(changes, description)
    return {
        "labelled": changed + unchanged,
        "problems": tuple(problems),
        "new_classes": tuple(new_classes),
        "changed": changed,
        "unchanged": unchanged,
        "empty_kept": empty_kept,
        "unlabelled": sum(1 for label in changes.values() if label is None),
        "case_variants": tuple(case_variants(existing, new_classes)),
        "split_warnings": editor.split_warnings or (),
    }
