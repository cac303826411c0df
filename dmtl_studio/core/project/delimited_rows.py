"""Reading the rows of a delimited text table (CSV, TSV…) for a text import: every row kept, a bad one as a
problem with its reason, and an opening quote that is never closed costing its own row only, not the rest of the
file (:func:`delimited_rows`).

A quote at the start of a field that does not enclose it (``"Quoted" start of a ticket<TAB>safety``, usual in
TSV files, which seldom quote) is text: the row is read as written, quotes kept, with a note, where the csv module
would drop the quotes or, for a quote never closed, read the lines after it into the field."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.text_decoding import MAX_TEXT_BYTES

#: Most rows a tabular file may have.
MAX_TABLE_ROWS = 1_000_000


@dataclass(frozen=True)
class TableRow:
    """One data row: ``values`` by column (``None`` for a missing field), or a ``problem`` and the ``raw`` row."""

    number: int
    values: dict[str, object]
    problem: str | None = None
    raw: str = ""
    #: How a usable row was read, when not as CSV quoting says (see the module docstring).
    note: str | None = None


#: The note of a row whose quotes do not enclose its fields, read as written.
QUOTES_KEPT = "its quotes do not enclose a field: read as written, quotes kept"


def unique_names(names: list[str]) -> tuple[str, ...]:
    """Header names made usable: blanks named ``column N``, repeats numbered (``text (2)``)."""
    seen: dict[str, int] = {}
    result = []
    for index, name in enumerate(names, start=1):
        name = name.strip() or f"column {index}"
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(result)


def allow_long_fields() -> None:
    """Let the csv module read fields as long as a text may be (its default limit is 128 KiB). The limit is
    the module's, shared by the process; it only ever grows here."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_TEXT_BYTES))


def delimited_rows(path: Path, text: str, delimiter: str) -> tuple[tuple[str, ...], tuple[TableRow, ...]]:
    allow_long_fields()
    lines: list[str] | None = (
        None  # the physical lines, split as the csv reader splits them: made when needed
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ProjectError(f"{path.name}: the header line is not readable as CSV ({exc})") from None
    if not header or not any(cell.strip() for cell in header):
        raise ProjectError(f"{path.name} has no header line naming its columns (the first line is empty)")
    columns = unique_names(header)
    rows: list[TableRow] = []
    number = 0
    quoted = '"' in text
    skipped = 0  # lines before the current reader's first (it restarts after an opening quote never closed)
    while True:
        first = skipped + reader.line_num  # the index of the row's first line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            rows.append(TableRow(number, {}, f"not readable as CSV: {exc}"))
            continue
        number += 1
        if number > MAX_TABLE_ROWS:
            raise ProjectError(
                f"{path.name} has more than {MAX_TABLE_ROWS:,} rows (the limit): split it into parts"
            )
        if not cells or not any(cell.strip() for cell in cells):
            continue  # a blank row
        if len(cells) > len(columns) and not any(cell.strip() for cell in cells[len(columns) :]):
            cells = cells[: len(columns)]  # trailing empty fields, as spreadsheets write them
        swallowed = skipped + reader.line_num - first - 1  # lines after the row's first that it read
        ragged = len(cells) != len(columns)
        misquoted = False
        if quoted and (not ragged or swallowed > 0):
            lines = lines if lines is not None else io.StringIO(text, newline="").readlines()
            misquoted = _misquoted("".join(lines[first : first + swallowed + 1]), delimiter)
        if swallowed > 0 and (misquoted or (ragged and _holds_rows(cells, delimiter, len(columns)))):
            # A quote that encloses no field read the lines after it into this row: the row is its own line,
            # read as written if its fields can be told apart, and the reading starts again after it.
            assert lines is not None
            literal = _as_written(lines[first], delimiter, len(columns))
            rows.append(
                TableRow(number, dict(zip(columns, literal, strict=True)), note=QUOTES_KEPT)
                if literal is not None
                else TableRow(number, {}, _unclosed_quote(swallowed), lines[first].rstrip("\r\n"))
            )
            skipped = first + 1  # read again from the line after it, each line on its own
            reader = csv.reader(io.StringIO("".join(lines[skipped:]), newline=""), delimiter=delimiter)
            continue
        if ragged:
            rows.append(
                TableRow(
                    number,
                    {},
                    f"ragged row: {len(cells)} field(s) where the header has {len(columns)}",
                    delimiter.join(cells),
                )
            )
            continue
        note = None
        if misquoted:  # one line whose quotes are text, not CSV quoting
            assert lines is not None
            literal = _as_written(lines[first], delimiter, len(columns))
            cells, note = (literal, QUOTES_KEPT) if literal is not None else (cells, None)
        rows.append(TableRow(number, dict(zip(columns, cells, strict=True)), note=note))
    return columns, tuple(rows)


def _misquoted(row: str, delimiter: str) -> bool:
    """Whether a field of ``row`` (its physical lines) starts with a quote that does not enclose it: CSV's strict
    reading fails (a quote followed by other text than a delimiter or the row's end)."""
    if not (row.startswith('"') or f'{delimiter}"' in row):
        return False
    try:
        next(csv.reader(io.StringIO(row, newline=""), delimiter=delimiter, strict=True), None)
    except csv.Error:
        return True
    return False


def _as_written(line: str, delimiter: str, width: int) -> list[str] | None:
    """The fields of ``line`` split at every ``delimiter``, quotes kept, when that gives ``width`` of them
    (trailing empty fields dropped, as spreadsheets write them); else ``None``."""
    cells = line.rstrip("\r\n").split(delimiter)
    while len(cells) > width and not cells[-1].strip():
        cells.pop()
    return cells if len(cells) == width else None


def _holds_rows(cells: list[str], delimiter: str, width: int) -> bool:
    """Whether a ragged row's cells hold lines that are whole rows of the table: an opening quote never closed
    read them into one cell, up to the end of the file or to the next quote, which closed it within its line (a
    text of several lines, quoted as it should be, has lines of prose instead)."""
    later = [line for cell in cells for line in cell.splitlines()[1:] if line.strip()]
    whole = [len(next(csv.reader([line], delimiter=delimiter), [])) == width for line in later]
    return any(whole) and all(whole[:-1])


def _unclosed_quote(swallowed: int) -> str:
    return (
        f"an opening quote is never closed: it would have read the {swallowed} line(s) after it into this row; "
        "this row is left out and those lines are read as rows of their own (close the quote, or remove it)"
    )
