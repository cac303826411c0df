"""A project moved with its images inside its folder keeps them, labels and splits; a copy leaves both alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from dmtl_studio.core.project.demo import create_demo_project
from dmtl_studio.core.project.store import ProjectStore


def _state(store: ProjectStore) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {Path(im.path).name: (im.label, im.split, im.problem) for im in store.images()}


def test_a_moved_project_finds_its_images_below_its_new_folder(tmp_path: Path) -> None:
    before, after = tmp_path / "lab" / "p", tmp_path / "archive" / "p"
    create_demo_project(before, per_class=3, unlabelled=2)
    outside = tmp_path / "outside.png"
    with ProjectStore.open(before) as store:
        first = store.images()[0]
        shutil.copy(first.path, outside)
        store.add_images([(str(outside), "circle", None, None)])  # an image outside the project's folder
        free = [im.id for im in store.images() if im.label is None]
        store.set_label(free, "square")  # hand labels
        store.mark_missing_files()
        expected = _state(store)
    after.parent.mkdir()
    before.rename(after)
    with ProjectStore.open(after) as store:
        assert store.moved_images == len(expected) - 1
        assert _state(store) == expected  # labels, splits, no problem
        inside = [im.path for im in store.images() if im.path != str(outside)]
        assert all(path.startswith(str(after)) for path in inside)
        from dmtl_studio.core.project.import_sources import import_sources

        assert all(folder.startswith(str(after)) for folder in import_sources(store))
    with ProjectStore.open(after) as store:
        assert store.moved_images == 0  # once


def test_a_copied_project_keeps_pointing_at_the_images_that_are_still_there(tmp_path: Path) -> None:
    original = tmp_path / "p"
    create_demo_project(original, per_class=2, unlabelled=0)
    with ProjectStore.open(original) as store:
        paths = sorted(im.path for im in store.images())
    shutil.copytree(original, tmp_path / "copy")
    with ProjectStore.open(tmp_path / "copy") as store:
        assert store.moved_images == 0 and sorted(im.path for im in store.images()) == paths


def test_a_copy_finds_its_own_images_once_the_original_is_gone(tmp_path: Path) -> None:
    original = tmp_path / "p"
    create_demo_project(original, per_class=2, unlabelled=0)
    shutil.copytree(original, tmp_path / "copy")
    with ProjectStore.open(tmp_path / "copy") as store:
        assert store.moved_images == 0
    shutil.rmtree(original)
    with ProjectStore.open(tmp_path / "copy") as store:
        assert store.moved_images == 6
        assert all(im.path.startswith(str(tmp_path / "copy")) and im.usable for im in store.images())


def test_a_project_moved_with_its_images_beside_it_finds_them(tmp_path: Path) -> None:
    """lab/p and lab/images moved together to archive/: every image read as gone, and importing the folder again
    made copies without the hand labels (h26)."""
    from dmtl_studio.core.project.importer import import_folder
    from tests.conftest import write_shapes_folder

    lab = tmp_path / "lab"
    images = write_shapes_folder(lab / "images", 3, unlabelled=1, seed=4, size=24)
    with ProjectStore.create(lab / "p") as store:
        import_folder(store, images, seed=0)
        free = [im.id for im in store.images() if im.label is None]
        store.set_label(free, "square")  # a hand label
        expected = _state(store)
    lab.rename(tmp_path / "archive")
    with ProjectStore.open(tmp_path / "archive" / "p") as store:
        assert store.moved_images == len(expected)
        assert _state(store) == expected
        assert all(im.path.startswith(str(tmp_path / "archive" / "images")) for im in store.images())
        # File ▸ Import again offers the folder where it is now, not "(gone)" (h27).
        from dmtl_studio.core.project.import_sources import import_sources

        assert import_sources(store) == [str(tmp_path / "archive" / "images")]


def test_an_image_folder_moved_and_imported_from_its_new_place_keeps_the_projects_labels(
    tmp_path: Path,
) -> None:
    """The project advises 'if they were moved, import their new folder': that doubled the project, and the labels
    given in the window stayed on the gone records (h28)."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    images = write_shapes_folder(tmp_path / "images", 4, unlabelled=3, seed=5, size=32)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, images, seed=0)
        loose = [im for im in store.images() if im.label is None]
        store.set_label([loose[0].id], "circle")  # labelled by hand, no class folder says so
        first = next(im for im in store.images() if im.label == "square")
        store.set_label([first.id], "circle")  # relabelled away from its folder's class
        before = {Path(im.path).relative_to(images).as_posix(): (im.label, im.split) for im in store.images()}
        count = store.image_count()
    images.rename(tmp_path / "moved")
    with ProjectStore.open(tmp_path / "p") as store:
        summary = import_folder(store, tmp_path / "moved", seed=0)
        assert summary.moved == count and summary.added == 0 and summary.copies == 0
        assert f"{count} image(s) found at a new place" in summary.describe()
        assert store.image_count() == count and not store.problems()
        after = {
            Path(im.path).relative_to(tmp_path / "moved").as_posix(): (im.label, im.split)
            for im in store.images()
        }
    assert {k: label for k, (label, _) in after.items()} == {k: label for k, (label, _) in before.items()}
    assert all(after[k][1] == split for k, (_, split) in before.items() if split is not None)  # splits kept
    assert summary.unlabelled == len(loose) - 1  # the hand-labelled loose file keeps its label
