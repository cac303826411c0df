"""Predictions (one per input predicted, and the inputs that could not be read) and their CSV: one row per input,
in the inputs' order, predicted or not (with the reason)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.base.csvfile import write_csv

#: The column after the class probabilities: empty for a predicted image, the reason for a file that was not read.
ERROR_COLUMN = "error"
#: An image prediction's last column: what the import would note of its shape (tiny, a thin strip, elongated).
NOTE_COLUMN = "note"


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    confidence: float
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class PredictSummary:
    classes: tuple[str, ...]
    predictions: tuple[Prediction, ...]
    problems: tuple[tuple[str, str], ...]  # (path, why it could not be read), also rows of the CSV
    #: Files of the folder predicted that are not images (by name or content), so were not read.
    skipped: tuple[str, ...] = ()
    #: The sources (paths, ``<table>#<row>``) in the order they were given: the CSV's rows follow it, so a row
    #: that could not be read stands where its input was. Empty: predictions, then problems.
    order: tuple[str, ...] = ()
    #: Classes renamed or merged since the run was trained, named as they are now (empty: none).
    note: str = ""
    #: Columns written after ``error`` (a text prediction's ``id`` and ``text``), and their values for each of
    #: :attr:`predictions` and of :attr:`problems`, in their order (a key used twice cannot tell its rows apart).
    extra_columns: tuple[str, ...] = ()
    extra_predictions: tuple[tuple[str, ...], ...] = ()
    extra_problems: tuple[tuple[str, ...], ...] = ()

    @property
    def unsure(self) -> int:
        """How many predictions :func:`reject_unsure` wrote as ``unsure``."""
        from dmtl_studio.core.models.calibration import UNSURE

        return sum(p.label == UNSURE for p in self.predictions)

    def describe(self, out: str | os.PathLike[str], shown: int = 3, noun: str = "image") -> str:
        """One sentence for a person: how many items (``noun``: ``"image"`` or ``"text"``) were predicted into
        ``out`` and which could not be read (the first ``shown`` by name, every one in the CSV's ``error`` column)."""
        text = f"Predicted {len(self.predictions)} {noun}(s) into {out}"
        if not self.problems:
            return text + "."
        names = ", ".join(f"{Path(path).name} ({reason})" for path, reason in self.problems[:shown])
        more = f" and {len(self.problems) - shown} more" if len(self.problems) > shown else ""
        unread = "file(s)" if noun == "image" else f"{noun}(s)"
        return (
            f"{text}; {len(self.problems)} {unread} could not be read: {names}{more} "
            "(each is a row of the CSV with its reason in the error column)."
        )

    def describe_notes(self, shown: int = 3) -> str | None:
        """``"N image(s) worth a look (the note column): a.png (why), …"`` for predictions whose input is tiny, a
        thin strip or elongated (as an import notes them), or ``None``."""
        if NOTE_COLUMN not in self.extra_columns:
            return None
        column = self.extra_columns.index(NOTE_COLUMN)
        extras = zip(self.predictions, self.extra_predictions, strict=False)  # blank where none was given
        noted = [(p.path, extra[column]) for p, extra in extras if extra[column]]
        if not noted:
            return None
        names = ", ".join(f"{Path(path).name} ({note})" for path, note in noted[:shown])
        more = f" and {len(noted) - shown} more" if len(noted) > shown else ""
        return f"{len(noted)} image(s) worth a look (the CSV's note column): {names}{more}"

    def describe_skipped(self, root: str | os.PathLike[str], what: str, shown: int = 3) -> str | None:
        """``"skipped N file(s) that are not {what}: a, b, c and K more"`` (paths relative to the folder
        ``root`` predicted), or ``None`` when every file of it was read."""
        if not self.skipped:
            return None
        names = ", ".join(str(Path(p).relative_to(root)) for p in self.skipped[:shown])
        more = f" and {len(self.skipped) - shown} more" if len(self.skipped) > shown else ""
        return f"skipped {len(self.skipped)} file(s) that are not {what}: {names}{more}"


def write_predictions_csv(summary: PredictSummary, out: Path) -> None:
    """One row per file: path, predicted label, confidence, one probability column per class, then ``error``
    (then the summary's :attr:`~PredictSummary.extra_columns`, a text prediction's ``id`` and ``text``).

    Files that could not be read have a row too, with empty prediction cells and the reason in ``error``, so
    the CSV alone says which inputs have no prediction; the rows are in the inputs' order (``summary.order``).
    Formula-safe, like every CSV file the product writes (:func:`~dmtl_studio.core.base.csvfile.write_csv`).
    """
    header = [
        "path",
        "predicted_label",
        "confidence",
        *[f"p_{name}" for name in summary.classes],
        ERROR_COLUMN,
    ]
    blank = ("",) * len(summary.extra_columns)

    def extra(values: tuple[tuple[str, ...], ...], rows: int) -> list[tuple[str, ...]]:
        return [*values, *[blank] * (rows - len(values))]  # one per row; blank where none was given

    extras = extra(summary.extra_predictions, len(summary.predictions))
    extras += extra(summary.extra_problems, len(summary.problems))
    predicted = (
        [p.path, p.label, f"{p.confidence:.6f}", *[f"{v:.6f}" for v in p.probabilities], ""]
        for p in summary.predictions
    )
    unread = ([path, "", "", *([""] * len(summary.classes)), reason] for path, reason in summary.problems)
    rows = [[*row, *more] for row, more in zip(itertools.chain(predicted, unread), extras, strict=True)]
    header += summary.extra_columns
    if summary.order:
        rows.sort(key=_input_positions(summary.order))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out, header, rows)


def _input_positions(order: tuple[str, ...]) -> Callable[[list[str]], int]:
    """A sort key: a CSV row's position among the inputs (a source given twice takes its positions in turn; an
    unknown one goes last)."""
    positions: dict[str, list[int]] = {}
    for index, source in enumerate(order):
        positions.setdefault(source, []).append(index)
    for queue in positions.values():
        queue.reverse()

    def key(row: list[str]) -> int:
        queue = positions.get(row[0])
        return queue.pop() if queue else len(order)

    return key
