"""The folders a project was imported from, kept to import them again."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.project.import_sources import KEY, LIMIT, import_sources, remember_source
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_import import import_texts
from tests.conftest import write_shapes_folder


def test_an_image_import_keeps_its_folder_and_importing_it_again_adds_the_new_files(tmp_path: Path) -> None:
    folder = write_shapes_folder(tmp_path / "images", 4, unlabelled=0, seed=1, size=24)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder, seed=0)
        assert import_sources(store) == [str(folder.absolute())]
        first = next(im for im in store.images() if im.label == "circle")
        store.set_label([first.id], "square")  # the person's own label
        new = folder / "triangle" / "added-later.png"
        (folder / "triangle" / sorted(p.name for p in (folder / "triangle").iterdir())[0]).rename(new)
        write_shapes_folder(tmp_path / "more", 1, unlabelled=0, seed=9, size=24)
        extra = next((tmp_path / "more" / "circle").iterdir())
        extra.rename(folder / "circle" / "new-circle.png")
        summary = import_folder(store, import_sources(store)[0], seed=0)
        assert summary.added == 1 and summary.moved == 1  # the new one; the renamed one found at its new name
        by_name = {Path(im.path).name: im for im in store.images()}
        assert by_name["new-circle.png"].label == "circle"
        assert {im.id: im.label for im in store.images()}[first.id] == "square"  # kept


def test_newest_first_without_repeats_at_most_the_limit_and_files_are_not_kept(tmp_path: Path) -> None:
    folders = [tmp_path / f"f{i}" for i in range(LIMIT + 2)]
    for folder in folders:
        folder.mkdir()
    table = tmp_path / "texts.csv"
    table.write_text("text,label\nhello there,a\n", encoding="utf-8")
    with ProjectStore.create(tmp_path / "p") as store:
        for folder in folders:
            remember_source(store, folder)
        remember_source(store, folders[5])
        remember_source(store, table)  # a table asks for its columns again: not kept
        kept = import_sources(store)
        assert kept[0] == str(folders[5]) and len(kept) == LIMIT and len(set(kept)) == LIMIT
        assert str(folders[0]) not in kept and str(table) not in kept
        store.set_meta(KEY, "{not json")  # a damaged value offers nothing rather than failing the open
        assert import_sources(store) == []


def test_a_text_folder_is_kept_and_a_table_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        (folder / label / "one.txt").write_text(f"a text of class {label}", encoding="utf-8")
    table = tmp_path / "t.csv"
    table.write_text("text,label\nsome words here,a\nother words there,b\n", encoding="utf-8")
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        import_texts(store, table, text_column="text", label_column="label")
        assert import_sources(store) == []
        import_texts(store, folder)
        assert import_sources(store) == [str(folder.absolute())]


def test_a_class_folder_imported_alone_again_counts_its_images_as_labelled_in_the_project(
    tmp_path: Path,
) -> None:
    """Its files are loose there (no class folder): they keep the project's labels, and the summary said
    "17 unlabelled" (h26, h25 for a table's blank cells)."""
    folder = write_shapes_folder(tmp_path / "images", 3, unlabelled=0, seed=2, size=24)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder, seed=0)
        again = import_folder(store, folder / "circle", seed=0)
        assert (again.labelled, again.unlabelled, again.kept_labels) == (0, 0, 3)
        assert "3 labelled in the project already (labels kept), 0 unlabelled" in again.describe()


def test_a_table_imported_again_with_blank_labels_counts_the_projects_labels_as_kept(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("id,text,label\n1,the pump leaks oil,leak\n2,the valve is stuck,\n", encoding="utf-8")
    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        import_texts(store, table, text_column="text", label_column="label", id_column="id")
        stuck = next(record for record in store.images() if record.label is None)
        store.set_label([stuck.id], "stuck")
        again = import_texts(store, table, text_column="text", label_column="label", id_column="id")
        assert (again.labelled, again.unlabelled, again.kept_labels) == (1, 0, 1)


def test_an_import_killed_part_way_is_offered_again(tmp_path: Path) -> None:
    """A killed import left its folder out of Import again, with half its images in the project (h30)."""
    folder = write_shapes_folder(tmp_path / "images", 6, unlabelled=0, seed=2, size=24)
    checks = iter(range(1000))

    def killed() -> bool:  # the process dies after a few files: nothing after this point runs
        if next(checks) >= 5:
            raise KeyboardInterrupt
        return False

    with ProjectStore.create(tmp_path / "p") as store:
        with pytest.raises(KeyboardInterrupt):
            import_folder(store, folder, seed=0, batch_size=4, should_stop=killed)
        added = len(store.images())
        assert 0 < added < 18 and import_sources(store) == [str(folder.absolute())]
        assert import_folder(store, folder, seed=0).added == 18 - added  # the rest, by Import again
