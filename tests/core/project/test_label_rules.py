"""The label, class, split and filter rules the browser asks core for (no Qt here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dmtl_studio.core.project.image_filter import (
    SPLIT_TITLES,
    class_filter,
    class_warnings,
    matches,
    split_filter,
)
from dmtl_studio.core.project.images_table import SPLITS, ImageRecord
from dmtl_studio.core.project.labels import (
    LabelEditor,
    can_label,
    existing_class,
    needs_label,
    next_unlabelled,
    relabel_targets,
)
from dmtl_studio.core.project.splits import LabelConflict
from dmtl_studio.core.project.store import ProjectError, ProjectStore


def _store(tmp_path: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "p")
    rows = [(f"/data/{i}.png", None, None, None) for i in range(8)]
    store.add_images([*rows, ("/data/broken.png", None, None, "cannot be decoded")])
    return store


def _record(image_id: int, label: str | None = None, split: str | None = None, problem: str | None = None):
    return ImageRecord(image_id, f"/data/Img{image_id}.png", None, None, None, None, problem, label, split)


def test_newly_labelled_images_join_a_split_at_once_and_undo_keeps_the_rule(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        editor = LabelEditor(store)
        ids = [im.id for im in store.images(usable_only=True)]
        editor.assign(ids[:6], "a")
        assert all(im.split in SPLITS for im in store.images_by_id(ids[:6]))
        assert editor.split_warnings is not None  # this edit assigned splits
        editor.assign(ids[:2], "b")  # already placed: no new assignment
        assert editor.split_warnings is None
        editor.assign(ids[:6], None)
        editor.undo()  # the labels come back, each image with a split
        assert all(im.label and im.split in SPLITS for im in store.images_by_id(ids[:6]))


def test_class_renames_merges_and_deletes_forget_the_label_history(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        editor = LabelEditor(store)
        ids = [im.id for im in store.images(usable_only=True)]
        editor.assign(ids[:2], "a")
        editor.assign(ids[2:4], "b")
        with pytest.raises(ProjectError):
            editor.rename_class("a", "b")  # refused: the history stays
        assert editor.can_undo()
        store.add_class("c")
        store.set_class_color("c", "#123456")
        assert editor.can_undo()  # adding a class or colouring it names no label
        editor.rename_class("a", "alpha")
        assert not editor.can_undo() and store.class_names() == ["alpha", "b", "c"]
        editor.assign(ids[:1], "c")
        assert editor.merge_classes(["alpha", "b"], "b") == 1 and not editor.can_undo()
        editor.assign(ids[:1], "b")
        assert editor.delete_class("b") == 4 and not editor.can_undo()


def test_a_class_name_compares_without_spaces_and_case(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.add_class("Circle")
        assert existing_class(store, "  circle ") == "Circle"
        assert existing_class(store, "square") is None


def test_a_new_or_renamed_class_may_not_differ_from_another_only_in_case(tmp_path: Path) -> None:
    """'Square' beside 'square' was accepted by Rename: on Windows and macOS the two share one exported folder."""
    with _store(tmp_path) as store:
        store.add_class("square")
        store.add_class("circle")
        store.add_class("1")
        for refused in (lambda: store.add_class("Square"), lambda: store.rename_class("circle", "SQUARE ")):
            with pytest.raises(ProjectError, match="differs from the class 'square' only in case"):
                refused()
        with pytest.raises(ProjectError, match="differs from the class '1'"):
            store.add_class("1.0")  # the same number, as a spreadsheet rewrites it
        store.rename_class("square", "Square")  # a class may change its own case
        store.add_class("Square")  # and adding a class that exists adds nothing
        assert store.class_names() == ["Square", "circle", "1"]


def test_what_counts_as_labelled_and_what_can_be_labelled() -> None:
    usable, labelled, broken = _record(1), _record(2, "a", "train"), _record(3, problem="unreadable")
    assert can_label(usable) and can_label(labelled) and not can_label(broken)
    assert needs_label(usable) and not needs_label(labelled) and not needs_label(broken)
    records = [labelled, usable, broken, _record(4, "a"), _record(5)]
    assert next_unlabelled(records, 1) == 4  # skips the labelled and the problem file
    assert next_unlabelled(records, 4) == 1  # wraps round
    assert next_unlabelled([labelled, broken], 0) is None


def test_filters() -> None:
    unlabelled, square, broken = _record(1), _record(2, "square", "val"), _record(3, problem="unreadable")
    assert [matches(r, "all") for r in (unlabelled, square, broken)] == [True, True, True]
    assert [matches(r, "problems") for r in (unlabelled, square, broken)] == [False, False, True]
    assert [matches(r, "unlabelled") for r in (unlabelled, square, broken)] == [True, False, False]
    assert matches(square, class_filter("square")) and not matches(unlabelled, class_filter("square"))
    assert matches(square, split_filter("val")) and not matches(square, split_filter("train"))
    assert not matches(replace(unlabelled, split="val"), split_filter("val"))  # only labelled images have one
    assert matches(square, "conflicts", conflicting={2}) and not matches(
        unlabelled, "conflicts", conflicting={2}
    )
    assert matches(square, "all", "img2") and not matches(square, "all", "img1")
    # case and accents ignored, and a name written on macOS (decomposed letters) found by a typed, composed query
    macos = replace(square, path="/data/Me\u0301lange Ø-17.png")
    assert all(matches(macos, "all", q) for q in ("mélange", "MELANGE", "Me\u0301l", "ø-17"))
    assert not matches(macos, "all", "melanges")
    assert set(SPLIT_TITLES) == set(SPLITS)


def test_class_warnings_name_small_classes_once_and_conflicts() -> None:
    counts = {"a": {"total": 1}, "b": {"total": 1}, "c": {"total": 5}, "empty": {"total": 0}}
    split = ["class 'b' has only 1 distinct image(s): too few to split"]
    conflict = LabelConflict("sha", ("a", "c"), ("/x.png", "/y.png"), (1, 2))
    warnings = class_warnings(counts, split, [conflict])
    assert warnings[0].startswith("Class 'a' has only 1 image(s)")
    assert not any(w.startswith("Class 'b'") for w in warnings)  # the split's own warning names it
    assert "1 picture(s) carry two or more labels" in warnings[1] and warnings[-1] == split[0]
    assert class_warnings({"c": {"total": 5}}) == []
    # A class deleted (or emptied) since the split was drawn: its warning goes (it stayed until a restart, h30).
    gone = ["class 'long name' has only 1 distinct image(s): too few to split", "class 'c' has only 5 …"]
    assert class_warnings({"c": {"total": 5}, "empty": {"total": 0}}, gone) == [gone[1]]
    assert class_warnings({"c": {"total": 5}, "long name": {"total": 0}}, gone[:1]) == []


def test_relabelling_keeps_a_label_changed_by_hand_since() -> None:
    doubted = {1: ("cat", "dog"), 2: ("cat", "dog"), 3: ("dog", "cat"), 4: ("cat", None)}
    labels = {1: "cat", 2: "bird", 3: "dog", 4: "cat", 5: "cat"}
    assert relabel_targets([1, 2, 3, 4, 5], doubted, labels) == {"dog": [1], "cat": [3]}


def test_class_warnings_of_a_text_project_speak_of_texts() -> None:
    conflict = LabelConflict("sha", ("a", "c"), ("t.csv#1", "t.csv#2"), (1, 2))
    warnings = class_warnings({"a": {"total": 1}, "c": {"total": 5}}, (), [conflict], kind="text")
    assert warnings[0] == "Class 'a' has only 1 text(s): too few to keep a validation text."
    assert warnings[1].startswith("1 text(s) carry two or more labels (equal texts)")
    assert not any("image" in w or "picture" in w or "files" in w for w in warnings)
