"""A table of texts imported with an id column: each row is its id, wherever it sits in the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.interop import export_imagefolder
from dmtl_studio.core.project.project_kind import create_project
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_import import import_texts
from dmtl_studio.core.project.text_rows import is_removed_key
from dmtl_studio.core.project.text_summary import describe_source
from tests.core.project.test_text_import import _labels
from tests.core.project.test_text_import import _write_csv as _write

SAME = "The payment failed but money left my bank"


def _by_key(store: ProjectStore, key: str) -> int:
    return next(record.id for record in store.images() if record.path == key)


TICKETS = [
    ["ticket", "text", "label"],
    ["T-1", SAME, ""],
    ["T-2", "Printer on fire in room 2", "safety"],
    ["T-3", SAME, ""],
    ["T-4", SAME, "billing"],
    ["T-5", "VPN down since nine", ""],
]


def test_a_hand_label_stays_with_its_id_among_identical_texts(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", TICKETS)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        first = import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        assert first.added == 5 and not first.problems
        store.set_label([_by_key(store, f"{base}#id=T-3")], "outage")  # one of three identical texts
        # The rows reversed, and T-1 moved to the end: by row number and text, T-3's label would move.
        _write(tmp_path / "t.csv", [TICKETS[0], *reversed(TICKETS[2:]), TICKETS[1]])
        again = import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        labels = _labels(store)
    assert (again.added, again.moved, again.removed) == (0, 0, ())
    assert labels[f"{base}#id=T-3"] == "outage"
    assert labels[f"{base}#id=T-1"] is None and labels[f"{base}#id=T-4"] == "billing"
    assert len(labels) == 5
    assert describe_source(f"{base}#id=T-3") == "t.csv id T-3"


def test_an_id_keeps_its_label_when_its_text_is_edited_and_a_gone_id_keeps_its_own(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", TICKETS)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        store.set_label([_by_key(store, f"{base}#id=T-5")], "outage")
        t2 = _by_key(store, f"{base}#id=T-2")
        edited = [list(row) for row in TICKETS]
        edited[5][1] = "VPN down since nine, still down at noon"  # T-5 edited in place
        edited[2][0] = "T-9"  # T-2's text now under another id: a new ticket, not T-2
        _write(table, edited)
        summary = import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        labels = _labels(store)
        t5 = store.text(_by_key(store, f"{base}#id=T-5"))
        removed = [record for record in store.images() if is_removed_key(record.path)]
    assert labels[f"{base}#id=T-5"] == "outage" and t5 == "VPN down since nine, still down at noon"
    assert summary.added == 1 and labels[f"{base}#id=T-9"] == "safety"  # its label came from the file
    assert [r.id for r in removed] == [t2] and removed[0].label == "safety"
    assert summary.removed == (removed[0].path,)


def test_adding_the_id_column_later_rekeys_every_item_and_loses_no_label(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", TICKETS)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label")
        store.set_label([_by_key(store, f"{base}#5")], "outage")
        before = {record.id: record.label for record in store.images()}
        summary = import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        after = {record.id: (record.path, record.label) for record in store.images()}
    assert summary.added == 0 and summary.removed == ()
    assert {item_id: label for item_id, (_, label) in after.items()} == before  # the same items, same labels
    assert sorted(path for path, _ in after.values()) == sorted(f"{base}#id=T-{n}" for n in range(1, 6))
    assert after[next(i for i, (p, _) in after.items() if p == f"{base}#id=T-5")][1] == "outage"


def test_rows_without_a_usable_id_are_problems_keyed_by_their_row(tmp_path: Path) -> None:
    rows = [
        ["id", "text", "label"],
        ["A", "first text", "x"],
        ["", "no id here", "x"],
        ["A", "the same id again", "y"],
        ["B", "fine", "y"],
    ]
    table = _write(tmp_path / "t.csv", rows)
    lines = tmp_path / "t.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps(r) for r in ({"id": {"n": 1}, "text": "an object as id"}, {"id": 7, "text": "ok"})
        ),
        encoding="utf-8",
    )
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label", id_column="id")
        problems = dict(store.problems())
        usable = _labels(store)
        jsonl = import_texts(store, lines, text_column="text", id_column="id")
        usable_after = _labels(store)
    assert usable == {f"{base}#id=A": "x", f"{base}#id=B": "y"}
    assert problems[f"{base}#2"].startswith("no id: column 'id' is empty")
    assert problems[f"{base}#3"].startswith("repeated id: 'A' is also row 1's id")
    assert len(summary.problems) == 2
    assert [problem for _, problem in jsonl.problems] == ["no id: column 'id' is empty in this row"]
    assert f"{lines.absolute()}#id=7" in usable_after  # a number is an id, a JSON object is none


def test_a_problem_row_whose_id_is_fixed_is_the_same_item_not_a_lingering_removed_one(tmp_path: Path) -> None:
    rows = [
        ["id", "text", "label"],
        ["A", "first", "x"],
        ["", "no id", "x"],
        ["A", "again", "y"],
        ["B", "b", "y"],
    ]
    table = _write(tmp_path / "t.csv", rows)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label", id_column="id")
        problem_ids = {r.path: r.id for r in store.images() if r.problem}
        rows[2][0], rows[3][0] = "C", "D"  # the ids fixed
        _write(table, rows)
        summary = import_texts(store, table, text_column="text", label_column="label", id_column="id")
        records = {r.path: (r.id, r.label, r.problem) for r in store.images()}
    assert summary.removed == () and summary.added == 0 and len(records) == 4
    assert records[f"{base}#id=C"] == (problem_ids[f"{base}#2"], "x", None)  # the file's label, the same item
    assert records[f"{base}#id=D"] == (problem_ids[f"{base}#3"], "y", None)


def test_an_id_column_is_checked_before_anything_is_imported(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", TICKETS)
    with create_project(tmp_path / "p") as store:
        with pytest.raises(ProjectError, match="has no id column 'number'"):
            import_texts(store, table, text_column="text", id_column="number")
        with pytest.raises(ProjectError, match="cannot be both the text and the id column"):
            import_texts(store, table, text_column="text", id_column="text")
        assert store.image_count() == 0


def test_texts_keyed_by_id_export_under_their_ids(tmp_path: Path) -> None:
    rows = [["id", "text", "label"], ["T/1", "slash in the id", "a"], ["T 2", "space in the id", "a"]]
    table = _write(tmp_path / "t.csv", rows)
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label", id_column="id")
        export_imagefolder(store, tmp_path / "tree")
    names = sorted(p.name for p in (tmp_path / "tree" / "a").iterdir())
    assert names == ["t_idT 2.txt", "t_idT_1.txt"]


def test_dropping_the_id_column_later_keeps_each_identical_texts_own_label(tmp_path: Path) -> None:
    """Imported by id, hand-labelled, the file reversed, then imported without the id column: matched by text in
    row order, the labels of the identical T-1 / T-3 / T-4 traded rows."""
    table = _write(tmp_path / "t.csv", TICKETS)
    base = str(table.absolute())
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        by_id = {f"T-{n}": _by_key(store, f"{base}#id=T-{n}") for n in range(1, 6)}
        store.set_label([by_id["T-1"]], "outage")
        store.set_label([by_id["T-3"]], "fraud")
        rows = [TICKETS[0], *reversed(TICKETS[1:])]
        rows[2] = ["T-4", SAME + " twice", "billing"]  # T-4 edited in place
        del rows[4]  # T-2 gone
        _write(table, rows)  # T-5, T-4, T-3, T-1
        summary = import_texts(store, table, text_column="text", label_column="label")
        records = {r.id: (r.path, r.label) for r in store.images()}
        t4 = store.text(by_id["T-4"])
        _write(table, [*rows, TICKETS[2]])  # T-2 back, still without the id column
        back = import_texts(store, table, text_column="text", label_column="label")
        t2 = next(r for r in store.images() if r.id == by_id["T-2"])
    assert records[by_id["T-1"]] == (f"{base}#4", "outage") and records[by_id["T-3"]] == (
        f"{base}#3",
        "fraud",
    )
    assert records[by_id["T-4"]] == (f"{base}#2", "billing") and t4 == SAME + " twice"
    assert records[by_id["T-5"]][0] == f"{base}#1" and summary.moved == 0 and summary.added == 0
    assert summary.removed == (f"{base}#id=T-2#removed-{by_id['T-2']}",) and len(records) == 5
    assert back.returned == 1 and back.added == 0 and (t2.path, t2.label) == (f"{base}#5", "safety")
    assert summary.by_earlier_ids == 4 and "4 text(s) matched to their items by the ids" in summary.describe()


def test_a_row_back_in_the_file_takes_its_item_back_with_its_hand_label(tmp_path: Path) -> None:
    """A filtered export imported, then the whole file again: the returning row was a new item, and its hand
    label stayed on the orphan of the earlier import (a label conflict and a duplicate)."""
    full = [["ticket", "text", "label"], ["B1", "Printer jams", "hardware"], ["B3", "VPN drops", "network"]]
    for id_column in ("ticket", None):
        table = _write(tmp_path / f"t_{id_column}.csv", full)
        base = str(table.absolute())
        project = tmp_path / f"p_{id_column}"
        with create_project(project) as store:
            import_texts(store, table, text_column="text", label_column="label", id_column=id_column)
            vpn = next(r for r in store.images() if store.text(r.id) == "VPN drops")
            store.set_label([vpn.id], "billing")  # by hand
            _write(table, full[:2])  # the row filtered out
            gone = import_texts(store, table, text_column="text", label_column="label", id_column=id_column)
            assert len(gone.removed) == 1 and gone.removed[0].startswith(
                f"{base}#id=B3#removed-" if id_column else f"{base}#removed-"
            )
            assert describe_source(gone.removed[0]).endswith("(a row no longer in the file)")
            _write(table, full)  # the whole file again
            back = import_texts(store, table, text_column="text", label_column="label", id_column=id_column)
            records = {r.id: (r.path, r.label) for r in store.images()}
        assert back.returned == 1 and back.added == 0 and not back.conflicts, id_column
        assert records[vpn.id] == (f"{base}#id=B3" if id_column else f"{base}#2", "billing")  # its hand label
        assert len(records) == 2
        assert "1 text(s) back in the file since an earlier import took their items back" in back.describe()


def test_a_new_id_with_a_removed_ids_text_is_a_new_item(tmp_path: Path) -> None:
    rows = [["ticket", "text", "label"], ["B1", "Printer jams", "hardware"], ["B3", "VPN drops", "network"]]
    table = _write(tmp_path / "t.csv", rows)
    with create_project(tmp_path / "p") as store:
        import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        _write(table, [rows[0], rows[1], ["B9", "VPN drops", "network"]])  # B3 gone, B9 new with its text
        summary = import_texts(store, table, text_column="text", label_column="label", id_column="ticket")
        keys = sorted(r.path for r in store.images())
    assert summary.returned == 0 and summary.added == 1 and len(summary.removed) == 1
    assert len(keys) == 3


def test_identical_texts_put_in_two_splits_by_the_split_column_are_said(tmp_path: Path) -> None:
    rows = [
        ["text", "label", "split"],
        ["Printer jams", "hw", "train"],
        ["Printer jams", "hw", "test"],
        ["VPN", "n", "train"],
    ]
    table = _write(tmp_path / "t.csv", rows)
    with create_project(tmp_path / "p") as store:
        summary = import_texts(store, table, text_column="text", label_column="label", split_column="split")
    assert len(summary.split_leaks) == 1
    assert "1 identical text(s) were put in two splits by the split column" in summary.describe()
