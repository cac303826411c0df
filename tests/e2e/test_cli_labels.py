"""Label export/import, backup, and prediction over a folder full of odd files, from the command line."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train
from tests.conftest import TEST_INPUT_SIZE
from tests.core.project.test_bad_file_corpus import build_corpus
from tests.e2e.cli import run_cli

_cli = run_cli


def test_label_round_trip_and_backup(tmp_path: Path, project: Path) -> None:
    assert _cli("labels", "export-csv", str(project), str(tmp_path / "labels.csv")).returncode == 0
    # Its folder is made, as predict and export make theirs, and the note names the folders it made.
    nested = tmp_path / "new" / "folder" / "labels.csv"
    result = _cli("labels", "export-csv", str(project), str(nested))
    assert result.returncode == 0
    assert nested.read_bytes() == (tmp_path / "labels.csv").read_bytes()
    assert f"created the folder {tmp_path / 'new'} (down to {nested.parent})" in result.stderr
    again = _cli("labels", "export-csv", str(project), str(nested.parent / "again.csv"))
    assert again.returncode == 0 and "created the folder" not in again.stderr  # it exists now
    result = _cli("labels", "import-csv", str(tmp_path / "fresh"), str(tmp_path / "labels.csv"))
    assert (
        result.returncode == 2 and "not a DMTL Studio project" in result.stderr
    )  # nothing is created silently
    assert _cli("import", str(tmp_path / "fresh"), str(tmp_path / "empty_dir_missing")).returncode == 2
    (tmp_path / "fresh").mkdir(exist_ok=True)
    from dmtl_studio.core.project.store import ProjectStore

    ProjectStore.create(tmp_path / "fresh").close()
    result = _cli("labels", "import-csv", str(tmp_path / "fresh"), str(tmp_path / "labels.csv"))
    assert result.returncode == 0 and "labelled 72 image(s)" in result.stdout
    with open(tmp_path / "labels.csv") as handle:
        assert len(list(csv.reader(handle))) == 73

    result = _cli("backup", str(project), str(tmp_path / "copy.sqlite"))
    assert result.returncode == 0, result.stderr
    assert "created the folder" not in result.stderr
    result = _cli("backup", str(project), str(tmp_path / "backups" / "copy.sqlite"))
    assert result.returncode == 0 and (tmp_path / "backups" / "copy.sqlite").is_file()
    assert f"created the folder {tmp_path / 'backups'}, which did not exist" in result.stderr
    conn = sqlite3.connect(tmp_path / "copy.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 81
    conn.close()


def test_predict_reads_every_readable_file_and_lists_the_rest(tmp_path: Path, project: Path) -> None:
    summary = train(project, TrainConfig(epochs=1, input_size=TEST_INPUT_SIZE, device="cpu", batch_size=16))
    usable, problems = build_corpus(tmp_path / "share")
    (tmp_path / "share" / "README.txt").write_text("not an image")  # said, as import says it
    out = tmp_path / "preds.csv"
    result = _cli("predict", summary.run_dir, str(tmp_path / "share"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, encoding="utf-8", errors="surrogateescape") as handle:
        rows = list(csv.DictReader(handle))
    predicted = {os.path.basename(row["path"]) for row in rows if not row["error"]}
    assert predicted == usable
    unread = {os.path.basename(row["path"]) for row in rows if row["error"]}  # named in the CSV too
    assert unread == set(problems)
    for name in problems:
        assert name in result.stderr
    skipped = next(line for line in result.stdout.splitlines() if line.startswith("skipped "))
    head, names = skipped.split(": ", 1)
    assert head == "skipped 2 file(s) that are not images" and "README.txt" in names.split(", ")
    # One image file works like a folder of one; a folder that is not there, or holds no image, is an error.
    one = next(p for p in sorted((tmp_path / "share").rglob("*.png")) if p.name in usable)
    result = _cli("predict", summary.run_dir, str(one), "--out", str(tmp_path / "one.csv"))
    assert result.returncode == 0 and "predicted 1 image(s)" in result.stdout, result.stderr
    result = _cli(
        "predict", summary.run_dir, str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "x.csv")
    )
    assert result.returncode == 2 and "does not exist" in result.stderr and not (tmp_path / "x.csv").exists()
    (tmp_path / "empty").mkdir()
    result = _cli("predict", summary.run_dir, str(tmp_path / "empty"), "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2 and "holds no image files" in result.stderr


def test_splits_gives_every_class_a_test_share(project: Path) -> None:
    from dmtl_studio.core.project.store import ProjectStore

    result = _cli("splits", str(project), "--val-fraction", "0.2", "--test-fraction", "0.25", "--seed", "4")
    assert result.returncode == 0, result.stderr
    with ProjectStore.open(project) as store:
        counts = store.class_counts()
    assert all(c["test"] == round(c["total"] * 0.25) and c["val"] > 0 for c in counts.values())
    assert all(f"test {c['test']}" in result.stdout for c in counts.values())
    result = _cli("splits", str(project), "--val-fraction", "0.6", "--test-fraction", "0.5")
    assert result.returncode == 2 and "sum to less than 1" in result.stderr


def test_cli_label_doors_refuse_traversal_and_write_nothing_outside(tmp_path: Path, project: Path) -> None:
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(project) as store:
        paths = [im.path for im in store.images(usable_only=True)][:4]
    names = ["..", "../../x", str(tmp_path / "abs"), "fine"]
    with open(tmp_path / "evil.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [["path", "label"], *zip(paths, names, strict=True), ["/etc/passwd", "x"]]
        )
    before = set(tmp_path.rglob("*"))
    result = _cli("labels", "import-csv", str(project), str(tmp_path / "evil.csv"))
    assert result.returncode == 0, result.stderr
    assert "4 row(s) not applied" in result.stderr and "cannot be a class name" in result.stderr
    with ProjectStore.open(project) as store:
        assert not {"..", "../../x", str(tmp_path / "abs")} & set(store.class_names())
        assert "/etc/passwd" not in {im.path for im in store.images()}
    result = _cli("labels", "export-folders", str(project), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    written = {p for p in set(tmp_path.rglob("*")) - before if project not in p.parents}
    assert written and all(p == tmp_path / "out" or tmp_path / "out" in p.parents for p in written)
    # A field over the csv module's own limit is a plain message, not a traceback.
    (tmp_path / "huge.csv").write_text("path,label\n" + "a" * 140_000 + ",x\n")
    result = _cli("labels", "import-csv", str(project), str(tmp_path / "huge.csv"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "4,096 characters" in result.stderr


def test_export_folders_goes_on_past_an_image_gone_from_disk(tmp_path: Path) -> None:
    from dmtl_studio.core.project.demo import write_shapes_folder

    images = write_shapes_folder(tmp_path / "images", 3, seed=3, size=32)
    assert _cli("import", str(tmp_path / "p"), str(images)).returncode == 0
    (images / "square" / "square_001.png").unlink()
    result = _cli("labels", "export-folders", str(tmp_path / "p"), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "copied 8 labelled image(s)" in result.stdout
    assert "note: 1 image(s) are no longer on disk and were left out" in result.stderr
    assert "square_001.png" in result.stderr and len(list((tmp_path / "out").rglob("*.png"))) == 8
