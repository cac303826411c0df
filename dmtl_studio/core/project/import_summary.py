"""What an import of an image folder did (:func:`~dmtl_studio.core.project.importer.import_folder`), in plain words."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from dmtl_studio.core.base.listing import capped_lines
from dmtl_studio.core.project.splits import LabelConflict, SplitSummary, listed_conflicts, split_leak_sentence
from dmtl_studio.core.project.validation import describe_case_variants


@dataclass(frozen=True)
class ImportSummary:
    """What an import did.

    ``notes`` holds ``(path, note)`` for images that decoded only with a remark (rescaled values, one page
    of several); ``skipped`` counts files that are not images by name or content; ``split_folders`` maps each
    split-named top folder to the split its images were given (empty for a folder of class folders).
    """

    scanned: int
    added: int
    labelled: int
    unlabelled: int
    problems: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]
    cancelled: bool = False
    notes: tuple[tuple[str, str], ...] = ()
    skipped: int = 0
    split_folders: tuple[tuple[str, str], ...] = ()

    #: The split the labelled images got (counts, the fractions used, classes too small to split).
    split: SplitSummary | None = None
    #: Pictures (identical content) that carry two or more labels; each should get one.
    conflicts: tuple[LabelConflict, ...] = ()
    #: ``(new class, other class)`` pairs that differ only in case (see :func:`case_variants`).
    case_variants: tuple[tuple[str, str], ...] = ()
    #: Images of the project below the folder whose file is gone (moved, renamed, deleted): marked as problems.
    missing: tuple[str, ...] = ()
    #: New files identical to an image the project held already (a copy of the folder imported again, say).
    copies: int = 0
    #: Folders of DMTL Studio projects below the folder, left out whole (their images are theirs).
    projects: tuple[str, ...] = ()
    #: Hidden files and folders below the folder (``.DS_Store``, macOS's ``._x.png``…), left out.
    hidden: int = 0
    #: Identical images the split folders put in two splits (a leak): paths, one tuple a content.
    split_leaks: tuple[tuple[str, ...], ...] = ()
    #: Class folders that gave no labelled image: nothing in them, or only problem files.
    empty_folders: tuple[str, ...] = ()
    #: Images in sub-folders of a class folder (they take the class folder's name), and the first such folder.
    nested: int = 0
    nested_example: str = ""
    #: Images with no class folder (loose files) that the project held with a label already: they keep it, so
    #: they are not counted as unlabelled.
    kept_labels: int = 0
    #: Of the unlabelled, images in class folders whose picture's label was taken off by hand
    #: (:mod:`~dmtl_studio.core.project.hand_marks`): they stay unlabelled.
    kept_unlabelled: int = 0
    #: Files removed from the project while usable, left out of this import: ``(path, removal log)`` each.
    left_removed: tuple[tuple[str, str], ...] = ()
    #: Files that are project images whose file was gone (a moved or renamed folder): their labels followed.
    moved: int = 0
    #: Images the project holds at the same path in a split folder whose split was changed in the project since
    #: (Reassign splits, keep in one split, a move by hand): they keep the project's split, not the folder's.
    kept_own_split: int = 0

    def describe(self) -> str:
        """The summary in one line, one clause per fact (:meth:`lines` joined)."""
        return "; ".join(self.lines())

    def lines(self) -> list[str]:
        """The summary in plain words, one clause per fact: the counts first."""
        stopped = ", interrupted before the rest were read" if self.cancelled else ""
        parts = [
            f"scanned {self.scanned} image file(s){stopped}: {self.added} new to the project; {self.labelled} labelled, "
            + (
                f"{self.kept_labels} labelled in the project already (labels kept), "
                if self.kept_labels
                else ""
            )
            + f"{self.unlabelled} unlabelled, {len(self.problems)} problem(s)"
        ]
        if self.kept_unlabelled:
            parts.append(
                f"{self.kept_unlabelled} image(s) in class folders stay unlabelled: their labels were taken off by "
                "hand (an import does not give them back; label them to give them one)"
            )
        if self.left_removed:
            path, log = self.left_removed[0]
            parts.append(
                f"left out {len(self.left_removed)} file(s) removed from the project before (first: {path}); "
                f"importing the removal list {log} as labels (Labels ▸ Import labels from CSV…, dmtl-studio labels "
                "import-csv) brings them back, with every other file that removal took out"
            )
        if self.notes:
            counts = Counter(note for _path, note in self.notes)
            (common, times), *rest = counts.most_common()
            named = "; ".join(f"{n}: {note if len(note) <= 60 else note[:57] + '…'}" for note, n in rest[:2])
            others = f"; {named}" if rest else ""
            others += f"; {len(rest) - 2} other kind(s) of note" if len(rest) > 2 else ""
            parts.append(
                f"{len(self.notes)} image(s) with a note on how they were read ({times}: {common}{others}; each "
                "image's note is in its tooltip)"
            )
        if self.skipped:
            parts.append(f"skipped {self.skipped} non-image file(s)")
        if self.hidden:
            parts.append(f"left out {self.hidden} hidden file(s) or folder(s) (names starting with '.')")
        if self.split_leaks:
            parts.append(split_leak_sentence(self.split_leaks, "image"))
        if self.projects:
            parts.append(
                f"left out {len(self.projects)} DMTL Studio project folder(s) inside it ({self.projects[0]}"
                + (", …" if len(self.projects) > 1 else "")
                + "): a project's images, runs and cache are its own"
            )
        if self.split_folders:
            used = ", ".join(f"{folder}/ -> {split}" for folder, split in self.split_folders)
            parts.append(f"split folders used as splits ({used}); classes from the folders below them")
        if self.kept_own_split:
            parts.append(
                f"{self.kept_own_split} image(s) keep the split the project gave them since their first import, "
                "not their split folder's (Reassign splits, keep in one split or a move by hand)"
            )
        if self.missing:
            parts.append(
                f"{len(self.missing)} image(s) of this folder known to the project are no longer on disk (moved, "
                "renamed or deleted; first: "
                f"{self.missing[0]}): their labels are kept; the project lists them as problem files (apart from "
                "this scan's count) and leaves them out of training; if they were moved elsewhere, import that folder"
            )
        if self.nested:
            parts.append(
                f"{self.nested} image(s) in sub-folders of class folders took their class folder's name (first: "
                f"{self.nested_example}/); sub-folders are not classes of their own"
            )
        if self.empty_folders:
            named = ", ".join(f"{name}/" for name in self.empty_folders[:5])
            parts.append(
                f"{len(self.empty_folders)} class folder(s) gave no image ({named}"
                + (", …" if len(self.empty_folders) > 5 else "")
                + "): empty, or only problem files (listed with their reasons)"
            )
        if self.moved:
            parts.append(
                f"{self.moved} image(s) found at a new place (their files were gone from where the project had "
                "them; same content): their labels, splits and notes followed them"
            )
        if self.copies:
            parts.append(
                f"{self.copies} of the new file(s) are identical to images the project held already (copies; "
                "`dmtl-studio duplicates` lists them)"
            )
        parts += describe_case_variants(self.case_variants)
        return parts

    def details(self, limit: int = 20) -> list[str]:
        """Every problem file and every reading note, ``limit`` of each at most, as lines."""
        return capped_lines("problem", self.problems, limit) + capped_lines("note", self.notes, limit)

    def describe_split(self) -> list[str]:
        """Lines for the import's summary: the split, then every warning and label conflict."""
        if self.split is None:
            return []
        return [self.split.describe(), *(f"note: {w}" for w in self.split.warnings), *self.conflict_lines()]

    def conflict_lines(self) -> list[str]:
        """The pictures under two labels: a heading, then one indented line each (:func:`~dmtl_studio.core.project.splits.listed_conflicts`)."""
        heading = f"{len(self.conflicts)} picture(s) carry two or more labels (identical files):"
        return listed_conflicts(heading, [conflict.describe() for conflict in self.conflicts])
