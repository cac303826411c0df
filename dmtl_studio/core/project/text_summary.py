"""What an import of texts did, in numbers and in plain words (the window's status line, the CLI's report)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dmtl_studio.core.base.listing import capped_lines
from dmtl_studio.core.project.splits import LabelConflict, SplitSummary, listed_conflicts, split_leak_sentence
from dmtl_studio.core.project.text_decoding import describe_encoding
from dmtl_studio.core.project.text_rows import is_removed_key, unremoved_key
from dmtl_studio.core.project.text_tables import Table, describe_delimiter
from dmtl_studio.core.project.texts_table import TextItem
from dmtl_studio.core.project.validation import case_variants, describe_case_variants

_ROW_KEY = re.compile(r"^(.*)#(\d+)$")
_ID_KEY = re.compile(r"^(.*?)#id=(.*)$", re.DOTALL)
#: How :mod:`~dmtl_studio.core.project.text_tables` names a repeated header name and a blank one.
_REPEATED = re.compile(r"^(.*) \((\d+)\)$")
_UNNAMED = re.compile(r"^column \d+$")


def describe_source(key: str) -> str:
    """A source key as people read it: ``notes.csv row 12`` for ``/data/notes.csv#12``, ``notes.csv id T-7``
    for ``/data/notes.csv#id=T-7``, else the path."""
    if is_removed_key(key):
        kept = unremoved_key(key)
        stem = _ID_KEY.match(kept)
        named = f"{os.path.basename(stem.group(1))} id {stem.group(2)}" if stem else os.path.basename(kept)
        return f"{named} (a row no longer in the file)"
    keyed = _ID_KEY.match(key)
    if keyed and not os.path.isdir(keyed.group(1)):
        return f"{os.path.basename(keyed.group(1))} id {keyed.group(2)}"
    match = _ROW_KEY.match(key)
    if match and not os.path.isdir(match.group(1)):
        return f"{os.path.basename(match.group(1))} row {match.group(2)}"
    return key


def problem_reason(problem: str) -> str:
    """The kind of a problem: its text before the first colon (``"not valid JSON"``, ``"empty text"``)."""
    return problem.split(":", 1)[0]


def how_table_was_read(table: Table | None) -> str:
    """How a table was read, in words (``"comma-separated, UTF-8"``); empty for no table."""
    if table is None:
        return ""
    how = f"{describe_delimiter(table.delimiter)}-separated, {describe_encoding(table.encoding)}".replace(
        "JSON Lines-separated", "JSON Lines"
    )
    columns = set(table.columns)
    repeated = [c for c in table.columns if (m := _REPEATED.match(c)) and m.group(1) in columns]
    unnamed = [c for c in table.columns if _UNNAMED.match(c)]
    if repeated:
        how += f"; the header repeats a name: read as {', '.join(repr(c) for c in repeated[:5])}"
    if unnamed and table.delimiter is not None:
        how += f"; {len(unnamed)} column(s) without a name: read as {', '.join(repr(c) for c in unnamed[:5])}"
    return how


@dataclass(frozen=True)
class TextImportSummary:
    """What an import of texts did.

    ``problems`` and ``notes`` hold ``(source key, text)``; ``duplicates`` groups the source keys of equal texts
    (after normalisation) that include a text of this import, all kept; ``skipped`` counts files of a folder that
    are not ``.txt`` files.
    """

    source: str
    scanned: int
    added: int
    labelled: int
    unlabelled: int
    problems: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]
    cancelled: bool = False
    notes: tuple[tuple[str, str], ...] = ()
    skipped: int = 0
    duplicates: tuple[tuple[str, ...], ...] = ()
    #: How a table was read ("comma-separated, UTF-8"); empty for files.
    how_read: str = ""
    split_folders: tuple[tuple[str, str], ...] = ()
    split: SplitSummary | None = None
    conflicts: tuple[LabelConflict, ...] = ()
    #: Texts the source gave no label (a blank cell, a loose file) that the project held with one: they keep
    #: it, so they are not counted as unlabelled.
    kept_labels: int = 0
    #: Texts removed from the project while usable, left out of this import: ``(key, removal log)`` each.
    left_removed: tuple[tuple[str, str], ...] = ()
    #: Texts of a re-imported table found at another row number (their items, labels included, followed them).
    moved: int = 0
    #: Keys of the texts no longer in a re-imported table (kept, with their labels).
    removed: tuple[str, ...] = ()
    #: Texts no longer in the table at an earlier import that are back (their items, labels included).
    returned: int = 0
    #: Rows of a table read without its id column matched by the ids an earlier import keyed them by.
    by_earlier_ids: int = 0
    #: Identical texts the split column put in two splits (a leak): keys, one tuple a text.
    split_leaks: tuple[tuple[str, ...], ...] = ()
    #: ``(row key, project label, file label)`` of texts the file labels differently from the project.
    label_differences: tuple[tuple[str, str, str], ...] = ()
    #: How many of ``label_differences`` took the file's label (``labels_from_file``).
    relabelled: int = 0
    #: ``(new class, other class)`` pairs that differ only in case (see :func:`case_variants`).
    case_variants: tuple[tuple[str, str], ...] = ()
    #: Numbers of a table's blank rows between its first and last rows (skipped: no text, no label).
    blank_rows: tuple[int, ...] = ()
    #: Texts that had another split in the project than their split folder or column gives, now replaced by that
    #: one (:func:`~dmtl_studio.core.project.splits.apply_given_splits`).
    resplit: int = 0

    @classmethod
    def of(
        cls,
        *,
        source: str,
        items: Sequence[TextItem],
        added: int,
        total: int,
        skipped: int,
        cancelled: bool,
        duplicates: tuple[tuple[str, ...], ...],
        how_read: str,
        split_folders: tuple[tuple[str, str], ...],
        split: SplitSummary | None,
        conflicts: tuple[LabelConflict, ...],
        existing_classes: Sequence[str] = (),
        created_classes: Sequence[str] | None = None,
        labelled_keys: Collection[str] = (),
        left_removed: tuple[tuple[str, str], ...] = (),
    ) -> TextImportSummary:
        """The summary of the ``items`` an import wrote (of ``total`` it meant to), into a project that had
        ``existing_classes`` and now also has ``created_classes`` (default: the items' labels it did not have);
        a created class that differs from another only in case is reported (:attr:`case_variants`).
        ``labelled_keys``: the keys of the project's labelled items after the import (an item the source leaves
        unlabelled but the project labels is counted as :attr:`kept_labels`)."""
        usable = [item for item in items if item.problem is None]
        kept = sum(1 for item in usable if not item.label and item.source in labelled_keys)
        classes = sorted({item.label for item in usable if item.label})
        new_classes = (
            [name for name in classes if name not in existing_classes]
            if created_classes is None
            else sorted(created_classes)
        )
        return cls(
            source=source,
            scanned=len(items) if cancelled else total,
            added=added,
            labelled=sum(1 for item in usable if item.label),
            unlabelled=sum(1 for item in usable if not item.label) - kept,
            kept_labels=kept,
            problems=tuple((item.source, item.problem) for item in items if item.problem is not None),
            classes=tuple(classes),
            cancelled=cancelled,
            notes=tuple((item.source, item.note) for item in items if item.note and item.problem is None),
            skipped=skipped,
            duplicates=duplicates,
            how_read=how_read,
            split_folders=split_folders,
            split=split,
            conflicts=conflicts,
            case_variants=tuple(case_variants(existing_classes, new_classes)),
            left_removed=left_removed,
        )

    def problem_counts(self) -> dict[str, int]:
        """``{reason: count}`` of the problems, most frequent first."""
        return dict(Counter(problem_reason(problem) for _, problem in self.problems).most_common())

    def describe(self) -> str:
        """The summary in one line, one clause per fact (:meth:`lines` joined)."""
        return "; ".join(self.lines())

    def lines(self) -> list[str]:
        """The summary in plain words, one clause per fact: the counts first."""
        how = f" ({self.how_read})" if self.how_read else ""
        parts = [
            f"read {self.scanned} text(s){how}: {self.added} new to the project; {self.labelled} labelled, "
            + (
                f"{self.kept_labels} labelled in the project already (labels kept), "
                if self.kept_labels
                else ""
            )
            + f"{self.unlabelled} unlabelled, {len(self.problems)} problem(s)"
        ]
        if self.cancelled:
            parts.append("cancelled: what was read before is kept")
        if self.problems:
            parts.append(", ".join(f"{n} {reason}" for reason, n in self.problem_counts().items()))
        if self.duplicates:
            extra = sum(len(group) - 1 for group in self.duplicates)
            parts.append(f"{extra} duplicate text(s) in {len(self.duplicates)} group(s), kept")
        if self.notes:
            kinds = Counter(kind for _, note in self.notes for kind in _note_kinds(note))
            listed = ", ".join(f"{kind}: {n}" for kind, n in kinds.most_common())
            parts.append(f"{len(self.notes)} text(s) with a note ({listed})")
        if self.skipped:
            parts.append(f"skipped {self.skipped} file(s) that are not .txt")
        if self.resplit:
            parts.append(
                f"{self.resplit} text(s) took the split their folder or column names, in place of another the project "
                "gave them (Reassign splits, keep in one split or a move by hand): Labels ▸ Find duplicates and leaks "
                "says whether copies are apart again"
            )
        if self.left_removed:
            key, log = self.left_removed[0]
            parts.append(
                f"left out {len(self.left_removed)} text(s) removed from the project before (first: "
                f"{describe_source(key)}); importing the removal list {log} as labels (Labels ▸ Import labels from "
                "CSV…, dmtl-studio labels import-csv) brings them back, with every other text that removal took out"
            )
        if self.blank_rows:
            shown = ", ".join(str(n) for n in self.blank_rows[:5]) + (
                ", …" if len(self.blank_rows) > 5 else ""
            )
            parts.append(f"skipped {len(self.blank_rows)} blank row(s) (row {shown})")
        if self.moved:
            parts.append(f"{self.moved} text(s) found at another row; their labels followed them")
        if self.split_leaks:
            parts.append(split_leak_sentence(self.split_leaks, "text"))
        if self.returned:
            parts.append(
                f"{self.returned} text(s) back in the file since an earlier import took their items back"
            )
        if self.by_earlier_ids:
            parts.append(
                f"{self.by_earlier_ids} text(s) matched to their items by the ids in their rows (an earlier import "
                "keyed them by an id column; name it again, --id-column or the dialog's Id column, to keep them "
                "keyed by id)"
            )
        if self.removed:
            parts.append(f"{len(self.removed)} text(s) no longer in the file, kept with any labels they had")
        if self.relabelled:
            parts.append(f"{self.relabelled} label(s) taken from the file instead of the project's")
        elif self.label_differences:
            parts.append(
                f"{len(self.label_differences)} text(s) labelled differently in the file: the project's labels "
                "were kept (to take the file's, import again with 'Take the file's labels' ticked, or "
                "--labels-from-file)"
            )
        if self.split_folders:
            used = ", ".join(f"{folder}/ -> {split}" for folder, split in self.split_folders)
            parts.append(f"split folders used as splits ({used})")
        parts += describe_case_variants(self.case_variants)
        return parts

    def describe_split(self) -> list[str]:
        """Lines for the split and every warning and label conflict (as for images)."""
        if self.split is None:
            return []
        return [self.split.describe(), *(f"note: {w}" for w in self.split.warnings), *self.conflict_lines()]

    def conflict_lines(self) -> list[str]:
        """The texts under two labels: a heading, then one indented line each (:func:`~dmtl_studio.core.project.splits.listed_conflicts`)."""
        heading = f"{len(self.conflicts)} text(s) carry two or more labels (equal texts):"
        described = [
            f"labelled {' and '.join(c.labels)}: {', '.join(map(describe_source, c.paths[:4]))}"
            for c in self.conflicts
        ]
        return listed_conflicts(heading, described)

    def details(self, limit: int = 20) -> list[str]:
        """Every problem, duplicate group and note, ``limit`` of each at most, as lines."""
        lines = capped_lines("problem", self.problems, limit, describe_source)
        lines += capped_lines("note", self.notes, limit, describe_source)
        for key, project, file in self.label_differences[:limit]:
            verb = "now" if self.relabelled else "kept"
            lines.append(
                f"label: {describe_source(key)}: {project} in the project, {file} in the file ({verb} "
                f"{file if self.relabelled else project})"
            )
        if len(self.label_differences) > limit:
            lines.append(f"… and {len(self.label_differences) - limit} more label difference(s)")
        for group in self.duplicates[:limit]:
            lines.append(f"duplicate: {', '.join(map(describe_source, group[:5]))}")
        if len(self.duplicates) > limit:
            lines.append(f"… and {len(self.duplicates) - limit} more duplicate group(s)")
        return lines

    def to_dict(self) -> dict[str, object]:
        """The summary as plain JSON values (the CLI's ``--json``)."""
        split = self.split
        return {
            "kind": "text",
            "source": self.source,
            "scanned": self.scanned,
            "added": self.added,
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "kept_labels": self.kept_labels,
            "classes": list(self.classes),
            "cancelled": self.cancelled,
            "problems": [{"path": p, "reason": r} for p, r in self.problems],
            "problem_counts": self.problem_counts(),
            "notes": [{"path": p, "note": n} for p, n in self.notes],
            "duplicates": [list(group) for group in self.duplicates],
            "skipped": self.skipped,
            "read_as": self.how_read,
            "split_folders": dict(self.split_folders),
            "split": split.totals() if split else None,
            "split_warnings": list(split.warnings) if split else [],
            "label_conflicts": [{"labels": list(c.labels), "paths": list(c.paths)} for c in self.conflicts],
            "moved": self.moved,
            "removed": list(self.removed),
            "returned": self.returned,
            "matched_by_earlier_ids": self.by_earlier_ids,
            "label_differences": [
                {"path": key, "project_label": project, "file_label": file}
                for key, project, file in self.label_differences
            ],
            "relabelled": self.relabelled,
        }


def _note_kinds(note: str) -> list[str]:
    """The kinds of the clauses of one text's note (:func:`join_notes` joins them with ``"; "``)."""
    kinds = []
    for clause in note.split("; "):
        if clause.startswith("longer than the model reads"):
            kinds.append("longer than the model reads")
        elif clause.startswith("read as"):
            kinds.append("encoding")
        elif clause.startswith("label"):
            kinds.append("label")
        elif clause.startswith("split"):
            kinds.append("split")
        elif clause.startswith("control characters removed"):
            kinds.append("control characters")
    return list(dict.fromkeys(kinds)) or ["other"]  # one note counts once per kind, whatever its clauses
