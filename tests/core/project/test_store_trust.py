"""A damaged or tampered-with project database is refused and left byte-for-byte untouched; a read-only
project opens read-only."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dmtl_studio.core.project.errors import ProjectError, UnknownSchemaError
from dmtl_studio.core.project.store import DATABASE_NAME, ProjectStore
from tests.disk_faults import read_only_folder


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file of the project folder (names and content): no -wal, -shm or journal may appear."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dmtl_studio", *args], capture_output=True, text=True, timeout=300, check=False
    )


TAMPERING = {
    "trigger": "CREATE TRIGGER wipe AFTER INSERT ON images BEGIN DELETE FROM classes; END",
    "view": "CREATE VIEW everything AS SELECT * FROM images",
    "table": "CREATE TABLE extra (x)",
    "index": "CREATE INDEX images_problem ON images(problem)",
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_objects_the_product_did_not_make_are_refused_untouched(project: Path, kind: str) -> None:
    conn = sqlite3.connect(project / DATABASE_NAME)
    conn.execute(TAMPERING[kind])
    conn.commit()
    conn.close()
    before = _snapshot(project)
    with pytest.raises(UnknownSchemaError) as refused:
        ProjectStore.open(project)
    assert kind in str(refused.value) and "left untouched" in str(refused.value)
    assert _snapshot(project) == before
    backup = _cli("backup", str(project), str(project.parent / "copy.sqlite"))
    assert backup.returncode == 2 and "did not make" in backup.stderr and "Traceback" not in backup.stderr
    assert not (project.parent / "copy.sqlite").exists() and _snapshot(project) == before

    repaired = _cli("repair", str(project), "--drop-unknown")
    assert repaired.returncode == 0, repaired.stderr
    name = TAMPERING[kind].split()[2]
    assert f"removed {kind} {name} (DMTL Studio did not make it)" in repaired.stdout.splitlines()
    with ProjectStore.open(project) as store:
        names = [row[0] for row in store._conn.execute("SELECT name FROM sqlite_master")]
        assert not set(names) & {"wipe", "everything", "extra", "images_problem"}
        assert store.image_count() > 0 and store.class_names()


def test_a_trigger_never_runs_with_the_products_writes(project: Path) -> None:
    conn = sqlite3.connect(project / DATABASE_NAME)
    conn.execute(TAMPERING["trigger"])
    conn.commit()
    conn.close()
    with pytest.raises(UnknownSchemaError):
        ProjectStore.open(project)
    with ProjectStore.open(project, drop_unknown=True) as store:
        classes = store.class_names()
        store.add_images([(str(project / "new.png"), None, None, "test row")])
        assert store.class_names() == classes


def test_a_database_with_a_zeroed_page_is_refused_untouched(project: Path) -> None:
    database = project / DATABASE_NAME
    data = bytearray(database.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    pages = len(data) // page
    assert pages >= 3
    middle = pages // 2
    data[middle * page : (middle + 1) * page] = bytes(page)
    database.write_bytes(bytes(data))
    before = _snapshot(project)
    with pytest.raises(ProjectError, match="damaged"):
        ProjectStore.open(project)
    assert _snapshot(project) == before
    for argv in (("backup", str(project), str(project.parent / "b.sqlite")), ("splits", str(project))):
        result = _cli(*argv)
        assert result.returncode == 2 and "damaged" in result.stderr and "Traceback" not in result.stderr
    assert not (project.parent / "b.sqlite").exists()
    assert _snapshot(project) == before


def test_a_read_only_project_opens_read_only(project: Path) -> None:
    with ProjectStore.open(project) as store:
        expected = [(im.path, im.label) for im in store.images()]
    before = _snapshot(project)
    with read_only_folder(project):
        with ProjectStore.open(project) as store:
            assert store.read_only
            assert [(im.path, im.label) for im in store.images()] == expected
            with pytest.raises(ProjectError, match="read-only"):
                store.set_label([store.images()[0].id], None)
            # Refused before any work: no file decoded for an import, no log written for a removal.
            from dmtl_studio.core.project import importer
            from dmtl_studio.core.project.removal import remove_items

            def no_scan(*_args: object, **_kwargs: object) -> None:
                raise AssertionError("the folder was scanned for a project that cannot change")

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(importer, "scan_folder", no_scan)
                with pytest.raises(ProjectError, match="read-only"):
                    importer.import_folder(store, project.parent)
            with pytest.raises(
                ProjectError, match=r"read-only \(opened for viewing only\); nothing was changed"
            ):
                remove_items(store, [store.images()[0].id])
        listed = _cli("labels", "export-csv", str(project), str(project.parent / "labels.csv"))
        assert listed.returncode == 0, listed.stderr
        changed = _cli("splits", str(project))
        assert changed.returncode == 2 and "read-only" in changed.stderr and "damaged" not in changed.stderr
    assert _snapshot(project) == before
