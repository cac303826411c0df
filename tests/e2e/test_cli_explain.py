"""dmtl-studio explain: Grad-CAM pictures of an image run's images, the weighing words of a text run's texts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dmtl_studio.cli import main
from dmtl_studio.core.evaluation.explain_files import MIN_OVERLAY_SIDE, OVERLAY_SIDE, overlay_picture
from dmtl_studio.core.evaluation.gradcam import explain_image
from dmtl_studio.core.evaluation.text_attribution import explain_text
from dmtl_studio.core.project.image_shape import TINY_NOTE
from dmtl_studio.core.project.store import ProjectStore
from tests.core.text_run import copy_text_project
from tests.core.trained_run import copy_project


def test_an_overlay_is_the_picture_where_cold_and_the_ramp_where_hot(tmp_path: Path) -> None:
    picture = np.zeros((30, 2000, 3), np.uint8)
    picture[:, :, 1] = 120
    path = tmp_path / "wide.png"
    Image.fromarray(picture).save(path)
    cold = overlay_picture(path, np.zeros((7, 7), np.float32))
    assert cold.shape == (15, OVERLAY_SIDE, 3)  # the longer side at most OVERLAY_SIDE, the shape kept
    assert np.array_equal(cold, np.broadcast_to(np.array([0, 120, 0], np.uint8), cold.shape))
    hot = overlay_picture(path, np.ones((7, 7), np.float32))
    opacity = 200 / 255  # the ramp's red at its most opaque
    assert np.allclose(hot[0, 0], [255 * opacity, 120 * (1 - opacity), 0], atol=1)


def test_explain_writes_each_images_grad_cam_and_refuses_what_it_cannot_do(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        images = sorted(Path(r.path) for r in store.images() if r.label == "circle")[:2]
        store.rename_class("circle", "round")  # explained under the name of now
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    out = tmp_path / "cams"
    assert main(["explain", str(run_dir), *map(str, images), str(broken), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    lines, report = captured.err.splitlines(), json.loads(captured.out)
    assert report["explained"] == 2 and f"wrote 2 Grad-CAM picture(s) to {out}; 1 not explained" in lines
    assert any(line.startswith("broken.png: not explained (") for line in lines)
    for image, row in zip(images, report["images"], strict=False):
        written = np.asarray(Image.open(row["picture"]))
        assert row["picture"] == str(out / f"{image.name}.gradcam.png")
        width, height = Image.open(image).size  # a small image is enlarged in whole blocks
        factor = max(1, -(-MIN_OVERLAY_SIDE // max(width, height)))
        assert written.shape[:2] == (height * factor, width * factor)
        enlarged = (
            Image.open(image)
            .convert("RGB")
            .resize((width * factor, height * factor), Image.Resampling.NEAREST)
        )
        assert not np.array_equal(written, np.asarray(enlarged))  # the heat is laid on
        cam = explain_image(run_dir, str(image))
        assert row["probability"] == pytest.approx(cam.probabilities[cam.class_index], abs=1e-5)
        assert row["class"] == {"circle": "round"}.get(cam.class_name, cam.class_name)
    assert all(row["note"] is None for row in report["images"])
    other = tmp_path / "square"
    assert main(["explain", str(run_dir), str(images[0]), "--out", str(other), "--class", "square"]) == 0
    assert "square" in capsys.readouterr().out
    # A 1 x 1 placeholder is explained as confidently as any image: the note an import gives it is said (h33).
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(dot)
    assert main(["explain", str(run_dir), str(dot), "--out", str(tmp_path / "dots"), "--json"]) == 0
    captured = capsys.readouterr()
    from dmtl_studio.core.evaluation.gradcam import BLANK_NOTE

    both = f"{TINY_NOTE}; {BLANK_NOTE}"  # one pixel is one colour too: no map to read
    assert json.loads(captured.out)["images"][0]["note"] == both
    assert captured.err.splitlines()[0].endswith(f"(note: {both})")

    refusals = {
        ("--out", str(out)): "already exists: choose another --out folder",  # nothing written over
        ("--out", str(tmp_path / "x"), "--class", "oval"): "'oval' is not a class of the run (round, square",
        (): "name the folder for the Grad-CAM pictures with --out",
        ("--text", "a text", "--out", str(tmp_path / "y")): "this is an image run",
    }
    for options, words in refusals.items():
        assert main(["explain", str(run_dir), str(images[0]), *options]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    folder = images[0].parent
    assert main(["explain", str(run_dir), str(folder), "--out", str(folder / "cams")]) == 2
    assert "is inside" in capsys.readouterr().err and not (folder / "cams").exists()
    # Nothing could be explained: status 1 (documented), and no empty folder left behind (h26).
    assert main(["explain", str(run_dir), str(broken), "--out", str(tmp_path / "none")]) == 1
    assert "wrote 0 Grad-CAM picture(s)" in capsys.readouterr().out and not (tmp_path / "none").exists()


def test_explain_prints_the_words_for_and_against_a_texts_class(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    _project, run_dir = copy_text_project(tmp_path_factory)
    note = tmp_path / "note.txt"
    note.write_text("the cat sat on the mat and purred all afternoon\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("!!! ???\n", encoding="utf-8")
    typed = "my dog barked at the postman"
    assert (
        main(["explain", str(run_dir), str(note), str(empty), "--text", typed, "--json", "--top", "2"]) == 0
    )
    captured = capsys.readouterr()
    lines, report = captured.err.splitlines(), json.loads(captured.out)
    assert report["explained"] == 2
    assert any(line.startswith("empty.txt: not explained (nothing to explain") for line in lines)
    for text, row in zip((note.read_text(encoding="utf-8").strip() + "\n", typed), (0, 2), strict=True):
        found = explain_text(run_dir, text)
        assert report["texts"][row]["class"] == found.target_name
        assert [w["score"] for w in report["texts"][row]["words"]] == pytest.approx(
            [w[3] for w in found.words]
        )
    first = next(line for line in lines if line.startswith("note.txt: "))
    assert first.startswith(f"note.txt: {report['texts'][0]['class']} ") and "; for it: " in first
    assert first.count(", ") <= 2  # --top 2: at most two words each way
    assert main(["explain", str(run_dir), str(note), "--out", str(tmp_path / "o")]) == 2
    assert "a text run's words are printed" in capsys.readouterr().err


def test_images_sharing_a_file_name_are_told_apart_by_their_folders() -> None:
    from dmtl_studio.core.evaluation.explain_files import overlay_names

    names = overlay_names(
        ["/d/cats/0.png", "/d/dogs/0.png", "/d/dogs/1.png", "/d/dogs/1.png", "/e/cats/0.png"]
    )
    assert names == {
        "/d/cats/0.png": "d__cats__0.png.gradcam.png",
        "/d/dogs/0.png": "dogs__0.png.gradcam.png",
        "/d/dogs/1.png": "1.png.gradcam.png",  # given twice: explained once, under its own name
        "/e/cats/0.png": "e__cats__0.png.gradcam.png",
    }


def test_a_tiny_image_is_enlarged_in_blocks_so_its_heat_map_shows(tmp_path: Path) -> None:
    path = tmp_path / "tiny.png"
    Image.fromarray(np.full((8, 4, 3), 90, np.uint8)).save(path)
    picture = overlay_picture(path, np.zeros((7, 7), np.float32))
    assert picture.shape == (MIN_OVERLAY_SIDE, MIN_OVERLAY_SIDE // 2, 3)  # 8 x 4, each pixel a 32 x 32 block
    assert (picture == 90).all()  # cold: the picture itself, every pixel a block
