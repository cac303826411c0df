"""Removing items from a project: only the named ones go, the files stay, and the log brings them back labelled."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.interop import import_csv
from dmtl_studio.core.project.removal import ids_at_paths, problem_ids, remove_items
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_demo import create_text_demo_project
from tests.disk_faults import read_only_folder


def _project(tmp_path: Path) -> tuple[Path, Path]:
    images = write_shapes_folder(tmp_path / "images", 4, unlabelled=2, seed=3, size=32)
    with ProjectStore.create(tmp_path / "project") as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.0, seed=0)
    return tmp_path / "project", images


def test_removed_images_leave_the_project_not_the_disk_and_their_log_brings_them_back(tmp_path: Path) -> None:
    project, images = _project(tmp_path)
    (images / "circle" / "circle_000.png").unlink()  # a file gone since the import
    with ProjectStore.open(project) as store:
        before = {r.path: r.label for r in store.images()}
        splits = {r.path: r.split for r in store.images()}
        ids, unknown = ids_at_paths(store, [images / "square", tmp_path / "nowhere.png"])
        assert unknown == [str(tmp_path / "nowhere.png")]
        assert sorted(store.labels_of(ids).values()) == ["square"] * 4  # the folder names its images
        gone = problem_ids(store, missing_only=True)
        assert [r.path for r in store.images_by_id(gone)] == [str(images / "circle" / "circle_000.png")]
        summary = remove_items(store, ids + gone)
        after = {r.path: r.label for r in store.images()}
    assert (summary.removed, summary.labelled) == (5, 5)
    # Only those five went; every other image keeps its label, and the square files are still on disk.
    assert after == {
        path: label for path, label in before.items() if "square" not in path and "circle_000" not in path
    }
    assert len(list((images / "square").iterdir())) == 4
    with open(summary.log, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["path"], row["label"]) for row in rows} == {
        (path, label) for path, label in before.items() if "square" in path or "circle_000" in path
    }
    problems = {Path(row["path"]).name: row["problem"] for row in rows}
    assert all(row["split"] for row in rows) and problems.pop("circle_000.png").startswith("missing on disk")
    assert set(problems.values()) == {""}
    with ProjectStore.open(project) as store:
        restored = import_csv(store, summary.log)
        assert restored.not_found == (str(images / "circle" / "circle_000.png"),)
        assert {r.path: r.label for r in store.images()} == {
            path: label for path, label in before.items() if "circle_000" not in path
        }
        # Each in the split it had, not one drawn anew (a test image must not come back as a training one).
        assert restored.splits_given == 4
        assert {r.path: r.split for r in store.images()} == {
            p: s for p, s in splits.items() if "circle_000" not in p
        }
        assert remove_items(store, []).log is None and remove_items(store, [10_000]).removed == 0


def test_an_import_of_the_folder_again_leaves_out_what_was_removed_while_usable(tmp_path: Path) -> None:
    """A removed exact copy came back with every Import again (h35): a file removed while usable is left out and
    said, its removal list brings it back; a file removed as a problem (gone, unreadable) comes back with the
    folder, as it was never taken out by choice."""
    project, images = _project(tmp_path)
    (images / "triangle" / "broken.png").write_bytes(b"not a picture")
    with ProjectStore.open(project) as store:
        import_folder(store, images)
        ids, _ = ids_at_paths(
            store, [images / "square" / "square_001.png", images / "triangle" / "broken.png"]
        )
        summary = remove_items(store, ids)
        again = import_folder(store, images)
        paths = {r.path for r in store.images()}
        assert str(images / "square" / "square_001.png") not in paths
        assert str(images / "triangle" / "broken.png") in paths  # removed as a problem file: back as one
        assert again.left_removed == ((str(images / "square" / "square_001.png"), str(summary.log)),)
        assert again.added == 1 and again.labelled == 11 and again.unlabelled == 2
        assert (
            f"left out 1 file(s) removed from the project before (first: {images / 'square'}"
            in again.describe()
        )
        import_csv(store, summary.log)  # its list brings it back; the next import knows it again
        assert import_folder(store, images).left_removed == ()
        assert str(images / "square" / "square_001.png") in {r.path for r in store.images()}


def test_a_log_that_cannot_be_written_removes_nothing(tmp_path: Path) -> None:
    project, _images = _project(tmp_path)
    with ProjectStore.open(project) as store:
        count = store.image_count()
        with read_only_folder(project), pytest.raises(ProjectError, match="nothing was removed"):
            remove_items(store, [r.id for r in store.images()])
        assert store.image_count() == count


def test_removed_texts_are_logged_with_their_bodies_and_come_back_under_their_own_keys(
    tmp_path: Path,
) -> None:
    """Brought back by a label import of the log, a text keeps its key (``<file>#<row>``), its label and its split:
    importing the table it came from again finds it there instead of adding it twice."""
    project = tmp_path / "texts"
    create_text_demo_project(project)
    with ProjectStore.open(project) as store:
        first = store.images()[0]
        count = store.image_count()
        assert problem_ids(store, missing_only=True) == []  # texts live in the project: none is missing
        body = store.texts([first.id])[first.id]
        summary = remove_items(store, [first.id])
        assert store.images_by_id([first.id]) == []
        assert not store.texts([first.id])  # the body goes with it
        assert summary.restore_hint("text") == (
            f"to bring them back with their labels and splits, import the labels of {summary.log} "
            "(labels import-csv)"
        )
    with open(summary.log, newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["path"], row["label"], row["text"]) == (first.path, first.label or "", body)
    with ProjectStore.open(project) as store:
        restored = import_csv(store, summary.log)
        assert restored.added == 1 and store.image_count() == count
        back = [r for r in store.images() if r.path == first.path]
        assert [(r.label, r.split) for r in back] == [(first.label, first.split)]
        assert store.texts([back[0].id])[back[0].id] == body
        again = import_csv(store, summary.log)  # twice: nothing added twice
        assert again.added == 0 and store.image_count() == count


def test_a_table_imported_again_leaves_out_the_texts_removed_from_the_project(tmp_path: Path) -> None:
    """As an image folder's: a removed ticket came back with every import of its table."""
    from dmtl_studio.core.project.project_kind import create_project
    from dmtl_studio.core.project.text_import import import_texts

    table = tmp_path / "tickets.csv"
    table.write_text("text,label\nprinter jams,hw\nlogin fails,sw\nscreen flickers,hw\nreset mail lost,sw\n")
    with create_project(tmp_path / "p", kind="text") as store:
        import_texts(store, table, text_column="text", label_column="label")
        gone = store.images()[1]
        summary = remove_items(store, [gone.id])
        again = import_texts(store, table, text_column="text", label_column="label")
        assert gone.path not in {r.path for r in store.images()} and store.image_count() == 3
        assert again.left_removed == ((gone.path, str(summary.log)),)
        assert (
            f"left out 1 text(s) removed from the project before (first: {table.name} row 2)"
            in again.describe()
        )
        import_csv(store, summary.log)  # its list brings it back
        assert import_texts(store, table, text_column="text", label_column="label").left_removed == ()
        assert store.image_count() == 4
        # A text whose label was taken off by hand keeps it off (its table's label cell gave it back, h36).
        from dmtl_studio.core.project.labels import LabelEditor

        first = store.images()[0]
        LabelEditor(store).assign([first.id], None)
        import_texts(store, table, text_column="text", label_column="label")
        assert store.images_by_id([first.id])[0].label is None


def test_a_split_column_names_train_val_or_test_and_a_bad_one_is_reported(tmp_path: Path) -> None:
    project, images = _project(tmp_path)
    table = tmp_path / "labels.csv"
    rows = ["path,label,split", f"{images / 'circle' / 'circle_000.png'},circle,test"]
    rows.append(f"{images / 'square' / 'square_000.png'},square,holdout")
    rows.append(f"{images / 'triangle' / 'triangle_000.png'},triangle,Testing")  # a split folder's spelling
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with ProjectStore.open(project) as store:
        before = {r.path: r.split for r in store.images()}
        summary = import_csv(store, table)
        after = {r.path: r.split for r in store.images()}
    assert summary.splits_given == 2 and after[str(images / "circle" / "circle_000.png")] == "test"
    assert before[str(images / "triangle" / "triangle_000.png")] != "test"
    assert after[str(images / "triangle" / "triangle_000.png")] == "test"
    assert (
        after[str(images / "square" / "square_000.png")] == before[str(images / "square" / "square_000.png")]
    )
    assert [why for _path, why in summary.problems] == [
        "line 3: the split 'holdout' is none of train, val, test (or training, valid, validation, dev, development, testing); kept"
    ]


def test_a_split_given_by_the_file_says_how_many_identical_copies_moved_along(tmp_path: Path) -> None:
    """Restoring a removed image moved its identical copy's hand-set split without a word."""
    project, images = _project(tmp_path)
    original = images / "circle" / "circle_000.png"
    copy = images / "copy_of_circle.png"
    copy.write_bytes(original.read_bytes())
    table = tmp_path / "labels.csv"
    table.write_text(f"path,label,split\n{copy},circle,train\n{original},circle,test\n", encoding="utf-8")
    with ProjectStore.open(project) as store:
        import_csv(store, table)
        assert {r.split for r in store.images() if r.path in (str(original), str(copy))} == {"test"}
        table.write_text(f"path,label,split\n{original},circle,val\n", encoding="utf-8")
        summary = import_csv(store, table)
        splits = {r.path: r.split for r in store.images()}
    assert (summary.splits_given, summary.splits_copies) == (2, 1)
    assert splits[str(copy)] == splits[str(original)] == "val"
