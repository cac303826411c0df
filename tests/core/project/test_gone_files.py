"""Images whose files are gone are found when a project opens, with the folder that went (h28: a renamed image
folder was noticed only at the next run, as "0 labelled … label some images first")."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.gone_files import find_gone_files
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.labelled import labelled_split


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, Path]:
    """A project of 3 classes x 4 pictures and 2 loose ones, imported from ``tmp_path/photos``."""
    images = write_shapes_folder(tmp_path / "photos", 4, unlabelled=2, seed=3, size=32)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.0, test_fraction=0.0, seed=0)
    return project, images


def test_nothing_is_gone_while_the_files_are_there(lab: tuple[Path, Path]) -> None:
    project, _ = lab
    with ProjectStore.open(project) as store:
        found = find_gone_files(store)
    assert (found.gone, found.total, found.folders, found.message()) == (0, 14, (), "")


def test_a_renamed_folder_is_named_with_its_images_and_labels(lab: tuple[Path, Path]) -> None:
    project, images = lab
    images.rename(images.with_name("photos-2026"))
    with ProjectStore.open(project) as store:
        before = store.images()
        found = find_gone_files(store)
        assert store.images() == before  # nothing written
    assert (found.gone, found.labelled, found.total) == (14, 12, 14)
    assert found.folders == ((str(images), 14),)
    message = found.message()
    assert f"14 of this project's 14 images are no longer on disk: the folder {images} is gone" in message
    assert "(12 labelled)" in message and "import it from its new place" in message


def test_files_deleted_alone_name_no_folder_and_marked_ones_count(lab: tuple[Path, Path]) -> None:
    project, images = lab
    circles = sorted((images / "circle").iterdir())
    circles[0].unlink()
    with ProjectStore.open(project) as store:
        assert store.mark_missing_files() == [str(circles[0])]  # a run marked it: still counted as gone
        circles[1].unlink()
        found = find_gone_files(store)
    assert (found.gone, found.labelled, found.folders) == (2, 2, ())
    message = found.message()
    assert (
        found.first == str(circles[0]) and f"{circles[0]} and 1 other(s) were deleted or renamed" in message
    )
    assert "Remove problem files" in message and "import it from its new place" not in message


def test_a_look_stopped_part_way_gives_no_answer(lab: tuple[Path, Path]) -> None:
    """A part-look read as the whole: "58 of 300 images" on a window closed while it looked (h31)."""
    from dmtl_studio.core.base.cancel import Cancelled

    project, images = lab
    images.rename(images.with_name("elsewhere"))
    asked = iter([False, False, True])
    with ProjectStore.open(project) as store, pytest.raises(Cancelled):
        find_gone_files(store, lambda: next(asked, True))


def test_a_gone_folder_costs_one_look_not_one_per_image(lab: tuple[Path, Path], monkeypatch) -> None:  # noqa: ANN001
    """One stat per image on an unplugged network share takes its timeout per image (h31)."""
    import os

    project, images = lab
    images.rename(images.with_name("elsewhere"))
    looked: list[str] = []
    real = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda path: looked.append(path) or real(path))
    with ProjectStore.open(project) as store:
        assert find_gone_files(store).gone == 14
    assert looked == []


def test_every_look_for_gone_files_costs_one_look_per_gone_folder(
    lab: tuple[Path, Path], monkeypatch
) -> None:  # noqa: ANN001
    """A run's and an export's marking, ``remove --missing`` (and its log) and the feature cache's hashes asked each
    image's file on its own: one timeout per image of a folder on an unplugged share (s28's review)."""
    import csv
    import os

    from dmtl_studio.core.project.file_changes import current_hashes
    from dmtl_studio.core.project.images_table import MISSING_REASON
    from dmtl_studio.core.project.removal import problem_ids, remove_items

    project, images = lab
    circles = sorted((images / "circle").iterdir())
    circles[0].unlink()  # deleted alone: looked at in its folder, which is there
    (images / "square").rename(tmp := images.with_name("square-moved"))
    looked: list[str] = []
    real_stat = os.stat
    monkeypatch.setattr(
        os, "stat", lambda path, *a, **k: looked.append(os.fspath(path)) or real_stat(path, *a, **k)
    )
    with ProjectStore.open(project) as store:
        squares = {r.path for r in store.images() if r.label == "square"}
        records = store.images(usable_only=True)
        gone_ids = problem_ids(store, missing_only=True)
        hashes, _ = current_hashes(store, records)
        square_ids = [r.id for r in records if r.path in squares]
        removed = remove_items(store, square_ids)  # its log says why each went: gone from disk
        assert {row["problem"] for row in csv.DictReader(removed.log.open(encoding="utf-8"))} == {
            MISSING_REASON
        }
        marked = store.mark_missing_files()
        assert {r.path for r in store.images_by_id(gone_ids)} == {str(circles[0])}
    assert marked == [str(circles[0])]
    assert not squares & set(hashes) and str(circles[1]) in hashes
    assert not squares & set(looked)  # the moved folder: one look at the folder, none at its images
    assert tmp.is_dir()


def test_labels_gone_that_could_not_make_two_classes_are_not_the_way_out(lab: tuple[Path, Path]) -> None:
    """With one class labelled, a gone circle is not why training cannot start (h31)."""
    project, images = lab
    with ProjectStore.open(project) as store:
        store.merge_classes(["square", "triangle"], "circle")
        next((images / "circle").iterdir()).unlink()
        store.mark_missing_files()
        with pytest.raises(TrainingError, match="Label some images first"):
            labelled_split(store)


def test_a_class_folder_gone_inside_a_folder_still_there(lab: tuple[Path, Path]) -> None:
    project, images = lab
    (images / "square").rename(images / "squares")
    with ProjectStore.open(project) as store:
        found = find_gone_files(store)
    assert found.folders == ((str(images / "square"), 4),)


def test_a_run_with_every_labelled_file_gone_says_where_the_labels_are(lab: tuple[Path, Path]) -> None:
    project, images = lab
    images.rename(images.with_name("moved"))
    with ProjectStore.open(project) as store:
        store.mark_missing_files()
        with pytest.raises(TrainingError) as caught:
            labelled_split(store)
    message = str(caught.value)
    assert "12 labelled image(s) whose files are no longer on disk" in message
    assert "import it from its new place" in message and "Label some" not in message


def test_a_text_project_has_nothing_gone(tmp_path: Path) -> None:
    from dmtl_studio.core.project.text_demo import create_text_demo_project

    project = tmp_path / "texts"
    create_text_demo_project(project)
    with ProjectStore.open(project) as store:
        assert find_gone_files(store).gone == 0
