"""Prediction of texts with a text run or an exported text model, written as the same CSV as image prediction.

What is predicted (:func:`text_prediction_inputs`):

- a ``.txt`` file: one text, the whole file;
- a folder: every ``.txt`` file below it, one text each (hidden files left out);
- a CSV / TSV / JSON Lines file: one text per row, from ``text_column`` (guessed as for import when not given:
  :func:`~dmtl_studio.core.project.text_tables.guess_columns`); a row's source is ``<file>#<row>``, or
  ``<file>#<id>`` with an ``id_column`` (a row whose id cell is empty is ``<file>#row=<row>``, which no id can be
  mistaken for).

Inputs that cannot be used — an undecodable or unreadable file, an empty text, a bad row — are reported as rows of
the CSV with their reason in the ``error`` column, never fatal, exactly as unreadable images are.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.evaluation.names_now import predictions_named_now
from dmtl_studio.core.evaluation.predict import (
    NoImagesError,
    Prediction,
    PredictSummary,
    reject_unsure,
    write_predictions_csv,
)
from dmtl_studio.core.evaluation.text_exported import TextPredictor, load_text_predictor
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.folder_scan import is_image_name
from dmtl_studio.core.project.project_kind import is_table_file, is_text_file_name
from dmtl_studio.core.project.text_import import read_text_file, scan_text_folder
from dmtl_studio.core.project.text_tables import cell_text, guess_columns, read_table

#: Texts per model pass.
TEXT_PREDICT_BATCH = 32
#: One input: ``(source, text or the reason it cannot be used, is_problem, id)``.
Given = tuple[str, str, bool, str]


class NoTextsError(NoImagesError):
    """What was given to predict on is not there, holds no text, or names a column the table lacks."""


def text_prediction_inputs(
    target: str | os.PathLike[str],
    text_column: str | None = None,
    id_column: str | None = None,
    encoding: str | None = None,
    header: bool = True,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(texts, problems)``: ``(source, text)`` pairs to predict and ``(source, reason)`` of unusable inputs.
    ``encoding`` (a codec name) reads files without a byte-order mark instead of UTF-8; ``header`` false reads a
    CSV/TSV file's first line as a row (columns ``column 1``…).

    Raises
    ------
    NoTextsError
        ``target`` does not exist, is not a ``.txt`` file, folder or table, a table cannot be read as a whole or
        lacks ``text_column`` or ``id_column``, either column is given for a file or folder, or there is nothing at
        all to predict.
    """
    return _split(_inputs(target, text_column, id_column, encoding, header)[0])


#: The columns a text prediction's CSV adds after ``error``: the row's id (a table's id cell or row number, a
#: file's path below the folder predicted) and the text predicted, so a spreadsheet reads and joins it as it is
#: (h32: only ``path`` held ``…/tickets.csv#N0``).
TEXT_COLUMNS = ("id", "text")


def _split(given: list[Given]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        [(source, body) for source, body, problem, _ in given if not problem],
        [(source, reason) for source, reason, problem, _ in given if problem],
    )


def _inputs(
    target: str | os.PathLike[str],
    text_column: str | None,
    id_column: str | None,
    encoding: str | None,
    header: bool = True,
) -> tuple[list[Given], tuple[str, ...]]:
    """``(source, text or reason, is_problem, id)`` of each input, in the order given
    (:func:`text_prediction_inputs`), and the files of a folder that are not ``.txt`` files (not read)."""
    path = Path(target)
    if path.is_dir():
        scan = scan_text_folder(path)
        files = scan.files
        if not files:
            images = sum(is_image_name(other) for other in scan.skipped)
            held = (
                f"; it holds {images} image(s): predict them with a run of an image project" if images else ""
            )
            raise NoTextsError(f"{path} holds no .txt files (looked in its sub-folders too){held}")
    elif path.is_file() and is_table_file(path):
        return _table_inputs(path, text_column, id_column, encoding, header), ()
    elif path.is_file() and is_text_file_name(path):
        files, scan = [path], None
    elif path.is_file():
        raise NoTextsError(
            f"{path.name}: give a .txt file, a folder of .txt files, or a CSV/TSV/JSON Lines file"
        )
    else:
        raise NoTextsError(
            f"{path} does not exist (give a .txt file, a folder of them, or a CSV/TSV/JSONL file)"
        )
    for option, value in (("--text-column", text_column), ("--id-column", id_column)):
        if value is not None:
            raise NoTextsError(f"{option} applies to a CSV, TSV or JSON Lines file only")
    if not header:
        raise NoTextsError("--no-header reads a CSV or TSV file")
    given = []
    for file in files:
        body, problem, _ = read_text_file(Path(file), encoding)
        shown_id = Path(file).relative_to(path).as_posix() if path.is_dir() else Path(file).name
        given.append((str(file), problem or body, bool(problem), shown_id))
    return given, tuple(str(other) for other in scan.skipped) if scan is not None else ()


def _table_inputs(
    path: Path, text_column: str | None, id_column: str | None, encoding: str | None, header: bool = True
) -> list[Given]:
    if not header and path.suffix.lower() == ".jsonl":
        raise NoTextsError(f"--no-header reads a CSV or TSV file; {path.name} is JSON Lines (no header line)")
    try:
        table = read_table(path, encoding=encoding, header=header)
    except ProjectError as exc:
        raise NoTextsError(str(exc)) from exc
    column = text_column or guess_columns(table)[0]
    if column is None:
        raise NoTextsError(f"{path.name} has no column to read texts from; name one with --text-column")
    for name in (column, id_column):
        if name is not None and name not in table.columns:
            raise NoTextsError(
                f"{path.name} has no column {name!r}; its columns are {', '.join(table.columns) or 'none'}"
            )
    given: list[Given] = []
    for row in table.rows:
        # A row without an id is keyed by its number, in a form no id can take (an id "3" is not row 3).
        key = _row_id(row.values, id_column) or (f"row={row.number}" if id_column else str(row.number))
        source = f"{path}#{key}"
        if row.problem is not None:
            given.append((source, row.problem, True, key))
            continue
        try:
            body = cell_text(row.values.get(column))
        except ValueError as exc:  # a JSON array or object where the text should be
            given.append((source, f"column {column!r} {exc}", True, key))
            continue
        if body is None or not body.strip():
            given.append((source, f"empty text in column {column!r}", True, key))
        else:
            given.append((source, body, False, key))
    return given


def _row_id(values: dict[str, object], id_column: str | None) -> str:
    """The row's id from ``id_column`` (stripped), or ``""`` without one: no column, an empty cell, a JSON object."""
    if id_column is None:
        return ""
    try:
        return (cell_text(values.get(id_column)) or "").strip()
    except ValueError:
        return ""


def repeated_sources(summary: PredictSummary) -> dict[str, int]:
    """``{source: rows}`` of the sources that name more than one row of the predictions CSV (a table's id column
    holding one id twice): those rows cannot be joined back to the table by their key. Empty when every source is
    unique."""
    counts: dict[str, int] = {}
    for source in [p.path for p in summary.predictions] + [source for source, _ in summary.problems]:
        counts[source] = counts.get(source, 0) + 1
    return {source: n for source, n in counts.items() if n > 1}


def repeated_sources_note(summary: PredictSummary) -> str:
    """A warning when some keys name more than one row (:func:`repeated_sources`), else ``""``: what the command
    line prints and the window shows under the prediction's summary."""
    repeated = repeated_sources(summary)
    if not repeated:
        return ""
    first, rows = next(iter(repeated.items()))
    more = f" and {len(repeated) - 1} more" if len(repeated) > 1 else ""
    return (
        f"{len(repeated)} key(s) name more than one row ({first}: {rows} rows{more}), so those rows cannot be "
        "joined back to the table by their key; name an id column whose values are unique"
    )


def predict_texts(
    texts: list[tuple[str, str]],
    classes: list[str] | tuple[str, ...],
    probabilities: Callable[[list[str]], np.ndarray],
    problems: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    *,
    order: list[str] | tuple[str, ...] = (),
    batch_size: int = TEXT_PREDICT_BATCH,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop = never_stop,
) -> PredictSummary:
    """Class probabilities of each ``(source, text)``, in batches; ``problems`` are carried into the summary.

    ``probabilities`` maps a list of texts to an ``(N, classes)`` array: a run in PyTorch or an exported model.
    ``order``: the sources in the order they were given (the CSV's rows follow it; see
    :attr:`~dmtl_studio.core.evaluation.predict.PredictSummary.order`).
    """
    predictions: list[Prediction] = []
    total = len(texts) + len(problems)
    for start in range(0, len(texts), batch_size):
        check(should_stop)
        batch = texts[start : start + batch_size]
        for (source, _), row in zip(batch, probabilities([t for _, t in batch]), strict=True):
            best = int(np.argmax(row))
            predictions.append(
                Prediction(source, classes[best], float(row[best]), tuple(float(p) for p in row))
            )
        if progress is not None:
            progress(len(predictions), total)
    if progress is not None and (not texts or problems):  # the rows with an error complete the count, once
        progress(total, total)
    return PredictSummary(tuple(classes), tuple(predictions), tuple(problems), order=tuple(order))


def predict_text_inputs(
    model: str | os.PathLike[str] | TextPredictor,
    target: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    *,
    text_column: str | None = None,
    id_column: str | None = None,
    encoding: str | None = None,
    header: bool = True,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop = never_stop,
    reject_below: float | None = None,
) -> PredictSummary:
    """Predict the texts of ``target`` (a .txt file, a folder, a table) with a text run folder or an exported text
    model, and write the CSV (:func:`~dmtl_studio.core.evaluation.predict.write_predictions_csv`: path,
    predicted_label, confidence, ``p_<class>`` columns, error).

    Raises
    ------
    NoTextsError
        As :func:`text_prediction_inputs`.
    CheckpointError
        The model cannot be loaded.
    """
    given, skipped = _inputs(target, text_column, id_column, encoding, header)
    texts, problems = _split(given)
    predictor = model if isinstance(model, TextPredictor) else load_text_predictor(model, device=device)
    summary = predict_texts(
        texts,
        predictor.classes,
        predictor.probabilities,
        problems,
        order=[g[0] for g in given],
        progress=progress,
        should_stop=should_stop,
    )
    summary = replace(
        summary,
        extra_columns=TEXT_COLUMNS,
        extra_predictions=tuple((g[3], g[1]) for g in given if not g[2]),  # in the order they were predicted
        extra_problems=tuple((g[3], "") for g in given if g[2]),
    )
    if not isinstance(model, TextPredictor):  # a run folder: its classes under the project's names now
        summary, note = predictions_named_now(summary, model)
        summary = replace(summary, note=note)
    summary = replace(reject_unsure(summary, reject_below), skipped=skipped)
    write_predictions_csv(summary, Path(out_csv))
    return summary
