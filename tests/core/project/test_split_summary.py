"""The import's split line says what was done: the shares reached, the fractions only where they were applied,
and the images that kept the split they had."""

from __future__ import annotations

import shutil
from pathlib import Path

from dmtl_studio import cli
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore


def test_a_reimport_with_other_fractions_does_not_claim_them(
    tmp_path: Path, shapes_dir: Path, capsys
) -> None:  # noqa: ANN001
    assert cli.main(["import", str(tmp_path / "p"), str(shapes_dir)]) == 0
    first = capsys.readouterr().out
    # The same folder again, asking for other fractions: every image keeps its split, nothing is re-split.
    argv = ["import", str(tmp_path / "p"), str(shapes_dir), "--val-fraction", "0.5", "--test-fraction", "0.3"]
    assert cli.main(argv) == 0
    again = capsys.readouterr().out
    line = next(line for line in again.splitlines() if line.startswith("split:"))
    assert "50%" not in line and "30%" not in line and "aiming at" not in line
    assert "72 image(s) kept the split they had" in line and "(validation 21%, test 8%)" in line
    assert "72 image(s) given a split aiming at validation 20%, test 10% of each class" in first
    assert "(validation 21%, test 8%)" in first  # 5 and 2 of each class's 24: the shares reached


def test_classes_too_small_for_the_fractions_show_the_shares_reached(
    tmp_path: Path, shapes_dir: Path
) -> None:
    folder = tmp_path / "images"
    for name in ("circle", "square"):
        (folder / name).mkdir(parents=True)
        shutil.copy(sorted((shapes_dir / name).glob("*.png"))[0], folder / name)
    with ProjectStore.create(tmp_path / "p") as store:
        line = import_folder(store, folder, val_fraction=0.3, test_fraction=0.2).describe_split()[0]
    assert line.startswith("split: 2 train, 0 validation, 0 test (validation 0%, test 0%)")
    assert "too small for those fractions" in line


def test_many_classes_too_small_for_a_test_item_make_one_line() -> None:
    from dmtl_studio.core.project.splits import _grouped

    few = [f"class 'c{k:02d}' has only 2 distinct image(s): too few to keep a test image" for k in range(44)]
    few.insert(0, "class 'Crohn's' has only 2 distinct image(s): too few to keep a test image")
    (line,) = _grouped(few, "image")
    assert line.startswith(
        "45 classes have too few distinct images to keep a test image (Crohn's, c00, c01, c02, c03, …)"
    )
    assert _grouped(few[:3], "image") == few[:3]  # a few are named one by one
    other = "class 'x' has only 1 distinct image(s): too few to split, so it only trains and is never scored"
    assert _grouped([other, *few], "image")[0] == other


def test_an_import_of_many_small_classes_groups_their_test_notes(tmp_path) -> None:  # noqa: ANN001
    """Through the import itself, so a change of the per-class note's wording cannot slip past the grouping."""
    import numpy as np
    from PIL import Image

    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.project.store import ProjectStore

    rng = np.random.default_rng(0)
    for k in range(5):
        for i in range(2):
            folder = tmp_path / "images" / f"c{k}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, tmp_path / "images", seed=0)
    few = [w for w in summary.split.warnings if "test image" in w]
    assert few == [
        "5 classes have too few distinct images to keep a test image (c0, c1, c2, c3, c4): label more of them"
    ]
