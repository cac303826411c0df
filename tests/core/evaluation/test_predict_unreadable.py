"""Predict names every file it could not read in its CSV (a row with the reason) and in its summary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dmtl_studio.core.evaluation.predict import predict_folder, prediction_scan
from dmtl_studio.core.project.demo import write_shapes_folder
from tests.core.trained_run import trained_project


def test_unreadable_files_are_rows_of_the_csv_and_named_in_the_summary(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 2, seed=4, size=64)
    (images / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (images / "square" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "predictions.csv"
    summary = predict_folder(run_dir, images, out)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and list(rows[0])[-2:] == ["error", "note"]
    # One row per file in the folder's order: an unreadable file's row stands where the file is.
    assert [row["path"] for row in rows] == prediction_scan(images)[0]
    unread = {Path(row["path"]).name: row for row in rows if row["error"]}
    assert set(unread) == {"broken.png", "empty.jpg"}
    assert all(row["predicted_label"] == "" and row["confidence"] == "" for row in unread.values())
    assert all(row["error"] and not row["error"].startswith("Traceback") for row in unread.values())
    text = summary.describe(out)
    assert text.startswith(f"Predicted 6 image(s) into {out}; 2 file(s) could not be read: ")
    assert "broken.png" in text and "empty.jpg" in text
    assert summary.describe_notes() is None and not any(row["note"] for row in rows)


def test_a_tiny_or_thin_image_is_predicted_with_a_note_in_its_row_and_the_summary(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """A 1 x 1 placeholder was predicted and explained like any image, with a confident label and no word (h33);
    it gets the note an import gives it, in its row and in the summary."""
    from PIL import Image

    from dmtl_studio.core.project.image_shape import TINY_NOTE

    _project, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 1, seed=4, size=64)
    Image.new("RGB", (1, 1), (200, 10, 10)).save(images / "circle" / "dot.png")
    Image.new("RGB", (400, 4), (10, 10, 10)).save(images / "square" / "line.png")
    out = tmp_path / "predictions.csv"
    summary = predict_folder(run_dir, images, out)
    with out.open(encoding="utf-8") as handle:
        notes = {Path(row["path"]).name: row["note"] for row in csv.DictReader(handle)}
    assert notes.pop("dot.png") == TINY_NOTE and notes.pop("line.png").startswith("a strip of 400×4 px")
    assert set(notes.values()) == {""}
    said = summary.describe_notes()
    assert said.startswith("2 image(s) worth a look (the CSV's note column): ")
    assert f"dot.png ({TINY_NOTE})" in said and "line.png (a strip of 400×4 px" in said


def test_a_table_or_text_file_given_to_an_image_model_is_refused_unless_it_is_an_image(
    tmp_path: Path,
) -> None:
    from dmtl_studio.core.evaluation.predict import NoImagesError, prediction_inputs

    for name, data, what in (
        ("paths.csv", b"path\nimages/circle/circle_000.png\n", "a table"),
        ("note.txt", b"a note", "a text file"),
    ):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(NoImagesError) as refused:
            prediction_inputs(tmp_path / name)
        assert str(refused.value) == (
            f"{name} is {what}, not an image, and this is an image model: give a folder of images or one image "
            "file (a list of image paths is not read: copy or link the images into a folder; texts are predicted "
            "with a text project's run)"
        )
    picture = write_shapes_folder(tmp_path / "images", 1, seed=4, size=32) / "circle" / "circle_000.png"
    renamed = tmp_path / "picture.txt"
    renamed.write_bytes(picture.read_bytes())  # an image by its content, whatever its name
    assert prediction_inputs(renamed) == [str(renamed)]
