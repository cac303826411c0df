from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.schema import SCHEMA_VERSION
from dmtl_studio.core.project.store import DATABASE_NAME, ProjectStore


def test_new_project_has_schema_version_wal_and_runs_folder(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert store.runs_dir.is_dir()
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.integrity_check() == "ok"


def test_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    ProjectStore.create(tmp_path / "p").close()
    db = tmp_path / "p" / DATABASE_NAME
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(ProjectError, match="newer DMTL Studio"):
        ProjectStore.open(tmp_path / "p")
    assert db.read_bytes() == before


def test_corrupt_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    db = folder / DATABASE_NAME
    db.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ProjectError, match="left untouched"):
        ProjectStore.open(folder)
    assert db.read_bytes() == b"this is not a database at all" * 100


def test_missing_project_gives_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a DMTL Studio project"):
        ProjectStore.open(tmp_path)


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([("/data/a.png", "cat", None, None)])
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute("UPDATE images SET class_id = NULL")
            raise RuntimeError("boom")
        assert store.images()[0].label == "cat"


def test_reimport_keeps_existing_labels(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([("/data/a.png", None, None, None)])
        image_id = store.images()[0].id
        store.set_label([image_id], "dog")
        added = store.add_images([("/data/a.png", None, None, None)])
        assert added == 0
        assert store.images()[0].label == "dog"


@pytest.mark.skipif(sys.platform != "linux", reason="byte file names are a POSIX feature")
def test_non_utf8_file_name_round_trips_losslessly(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9-\xff.png")  # Latin-1 bytes: not valid UTF-8
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([(str(tmp_path / name), "x", None, None)])
    with ProjectStore.open(tmp_path / "p") as store:
        stored = store.images()[0].path
    assert os.fsencode(stored) == os.fsencode(str(tmp_path / name))


def test_bad_split_name_is_refused(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([("/data/a.png", "cat", None, None)])
        with pytest.raises(ProjectError, match="unknown split"):
            store.set_splits({store.images()[0].id: "holdout"})


def test_no_new_project_in_a_run_folder_or_inside_another_project(tmp_path: Path) -> None:
    ProjectStore.create(tmp_path / "project").close()
    run = tmp_path / "project" / "runs" / "run-1"
    run.mkdir(parents=True)
    (run / "model.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ProjectError, match="is a trained run's folder, not a project"):
        ProjectStore.create(run)
    with pytest.raises(ProjectError, match=r"is inside the project .*project: choose a folder outside it"):
        ProjectStore.create(tmp_path / "project" / "images" / "new")
    assert not (run / "project.dmtl.sqlite").exists() and not (tmp_path / "project" / "images").exists()
    ProjectStore.open(tmp_path / "project").close()  # the project itself still opens
    ProjectStore.create(tmp_path / "project").close()  # and create() opens it, as before
    # Opened where a project is expected (train, info…): the run's own project is named, with how to resume.
    project = (tmp_path / "project").absolute()
    with pytest.raises(
        ProjectError, match=f"not a project: its project is {project} .*train {project} --resume"
    ):
        ProjectStore.open(run)
