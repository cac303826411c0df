"""Reading tabular text files: CSV and TSV (the delimiter sniffed), and JSON Lines; which column holds what.

A table is read whole and checked before anything is imported from it: a file that cannot be decoded, has no
header, or lacks a named column is refused with one message, and nothing of it is imported. A bad row (ragged,
malformed JSON, no value) is a :class:`TableRow` with a ``problem``: reported by its row number, never fatal.
Rows are numbered from 1, the header not counted (for JSON Lines: the line number), blank rows counted but
skipped; ``<file>#<row>`` is the row's key in a project, stable across re-imports of the same file.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.project.delimited_rows import MAX_TABLE_ROWS as MAX_TABLE_ROWS
from dmtl_studio.core.project.delimited_rows import TableRow, delimited_rows
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.importer import SPLIT_FOLDER_NAMES
from dmtl_studio.core.project.project_kind import TABLE_SUFFIXES
from dmtl_studio.core.project.table_options import parse_delimiter
from dmtl_studio.core.project.text_decoding import (
    UndecodableText,
    decode_text_bytes,
    without_control_characters,
)


class UndecodableTable(ProjectError):
    """A table whose bytes are not in the encoding tried (UTF-8 or the one named); nothing of it is read."""


#: Delimiters the sniffer may choose for a CSV/TSV file.
DELIMITERS = ",\t;|"
#: Largest tabular file read, in bytes (it is decoded in memory).
MAX_TABLE_BYTES = 1 << 30
#: Bytes read for a preview or a guess of the columns.
PREVIEW_BYTES = 256 * 1024

#: Column names taken for the text, the label and the split (compared case-insensitively), in order of preference.
TEXT_NAMES = (
    "text", "body", "content", "sentence", "review", "message", "description", "abstract", "document",
    "comment", "comments", "note", "notes", "summary", "utterance", "question", "tweet", "title",
)  # fmt: skip
LABEL_NAMES = (
    "label", "labels", "class", "class_name", "classname", "category", "target", "tag", "intent", "topic",
    "sentiment", "y",
)  # fmt: skip
SPLIT_NAMES = ("split", "subset", "set", "fold", "partition")
#: Column names taken for a row's key when predicting (compared without case): the window and ``predict`` alike.
ID_NAMES = ("id", "key", "uid", "row_id", "ticket", "ticket_id")


def guess_id_column(columns: Sequence[str], text_column: str | None) -> str | None:
    """The column of ``columns`` named like an id (:data:`ID_NAMES`), other than ``text_column``, or None."""
    return next((c for c in columns if c.strip().lower() in ID_NAMES and c != text_column), None)


@dataclass(frozen=True)
class Table:
    """A tabular file read whole: its columns in file order, its rows, how it was read."""

    path: Path
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    encoding: str
    #: The delimiter of a CSV/TSV file; ``None`` for JSON Lines.
    delimiter: str | None
    #: True when only the start of the file was read (a preview).
    partial: bool = False
    #: True when the file was read as having no header line (its columns named ``column 1``…).
    headerless: bool = False


def blank_rows(table: Table) -> tuple[int, ...]:
    """Numbers of the blank rows between ``table``'s first and last rows (read past, their numbers kept; blank
    lines at the end of a file are not listed)."""
    numbers = {row.number for row in table.rows}
    return tuple(n for n in range(1, max(numbers, default=0)) if n not in numbers)


@dataclass(frozen=True)
class TablePreview:
    """The first rows of a tabular file and the columns guessed to hold the text, the label and the split."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    text_column: str | None
    label_column: str | None
    split_column: str | None
    encoding: str
    delimiter: str | None
    #: The data row number of each row shown (the numbers of the rows' keys, ``<file>#<row>``).
    row_numbers: tuple[int, ...] = ()
    #: Rows read below the header, problem rows included (of the file's first :data:`PREVIEW_BYTES`).
    rows_read: int = 0
    #: Why the first line looks like a row of data, not column names (:func:`header_as_data`), or ``None``.
    header_warning: str | None = None
    #: ``(row number, problem)`` of the rows left out of ``rows`` among those shown (an import makes each a
    #: problem item).
    problem_rows: tuple[tuple[int, str], ...] = ()


def describe_delimiter(delimiter: str | None) -> str:
    return {None: "JSON Lines", ",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}.get(
        delimiter, repr(delimiter)
    )


#: A table read without a header line has as many columns as the widest of its first rows, this many.
HEADERLESS_ROWS = 100


def read_table(
    path: str | os.PathLike[str],
    delimiter: str | None = None,
    limit: int | None = None,
    encoding: str | None = None,
    header: bool = True,
) -> Table:
    """Read a CSV, TSV or JSON Lines file (which one: by extension).

    ``delimiter`` overrides the sniffed one for CSV/TSV; ``encoding`` (a codec name from
    :func:`~dmtl_studio.core.project.text_decoding.checked_encoding`) is used for a file without a byte-order
    mark instead of UTF-8. ``limit`` reads only the first ``limit`` bytes (for a preview): a character or a row cut
    off at the end is dropped. ``header`` false: a CSV/TSV file's first line is its row 1, and its columns are
    named ``column 1``, ``column 2``… (as many as that line has fields).

    Raises
    ------
    ProjectError
        The file cannot be read, is too large, is not in one of the encodings tried (nothing is imported), has
        no header, or has more than :data:`MAX_TABLE_ROWS` rows; ``delimiter`` is not one character (see
        :func:`parse_delimiter`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ProjectError(f"{path.name}: not a CSV, TSV or JSON Lines file (by its extension)")
    delimiter = parse_delimiter(delimiter) if delimiter is not None else None
    try:
        size = path.stat().st_size
        if limit is None and size > MAX_TABLE_BYTES:
            raise ProjectError(
                f"{path.name} is {size / 2**20:,.0f} MB, larger than the {MAX_TABLE_BYTES / 2**20:,.0f} MB a "
                "table may have: split it into parts"
            )
        with path.open("rb") as stream:
            data = stream.read(limit) if limit is not None else stream.read()
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from exc
    partial = limit is not None and size > len(data)
    text, encoding = _decode_table(path, data, partial, encoding)
    if not text.strip():
        raise ProjectError(f"{path.name} is empty")
    if partial:
        text = text[: max(0, text.rfind("\n"))]  # the last row may be cut off
    if TABLE_SUFFIXES[suffix] is None:
        columns, rows = _json_lines(text)
        return Table(path, columns, rows, encoding, None, partial)
    chosen = delimiter or sniff_delimiter(text[:65536], TABLE_SUFFIXES[suffix] or ",")
    if not header:  # the columns' names as a header line of their own: the file's first line is a row
        records = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=chosen)
        # As many as the widest of the first rows (a first row without its optional last field, or a blank first
        # line, made every other row "ragged").
        widest = max((len(row) for row in itertools.islice(records, HEADERLESS_ROWS)), default=1)
        text = chosen.join(f"column {n}" for n in range(1, max(widest, 1) + 1)) + "\n" + text
    columns, rows = delimited_rows(path, text, chosen)
    return Table(path, columns, rows, encoding, chosen, partial, headerless=not header)


def _decode_table(path: Path, data: bytes, partial: bool, named: str | None) -> tuple[str, str]:
    try:  # a preview may be cut mid-character: the incomplete end is left out
        return decode_text_bytes(data, named, final=not partial)
    except UndecodableText as exc:
        raise UndecodableTable(f"{path.name} {exc}") from None


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter of CSV text: ``default`` (the extension's) when the header line holds it, else what
    :class:`csv.Sniffer` finds among :data:`DELIMITERS` if the header holds that, else ``default`` (a file of
    one column)."""
    header = sample.split("\n", 1)[0]
    if default in header:
        return default
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return default
    return found if found in header else default


def _json_lines(text: str) -> tuple[tuple[str, ...], tuple[TableRow, ...]]:
    columns: dict[str, None] = {}
    rows: list[TableRow] = []
    # Split on "\n" only: JSON strings may hold other line separators (U+2028) unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if number > MAX_TABLE_ROWS:
            raise ProjectError(f"more than {MAX_TABLE_ROWS:,} lines (the limit): split the file into parts")
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            # Some messages end in " at" ("Unterminated string starting at", "Invalid control character at").
            what = exc.msg.removesuffix(" at")
            rows.append(TableRow(number, {}, f"not valid JSON: {what} at column {exc.colno}", line))
            continue
        if not isinstance(value, dict):
            rows.append(TableRow(number, {}, f"not a JSON object but {_json_kind(value)}", line))
            continue
        for key in value:
            columns.setdefault(str(key), None)
        rows.append(TableRow(number, {str(k): v for k, v in value.items()}))
    return tuple(columns), tuple(rows)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return "a boolean" if isinstance(value, bool) else "a number"


def cell_text(value: object) -> str | None:
    """A cell's text: strings as they are, numbers written out (whole ones without .0), ``None`` for a null.

    Raises
    ------
    ValueError
        For a JSON array or object, which is not a text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):  # a whole JSON number is one text however written (1.0, 1): "1"
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise ValueError(f"is {_json_kind(value)}, not a text")


def preview_table(
    path: str | os.PathLike[str],
    rows: int = 8,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool = True,
) -> TablePreview:
    """The columns and first ``rows`` rows of a tabular file (its first :data:`PREVIEW_BYTES` read, or more until
    one row is whole), with the columns guessed to hold the text, the label and the split (see
    :func:`guess_columns`).

    Raises
    ------
    ProjectError
        As :func:`read_table`.
    """
    size = os.path.getsize(path)
    limit = PREVIEW_BYTES
    table = read_table(path, delimiter=delimiter, limit=limit, encoding=encoding, header=header)
    while not table.rows and limit < size:  # a first row longer than the preview (a text may be 10 MB)
        limit *= 4
        table = read_table(path, delimiter=delimiter, limit=limit, encoding=encoding, header=header)
    text, label, split = guess_columns(table)
    good = [row for row in table.rows if row.problem is None]
    shown = tuple(tuple(_shown(row.values.get(column)) for column in table.columns) for row in good[:rows])
    numbers = tuple(row.number for row in good[:rows])
    last = (numbers[-1] if numbers else 0) if len(good) > rows else 1 << 62  # rows past the last one shown
    problems = tuple(
        (r.number, str(r.problem)) for r in table.rows if r.problem is not None and r.number < last
    )
    return TablePreview(
        table.columns,
        shown,
        text,
        label,
        split,
        table.encoding,
        table.delimiter,
        numbers,
        len(table.rows),
        header_as_data(table, text),
        problems,
    )


def header_as_data(table: Table, text_column: str | None) -> str | None:
    """A sentence saying that the first line of a CSV/TSV file (a file written without a header loses its first row
    to it) looks like a row of data, and why: a header cell that is also a value of its column (``hardware`` in a
    column ``hardware``), or a text column named by a sentence of five words or more. ``None`` when neither."""
    if table.delimiter is None or table.headerless:  # JSON Lines, or read as having no header line
        return None
    good = [row.values for row in table.rows if row.problem is None][:500]
    lead = f"the first line of {table.path.name} looks like a row of data, not column names"
    for column in table.columns:
        name = column.strip().casefold()
        if name and any(_shown(values.get(column)).strip().casefold() == name for values in good):
            return f"{lead} ('{column[:40]}' is also a value of that column)"
    if text_column is not None and text_column.casefold() not in TEXT_NAMES:
        words = len(text_column.split())
        lengths = [len(_shown(values.get(text_column)).strip()) for values in good]
        mean = sum(lengths) / len(lengths) if lengths else 0.0
        # Five words, or three as long as half its texts are: a sentence (a name is short beside its texts).
        if words >= 5 or (words >= 3 and len(text_column) >= mean / 2):
            shown = text_column if len(text_column) <= 40 else text_column[:39] + "…"
            return f"{lead} (the text column's name '{shown}' reads as a sentence)"
    return None


def _shown(value: object) -> str:
    """A cell as an import keeps it (control characters and terminal escapes removed)."""
    try:
        return without_control_characters(cell_text(value) or "")[0]
    except ValueError:
        return json.dumps(value)[:200]


def text_columns_guess(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], str | None, str | None]:
    """``(columns, guessed text column, guessed label column)`` of a tabular file (see :func:`guess_columns`).

    Raises
    ------
    ProjectError
        As :func:`read_table`.
    """
    preview = preview_table(path, rows=0)
    return preview.columns, preview.text_column, preview.label_column


def guess_columns(table: Table) -> tuple[str | None, str | None, str | None]:
    """``(text, label, split)`` columns of ``table``, each ``None`` when none fits.

    By name first (:data:`TEXT_NAMES`, :data:`LABEL_NAMES`, :data:`SPLIT_NAMES`, case-insensitive; a split column
    only when more than half of its values name a split, the rows with another are split automatically and say
    so; a text column by name only when its values are at least a quarter as long, in all, as those of the column
    of the longest values); else the text is the column with the longest values on average, and the label the
    column of short values (at most 40 characters on average) with the fewest distinct values, at most half as
    many as rows.
    """
    columns = table.columns
    sample = [row.values for row in table.rows if row.problem is None][:500]
    folded = {column.casefold(): column for column in reversed(columns)}

    def values(column: str) -> list[str]:
        return [_shown(row.get(column)).strip() for row in sample]

    split = next((folded[n] for n in SPLIT_NAMES if n in folded), None)
    if split is not None:  # most of its values must name a split; a row with another is split automatically
        given = [v.casefold() for v in values(split) if v]
        if sum(v in SPLIT_FOLDER_NAMES for v in given) * 2 <= len(given):
            split = None
    text = next((folded[n] for n in TEXT_NAMES if n in folded), None)
    label = next((folded[n] for n in LABEL_NAMES if n in folded and folded[n] != text), None)
    others = [c for c in columns if c not in (split, label)]
    longest = (
        max(others, key=lambda c: (sum(len(v) for v in values(c)), -columns.index(c))) if others else None
    )
    if text is not None and longest is not None and longest != text:
        # A column named like texts ("Notes") whose values are a fraction of another's ("x", blanks) is not them.
        named, other = (sum(len(v) for v in values(c)) for c in (text, longest))
        if named * 4 < other:
            text = longest
    if text is None:
        text = longest
    if label is None and len(sample) >= 2:
        candidates = []
        for column in columns:
            seen = [v for v in values(column) if v]
            distinct = len(set(seen))
            # Labels repeat: at most half as many distinct values as rows, and short ones.
            short = bool(seen) and sum(map(len, seen)) / len(seen) <= 40
            if column not in (text, split) and short and distinct <= max(2, len(seen) // 2):
                candidates.append((distinct, columns.index(column), column))
        label = min(candidates)[2] if candidates else None
    return text, label, split
