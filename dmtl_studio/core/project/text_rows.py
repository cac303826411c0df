"""Re-import of a table of texts: the project's items follow their texts, not their row numbers.

A row of a CSV / TSV / JSON Lines file is keyed ``<file>#<row>`` in the project. When the file is edited and
imported again, a row inserted or removed above a text moves that text to another row number; keying on the
number alone would hand the old row's label to whatever text now sits there. :func:`match_rows` matches the
file's rows to the project's items of the same file by their normalised text first (the hash the importer records,
:func:`~dmtl_studio.core.project.texts_table.text_sha256`), so a label stays with its text wherever it moved.

The rules, in order:

1. a row whose text is the item's text at the same row number keeps that item;
2. a row whose text equals an unmatched item's text elsewhere in the file takes that item (the item is re-keyed
   to the row's number; equal texts are matched in row order);
3. a row whose number is held by an item left unmatched takes that item: the text was edited in place, and the
   item keeps its label (a row that became unusable does not take a usable item; that item is kept as removed);
4. an item left unmatched is no longer in the file. It is kept, with its text and label (a re-import never loses
   a label), under the key ``<file>#removed-<id>``, which no row of a file can have;
5. a new row whose text is that of an item kept so at an earlier import takes that item back (a filtered export
   of a spreadsheet, imported, then the whole file again): its label, split and history return with it.

A table imported with an id column (``--id-column``: a ticket number, a sample id) keys each row
``<file>#id=<id>`` instead (:func:`row_keys`), so a row is its id wherever it sits and whatever other rows hold
the same text: rule 2 never moves an item from one id to another, and a removed row keeps its id
(``<file>#id=<id>#removed-<item>``) so that rule 5 gives it back to that id only. An earlier import of the same file
keyed by row numbers is matched by the rules above and its items re-keyed by id, so adding the id column loses no
label. The way back loses none either: a table imported again without its id column after an import with one is
matched by the ids still in its rows (:func:`id_hints`): a row whose cell holds an item's id takes that item first,
so identical texts keep their own labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from dmtl_studio.core.base.text_checks import has_control_character
from dmtl_studio.core.project.delimited_rows import TableRow
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_tables import cell_text
from dmtl_studio.core.project.texts_table import TextItem, text_sha256

_REMOVED = re.compile(r"#removed-\d+$")
#: What follows ``<file>#`` in the key of a row keyed by its id column.
ID_MARK = "id="
#: Longest id kept in a key, in characters.
MAX_ID_CHARS = 200


def removed_key(base: str, item_id: int, key: str = "") -> str:
    """The key of item ``item_id`` (keyed ``key``) of the table ``base`` once its text is no longer in the file:
    ``<base>#removed-<id>``, or ``<key>#removed-<id>`` for a row keyed by its id, which keeps the id so that the
    row, back in the file, takes its item back."""
    return f"{key if key.startswith(f'{base}#{ID_MARK}') else base}#removed-{item_id}"


def is_removed_key(key: str) -> bool:
    """Whether ``key`` names a text that is no longer in its file (see :func:`removed_key`)."""
    return _REMOVED.search(key) is not None


def unremoved_key(key: str) -> str:
    """``key`` without the ``#removed-<id>`` ending of a text no longer in its file (:func:`removed_key`)."""
    return key[: key.rfind("#removed-")] if is_removed_key(key) else key


def id_key(base: str, row_id: str) -> str:
    """The key of the row of the table ``base`` whose id column holds ``row_id``."""
    return f"{base}#{ID_MARK}{row_id}"


def row_keys(base: str, rows: Sequence[TableRow], column: str) -> dict[int, tuple[str, str | None]]:
    """``{row number: (key, problem)}`` for the usable ``rows`` of the table ``base`` keyed by their id cells in
    ``column``. A row with a usable id is keyed :func:`id_key`; a row whose id is empty, over
    :data:`MAX_ID_CHARS`, holds a control character or repeats an earlier row's is keyed by its row number, with
    the problem said (it is not used: its text cannot be told from another row's). Ragged rows are left out."""
    first: dict[str, int] = {}
    keys: dict[int, tuple[str, str | None]] = {}
    for row in rows:
        if row.problem is not None:
            continue
        number = row.number
        try:
            value = (cell_text(row.values.get(column)) or "").strip()
        except ValueError:  # a JSON object or list
            value = ""
        problem = None
        if not value:
            problem = f"no id: column '{column}' is empty in this row"
        elif len(value) > MAX_ID_CHARS:
            problem = f"id too long: column '{column}' holds over {MAX_ID_CHARS} characters in this row"
        elif has_control_character(value) or _REMOVED.search(value):
            problem = (
                f"unusable id: column '{column}' holds a control character, a line break or an ending the "
                "product keeps for removed rows ('#removed-N') in this row"
            )
        elif value in first:
            problem = (
                f"repeated id: '{value}' is also row {first[value]}'s id (the ids in column '{column}' must be "
                "unique)"
            )
        else:
            first[value] = number
        keys[number] = (id_key(base, value) if problem is None else f"{base}#{number}", problem)
    return keys


@dataclass(frozen=True)
class RowMatch:
    """How the rows of a re-imported table map onto the project's items of that table.

    ``renames`` maps an item's key to its new key (moved rows and removed texts); ``moved`` counts texts found at
    another row number; ``removed`` holds the new keys of the items whose texts are no longer in the file;
    ``label_differences`` holds ``(row key, project label, file label)`` for matched rows whose file label differs
    from the label the project already has, and ``item_ids`` the id of each of those rows' items.
    """

    renames: dict[str, str]
    moved: int
    removed: tuple[str, ...]
    label_differences: tuple[tuple[str, str, str], ...]
    item_ids: dict[str, int] = field(default_factory=dict)
    #: Texts no longer in the file at an earlier import that are back (by id, or by their text): their items.
    returned: int = 0
    #: Rows of a table read without its id column matched to their items by the ids in them (:func:`id_hints`).
    by_earlier_ids: int = 0

    def summary_fields(self) -> dict[str, object]:
        """What an import's summary says of the match (the fields of ``TextImportSummary`` of the same names)."""
        return {
            "moved": self.moved,
            "removed": self.removed,
            "returned": self.returned,
            "by_earlier_ids": self.by_earlier_ids,
            "label_differences": self.label_differences,
        }


def id_hints(base: str, records: Sequence[ImageRecord], rows: Sequence[TableRow]) -> dict[str, str]:
    """``{row key: item key}`` for a table ``base`` imported without an id column whose project items were keyed
    by one at an earlier import: the column of ``rows`` that holds the most of those items' ids is taken as that
    id column, and each row whose cell there holds an id is hinted to that id's item (removed or not). Empty when
    no item of ``base`` is keyed by an id, or no column holds one of their ids."""
    mark = f"{base}#{ID_MARK}"
    ids: dict[str, str] = {}
    for record in records:
        if record.path.startswith(mark):
            ids[unremoved_key(record.path)[len(mark) :]] = record.path
    if not ids:
        return {}
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.problem is not None:
            continue
        for column, value in row.values.items():
            text = value.strip() if isinstance(value, str) else None
            if text and text in ids:
                found.setdefault(column, {})[f"{base}#{row.number}"] = ids[text]
    return max(found.values(), key=len) if found else {}


def _row_number(key: str) -> int:
    tail = key.rpartition("#")[2]
    return int(tail) if tail.isdigit() else 1 << 62


def match_rows(
    base: str,
    records: Sequence[ImageRecord],
    items: Sequence[TextItem],
    hints: dict[str, str] | None = None,
    places: dict[str, str] | None = None,
) -> RowMatch:
    """Match the ``items`` read from the table ``base`` (its absolute path; item keys are ``<base>#<row>``) to
    the project's ``records`` of that table, by text first (module docstring). Records of other sources and
    items already removed from the file are ignored. ``hints`` (:func:`id_hints`) gives a row the item of its id
    first when that item holds the same text (or, removed, is back). ``places`` (``{id key: <base>#<row>}``, for
    a table read with its id column) lets rule 3 give a row keyed by its id the item held at its row number: a row
    that was a problem at an earlier import (a repeated or empty id, since fixed) is the same row, not a new one.
    Pure: the caller applies :attr:`RowMatch.renames`."""
    prefix = base + "#"
    known = {r.path: r for r in records if r.path.startswith(prefix)}
    existing = {key: r for key, r in known.items() if not is_removed_key(key)}
    if not known:
        return RowMatch({}, 0, (), ())
    hashes = {item.source: text_sha256(item.body) for item in items if item.problem is None}
    by_hash: dict[str, list[str]] = {}
    for key in sorted(existing, key=_row_number):
        record = existing[key]
        if record.problem is None and record.sha256 is not None:
            by_hash.setdefault(record.sha256, []).append(key)
    claimed: dict[str, str] = {}  # existing key -> row key
    matched: set[str] = set()
    for source, digest in hashes.items():  # rule 1
        record = existing.get(source)
        if record is not None and record.problem is None and record.sha256 == digest:
            claimed[source] = source
            matched.add(source)
    hints = hints or {}
    for source, digest in hashes.items():  # the row's id names an item of the same text
        record = existing.get(hints.get(source, ""))
        if record is None or source in matched or record.path in claimed:  # a repeated id: its first row
            continue
        if record.sha256 == digest and record.problem is None:
            claimed[record.path] = source
            matched.add(source)
    moved = 0
    mark = prefix + ID_MARK
    for source, digest in hashes.items():  # rule 2
        if source in matched:
            continue
        for key in by_hash.get(digest, ()):
            if key not in claimed and not (key.startswith(mark) and source.startswith(mark)):
                claimed[key] = source
                matched.add(source)
                rekeyed = key.startswith(mark) or source.startswith(mark)  # keyed anew, not moved
                moved += not rekeyed
                break
    for item in items:  # rule 3 (a row of an id kept in the table: that id's item)
        held = (
            item.source
            if item.source in existing
            else hints.get(item.source) or (places or {}).get(item.source, "")
        )
        record = existing.get(held)
        if item.source in matched or record is None or held in claimed:
            continue
        if item.problem is not None and record.problem is None:
            continue
        claimed[held] = item.source
        matched.add(item.source)
    returned = _returning(known, items, hashes, matched, prefix + ID_MARK, claimed, hints)
    renames = {old: new for old, new in claimed.items() if old != new}
    by_ids = sum(hints.get(new) == old for old, new in claimed.items())
    removed = []
    for key, record in existing.items():
        if key not in claimed:
            renames[key] = removed_key(base, record.id, key)
            removed.append(renames[key])
    labels = {item.source: item.label for item in items if item.problem is None and item.label}
    differing = [
        (old, new)
        for old, new in sorted(claimed.items(), key=lambda pair: _row_number(pair[1]))
        if new in labels and known[old].label is not None and known[old].label != labels[new]
    ]
    differences = tuple((new, str(known[old].label), labels[new]) for old, new in differing)
    item_ids = {new: known[old].id for old, new in differing}
    return RowMatch(renames, moved, tuple(sorted(removed)), differences, item_ids, returned, by_ids)


def _returning(
    known: dict[str, ImageRecord],
    items: Sequence[TextItem],
    hashes: dict[str, str],
    matched: set[str],
    id_mark: str,
    claimed: dict[str, str],
    hints: dict[str, str],
) -> int:
    """Rule 5: a new row takes back the item of a text that was no longer in the file at an earlier import (its
    label, split and history): a row keyed by its id (or hinted to one, :func:`id_hints`), the item removed under
    that id; another row, a removed item (not keyed by an id) of the same text, in row order. Adds to
    ``claimed``; returns how many came back."""
    by_id: dict[str, str] = {}
    by_text: dict[str, list[str]] = {}
    for key in sorted((k for k in known if is_removed_key(k)), key=_row_number):
        stem, record = unremoved_key(key), known[key]
        if stem.startswith(id_mark):
            by_id[stem] = key
        elif record.problem is None and record.sha256 is not None:
            by_text.setdefault(record.sha256, []).append(key)
    returned = 0
    for item in items:
        if item.problem is not None or item.source in matched or item.source in known:
            continue
        if item.source.startswith(id_mark):
            key = by_id.pop(item.source, None)
        elif hints.get(item.source, "").startswith(id_mark) and is_removed_key(hints[item.source]):
            key = by_id.pop(unremoved_key(hints[item.source]), None)
        else:
            waiting = by_text.get(hashes[item.source], [])
            key = waiting.pop(0) if waiting else None
        if key is not None:
            claimed[key] = item.source
            matched.add(item.source)
            returned += 1
    return returned


def follow_rows(
    store: ProjectStore,
    base: str,
    items: Sequence[TextItem],
    rows: Sequence[TableRow] = (),
    id_column: str | None = None,
) -> RowMatch:
    """Match ``items`` (the rows of the table ``base``, keyed by ``id_column`` if named) to ``store``'s items of
    that table and re-key those items (:func:`match_rows`), so the import that follows updates each text's own
    item. ``rows`` (the table's rows) give, without an id column, the ids of an earlier import by id
    (:func:`id_hints`) and, with one, each id's row number.

    Raises
    ------
    ProjectError
        When the project is read-only or the disk refuses the change (nothing is changed then).
    """
    records = store.images_under(base + "#")  # this table's items only
    if id_column:
        places = {key: f"{base}#{number}" for number, (key, _) in row_keys(base, rows, id_column).items()}
        match = match_rows(base, records, items, places=places)
    else:
        match = match_rows(base, records, items, id_hints(base, records, rows) if rows else None)
    store.rename_sources(match.renames)
    return match


def take_file_labels(store: ProjectStore, match: RowMatch) -> int:
    """Give the rows in ``match.label_differences`` their file's label instead of the project's; returns how
    many changed. The items are those of ``match.item_ids`` (a re-keyed item keeps its id): nothing is read."""
    by_label: dict[str, list[int]] = {}
    for key, _, label in match.label_differences:
        if key in match.item_ids:
            by_label.setdefault(label, []).append(match.item_ids[key])
    for label, item_ids in by_label.items():
        store.set_label(item_ids, label)
    return sum(len(item_ids) for item_ids in by_label.values())
