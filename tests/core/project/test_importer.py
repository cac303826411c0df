from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from dmtl_studio.core.project.importer import assign_splits, import_folder
from dmtl_studio.core.project.store import ProjectStore


def test_import_labels_by_subfolder_and_records_problems(tmp_path: Path, shapes_dir: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, shapes_dir, val_fraction=0.25, test_fraction=0.0, seed=0)
        assert summary.classes == ("circle", "square", "triangle")
        assert summary.labelled == 72 and summary.unlabelled == 6
        reasons = {Path(path).name: reason for path, reason in store.problems()}
        assert set(reasons) == {"truncated.png", "empty.jpg", "notes.png"}
        assert "empty" in reasons["empty.jpg"]
        assert "not an image" in reasons["notes.png"]
        assert "truncated" in reasons["truncated.png"] or "damaged" in reasons["truncated.png"]
        counts = store.class_counts()
        for name in summary.classes:
            assert counts[name]["total"] == 24
            assert counts[name]["val"] == 6 and counts[name]["train"] == 18  # stratified 25 %


def test_split_is_reproducible_and_kept_on_reimport(tmp_path: Path, shapes_dir: Path) -> None:
    splits = []
    for name in ("a", "b"):
        with ProjectStore.create(tmp_path / name) as store:
            import_folder(store, shapes_dir, seed=7)
            splits.append({Path(im.path).name: im.split for im in store.images()})
    assert splits[0] == splits[1]
    with ProjectStore.open(tmp_path / "a") as store:
        import_folder(store, shapes_dir, seed=99)  # a second import must not reshuffle
        assert {Path(im.path).name: im.split for im in store.images()} == splits[0]


def test_identical_images_always_share_a_split(tmp_path: Path, shapes_dir: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(shapes_dir, folder)
    for path in sorted((folder / "circle").glob("circle_*.png"))[:10]:
        shutil.copy(path, path.with_name("copy_" + path.name))
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder, val_fraction=0.5, seed=3)
        by_hash: dict[str, set[str]] = {}
        for im in store.images(usable_only=True):
            if im.label:
                by_hash.setdefault(im.sha256, set()).add(im.split)
        assert all(len(splits) == 1 for splits in by_hash.values())
        assert any(len(v) == 1 for v in by_hash.values())


def test_tiny_class_warns_and_trains_on_everything(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images(
            [
                ("/x/one.png", "rare", None, None),
                ("/x/a.png", "common", None, None),
                ("/x/b.png", "common", None, None),
                ("/x/c.png", "common", None, None),
            ]
        )
        summary = assign_splits(store, val_fraction=0.3)
        assert any("rare" in w for w in summary.warnings)
        assert summary.counts["rare"]["train"] == 1


def test_a_stopped_import_keeps_what_it_read_with_splits_and_counts_only_that(
    tmp_path: Path, shapes_dir: Path
) -> None:
    checks = iter(range(10**6))
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(
            store, shapes_dir, seed=0, batch_size=5, should_stop=lambda: next(checks) >= 30
        )
        records = store.images()
        assert summary.cancelled and len(records) == summary.added == 30
        assert summary.labelled + summary.unlabelled + len(summary.problems) == 30  # not the files never read
        assert all(
            im.split for im in records if im.label is not None and im.problem is None
        )  # all given a split
        assert "interrupted before the rest were read" in summary.describe()
    with ProjectStore.open(tmp_path / "p") as store:  # importing again adds the rest, once
        again = import_folder(store, shapes_dir, seed=0)
        assert (
            not again.cancelled and again.added == again.scanned - 30 and store.image_count() == again.scanned
        )


def test_a_reimport_marks_the_files_gone_and_counts_the_copies(tmp_path: Path, shapes_dir: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(shapes_dir, folder)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder, seed=0)
        usable = len(store.images(usable_only=True))
        # A label fixed by moving the photo, a photo deleted, one renamed.
        (folder / "circle" / "circle_000.png").rename(folder / "square" / "was_circle_000.png")
        (folder / "circle" / "circle_001.png").unlink()
        (folder / "square" / "square_000.png").rename(folder / "square" / "renamed 0.png")
        split_of = {Path(im.path).name: im.split for im in store.images()}
        again = import_folder(store, folder, seed=0)
        gone = {Path(p).name for p in again.missing}
        assert gone == {"circle_001.png"}  # the moved and the renamed ones were found at their new place
        assert "1 image(s) of this folder known to the project are no longer on disk" in again.describe()
        assert again.moved == 2 and "2 image(s) found at a new place" in again.describe()
        assert again.added == 0 and again.copies == 0  # a moved file is no copy (nor a new image)
        assert not again.conflicts  # nor a picture with two labels
        assert len(store.images(usable_only=True)) == usable - 1
        reasons = dict(store.problems())
        assert all(reasons[p].startswith("missing on disk") for p in again.missing)
        now = {Path(im.path).name: (im.label, im.split) for im in store.images()}
        # Moved into square/ to fix its label: relabelled so, its split kept; renamed in place: as it was.
        assert now["was_circle_000.png"] == ("square", split_of["circle_000.png"])
        assert now["renamed 0.png"] == ("square", split_of["square_000.png"])
        # A copy of the folder imported too: every file is new, and identical to an image held already.
        shutil.copytree(folder, tmp_path / "copy")
        copied = import_folder(store, tmp_path / "copy", seed=0)
        assert copied.added == again.scanned and copied.copies == copied.added - len(copied.problems)
        assert (
            f"{copied.copies} of the new file(s) are identical to images the project held"
            in copied.describe()
        )


def test_a_folder_reached_through_a_link_and_through_its_real_path_is_one_folder(
    tmp_path: Path, shapes_dir: Path
) -> None:
    real = tmp_path / "real"
    shutil.copytree(shapes_dir, real)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    for first, second in (("link", "real"), ("real", "link")):
        with ProjectStore.create(tmp_path / f"p-{first}") as store:
            import_folder(store, tmp_path / first, seed=0)
            before = {record.path: record.label for record in store.images()}
            again = import_folder(store, tmp_path / second, seed=0)
            assert (again.added, again.copies) == (0, 0), first
            assert {record.path: record.label for record in store.images()} == before  # the paths it knew
        assert all(path.startswith(str(tmp_path / first)) for path in before)


def test_the_import_summary_says_what_its_notes_say(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "images" / "cats"
    folder.mkdir(parents=True)
    for index in range(3):  # transparent pictures: each gets the note that its transparency is shown on white
        Image.new("RGBA", (16, 16), (200, 10, 10, index * 60)).save(folder / f"cat{index}.png")
    Image.new("RGB", (16, 16), (1, 2, 3)).save(folder / "plain.png")
    with ProjectStore.create(tmp_path / "p") as store:
        text = import_folder(store, tmp_path / "images", seed=0).describe()
    assert "3 image(s) with a note on how they were read (3: transparent pixels are shown on white;" in text


def test_a_link_inside_a_class_folder_to_another_class_keeps_that_class_and_its_labels(
    tmp_path: Path,
) -> None:
    """``dogs/link -> ../cats``: the cats' images stay cats, once, whichever folder the walk would meet first."""
    from PIL import Image

    source = tmp_path / "src"
    for name, shade in (("cats", 40), ("dogs", 200)):
        (source / name).mkdir(parents=True)
        for index in range(4):
            Image.new("RGB", (16, 16), (shade + index, shade, shade)).save(
                source / name / f"{name[0]}{index}.png"
            )
    (source / "dogs" / "link").symlink_to(source / "cats", target_is_directory=True)
    (source / "aaa-link").symlink_to(source / "dogs", target_is_directory=True)  # before both, by name
    with ProjectStore.create(tmp_path / "p") as store:
        result = import_folder(store, source, seed=0)
        labels = {Path(record.path).relative_to(source).as_posix(): record.label for record in store.images()}
    assert labels == {f"{name}/{name[0]}{i}.png": name for name in ("cats", "dogs") for i in range(4)}
    assert result.added == 8


def test_a_project_inside_the_folder_is_left_out_and_a_projects_own_folders_too(tmp_path: Path) -> None:
    """A project kept among the images it was made from: importing the folder must not make the project's own
    images a class, nor read its runs and feature cache; importing the project's own folder reads only the data."""
    from dmtl_studio.core.project.demo import create_demo_project

    data = tmp_path / "data"
    for name in ("cats", "dogs"):
        (data / name).mkdir(parents=True)
    inside = data / "proj"
    create_demo_project(inside, per_class=3, unlabelled=0)  # a project with its images below it
    for name, source in (("cats", "circle"), ("dogs", "square")):
        for image in sorted((inside / "images" / source).iterdir())[:3]:
            shutil.copy(image, data / name / image.name)
    (inside / "cache" / "features").mkdir(parents=True, exist_ok=True)
    (inside / "cache" / "features" / "x.f32").write_bytes(b"\0" * 16)
    with ProjectStore.create(tmp_path / "new") as store:
        summary = import_folder(store, data)
        assert set(store.class_names()) == {"cats", "dogs"} and summary.added == 6
    assert summary.projects == (str(inside),) and summary.skipped == 0
    assert "left out 1 DMTL Studio project folder(s)" in summary.describe()
    (inside / "runs" / "r1").mkdir(parents=True)
    shutil.copy(next((inside / "images" / "circle").iterdir()), inside / "runs" / "r1" / "plot.png")
    with ProjectStore.open(inside) as store:  # its own folder: the images, not the runs or cache
        again = import_folder(store, inside)
    assert again.skipped == 0 and again.added == 0 and not again.projects


def test_hidden_files_are_left_out_and_counted(tmp_path: Path) -> None:
    from dmtl_studio.core.project.demo import write_shapes_folder

    images = write_shapes_folder(tmp_path / "images", 2, seed=1, size=32)
    (images / "circle" / "._circle_000.png").write_bytes(b"\x00\x05\x16\x07")  # macOS metadata beside a copy
    (images / ".DS_Store").write_bytes(b"\x00")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, images)
    assert summary.hidden == 2 and summary.scanned == 6
    assert "left out 2 hidden file(s) or folder(s) (names starting with '.')" in summary.describe()


def test_identical_images_put_in_two_splits_by_split_folders_are_said(tmp_path: Path) -> None:
    """Split folders are the one way identical images get two splits: a leak the import now names."""
    import shutil

    from dmtl_studio.core.project.demo import write_shapes_folder

    shapes = write_shapes_folder(tmp_path / "shapes", 3, seed=2, size=32)
    root = tmp_path / "images"
    for split in ("train", "test"):
        shutil.copytree(shapes, root / split)  # every picture in both splits
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, root)
    assert len(summary.split_leaks) == 9 and all(len(paths) == 2 for paths in summary.split_leaks)
    assert "9 identical image(s) were put in two splits by the split folders" in summary.describe()
    assert "--keep-in-one-split" in summary.describe()


@pytest.mark.skipif(sys.platform != "linux", reason="a file name of any bytes: Linux file systems")
def test_a_class_folder_named_in_bytes_that_are_not_utf8_makes_problems_not_a_failed_import(
    tmp_path: Path,
) -> None:
    """One folder named in Latin-1 (an old share, a zip) made the whole import fail with an unexpected error."""
    root = tmp_path / "images"
    latin = os.path.join(os.fsencode(root), b"squar\xe9")
    os.makedirs(latin)
    (root / "circle").mkdir()
    for i in range(2):
        Image.new("RGB", (32, 32), (i * 90, 0, 0)).save(os.path.join(latin, b"s%d.png" % i))
        Image.new("RGB", (32, 32), (0, i * 90, 0)).save(root / "circle" / f"c{i}.png")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, root, seed=0)
        assert store.class_names() == ["circle"] and store.image_count() == 4
    assert len(summary.problems) == 2
    assert all(
        "'squar\\xe9' cannot be a class name: its bytes are not UTF-8" in why for _, why in summary.problems
    )


def test_a_renamed_file_keeps_the_split_its_content_had(tmp_path: Path, shapes_dir: Path) -> None:
    """Re-imported after a rename, each file got a fresh split: test images went to training (a leak)."""
    images = tmp_path / "images"
    shutil.copytree(shapes_dir, images)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, images, seed=0)
        before = {Path(r.path).name: r.split for r in store.images() if r.label}
        for name in list(before):
            source = next(images.rglob(name))
            source.rename(source.with_name("renamed_" + name))
        import_folder(store, images, seed=1)  # another seed: fresh splits would differ
        after = {Path(r.path).name: r.split for r in store.images() if r.problem is None and r.label}
    assert after == {"renamed_" + name: split for name, split in before.items()}


def _train_and_val_folders(tmp_path: Path, per_class: int, seed: int) -> tuple[Path, Path]:
    """Shapes of three classes (``per_class`` each) and ``images/train|val/<class>/`` holding them, the last of each
    class in val/: ``(the shapes' folder, images/)``."""
    from dmtl_studio.core.project.demo import write_shapes_folder

    shapes = write_shapes_folder(tmp_path / "shapes", per_class, seed=seed, size=32)
    root = tmp_path / "images"
    for split, names in (("train", slice(0, per_class - 1)), ("val", slice(per_class - 1, per_class))):
        for class_dir in sorted(p for p in shapes.iterdir() if p.is_dir()):
            (root / split / class_dir.name).mkdir(parents=True)
            for picture in sorted(class_dir.iterdir())[names]:
                shutil.copy(picture, root / split / class_dir.name / picture.name)
    return shapes, root


def test_split_folders_without_test_ask_for_no_test_image(tmp_path: Path) -> None:
    """train/ and val/ folders and no test/: every image comes with its split, so a small class is not told that
    it is too small to keep a test image (nobody asked for one); class folders alone still are."""
    shapes, root = _train_and_val_folders(tmp_path, 4, seed=3)
    with ProjectStore.create(tmp_path / "folders") as store:
        summary = import_folder(store, root)
    assert not any("test" in warning for warning in summary.split.warnings), summary.split.warnings
    with ProjectStore.create(tmp_path / "classes") as store:
        summary = import_folder(store, shapes)  # 4 images a class, drawn now: too few for a test image
    assert any("too few to keep a test image" in warning for warning in summary.split.warnings)


def test_import_again_keeps_a_label_taken_off_by_hand_and_labels_what_was_never_labelled(
    tmp_path: Path,
) -> None:
    """A picture unlabelled by hand (an outlier taken out of training) got its folder's label back from Import
    again, without a word (h35); a picture never labelled (a class folder imported alone first, a file unreadable
    then) takes its folder's label (h36); the mark follows the picture through a moved folder, and a file gone for a
    while (h36)."""
    from dmtl_studio.core.project.labels import LabelEditor

    root = tmp_path / "images"

    def write(name: str, count: int, shade: int) -> None:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("RGB", (16, 16), (shade, 30 * i, 7)).save(root / name / f"{i}.png")

    write("grass", 3, 100)
    write("gravel", 3, 0)
    broken = root / "grass" / "late.png"
    broken.write_bytes(b"not yet a picture")
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, root)
        write("bird", 2, 200)
        import_folder(store, root / "bird")  # a new class folder alone first: its files are loose, unlabelled
        outlier = next(im for im in store.images() if im.path.endswith(os.path.join("gravel", "1.png")))
        LabelEditor(store).assign([outlier.id], None)  # taken off by hand
        Image.new("RGB", (16, 16), (1, 2, 3)).save(broken)  # readable now

        def labels() -> dict[str, str | None]:
            return {os.path.relpath(im.path, tmp_path): im.label for im in store.images()}

        again = import_folder(store, root)
        assert labels()[os.path.join("images", "gravel", "1.png")] is None  # stays off
        assert (
            labels()[os.path.join("images", "grass", "late.png")] == "grass"
        )  # was unreadable: labelled now
        assert {labels()[os.path.join("images", "bird", f"{i}.png")] for i in range(2)} == {"bird"}
        assert again.kept_unlabelled == 1 and again.empty_folders == ()
        assert (
            "1 image(s) in class folders stay unlabelled: their labels were taken off by hand"
            in again.describe()
        )
        moved = tmp_path / "moved"
        root.rename(moved)  # the folder moved, imported from its new place: the picture is the same
        import_folder(store, moved)
        assert labels()[os.path.join("moved", "gravel", "1.png")] is None
        (moved / "gravel" / "1.png").rename(tmp_path / "away.png")  # gone for a while, then back
        import_folder(store, moved)
        (tmp_path / "away.png").rename(moved / "gravel" / "1.png")
        import_folder(store, moved)
        assert labels()[os.path.join("moved", "gravel", "1.png")] is None
        back = next(im for im in store.images() if im.path.endswith(os.path.join("gravel", "1.png")))
        LabelEditor(store).assign([back.id], "gravel")  # labelled again by hand: the mark goes
        assert import_folder(store, moved).kept_unlabelled == 0


def test_a_folder_without_images_is_refused_and_not_remembered_unless_its_images_are_gone(
    tmp_path: Path, shapes_dir: Path
) -> None:
    """An empty folder was "imported" with a summary of zeros and offered by Import again from then on (h35)."""
    import pytest as _pytest

    from dmtl_studio.core.project.errors import ProjectError
    from dmtl_studio.core.project.import_sources import import_sources
    from dmtl_studio.core.project.project_kind import kind_undecided

    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "readme.txt").write_text("no pictures here")
    with ProjectStore.create(tmp_path / "p") as store:
        with _pytest.raises(ProjectError, match="holds no image files .*1 other file.*nothing was imported"):
            import_folder(store, empty)
        assert import_sources(store) == [] and kind_undecided(store)  # nothing decided, nothing offered
        folder = tmp_path / "shapes"
        shutil.copytree(shapes_dir, folder)
        import_folder(store, folder)
        usable = len(store.images(usable_only=True))
        shutil.rmtree(folder)
        folder.mkdir()  # the folder is there, its images gone: read, so that they are marked gone
        summary = import_folder(store, folder)
        assert summary.scanned == 0 and len(summary.missing) == usable and not store.images(usable_only=True)


def test_import_again_keeps_the_split_the_project_gave_an_image_since(tmp_path: Path) -> None:
    """An image moved to another split in the project (keep in one split, Reassign splits, by hand) went back to
    its split folder's split at the next import, and the duplicate leaks fixed came back (h38); a file moved on
    disk into another split folder takes that folder's split."""
    _shapes, root = _train_and_val_folders(tmp_path, 3, seed=5)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, root)
        chosen = next(im for im in store.images() if "/val/" in im.path)
        store.set_splits({chosen.id: "train"})  # what keep-in-one-split does
        summary = import_folder(store, root)
        assert {im.id: im.split for im in store.images()}[chosen.id] == "train"
        assert summary.kept_own_split == 1
        assert (
            "1 image(s) keep the split the project gave them since their first import" in summary.describe()
        )
        moved = next(im for im in store.images() if "/train/" in im.path and im.id != chosen.id)
        target = Path(moved.path.replace("/train/", "/val/"))
        shutil.move(moved.path, target)  # moved on disk into val/: the folder is news, its split taken
        import_folder(store, root)
        assert next(im.split for im in store.images() if im.path == str(target)) == "val"
