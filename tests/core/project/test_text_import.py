"""Import of texts: each format with labels, each bad input reported (never fatal), re-import, kinds, label CSVs."""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

import pytest

from dmtl_studio.core.project.delimited_rows import QUOTES_KEPT
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.interop import export_csv, export_imagefolder, import_csv
from dmtl_studio.core.project.project_kind import adopt_kind, create_project, source_kind
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_decoding import MODEL_READ_CHARS
from dmtl_studio.core.project.text_demo import (
    TICKETS,
    UNLABELLED,
    create_text_demo_project,
    write_text_folder,
)
from dmtl_studio.core.project.text_import import import_texts
from dmtl_studio.core.project.text_tables import (
    preview_table,
    read_table,
    sniff_delimiter,
    text_columns_guess,
)


def _labels(store: ProjectStore) -> dict[str, str | None]:
    """``{source key: label}`` of the usable items."""
    return {record.path: record.label for record in store.images(usable_only=True)}


def _write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as stream:
        csv.writer(stream, delimiter=delimiter).writerows(rows)
    return path


ROWS = [
    ["id", "text", "label"],
    ["1", "The pump leaks oil, again.", "fault"],
    ["2", 'He said "fine" and left.', "ok"],
    ["3", "Second line\nof a quoted text", "ok"],
    ["4", "No label yet", ""],
]


@pytest.mark.parametrize(("name", "delimiter"), [("t.csv", ","), ("t.tsv", "\t"), ("semi.csv", ";")])
def test_csv_and_tsv_import_with_labels(tmp_path: Path, name: str, delimiter: str) -> None:
    table = _write_csv(tmp_path / name, ROWS, delimiter)
    assert text_columns_guess(table) == (("id", "text", "label"), "text", "label")
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label")
        assert store.kind == "text"
        assert (summary.scanned, summary.added, summary.labelled, summary.unlabelled) == (4, 4, 3, 1)
        assert summary.problems == () and summary.classes == ("fault", "ok")
        base = str(table.absolute())
        assert _labels(store) == {
            f"{base}#1": "fault",
            f"{base}#2": "ok",
            f"{base}#3": "ok",
            f"{base}#4": None,
        }
        bodies = sorted(store.texts().values())
        assert "Second line\nof a quoted text" in bodies and 'He said "fine" and left.' in bodies
        assert summary.split is not None and sum(summary.split.totals().values()) == 3


def test_jsonl_import_with_labels_and_splits(tmp_path: Path) -> None:
    lines = [
        {"text": "Invoice paid twice", "label": "billing", "split": "test"},
        {"text": "Screen flickers", "label": "hardware", "split": "train"},
        {"text": "App crashes on start", "label": "software", "split": "validation"},
        {"text": "Another crash", "label": "software", "split": "holdout"},
        {"text": 42, "label": None},
        {"text": "Refund arrived late", "label": "billing", "split": "train"},
    ]
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    assert text_columns_guess(path) == (("text", "label", "split"), "text", "label")
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, path, text_column="text", label_column="label", split_column="split")
        assert summary.labelled == 5 and summary.unlabelled == 1 and not summary.problems
        splits = {record.path.rsplit("#", 1)[1]: record.split for record in store.images()}
        assert (splits["1"], splits["2"], splits["3"]) == ("test", "train", "val")
        assert store.text(store.images()[4].id) == "42"
        # An unknown split name is noted and the row split automatically.
        assert any("holdout" in note for _, note in summary.notes)
        assert (
            "1 text(s) with a note (split: 1)" in summary.describe()
        )  # a note counts once, whatever its clauses
        # A class given its test text by the column is not said to be too small to keep one.
        warnings = summary.split.warnings
        assert not any("'billing'" in w and "too few to keep a test" in w for w in warnings)
        assert any(
            "'software'" in w and "too few to keep a test" in w for w in warnings
        )  # none given, none kept
        assert "(from split folders, a split column or an earlier import)" in summary.split.describe()


def test_numeric_labels_written_as_whole_numbers_name_one_class(tmp_path: Path) -> None:
    """JSON's 1, 1.0 and "1" are one class "1" (as in a CSV), not three that look the same in the window."""
    path = tmp_path / "scores.jsonl"
    rows = [{"text": f"review {k}", "label": label} for k, label in enumerate([1, 1.0, "1", 2, 2.0, 2.5])]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    with create_project(tmp_path / "p") as store:
        import_texts(store, path, text_column="text", label_column="label")
        assert sorted(store.class_names()) == ["1", "2", "2.5"]


def test_txt_folder_import_follows_the_image_layout(tmp_path: Path) -> None:
    folder = write_text_folder(tmp_path / "texts")
    (folder / "README.md").write_text("not a text to import")
    assert source_kind(folder) == "text"
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, folder)
        assert summary.classes == tuple(sorted(TICKETS))
        assert summary.labelled == sum(map(len, TICKETS.values())) and summary.unlabelled == len(UNLABELLED)
        assert summary.skipped == 1 and not summary.problems
        labels = _labels(store)
        assert labels[str((folder / "billing" / "billing_01.txt").absolute())] == "billing"
        assert labels[str((folder / "ticket_01.txt").absolute())] is None
    split_root = tmp_path / "splits"
    for split, label, text in [("train", "a", "alpha one"), ("val", "a", "alpha two"), ("test", "b", "beta")]:
        (split_root / split / label).mkdir(parents=True)
        (split_root / split / label / "x.txt").write_text(text)
    with create_project(tmp_path / "q") as store:
        summary = import_texts(store, split_root)
        assert dict(summary.split_folders) == {"test": "test", "train": "train", "val": "val"}
        assert {r.path.split("/")[-3]: r.split for r in store.images()} == {
            "train": "train",
            "val": "val",
            "test": "test",
        }


def test_a_link_inside_a_class_folder_to_another_class_keeps_that_class(tmp_path: Path) -> None:
    folder = write_text_folder(tmp_path / "texts")
    first, second = sorted(TICKETS)[:2]
    (folder / second / "link").symlink_to(folder / first, target_is_directory=True)
    (folder / "aaa").symlink_to(folder / second, target_is_directory=True)  # met first by name
    with create_project(tmp_path / "p") as store:
        import_texts(store, folder)
        labels = _labels(store)
    assert labels[str((folder / first / f"{first}_01.txt").absolute())] == first
    assert sum(label == first for label in labels.values()) == len(TICKETS[first])
    assert not any("/link/" in path or "/aaa/" in path for path in labels)


def test_encodings_tried_and_undecodable_files_reported(tmp_path: Path) -> None:
    folder = tmp_path / "texts" / "c"
    folder.mkdir(parents=True)
    (folder / "le.txt").write_bytes(codecs.BOM_UTF16_LE + "Café crème".encode("utf-16-le"))
    (folder / "be.txt").write_bytes(codecs.BOM_UTF16_BE + "Ärger im Büro".encode("utf-16-be"))
    (folder / "bom8.txt").write_bytes(codecs.BOM_UTF8 + "naïve".encode())
    (folder / "cp1252.txt").write_bytes("caf\u00e9 \u201cquoted\u201d".encode("cp1252"))
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, tmp_path / "texts")
        bodies = set(store.texts().values())
        assert {"Café crème", "Ärger im Büro", "naïve"} <= bodies
        assert [Path(p).name for p, _ in summary.problems] == ["cp1252.txt"]
        reason = summary.problems[0][1]
        assert reason.startswith("cannot be decoded") and "UTF-16 with BOM" in reason and "0xe9" in reason
        notes = dict(summary.notes)
        assert "UTF-16" in notes[str((folder / "le.txt").absolute())]
        assert "big-endian" in notes[str((folder / "be.txt").absolute())]
        assert "2 text(s) with a note (encoding: 2)" in summary.describe()
        # The undecodable file is a problem item, kept out of everything usable.
        assert len(store.images()) == 4 and len(store.images(usable_only=True)) == 3
    with create_project(tmp_path / "named") as store:  # its encoding named: read, the marked ones as before
        summary = import_texts(store, tmp_path / "texts", encoding="cp1252")
        assert set(store.texts().values()) == {
            "Café crème",
            "Ärger im Büro",
            "naïve",
            "caf\u00e9 \u201cquoted\u201d",
        }
        assert not summary.problems and dict(summary.notes)[str((folder / "cp1252.txt").absolute())] == (
            "read as Windows-1252"
        )


def test_an_undecodable_table_is_refused_whole(tmp_path: Path) -> None:
    table = tmp_path / "legacy.csv"
    table.write_bytes("text,label\nok,a\ncaf\u00e9,b\n".encode("cp1252"))
    with create_project(tmp_path / "p") as store:
        with pytest.raises(
            ProjectError, match=r"legacy.csv cannot be decoded.*UTF-16 with BOM.*nothing was imported"
        ):
            import_texts(store, table, text_column="text")
        assert store.image_count() == 0
        summary = import_texts(store, table, text_column="text", label_column="label", encoding="cp1252")
        assert sorted(store.texts().values()) == ["caf\u00e9", "ok"] and "Windows-1252" in summary.how_read
        windows = tmp_path / "windows.csv"  # named Latin-1, written by Windows: its € and dashes would vanish
        windows.write_bytes("text\n3 \u20ac \u2013 too dear\n".encode("cp1252"))
        with pytest.raises(
            ProjectError, match=r"byte 0x80 .* invisible control character in Latin-1 .* cp1252"
        ):
            import_texts(store, windows, text_column="text", encoding="iso8859-1")
        wrong = tmp_path / "wrong.csv"
        wrong.write_bytes(b"text\nab\x81\n")  # 0x81 is no letter in Windows-1252
        with pytest.raises(
            ProjectError, match=r"byte 0x81 at offset 7 is not Windows-1252 \(the encoding named\)"
        ):
            import_texts(store, wrong, text_column="text", encoding="cp1252")
    utf16 = tmp_path / "wide.tsv"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "text\tlabel\nbreit\tw\n".encode("utf-16-le"))
    with create_project(tmp_path / "q") as store:
        summary = import_texts(store, utf16, text_column="text", label_column="label")
        assert summary.labelled == 1 and "UTF-16" in summary.how_read


def test_a_table_with_only_a_header_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "empty.tsv"
    table.write_text("text\tlabel\n", encoding="utf-8")
    with create_project(tmp_path / "p") as store:
        with pytest.raises(
            ProjectError, match=r"^empty.tsv has no rows below its header; nothing was imported"
        ):
            import_texts(store, table, text_column="text")
        assert store.image_count() == 0
    assert preview_table(table).rows_read == 0
    table.write_text("text\tlabel\nonly one\ta\n", encoding="utf-8")
    assert preview_table(table).rows_read == 1


def test_bad_rows_are_reported_by_row_never_fatal(tmp_path: Path) -> None:
    long_text = "word " * (MODEL_READ_CHARS // 3)
    table = _write_csv(
        tmp_path / "t.csv",
        [
            ["text", "label"],
            ["Pump 3 leaks oil.", "fault"],
            ["   ", "fault"],  # empty text
            ["ragged", "row", "extra"],  # ragged
            ["pump 3   leaks oil.", "fault"],  # another case: not a duplicate
            ["Pump  3 leaks\noil.", "ok"],  # the same text after normalisation: duplicate with two labels
            [long_text, "ok"],
            ["A good one", "bad/label"],  # a label that cannot be a class
        ],
    )
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label")
        base = str(table.absolute())
        problems = dict(summary.problems)
        assert problems == {
            f"{base}#2": "empty text",
            f"{base}#3": "ragged row: 3 field(s) where the header has 2",
        }
        assert summary.problem_counts() == {"empty text": 1, "ragged row": 1}
        assert summary.duplicates == ((f"{base}#1", f"{base}#5"),)
        assert len(summary.conflicts) == 1 and summary.conflicts[0].labels == ("fault", "ok")
        notes = dict(summary.notes)
        assert (
            "longer than the model reads" in notes[f"{base}#6"]
            and "the model sees the first part" in notes[f"{base}#6"]
        )
        assert "cannot be a class" in notes[f"{base}#7"]
        assert (
            store.text(next(r.id for r in store.images() if r.path == f"{base}#6")) == long_text
        )  # kept whole
        assert _labels(store)[f"{base}#7"] is None
        assert "2 problem(s)" in summary.describe() and "1 duplicate text(s)" in summary.describe()
        # The summary names the kinds of notes it has, and only those.
        assert "2 text(s) with a note (longer than the model reads: 1, label: 1)" in summary.describe()
        assert "encoding" not in summary.describe()
        assert any(line.startswith("problem: t.csv row 3: ragged row") for line in summary.details())


@pytest.mark.parametrize(
    ("name", "content", "swallowed"),
    [
        (  # the stray quote runs to the next quote of the file, which opened a text of two lines
            "t.csv",
            'text,label\nPipe burst in lab 3,safety\n"Urgent, VPN down since 9am,outage\nInvoice 55 is wrong,billing\n'
            'Printer on fire in room 2,safety\n"A quoted text, with a comma, and\non two lines",billing\n',
            3,
        ),
        (  # the stray quote runs to the end of the file
            "t.tsv",
            'text\tlabel\nPipe burst in lab 3\tsafety\n"Urgent: VPN down\tsince 9am\toutage\n'
            "Invoice 55 is wrong\tbilling\nPrinter on fire in room 2\tsafety\n",
            2,
        ),
    ],
)
def test_an_opening_quote_never_closed_costs_its_own_row_not_the_rest_of_the_file(
    tmp_path: Path, name: str, content: str, swallowed: int
) -> None:
    """A stray quote at the start of a cell used to read the lines after it into that cell: one ragged row for
    the rest of the file. Only its own row is a problem now (where its fields cannot be told apart: a delimiter
    in its text); the lines after it are rows of their own."""
    table = tmp_path / name
    table.write_text(content, encoding="utf-8")
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label")
        texts = {store.text(r.id) for r in store.images() if r.problem is None}
        [(key, problem)] = summary.problems
    assert key.endswith("#2") and problem.startswith("an opening quote is never closed")
    assert f"the {swallowed} line(s) after it" in problem
    assert {"Invoice 55 is wrong", "Printer on fire in room 2", "Pipe burst in lab 3"} <= texts
    assert len(texts) == (4 if name == "t.csv" else 3)


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_quotes_that_do_not_enclose_a_field_are_text(tmp_path: Path, delimiter: str) -> None:
    """A TSV seldom quotes: a text that starts with a quoted word lost its quotes, and one with a quote never
    closed read the rest of the file into one row. Both are read as written now, quotes kept, with a note."""
    rows = [
        ["text", "label"],
        ['"Quoted" start of a ticket then more words', "safety"],
        ['"Urgent: VPN down since 9am', "outage"],
        ["Invoice 55 is wrong", "billing"],
        ['"A properly quoted text"', "billing"],
    ]
    table = tmp_path / ("t.tsv" if delimiter == "\t" else "t.csv")
    table.write_text("\n".join(delimiter.join(row) for row in rows) + "\n", encoding="utf-8")
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label")
        texts = {store.text(r.id): r.label for r in store.images() if r.problem is None}
    assert texts == {
        '"Quoted" start of a ticket then more words': "safety",
        '"Urgent: VPN down since 9am': "outage",
        "Invoice 55 is wrong": "billing",
        "A properly quoted text": "billing",  # CSV quoting, read as such
    }
    assert not summary.problems
    notes = dict(summary.notes)
    assert [notes.get(f"{table.absolute()}#{n}") for n in (1, 2, 3, 4)] == [
        QUOTES_KEPT,
        QUOTES_KEPT,
        None,
        None,
    ]


def test_malformed_json_lines_and_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"body": "fine", "tag": "x"}\n{"body": "broken\n[1, 2]\n\n{"tag": "x"}\n{"body": ["a"], "tag": "x"}\n{"body": "", "tag": "y"}\n',
        encoding="utf-8",
    )
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, path, text_column="body", label_column="tag")
        problems = {key.rsplit("#", 1)[1]: reason for key, reason in summary.problems}
        assert (
            problems["2"] == "not valid JSON: Unterminated string starting at column 10"
            and problems["3"] == "not a JSON object but an array"
        )
        assert (
            problems["5"] == "no value in column 'body'"
            and problems["6"] == "column 'body' is an array, not a text"
        )
        assert problems["7"] == "empty text" and "4" not in problems  # a blank line is skipped
        assert summary.labelled == 1
        # The bad line is kept as the problem item's body, to be seen in the browser.
        assert '{"body": "broken' in store.texts().values()


def test_a_missing_column_is_a_clear_error_and_nothing_is_imported(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    with create_project(tmp_path / "p") as store:
        with pytest.raises(
            ProjectError, match=r"no text column 'txt'; its columns are: 'id', 'text', 'label'"
        ):
            import_texts(store, table, text_column="txt")
        with pytest.raises(ProjectError, match="no label column 'class'"):
            import_texts(store, table, text_column="text", label_column="class")
        with pytest.raises(ProjectError, match="name the column"):
            import_texts(store, table)
        assert store.image_count() == 0


def test_reimport_never_loses_a_label(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label")
        record = next(r for r in store.images() if r.path.endswith("#4"))
        store.set_label([record.id], "question")  # labelled by hand after the import
        changed = [list(row) for row in ROWS]
        changed[1][2] = "other"  # the file now says otherwise
        _write_csv(table, changed)
        summary = import_texts(store, table, text_column="text", label_column="label")
        assert summary.added == 0
        labels = _labels(store)
        assert labels[f"{table.absolute()}#4"] == "question" and labels[f"{table.absolute()}#1"] == "fault"


def _by_text(store: ProjectStore) -> dict[str, tuple[str, str | None]]:
    """``{body: (source key, label)}`` of every item."""
    keys = {record.id: (record.path, record.label) for record in store.images()}
    return {body: keys[item_id] for item_id, body in store.texts().items()}


def test_reimport_after_rows_inserted_and_removed_keeps_labels_on_their_texts(tmp_path: Path) -> None:
    rows = [
        ["text", "label"],
        ["alpha pump", "a"],
        ["beta valve", "b"],
        ["gamma seal", ""],
        ["delta gauge", ""],
    ]
    table = _write_csv(tmp_path / "t.csv", rows)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label")
        ids = {body: record_id for record_id, body in store.texts().items()}
        store.set_label([ids["gamma seal"]], "c")  # labelled by hand in the window
        # A row inserted at the top, two rows swapped, "beta valve" removed, "delta gauge" edited at its row.
        edited = [
            ["text", "label"],
            ["new first row", ""],
            ["gamma seal", ""],
            ["alpha pump", "a"],
            ["delta gauge!", ""],
        ]
        _write_csv(table, edited)
        summary = import_texts(store, table, text_column="text", label_column="label")
        texts = _by_text(store)
        assert texts["alpha pump"] == (f"{base}#3", "a")
        assert texts["gamma seal"] == (f"{base}#2", "c")  # the hand label followed its text to another row
        assert texts["new first row"] == (f"{base}#1", None)
        assert texts["delta gauge!"] == (f"{base}#4", None)  # edited in place: the same item, new text
        assert ids["delta gauge"] not in store.texts() or store.text(ids["delta gauge"]) == "delta gauge!"
        removed_key, label = texts["beta valve"]  # no longer in the file: kept, with its label
        assert label == "b" and removed_key == f"{base}#removed-{ids['beta valve']}"
        assert summary.moved == 2 and summary.removed == (removed_key,) and summary.added == 1
        assert "2 text(s) found at another row" in summary.describe()
        assert "1 text(s) no longer in the file, kept with any labels they had" in summary.describe()
        again = import_texts(
            store, table, text_column="text", label_column="label"
        )  # the same file: no change
        assert (again.moved, again.removed, again.added) == (0, (), 0) and _by_text(store) == texts
        # Exported to class folders, the removed row is named like the others (no '#' in a file name).
        export_imagefolder(store, tmp_path / "tree")
    assert (tmp_path / "tree" / "b" / f"t_removed{ids['beta valve']}.txt").read_text(encoding="utf-8") == (
        "beta valve"
    )
    assert not [p for p in (tmp_path / "tree").rglob("*") if "#" in p.name]


def test_reimport_reports_labels_the_file_changed_and_takes_them_when_asked(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label")
        changed = [list(row) for row in ROWS]
        changed[1][2] = "leak"  # a correction made in the file
        _write_csv(table, changed)
        kept = import_texts(store, table, text_column="text", label_column="label")
        assert kept.label_differences == ((f"{base}#1", "fault", "leak"),) and kept.relabelled == 0
        assert "--labels-from-file" in kept.describe() and _labels(store)[f"{base}#1"] == "fault"
        assert any("fault in the project, leak in the file" in line for line in kept.details())
        taken = import_texts(store, table, text_column="text", label_column="label", labels_from_file=True)
        assert taken.relabelled == 1 and _labels(store)[f"{base}#1"] == "leak"
        assert kept.to_dict()["label_differences"] == [
            {"path": f"{base}#1", "project_label": "fault", "file_label": "leak"}
        ]


def test_reimport_taking_file_labels_reads_the_projects_items_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _write_csv(
        tmp_path / "other.csv", [["text", "label"]] + [[f"other text {i}", "ok"] for i in range(30)]
    )
    with_splits = [[*ROWS[0], "split"]] + [[*row, ""] for row in ROWS[1:]]
    table = _write_csv(tmp_path / "t.csv", with_splits)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, other, text_column="text", label_column="label", seed=0)
        import_texts(store, table, text_column="text", label_column="label", seed=0)
        changed = [list(row) for row in with_splits]
        changed[1][2], changed[2][3] = "leak", "test"  # a label corrected in the file, a split named
        changed.insert(1, ["0", "A new first row", "fault", "val"])  # every row below moves down one
        _write_csv(table, changed)
        reads: list[bool] = []
        read = store.images
        monkeypatch.setattr(
            store, "images", lambda usable_only=False: reads.append(usable_only) or read(usable_only)
        )
        summary = import_texts(
            store,
            table,
            text_column="text",
            label_column="label",
            split_column="split",
            labels_from_file=True,
        )
        assert reads == [True]  # the write's read; the match reads this table's rows only, labels need none
        assert (summary.moved, summary.added, summary.relabelled) == (4, 1, 1)
        records = {record.path: record for record in read(usable_only=True)}
        assert records[f"{base}#2"].label == "leak" and records[f"{base}#1"].split == "val"
        assert records[f"{base}#3"].label == "ok" and records[f"{base}#3"].split == "test"
        assert sum(1 for key in records if key.startswith(str(other.absolute()))) == 30


def test_one_column_cannot_be_text_and_label(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    with create_project(tmp_path / "p") as store:
        with pytest.raises(ProjectError, match="cannot be both the text and the label column"):
            import_texts(store, table, text_column="text", label_column="text")
        assert store.image_count() == 0


def test_kinds_never_mix(tmp_path: Path, shapes_dir: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    images = create_project(tmp_path / "images", kind="images")
    with images, pytest.raises(ProjectError, match="is an images project; texts cannot be imported"):
        import_texts(images, table, text_column="text")
    text = create_project(tmp_path / "text", kind="text")
    with text, pytest.raises(ProjectError, match="is a text project; images cannot be imported"):
        import_folder(text, shapes_dir)
    with ProjectStore.create(tmp_path / "open") as store:  # kind never chosen: the first import decides
        import_texts(store, table, text_column="text")
        assert store.kind == "text"
        with pytest.raises(ProjectError, match="a project is of one kind"):
            adopt_kind(store, "images")
    assert source_kind(shapes_dir) == "images" and source_kind(table) == "text"
    assert source_kind(tmp_path / "missing") is None


def test_cancel_keeps_what_was_read_and_progress_is_reported(tmp_path: Path) -> None:
    folder = write_text_folder(tmp_path / "texts")
    seen: list[tuple[int, int]] = []
    with create_project(tmp_path / "p") as store:
        summary = import_texts(
            store,
            folder,
            batch_size=5,
            progress=lambda done, total, name: seen.append((done, total)),
            should_stop=lambda: len(seen) >= 12,
        )
        assert summary.cancelled and summary.scanned == 12 and store.image_count() == 12
        assert seen[0] == (1, 51) and seen[-1] == (12, 51)
        assert "cancelled" in summary.describe()


def test_label_csv_round_trip_of_a_text_project(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label")
        written = export_csv(store, tmp_path / "labels.csv", include_unlabelled=True)
        assert written == 4
        with (tmp_path / "labels.csv").open(newline="", encoding="utf-8") as stream:
            exported = list(csv.DictReader(stream))
        assert list(exported[0]) == ["path", "label", "text"]
        assert exported[0]["text"] == "The pump leaks oil, again." and exported[2]["text"].startswith(
            "Second line\n"
        )
        store.set_labels({record.id: None for record in store.images()})
        (tmp_path / "more.csv").write_text(
            "path,label\nt.csv#4,question\nnowhere.csv#1,x\n", encoding="utf-8"
        )
        summary = import_csv(store, tmp_path / "labels.csv")
        assert summary.labelled == 3 and summary.added == 0
        summary = import_csv(store, tmp_path / "more.csv")  # a relative key is read from the CSV's folder
        assert (
            summary.labelled == 1
            and summary.new_classes == ("question",)
            and summary.not_found == ("nowhere.csv#1",)
        )
        assert _labels(store)[f"{table.absolute()}#4"] == "question"


def test_column_guess_without_names_and_the_preview(tmp_path: Path) -> None:
    rows = [["n", "words", "grp"]] + [
        [str(i), f"a fairly long sentence number {i}", "ab"[i % 2]] for i in range(6)
    ]
    table = _write_csv(tmp_path / "t.tsv", rows, "\t")
    assert text_columns_guess(table) == (("n", "words", "grp"), "words", "grp")
    preview = preview_table(table, rows=2)
    assert preview.rows == (
        ("0", "a fairly long sentence number 0", "a"),
        ("1", "a fairly long sentence number 1", "b"),
    )
    assert preview.delimiter == "\t" and preview.encoding == "utf-8"
    assert sniff_delimiter("text|label\na|b\n", ",") == "|"
    assert (
        sniff_delimiter("text\nhello, world; again\n", ",") == ","
    )  # one column: no delimiter in the header


def test_the_text_demo_project(tmp_path: Path) -> None:
    summary = create_text_demo_project(tmp_path / "demo")
    assert (
        summary is not None
        and summary.classes == ("billing", "hardware", "software")
        and not summary.problems
    )
    assert create_text_demo_project(tmp_path / "demo") is None
    with ProjectStore.open(tmp_path / "demo") as store:
        assert store.kind == "text" and len(store.texts()) == 51


def test_class_folders_export_of_a_text_project_imports_back(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", ROWS)
    folder = write_text_folder(tmp_path / "texts")
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label")
        import_texts(store, folder)
        written = export_imagefolder(store, tmp_path / "tree")
        assert store.mark_missing_files() == []  # texts live in the project: a table row is no file to miss
        expected = {(store.text(r.id), r.label) for r in store.images(usable_only=True) if r.label}
    assert written == 3 + 45
    assert (tmp_path / "tree" / "ok" / "t_row3.txt").read_text(
        encoding="utf-8"
    ) == "Second line\nof a quoted text"
    assert (tmp_path / "tree" / "billing" / "billing_01.txt").is_file()
    with create_project(tmp_path / "again") as again:
        import_texts(again, tmp_path / "tree")
        assert {(again.text(r.id), r.label) for r in again.images(usable_only=True)} == expected


def test_a_repeated_or_blank_header_name_is_said(tmp_path: Path) -> None:
    table = _write_csv(tmp_path / "t.csv", [["text", "text", "", "label"], ["first", "second", "x", "a"]])
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text (2)", label_column="label")
        assert store.texts() and list(store.texts().values()) == ["second"]
        assert "the header repeats a name: read as 'text (2)'" in summary.how_read
        assert "1 column(s) without a name: read as 'column 3'" in summary.how_read


def test_a_first_line_that_looks_like_data_is_said_not_silently_taken_as_the_header(tmp_path: Path) -> None:
    from dmtl_studio.core.project.table_options import header_advice

    headerless = tmp_path / "tickets.csv"
    headerless.write_text(
        "The printer jams on every page,hardware\nWe were invoiced twice,billing\nThe screen flickers,hardware\n",
        encoding="utf-8",
    )
    warning = preview_table(headerless).header_warning
    assert warning == (
        "the first line of tickets.csv looks like a row of data, not column names ('hardware' is also a value of "
        "that column)"
    )
    assert header_advice(warning).endswith(
        "is not imported; if it is a row, import again with the file read as having no header line (--no-header; "
        "in the column dialog, 'The file has no header line'), or add a header line naming the columns (for "
        "example text,label)"
    )
    # Read so, the first line is row 1 and nothing is lost; the columns are named by their place.
    whole = preview_table(headerless, header=False)
    assert whole.columns == ("column 1", "column 2") and whole.header_warning is None
    assert whole.rows[0] == ("The printer jams on every page", "hardware") and whole.row_numbers[0] == 1
    with create_project(tmp_path / "p", kind="text") as store:
        summary = import_texts(
            store, headerless, text_column="column 1", label_column="column 2", header=False, seed=0
        )
        assert summary.scanned == 3 and summary.labelled == 3
        assert sorted(store.texts().values())[0] == "The printer jams on every page"
    # A blank first line or a first row without its last field: the columns are the widest rows' (every other
    # row was "ragged", h29).
    short = tmp_path / "short-first.csv"
    short.write_text("\nhello there\nPrinter jams,hardware\nInvoice twice,billing\n", encoding="utf-8")
    table = read_table(short, header=False)
    assert table.columns == ("column 1", "column 2")
    assert [row.problem is None for row in table.rows] == [False, True, True]
    sentence = tmp_path / "one.csv"  # one column: the text's name reads as a sentence
    sentence.write_text("The printer jams on every single page\nWe were invoiced twice\n", encoding="utf-8")
    assert "reads as a sentence" in preview_table(sentence).header_warning
    short = tmp_path / "short.csv"  # four words, as long as the texts below it: a row, not a name
    short.write_text("Hand caught in roller\nChemical smell in lab\nBack pain lifting\n", encoding="utf-8")
    assert "reads as a sentence" in preview_table(short).header_warning
    titled = tmp_path / "titled.csv"  # a name of four words above long texts: a name
    long_text = "The operator reached into the running conveyor to clear a jam and his glove was pulled in"
    titled.write_text(f"Description of the incident\n{long_text}\n{long_text}, again\n", encoding="utf-8")
    assert preview_table(titled).header_warning is None
    named = tmp_path / "named.csv"  # real column names, a label also used as a word in the texts
    named.write_text("text,label\nthe label printer jams,hardware\nan invoice,billing\n", encoding="utf-8")
    assert preview_table(named).header_warning is None
    lines = tmp_path / "t.jsonl"  # JSON Lines have no header line
    lines.write_text('{"text": "label", "label": "label"}\n', encoding="utf-8")
    assert preview_table(lines).header_warning is None


def test_a_column_named_like_texts_but_holding_scraps_is_not_taken_for_the_texts(tmp_path: Path) -> None:
    table = tmp_path / "odd.csv"
    rows = [["Ref", "Date", "What happened?", "Notes"]]
    rows += [[f"R{i}", "2026-11-02", f"Worker slipped on a wet floor near dock {i} and hurt a wrist", note]
             for i, note in enumerate(["x", "", "dup", "", "x"])]  # fmt: skip
    with table.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    assert preview_table(table).text_column == "What happened?"
    rows = [["Notes", "code"]] + [[f"a real note about case {i}", f"C{i}"] for i in range(4)]
    with table.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    assert preview_table(table).text_column == "Notes"  # named so and holding the texts


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_first_row_longer_than_the_preview_is_still_found(tmp_path: Path, suffix: str) -> None:
    """The preview reads the file's first 256 KiB; a first text longer than that (a text may be 10 MB) made the
    command line say the file had no rows (or no columns) below its header."""
    from dmtl_studio.core.project.text_tables import PREVIEW_BYTES

    big = ("word " * PREVIEW_BYTES)[: PREVIEW_BYTES + 50_000]
    table = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        table.write_text(f'text,label\n"{big}",big\nsmall text,small\n', encoding="utf-8")
    else:
        rows = [{"text": big, "label": "big"}, {"text": "small text", "label": "small"}]
        table.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    preview = preview_table(table)
    assert preview.rows_read >= 1 and preview.text_column == "text" and preview.label_column == "label"


def test_a_split_column_with_an_odd_value_is_still_used_and_dev_is_the_validation_split(
    tmp_path: Path,
) -> None:
    """One value that names no split used to make the whole column ignored, without a word: the rows marked test
    were then split at random and could land in training."""
    table = _write_csv(
        tmp_path / "t.csv",
        [
            ["text", "label", "split"],
            ["alpha one", "a", "train"],
            ["beta two", "b", "test"],
            ["gamma three", "a", "dev"],
            ["delta four", "b", " train "],
            ["epsilon five", "a", "holdout"],
            ["zeta six", "b", "test"],
        ],
    )
    assert preview_table(table).split_column == "split"
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label", split_column="split")
        splits = {store.text(r.id): r.split for r in store.images()}
        notes = dict(summary.notes)
    assert splits["beta two"] == splits["zeta six"] == "test" and splits["gamma three"] == "val"
    assert splits["delta four"] == "train"
    assert any("split 'holdout' is not train, val or test" in note for note in notes.values())


def test_control_characters_and_terminal_escapes_are_removed_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "texts" / "log"
    folder.mkdir(parents=True)
    (folder / "nul.txt").write_bytes(b"pump\x00 stopped at 9")
    (folder / "ansi.txt").write_bytes(b"\x1b[31mERROR\x1b[0m valve stuck\x07")
    (folder / "osc.txt").write_bytes(b"\x1b]0;window title\x07pump log")  # a terminal title: no payload left
    (folder / "fine.txt").write_text("tabs\tand\nlines stay", encoding="utf-8")
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, tmp_path / "texts")
        bodies = sorted(store.texts().values())
        export_csv(store, tmp_path / "labels.csv")
    assert bodies == ["ERROR valve stuck", "pump log", "pump stopped at 9", "tabs\tand\nlines stay"]
    notes = {Path(key).name: note for key, note in summary.notes}
    assert notes == {
        "nul.txt": "control characters removed: 1 control character(s) (NUL)",
        "ansi.txt": "control characters removed: 2 terminal escape sequence(s) and 1 control character(s) (BEL)",
        "osc.txt": "control characters removed: 1 terminal escape sequence(s)",
    }
    assert "3 text(s) with a note (control characters: 3)" in summary.describe()
    exported = (tmp_path / "labels.csv").read_bytes()
    assert b"\x00" not in exported and b"\x1b" not in exported


def test_blank_rows_between_rows_are_counted_in_the_summary(tmp_path: Path) -> None:
    """A row ',' was neither imported nor counted nor listed, and the row numbers skipped it (h25)."""
    table = tmp_path / "t.csv"
    table.write_text("text,label\nfirst one,a\n,\nsecond,b\n  ,a\n,\nthird,a\n\n,\n", encoding="utf-8")
    with create_project(tmp_path / "p", kind="text") as store:
        summary = import_texts(store, table, text_column="text", label_column="label", seed=0)
    assert summary.blank_rows == (
        2,
        5,
    )  # the whitespace-only text (row 4) is a problem item; the end's blanks go
    assert "skipped 2 blank row(s) (row 2, 5)" in summary.lines()
    assert summary.problems == ((f"{table.absolute()}#4", "empty text"),)


def test_a_tables_split_column_imported_again_says_which_splits_it_replaced(tmp_path: Path) -> None:
    """keep in one split moved texts; importing the table with its split column again moved them back without a
    word (h38). A column may have been edited since, so its split is taken, and the summary says how many."""
    rows = [{"text": f"note number {i} about pumps", "label": "pumps", "split": "train"} for i in range(4)]
    rows.append({"text": "a note about valves that leak", "label": "valves", "split": "test"})
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    with create_project(tmp_path / "p") as store:
        import_texts(store, path, text_column="text", label_column="label", split_column="split")
        first = store.images()[0]
        store.set_splits({first.id: "test"})
        summary = import_texts(store, path, text_column="text", label_column="label", split_column="split")
        assert {r.id: r.split for r in store.images()}[first.id] == "train" and summary.resplit == 1
        assert (
            "1 text(s) took the split their folder or column names, in place of another" in summary.describe()
        )
