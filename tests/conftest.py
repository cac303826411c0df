"""Shared fixtures: every test gets its own app-data folder; generated datasets are made once a session."""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dmtl_studio.core.project.demo import write_shapes_folder  # noqa: E402
from dmtl_studio.core.project.importer import import_folder  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402

#: A small input size keeps CPU training in tests fast; the pipeline is the same as at 224 px.
TEST_INPUT_SIZE = 128


@pytest.fixture(autouse=True)
def _qt_garbage_collected_in_the_main_thread(request: pytest.FixtureRequest) -> object:
    """After a test with windows, collect the garbage here, in the main thread, as the application's collector
    does (``app.run_app``): left to Python's automatic collection, a dead window's Qt objects could be deleted
    by the next test's worker thread, which deadlocks against the main thread deleting a Qt object of its own."""
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()


@pytest.fixture(autouse=True)
def _own_app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMTL_STUDIO_HOME", str(tmp_path_factory.mktemp("app-home")))


def add_bad_files(folder: Path) -> dict[str, str]:
    """A truncated PNG, an empty file and a non-image with an image name; returns name -> kind."""
    good = next(folder.rglob("*.png")).read_bytes()
    (folder / "circle" / "truncated.png").write_bytes(good[: len(good) // 3])
    (folder / "square" / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("these are my notes, not a picture\n")
    return {"truncated.png": "truncated", "empty.jpg": "empty", "notes.png": "not an image"}


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 24 generated pictures, 6 unlabelled ones, and three bad files."""
    folder = write_shapes_folder(
        tmp_path_factory.mktemp("shapes") / "images", 24, unlabelled=6, seed=1, size=96
    )
    add_bad_files(folder)
    return folder


@pytest.fixture(scope="session")
def _imported_template(tmp_path_factory: pytest.TempPathFactory, shapes_dir: Path) -> Path:
    project = tmp_path_factory.mktemp("template") / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, shapes_dir, val_fraction=0.25, test_fraction=0.0, seed=0)
    return project


@pytest.fixture
def project(tmp_path: Path, _imported_template: Path) -> Path:
    """A fresh copy of an imported shapes project."""
    target = tmp_path / "project"
    shutil.copytree(_imported_template, target)
    return target
