"""Splits: one default applied at import and said, small classes named, identical content in one split."""

from __future__ import annotations

import shutil
from pathlib import Path

from dmtl_studio import cli
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.splits import (
    DEFAULT_TEST_FRACTION,
    DEFAULT_VAL_FRACTION,
    SplitSettings,
    assign_splits,
    label_conflicts,
    move_to_split,
)
from dmtl_studio.core.project.store import ProjectStore


def _splits_by_content(store: ProjectStore) -> dict[str, set[str]]:
    by_hash: dict[str, set[str]] = {}
    for im in store.images(usable_only=True):
        if im.label:
            by_hash.setdefault(im.sha256, set()).add(im.split)
    return by_hash


def test_import_makes_the_default_test_split_and_says_so(tmp_path: Path, shapes_dir: Path, capsys) -> None:  # noqa: ANN001
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, shapes_dir)
        assert summary.split.settings == SplitSettings(DEFAULT_VAL_FRACTION, DEFAULT_TEST_FRACTION, 0)
        for counts in store.class_counts().values():  # 24 images per class
            assert counts["test"] == round(24 * DEFAULT_TEST_FRACTION) > 0
            assert counts["val"] == round(24 * DEFAULT_VAL_FRACTION)
        assert summary.split.totals()["test"] == 3 * round(24 * DEFAULT_TEST_FRACTION)
        assert "test" in summary.describe_split()[0]
    # The command line applies the same default and prints it.
    assert cli.main(["import", str(tmp_path / "q"), str(shapes_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{3 * round(24 * DEFAULT_TEST_FRACTION)} test" in out and "test 10%" in out
    with ProjectStore.open(tmp_path / "q") as store:
        assert all(c["test"] > 0 for c in store.class_counts().values())


def test_import_of_a_class_too_small_to_split_says_so(tmp_path: Path, shapes_dir: Path, capsys) -> None:  # noqa: ANN001
    folder = tmp_path / "images"
    for name in ("circle", "square"):
        (folder / name).mkdir(parents=True)
        shutil.copy(sorted((shapes_dir / name).glob("*.png"))[0], folder / name)
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, folder)
        assert len(summary.split.warnings) == 2
        assert all("too few to split" in warning for warning in summary.split.warnings)
    assert cli.main(["import", str(tmp_path / "q"), str(folder)]) == 0
    assert "class 'circle' has only 1 distinct image(s): too few to split" in capsys.readouterr().out


def _folder_with_copies(tmp_path: Path, shapes_dir: Path) -> Path:
    """Circle copies inside the class, and the same pictures also filed under 'square' (a label conflict)."""
    folder = tmp_path / "images"
    shutil.copytree(shapes_dir, folder)
    for path in sorted((folder / "circle").glob("circle_*.png"))[:6]:
        shutil.copy(path, path.with_name("copy_" + path.name))
        shutil.copy(path, folder / "square" / ("also_" + path.name))
    return folder


def test_identical_content_shares_a_split_across_labels_seeds_and_moves(
    tmp_path: Path, shapes_dir: Path
) -> None:
    folder = _folder_with_copies(tmp_path, shapes_dir)
    project = tmp_path / "p"
    with ProjectStore.create(project) as store:
        summary = import_folder(store, folder, val_fraction=0.3, test_fraction=0.3)
        assert all(len(splits) == 1 for splits in _splits_by_content(store).values())
        # Conflicting labels are listed at import.
        assert len(summary.conflicts) == 6 and all(
            c.labels == ("circle", "square") for c in summary.conflicts
        )
        assert len(label_conflicts(store)) == 6
    for seed in range(12):  # every redraw of `dmtl-studio splits --seed`
        assert cli.main(["splits", str(project), "--seed", str(seed)]) == 0
        with ProjectStore.open(project) as store:
            assert all(len(s) == 1 for s in _splits_by_content(store).values()), f"seed {seed}"
    with ProjectStore.open(project) as store:
        conflict = label_conflicts(store)[0]
        moved = move_to_split(store, conflict.image_ids[:1], "test")
        assert set(conflict.image_ids) <= set(moved)
        assert all(len(s) == 1 for s in _splits_by_content(store).values())


def test_a_new_copy_labelled_later_joins_its_content_split(tmp_path: Path, shapes_dir: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(shapes_dir, folder)
    source = sorted((folder / "circle").glob("circle_*.png"))[0]
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder)
        placed = next(im.split for im in store.images() if im.path == str(source.absolute()))
        shutil.copy(source, folder / "loose_copy.png")  # a new unlabelled copy at the root
        import_folder(store, folder)
        copy = next(im for im in store.images() if im.path.endswith("loose_copy.png"))
        LabelEditor(store).assign([copy.id], "square")  # labelled under another class, as in the window
        assign_splits(store)
        assert store.images_by_id([copy.id])[0].split == placed


def test_a_text_project_names_its_small_classes_in_texts(tmp_path: Path) -> None:
    from dmtl_studio.core.project.project_kind import create_project
    from dmtl_studio.core.project.texts_table import TextItem

    with create_project(tmp_path / "p", kind="text") as store:
        store.add_texts([TextItem("t.csv#1", "only one", "rare")] + [
            TextItem(f"t.csv#{i}", f"text number {i}", "common") for i in range(2, 12)
        ])  # fmt: skip
        summary = assign_splits(store, val_fraction=0.2, test_fraction=0.1, reassign=True)
    rare = [w for w in summary.warnings if "'rare'" in w]
    assert rare == [
        "class 'rare' has only 1 distinct text(s): too few to split, so it only trains and is never scored"
    ]


def test_a_one_text_class_whose_content_is_already_held_out_is_said_never_to_train(tmp_path: Path) -> None:
    from dmtl_studio.core.project.project_kind import create_project
    from dmtl_studio.core.project.texts_table import TextItem

    with create_project(tmp_path / "p", kind="text") as store:
        store.add_texts([TextItem(f"t.csv#{i}", f"text number {i}", "common") for i in range(1, 11)])
        assign_splits(store, val_fraction=0.2, test_fraction=0.0, reassign=True)
        held = next(im for im in store.images() if im.split == "val")
        text = held.path  # the same content under a new label, as a re-import of a corrected row makes
        store.add_texts([TextItem("u.csv#1", f"text number {text.rsplit('#', 1)[1]}", "rare")])
        summary = assign_splits(store, val_fraction=0.2, test_fraction=0.0)
        rare = next(im for im in store.images() if im.path == "u.csv#1")
    assert rare.split == "val"  # identical content shares a split
    assert [w for w in summary.warnings if "'rare'" in w] == [
        "class 'rare' has only 1 distinct text(s) (a near-duplicate group counts once), in the validation split "
        "(where the same or a near-duplicate text of another class already is): the model never trains on it; label "
        "more texts of it"
    ]
