"""Text projects in the store: the kind, text bodies, re-import keeping labels, and the schema migration."""

from __future__ import annotations

import sqlite3

import pytest

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.schema import SCHEMA_VERSION
from dmtl_studio.core.project.store import DATABASE_NAME, ProjectStore
from dmtl_studio.core.project.texts_table import TextItem, normalise_text, text_sha256


def test_a_new_project_is_of_images_unless_told(tmp_path):
    with ProjectStore.create(tmp_path / "a") as store:
        assert store.kind == "images"
    with ProjectStore.create(tmp_path / "b", kind="text") as store:
        assert store.kind == "text"
    with ProjectStore.open(tmp_path / "b") as store:
        assert store.kind == "text"


def test_unknown_kind_and_kind_change_with_items_are_refused(tmp_path):
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        with pytest.raises(ProjectError, match="unknown project kind"):
            store.set_kind("audio")
        store.add_texts([TextItem("notes.csv#1", "a short note", "ok")])
        with pytest.raises(ProjectError, match="one kind"):
            store.set_kind("images")
        assert store.kind == "text"
    with pytest.raises(ProjectError, match="one kind"):
        ProjectStore.create(tmp_path / "p", kind="images")


def test_texts_are_added_with_labels_hashes_and_problems(tmp_path):
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        added = store.add_texts(
            [
                TextItem("t.csv#1", "Pump 3 leaks oil.", "fault"),
                TextItem("t.csv#2", "Pump  3 leaks\noil.", None),
                TextItem("t.csv#3", "", None, problem="empty text"),
            ]
        )
        assert added == 3
        records = store.images()
        assert [r.label for r in records] == ["fault", None, None]
        # Same text up to spacing: same hash, so the duplicate grouping of images applies.
        assert records[0].sha256 == records[1].sha256 == text_sha256("Pump 3 leaks oil.")
        assert records[0].size_bytes == len(b"Pump 3 leaks oil.")
        assert (records[0].width, records[0].height) == (None, None)
        assert [r.path for r in store.images(usable_only=True)] == ["t.csv#1", "t.csv#2"]
        assert store.text(records[1].id) == "Pump  3 leaks\noil."
        assert store.texts([records[0].id, 999]) == {records[0].id: "Pump 3 leaks oil."}
        assert set(store.texts()) == {r.id for r in records}
        with pytest.raises(KeyError):
            store.text(999)


def test_reimport_updates_the_body_and_never_loses_a_label(tmp_path):
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        store.add_texts([TextItem("a.txt", "first version", "x")])
        (item,) = store.images()
        store.set_label([item.id], "y")
        assert store.add_texts([TextItem("a.txt", "second version", "x")]) == 0
        (again,) = store.images()
        assert (again.id, again.label) == (item.id, "y")
        assert store.text(item.id) == "second version"


def test_texts_cannot_go_into_an_image_project(tmp_path):
    with ProjectStore.create(tmp_path / "p") as store, pytest.raises(ProjectError, match="text project"):
        store.add_texts([TextItem("a.txt", "hello")])


def test_deleting_an_item_deletes_its_text(tmp_path):
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        store.add_texts([TextItem("a.txt", "hello")])
        with store.transaction() as conn:
            conn.execute("DELETE FROM images")
        assert store.texts() == {}


def test_a_version_2_project_migrates_to_hold_texts(tmp_path):
    folder = tmp_path / "old"
    with ProjectStore.create(folder) as store:
        store.add_images([("/x/a.png", "cat", None, None)])
    # Take the database back to version 2 (no texts table, no file times), as an earlier release left it.
    conn = sqlite3.connect(folder / DATABASE_NAME)
    conn.execute("DROP TABLE texts")
    conn.execute("ALTER TABLE images DROP COLUMN mtime_ns")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with ProjectStore.open(folder) as store:
        assert store.kind == "images"
        assert [r.label for r in store.images()] == ["cat"]
        assert store.texts() == {}
        assert store.integrity_check() == "ok"
    conn = sqlite3.connect(folder / DATABASE_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    conn.close()


def test_normalisation_collapses_spacing_and_composition():
    assert normalise_text("  Cafe\u0301 \t au\nlait ") == "Caf\u00e9 au lait"
    assert text_sha256("a  b") == text_sha256("a b") != text_sha256("a c")


def test_search_finds_texts_holding_every_word_whatever_their_case(tmp_path):
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        store.add_texts(
            [
                TextItem("a#1", "Pump 3 LEAKS oil near the valve."),
                TextItem("b#2", "The valve was replaced; no leak since."),
                TextItem("c#3", "Die Straße ist gesperrt."),
                TextItem("d#4", "100% of 50_units"),
                TextItem("e#5", "Crème brûlée au Café"),
            ]
        )
        first, second, german, percent, french = sorted(store.texts())
        assert store.search_texts("creme CAFE") == [french] == store.search_texts("Crème café")  # no accents
        # only accents go: the marks that make other letters stay (Japanese voiced kana)
        from dmtl_studio.core.base.search_fold import search_fold

        assert search_fold("バス") != search_fold("ハス") and search_fold("ぱん") != search_fold("はん")
        assert store.search_texts("leak") == [first, second]
        assert store.search_texts("VALVE leaks") == [first]
        assert store.search_texts("strasse") == [german]  # Unicode case folding, not ASCII lower()
        assert store.search_texts("%") == [percent] and store.search_texts("_u") == [percent]  # no wildcards
        assert store.search_texts("leak gesperrt") == []
        assert store.search_texts("  ") == [first, second, german, percent, french]
