"""Import reads what the folder holds: images by content whatever their names, split folders as splits,
and it says what it skipped or had to change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore


def _picture(path: Path, seed: int, fmt: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def test_jpegs_with_any_name_are_imported_and_non_images_are_counted(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for index, name in enumerate(("a.jfif", "b.jpe", "C.JFIF", "d.JPG", "no_extension", "e.jif")):
        _picture(images / "cats" / name, index)
    _picture(images / "dogs" / "png_named.dat", 10, "PNG")
    _picture(images / "dogs" / "one.jpeg", 11)
    (images / "dogs" / "notes.txt").write_text("measured on Tuesday\n")
    (images / "dogs" / "table.csv").write_text("a,b\n1,2\n")
    (images / "README").write_text("plate layout\n")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, images, val_fraction=0.0)
        counts = store.class_counts()
    assert counts["cats"]["total"] == 6 and counts["dogs"]["total"] == 2
    assert summary.problems == () and summary.skipped == 3
    assert "skipped 3 non-image file(s)" in summary.describe()


def _split_folder(root: Path, splits: dict[str, int], classes: tuple[str, ...] = ("cat", "dog")) -> Path:
    seed = 0
    for split, per_class in splits.items():
        for name in classes:
            for index in range(per_class):
                seed += 1
                _picture(root / split / name / f"{name}_{index}.png", seed, "PNG")
    return root


@pytest.mark.parametrize(
    "names",
    [("train", "valid", "test"), ("Training", "Validation", "Testing"), ("TRAIN", "val"), ("train", "test")],
    ids=lambda names: "/".join(names),
)
def test_split_named_top_folders_give_splits_and_the_classes_below(
    tmp_path: Path, names: tuple[str, ...]
) -> None:
    images = _split_folder(tmp_path / "images", {name: 3 for name in names})
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, images, val_fraction=0.2, test_fraction=0.1, seed=0)
        records = store.images()
    assert summary.classes == ("cat", "dog")
    assert (
        summary.empty_folders == () and "gave no image" not in summary.describe()
    )  # every split/class gave some
    expected = {
        name: {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val"}.get(
            name.casefold(), "test"
        )
        for name in names
    }
    assert dict(summary.split_folders) == expected
    for record in records:
        folder, class_name = Path(record.path).relative_to(images).parts[:2]
        assert record.label == class_name and record.split == expected[folder], record
    assert "split folders used as splits" in summary.describe()


def test_mixed_or_classless_split_folders_are_refused_before_anything_is_imported(tmp_path: Path) -> None:
    mixed = _split_folder(tmp_path / "mixed", {"train": 2})
    _picture(mixed / "cat" / "loose.png", 99, "PNG")
    flat = tmp_path / "flat"
    for split in ("train", "test"):
        for index in range(2):
            _picture(flat / split / f"{index}.png", index, "PNG")
    for folder, words in ((mixed, "mixes split folders"), (flat, "without class folders")):
        with ProjectStore.create(tmp_path / f"p-{folder.name}") as store:
            with pytest.raises(ProjectError, match=words):
                import_folder(store, folder)
            assert store.image_count() == 0 and store.class_names() == []


def test_split_named_folders_beside_others_can_be_read_as_classes(tmp_path: Path) -> None:
    """Vehicles with a class ``train``: refused by default (it could be a split), imported whole on request."""
    from dmtl_studio.core.project.importer import mixed_split_folders

    vehicles = tmp_path / "vehicles"
    for index, name in enumerate(("car", "bus", "train")):
        for k in range(3):
            _picture(vehicles / name / f"{k}.png", 10 * index + k, "PNG")
    (vehicles / "empty").mkdir()  # a class folder with nothing in it
    assert mixed_split_folders(vehicles) == (["train"], ["bus", "car"])  # the empty folder is left out
    assert mixed_split_folders(vehicles / "car") == ([], [])
    (vehicles / "train").rename(tmp_path / "aside")
    (vehicles / "test").mkdir()  # an empty split-named folder: the import ignores it, so no question is asked
    assert mixed_split_folders(vehicles) == ([], [])
    (tmp_path / "aside").rename(vehicles / "train")
    (vehicles / "test").rmdir()
    with ProjectStore.create(tmp_path / "p") as store:
        with pytest.raises(ProjectError, match="if train/ is a class too, import with --no-split-folders"):
            import_folder(store, vehicles)
        summary = import_folder(store, vehicles, split_folders=False)
        assert store.class_names() == ["bus", "car", "train"] and summary.labelled == 9
    assert summary.empty_folders == ("empty",)
    assert "1 class folder(s) gave no image (empty/): empty, or only problem files" in summary.describe()


def test_avif_photos_are_imported_and_heic_ones_listed_with_what_to_do(tmp_path: Path) -> None:
    from PIL import features

    photos = tmp_path / "photos"
    _picture(photos / "cam" / "a.png", 1, "PNG")
    if features.check("avif"):
        _picture(photos / "phone" / "b.avif", 2, "AVIF")
    (photos / "phone").mkdir(parents=True, exist_ok=True)
    (photos / "phone" / "IMG_1.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, photos, val_fraction=0.0, test_fraction=0.0)
        labels = {Path(r.path).name: r.label for r in store.images(usable_only=True)}
    assert labels.get("b.avif") == ("phone" if features.check("avif") else None)
    ((path, reason),) = summary.problems
    assert path.endswith("IMG_1.HEIC") and reason.startswith("HEIC / HEIF photo") and "JPEG or PNG" in reason


def test_cli_import_reports_notes_skips_and_split_folders(tmp_path: Path) -> None:
    images = _split_folder(tmp_path / "images", {"train": 2, "valid": 1})
    (images / "train" / "cat" / "notes.txt").write_text("not a picture")
    ramp = np.tile(np.linspace(-1000, 1000, 32), (32, 1)).astype(np.int32)
    tifffile.imwrite(images / "train" / "dog" / "deep.tif", ramp)
    done = subprocess.run(
        [sys.executable, "-m", "dmtl_studio", "import", str(tmp_path / "p"), str(images), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["skipped"] == 1 and report["split_folders"] == {"train": "train", "valid": "val"}
    assert [Path(n["path"]).name for n in report["notes"]] == ["deep.tif"]
    assert "rescaled" in report["notes"][0]["note"]
    assert "skipped 1 non-image file(s)" in done.stderr and "deep.tif" in done.stderr
    with ProjectStore.open(tmp_path / "p") as store:
        noted = {Path(path).name: note for path, note in store.notes()}
        assert "rescaled" in noted["deep.tif"]
        assert next(r for r in store.images() if r.path.endswith("deep.tif")).note == noted["deep.tif"]
    _picture(images / "extra_class" / "x.png", 5, "PNG")
    refused = subprocess.run(
        [sys.executable, "-m", "dmtl_studio", "import", str(tmp_path / "r"), str(images)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert refused.returncode == 2 and "mixes split folders" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "r").exists()  # refused before any project was made


def test_a_project_of_the_previous_format_opens_and_keeps_its_images(tmp_path: Path) -> None:
    import sqlite3

    from dmtl_studio.core.project.schema import schema_v1
    from dmtl_studio.core.project.store import DATABASE_NAME

    folder = tmp_path / "old"
    folder.mkdir()
    conn = sqlite3.connect(folder / DATABASE_NAME, isolation_level=None)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    schema_v1(conn)
    conn.execute("INSERT INTO images(path, sha256, added_at) VALUES (?, 'abc', 0)", (b"/x/old.png",))
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    tifffile.imwrite(tmp_path / "deep.tif", np.tile(np.arange(-8, 8, dtype=np.int16), (4, 1)))
    with ProjectStore.open(folder) as store:
        assert [(r.path, r.note) for r in store.images()] == [("/x/old.png", None)]
        import_folder(store, tmp_path, val_fraction=0.0)
        assert "rescaled" in dict(store.notes())[str(tmp_path / "deep.tif")]


def test_every_format_pillow_decodes_for_lab_and_texture_images_is_imported_and_trainable(
    tmp_path: Path,
) -> None:
    from dmtl_studio.core.project.imaging import load_rgb, thumbnail

    images = tmp_path / "images"
    formats = {"scan.jp2": "JPEG2000", "tile.j2k": "JPEG2000", "wall.tga": "TGA", "floor.dds": "DDS"}
    formats |= {"old.pcx": "PCX", "photo.sgi": "SGI", "icon.ico": "ICO"}
    for index, (name, fmt) in enumerate(formats.items()):
        _picture(images / "kinds" / name, index, fmt)
    _picture(images / "kinds" / "jpeg2000_without_extension", 20, "JPEG2000")  # found by its content
    _picture(images / "others" / "one.png", 21, "PNG")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, images, val_fraction=0.0)
        records = store.images()
    assert summary.skipped == 0 and summary.problems == (), summary.describe()
    assert len(records) == len(formats) + 2
    for record in records:  # each decodes to the pixels the model reads, and to a thumbnail
        assert load_rgb(record.path).shape[2] == 3 and thumbnail(record.path, 32).shape[2] == 3


def test_a_tiny_image_is_imported_with_a_note_saying_so(tmp_path: Path) -> None:
    from dmtl_studio.core.project.imaging import TINY_NOTE

    images = tmp_path / "images"
    _picture(images / "a" / "normal.png", 1, "PNG")  # 24 x 24: no note
    Image.new("RGB", (1, 1), (200, 10, 10)).save(images / "a" / "placeholder.png")
    Image.new("CMYK", (8, 40)).save(images / "a" / "thin.jpg")  # a note of its own, then this one
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, images, val_fraction=0.0)
    notes = dict(summary.notes)
    assert notes[str(images / "a" / "placeholder.png")] == TINY_NOTE
    assert notes[str(images / "a" / "thin.jpg")].startswith("CMYK") and notes[
        str(images / "a" / "thin.jpg")
    ].endswith(TINY_NOTE)
    assert str(images / "a" / "normal.png") not in notes and summary.problems == ()
    from dmtl_studio.core.project.imaging import shape_note

    assert (
        shape_note(1, 5000)
        == "a strip of 1×5000 px: padded to the model's square input (the default) it fills under 1 % of it "
        "(a scan line or a slice?)"
    )  # shrunk, not "enlarged many times"
    assert shape_note(1000, 20).startswith(
        "elongated (1000×20 px, 50:1): padded to the model's square input (the default) it fills 2 %"
    )
    assert shape_note(640, 480) is None and shape_note(8, 40) == TINY_NOTE


def test_images_in_sub_folders_of_a_class_are_said_to_take_its_name(tmp_path: Path) -> None:
    images = tmp_path / "images"
    _picture(images / "a" / "top.png", 1, "PNG")
    _picture(images / "a" / "day1" / "x.png", 2, "PNG")
    _picture(images / "a" / "day1" / "y.png", 3, "PNG")
    _picture(images / "b" / "z.png", 4, "PNG")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, images, val_fraction=0.0, test_fraction=0.0)
        assert store.class_names() == ["a", "b"]
    assert summary.nested == 2
    assert "2 image(s) in sub-folders of class folders took their class folder's name (first: a/day1/)" in (
        summary.describe()
    )


def test_the_summary_names_the_kinds_of_note_it_counts(tmp_path: Path) -> None:
    images = tmp_path / "images"
    (images / "a").mkdir(parents=True)
    for index in range(3):
        Image.new("CMYK", (24, 24)).save(images / "a" / f"{index}.jpg")
    Image.new("RGB", (1, 1)).save(images / "a" / "dot.png")
    with ProjectStore.create(tmp_path / "p") as store:
        text = import_folder(store, images, val_fraction=0.0).describe()
    assert "4 image(s) with a note on how they were read (3: CMYK" in text
    assert "; 1: smaller than 16 px on a side" in text and "other kind(s) of note" not in text
