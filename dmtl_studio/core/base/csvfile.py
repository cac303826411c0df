"""Every CSV file the product writes or reads: formula-safe cells and size limits that are said.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula
(CSV injection): a class named ``=HYPERLINK(…)`` would become a live link for whoever opens an exported file.
Following the OWASP rule, such a cell is written with a leading single quote, which spreadsheets show as text.
Reading undoes exactly that, so a written file reads back to the original values: a value that itself starts
with quotes before such a character gets one more quote on writing and loses one on reading.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Most rows a CSV file read by the product may have.
MAX_ROWS = 1_000_000
#: Most characters one CSV field may have (a path or a class name is never that long).
MAX_FIELD_CHARS = 4096


class CsvLimitError(ValueError):
    """A CSV file that cannot be read: too large, a field too long, or malformed. The message says which line."""


def escape_cell(value: str) -> str:
    """The text written for ``value``: one leading ``'`` added when, after its own leading quotes, it starts
    like a formula; otherwise ``value`` unchanged."""
    if value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """The original value of a cell written by :func:`escape_cell` (exact inverse)."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS):
        return value[1:]
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]], encoding: str | None = None) -> bytes:
    """CSV text of ``header`` and ``rows`` with every cell escaped (:func:`escape_cell`), in UTF-8 or ``encoding``.

    Non-text cells are written with ``str``; in UTF-8, file names that are not valid UTF-8 keep their bytes.

    Raises
    ------
    ValueError
        A character ``encoding`` cannot write (named, with its line); nothing is returned.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([escape_cell(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([escape_cell(str(cell)) for cell in row])
    text = buffer.getvalue()
    if encoding is None:
        return text.encode("utf-8", "surrogateescape")
    try:
        return text.encode(encoding, "surrogateescape")  # a file name's undecodable bytes kept, as in UTF-8
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise ValueError(
            f"{text[exc.start]!r} (line {line}) cannot be written in {encoding}: choose an encoding that has it, "
            "e.g. utf-8-sig (UTF-8 that Excel recognises); nothing was written"
        ) from None


def write_csv(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    encoding: str | None = None,
) -> None:
    """Write a formula-safe CSV file atomically (the old file or the new one, never a part), in UTF-8 or
    ``encoding``.

    Raises
    ------
    OSError
        The folder cannot be written.
    ValueError
        ``encoding`` cannot write one of the characters (nothing written).
    """
    atomic_write_bytes(Path(path), csv_bytes(header, rows, encoding))


def _encoding_of(path: str | os.PathLike[str], named: str | None) -> str:
    with open(path, "rb") as raw:
        head = raw.read(3)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # a byte-order mark names its own encoding
        return "utf-16"
    return "utf-8-sig" if named is None or head.startswith(codecs.BOM_UTF8) else named


def read_csv(
    path: str | os.PathLike[str],
    max_rows: int = MAX_ROWS,
    max_field: int = MAX_FIELD_CHARS,
    encoding: str | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, cells)`` of a CSV file, each cell unescaped (:func:`unescape_cell`).

    The file is streamed, so its size costs no memory. It is read as UTF-8 (a byte-order mark ignored), or in
    ``encoding`` (a codec name, e.g. ``"cp1252"``) when given, unless a UTF-8 or UTF-16 byte-order mark names its
    own; bytes the encoding does not decode are kept as surrogates (the callers refuse them). Cells are separated by
    commas, or by semicolons or tabs when the first line holds one of those and no comma (a spreadsheet saved as
    CSV where the decimal mark is a comma writes ``path;label``).

    Raises
    ------
    OSError
        The file cannot be read.
    CsvLimitError
        More than ``max_rows`` rows, a field longer than ``max_field`` characters, or malformed CSV.
    """
    name = Path(path).name
    try:
        with open(
            path, encoding=_encoding_of(path, encoding), errors="surrogateescape", newline=""
        ) as stream:
            first = stream.readline()
            stream.seek(0)
            separator = next((mark for mark in (";", "\t") if "," not in first and mark in first), ",")
            reader = csv.reader(stream, delimiter=separator)
            rows = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    # The csv module refuses fields over its own limit (131,072 characters) with csv.Error.
                    raise CsvLimitError(
                        f"{name}, line {reader.line_num}: not readable as CSV ({exc}); fields may have at most "
                        f"{max_field:,} characters"
                    ) from None
                rows += 1
                if rows > max_rows:
                    raise CsvLimitError(
                        f"{name} has more than {max_rows:,} rows (the limit): split it into parts"
                    )
                if any(len(cell) > max_field for cell in row):
                    raise CsvLimitError(
                        f"{name}, line {reader.line_num}: a field is longer than {max_field:,} characters (the "
                        "limit; no path or class name is that long)"
                    )
                yield reader.line_num, [unescape_cell(cell) for cell in row]
    # An encoding that cannot read the bytes at all (UTF-16 named, no byte-order mark).
    except UnicodeError as exc:
        raise CsvLimitError(
            f"{name} cannot be read as {encoding or 'UTF-8'} ({exc}): name the encoding it is in, or save it as UTF-8"
        ) from None
