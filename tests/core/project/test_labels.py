from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.removal import remove_items
from dmtl_studio.core.project.store import ProjectStore


def _store(tmp_path: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "p")
    store.add_images([(f"/data/{i}.png", "a" if i < 3 else None, None, None) for i in range(6)])
    return store


def test_undo_and_redo_restore_exact_previous_labels(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        editor = LabelEditor(store)
        ids = [im.id for im in store.images()]
        editor.assign(ids[2:5], "b")  # one was 'a', two were unlabelled
        assert [im.label for im in store.images()] == ["a", "a", "b", "b", "b", None]
        editor.undo()
        assert [im.label for im in store.images()] == ["a", "a", "a", None, None, None]
        editor.redo()
        assert [im.label for im in store.images()] == ["a", "a", "b", "b", "b", None]
        assert editor.assign(ids[2:5], "b") is None  # nothing changes: no history entry
        editor.assign([ids[0]], None)
        assert not editor.can_redo()  # a new action clears the redo stack


def test_undo_and_redo_never_set_back_a_label_changed_elsewhere(tmp_path: Path) -> None:
    """Another window or a command (a second connection) relabels, renames or removes some images of an action:
    undo and redo change only the images that still carry the labels they expect."""
    with _store(tmp_path) as store:
        editor = LabelEditor(store)
        ids = [im.id for im in store.images()]
        editor.assign(ids[3:6], "b")
        with ProjectStore.open(tmp_path / "p") as other:
            other.set_label([ids[3]], "c")  # a colleague's label
            remove_items(other, [ids[4]])
        action = editor.undo()
        assert action is not None and list(action.before) == [ids[5]]
        assert set(editor.changed_elsewhere) == {ids[3], ids[4]}
        assert store.labels_of(ids[3:6]) == {ids[3]: "c", ids[5]: None}  # the colleague's label kept
        with ProjectStore.open(tmp_path / "p") as other:
            other.set_label([ids[5]], "d")
        # redo finds the one image it undid changed too: nothing is done, and the action is spent
        redone = editor.redo()
        assert redone is not None and not redone.after and editor.changed_elsewhere == (ids[5],)
        assert store.labels_of([ids[5]]) == {ids[5]: "d"} and not editor.can_undo() and not editor.can_redo()


def test_an_undo_after_a_rename_elsewhere_does_not_bring_the_old_class_back(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        editor = LabelEditor(store)
        ids = [im.id for im in store.images()]
        editor.assign([ids[4]], "square")
        with ProjectStore.open(tmp_path / "p") as other:
            other.rename_class("square", "box")
        editor.undo()
        editor.redo()
        assert store.labels_of([ids[4]]) == {ids[4]: "box"} and "square" not in store.class_names()


def test_rename_merge_delete_classes(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        ids = [im.id for im in store.images()]
        store.set_label(ids[3:5], "b")
        store.rename_class("a", "alpha")
        assert store.class_names() == ["alpha", "b"]
        with pytest.raises(ProjectError, match="already exists"):
            store.rename_class("alpha", "b")
        assert store.merge_classes(["alpha", "b"], "b") == 3
        assert store.class_counts() == {"b": {"total": 5, "train": 0, "val": 0, "test": 0}}
        assert store.delete_class("b") == 5
        assert store.class_names() == [] and store.image_count() == 6  # images are kept, unlabelled
        with pytest.raises(ProjectError, match="class name"):
            store.add_class("a/b")


def test_class_colours_default_and_persist(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.add_class("b")
        colors = store.class_colors()
        assert colors["a"] != colors["b"]
        store.set_class_color("a", "#123456")
        assert store.class_colors()["a"] == "#123456"


def test_backup_uses_a_consistent_copy(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        target = store.backup(tmp_path / "copies" / "backup.sqlite")
        with pytest.raises(ProjectError, match="already exists"):
            store.backup(target)
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 6
    conn.close()


def test_a_label_action_names_the_projects_items(tmp_path: Path) -> None:
    from dmtl_studio.core.project.text_demo import create_text_demo_project

    with _store(tmp_path) as store:
        ids = [im.id for im in store.images()]
        assert LabelEditor(store).assign(ids[3:5], "b").description == "label 2 image(s) as b"
    create_text_demo_project(tmp_path / "texts")
    with ProjectStore.open(tmp_path / "texts") as store:
        editor = LabelEditor(store)
        first = [im.id for im in store.images() if im.label is not None][:1]
        assert editor.assign(first, None).description == "unlabel 1 text(s)"


def test_forgetting_removed_items_keeps_the_rest_of_the_history(tmp_path: Path) -> None:
    """Removing items takes them out of the label history; the other actions stay undoable (h35)."""
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([(f"/x/{i}.png", None, None, None) for i in range(4)])
        a, b, c, d = (im.id for im in store.images())
        editor = LabelEditor(store)
        editor.assign([a, b], "cat")
        editor.assign([c], "dog")
        editor.forget([b, c])  # the second action named only c: it goes; the first keeps a
        with store.transaction() as conn:
            conn.executemany("DELETE FROM images WHERE id = ?", [(b,), (c,)])
        undone = editor.undo()
        assert undone.after == {a: "cat"} and store.labels_of([a, d]) == {a: None, d: None}
        assert undone.description.endswith(
            "(1 since removed)"
        )  # it no longer labels as many as it says (h36)
        assert not editor.can_undo() and editor.can_redo()
