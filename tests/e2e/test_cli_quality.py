"""``dmtl-studio label-errors`` and ``dmtl-studio duplicates`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from tests.conftest import TEST_INPUT_SIZE
from tests.core.quality.test_duplicates import _real
from tests.e2e.cli import run_cli

_cli = run_cli


def test_label_errors_ranks_flipped_labels_first(project: Path) -> None:
    with ProjectStore.open(project) as store:
        images = [im for im in store.images(usable_only=True) if im.label is not None]
        others = {im.label for im in images}
        flipped = {}
        for label in sorted(others):
            victim = next(im for im in images if im.label == label)
            wrong = sorted(others - {label})[0]
            store.set_label([victim.id], wrong)
            flipped[victim.path] = (wrong, label)
    # A labelled file deleted since the import: its features were kept, so it was checked, counted and not named
    # (h35). It is left out and named.
    deleted = next(im for im in images if im.path not in flipped)
    images.remove(deleted)
    # The fixture's pictures are shared by every test's project: moved away for the run, then put back.
    away = Path(deleted.path).with_name(Path(deleted.path).name + ".away")
    Path(deleted.path).rename(away)
    try:
        result = _cli(
            "label-errors",
            str(project),
            "--folds",
            "4",
            "--input-size",
            str(TEST_INPUT_SIZE),
            "--device",
            "cpu",
            "--json",
        )
    finally:
        away.rename(deleted.path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["images"] == len(images) and summary["folds"] == 4
    assert summary["gone"] == [deleted.path] and deleted.path in result.stderr and "left out" in result.stderr
    suspects = summary["suspects"]
    scores = [s["score"] for s in suspects]
    assert scores == sorted(scores, reverse=True)  # most suspect first
    found = {s["path"]: (s["given"], s["suggested"]) for s in suspects[: len(flipped) + 1]}
    caught = [path for path in flipped if path in found]
    assert len(caught) >= 2, (flipped, suspects[:4])
    for path in caught:  # the given label is the wrong one, the suggestion the true class
        assert found[path] == flipped[path]
    assert (
        f"\t{suspects[0]['path']}" in result.stderr
    )  # the text table (on stderr with --json): the same ranking


def test_label_errors_with_too_few_labels_per_class_exits_2(project: Path) -> None:
    result = _cli("label-errors", str(project), "--folds", "30")
    assert result.returncode == 2
    assert "30 folds need at least 30 labelled images per class" in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicates_lists_groups_with_warnings_and_keeps_a_leak_in_one_split(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
    for i, name in enumerate(["astronaut", "camera", "coffee", "chelsea"]):
        Image.fromarray(_real(name, 48)).save(folder / ("a" if i % 2 else "b") / f"{name}.png")
    (folder / "a" / "coffee-copy.png").write_bytes((folder / "b" / "coffee.png").read_bytes())
    Image.fromarray(_real("camera", 40)).save(folder / "a" / "camera-small.jpg", quality=85)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, folder, val_fraction=0.0, seed=0)
        ids = {Path(im.path).name: im.id for im in store.images()}
        store.set_splits({i: "train" for i in ids.values()} | {ids["camera-small.jpg"]: "val"})

    result = _cli("duplicates", str(project), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    warnings = sorted(w for g in summary["groups"] for w in g["warnings"])
    assert warnings == ["different labels: a, b", "spans splits: train (1), val (1)"]
    assert "warning: spans splits: train (1), val (1)" in result.stderr

    result = _cli("duplicates", str(project), "--keep-in-one-split", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["kept_in_one_split"] == [
        {
            "group": next(
                i for i, g in enumerate(summary["groups"], 1) if "spans" in " ".join(g["warnings"])
            ),
            "split": "train",
            "moved": 1,
        }
    ]
    assert "kept 1 group(s) in one split: 1 image(s) changed split" in result.stderr
    with ProjectStore.open(project) as store:
        assert {im.split for im in store.images()} == {"train"}
    result = _cli("duplicates", str(project), "--json")
    assert "spans splits" not in result.stdout


def test_duplicates_of_a_folder_that_is_not_a_project_exits_2(tmp_path: Path) -> None:
    result = _cli("duplicates", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
