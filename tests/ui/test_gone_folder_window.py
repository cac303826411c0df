"""A project whose image folder was moved says so as it opens, and offers the import that gives the images back
their labels (h28: it opened as if nothing were wrong, and Start training then advised labelling again); the
window's file dialogs open where the person last went."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from dmtl_studio.app import build_window
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.removal import problem_ids, remove_items
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.file_dialogs import ask_folder, ask_save_file


def _gone_box() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == "gone-files" and widget.isVisible():
            return widget
    return None


def _moved_project(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str | None]]:
    images = write_shapes_folder(tmp_path / "photos", 4, unlabelled=2, seed=5, size=32)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.0, test_fraction=0.0, seed=0)
        labels = {Path(r.path).name: r.label for r in store.images()}
    moved = images.with_name("photos-moved")
    images.rename(moved)
    return project, images, moved, labels


def test_a_moved_folder_is_said_at_opening_and_its_new_place_imported(
    qtbot, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    project, images, moved, labels = _moved_project(tmp_path)
    asked: list[str] = []

    def choose(parent, title, start, *args):  # noqa: ANN001, ANN202
        asked.append(start)
        return str(moved)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: _gone_box() is not None, timeout=10_000)
    box = _gone_box()
    assert f"the folder {images} is gone" in box.text() and "(12 labelled)" in box.text()
    # The labels are there: the header does not count them as lost before anything is marked; the gone files
    # are problem files at once (not as their tiles fail, one screen at a time).
    assert "12 labelled in 3 class(es)" in window.browser.summary.text()
    assert window.browser.summary.text().endswith(", 14 problem file(s) (12 of them labelled)")
    assert "14 image(s) are gone from disk: a run leaves them out" in window.training.status.text()
    # Every labelled file gone: no "Ready… Press Start training" for a run sure to fail (h31).
    assert not window.training.start_button.isEnabled()
    assert window.training.status.text().startswith("Training needs labelled training images of at least 2")
    failed = next(iter(window.browser._all))
    window.browser.model.set_thumbnail_failed(failed, "cannot be read")  # as a shown tile's thumbnail fails
    find = next(b for b in box.buttons() if b.text().startswith("Import the folder from its new place"))
    find.click()
    assert asked == [str(images.parent)]  # the dialog opens where the folder was
    qtbot.waitUntil(
        lambda: controller.import_thread is not None and not controller.import_thread.isRunning(),
        timeout=30_000,
    )
    qtbot.waitUntil(lambda: window.browser.summary.text().endswith(", 0 problem file(s)"), timeout=10_000)
    assert "12 labelled" in window.browser.summary.text()
    assert failed not in window.browser.model.failed_ids()  # its tile is drawn again from the new place
    qtbot.waitUntil(lambda: "gone" not in window.training.status.text(), timeout=10_000)
    assert window.training.status.text().startswith("Ready: ")
    with ProjectStore.open(project, read_only=True) as store:
        after = {Path(r.path).name: r.label for r in store.images()}
        assert all(r.path.startswith(str(moved)) and r.problem is None for r in store.images())
    assert after == labels and store is not None
    controller.shutdown()


def test_a_project_with_its_files_in_place_asks_nothing(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    thread = controller.model_tasks["gone-files"]
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=10_000)
    QApplication.processEvents()
    assert _gone_box() is None
    controller.shutdown()


def test_the_header_counts_the_labels_of_files_marked_gone(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    project, _, _, _ = _moved_project(tmp_path)
    with ProjectStore.open(project) as store:
        store.mark_missing_files()  # as a run does
    window, controller = build_window(project)
    qtbot.addWidget(window)
    assert "0 labelled" in window.browser.summary.text()
    assert window.browser.summary.text().endswith("14 problem file(s) (12 of them labelled)")
    qtbot.waitUntil(lambda: _gone_box() is not None, timeout=10_000)  # marked ones are gone too
    _gone_box().reject()
    controller.shutdown()


def test_dialogs_open_in_the_folder_last_chosen(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    starts: list[str] = []
    first, second = tmp_path / "first", tmp_path / "second" / "deeper"
    second.mkdir(parents=True)
    first.mkdir()
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", lambda p, t, start: starts.append(start) or str(first)
    )
    assert ask_folder(None, "one") == str(first)
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda p, t, start, f: starts.append(start) or (str(second / "x.csv"), f),
    )
    ask_save_file(None, "two", "labels.csv")
    ask_save_file(None, "three", str(tmp_path / "audit.zip"))  # a whole path is kept
    assert starts[0] == str(Path.home())  # nothing chosen before in this test's own app data
    assert starts[1:] == [str(first / "labels.csv"), str(tmp_path / "audit.zip")]
    assert ask_folder(None, "four") == str(first) and starts[-1] == str(second)


def test_files_deleted_one_by_one_are_said_in_the_status_bar_not_asked(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """No folder moved: a box offering to import "its new place" at every opening was no help (h31)."""
    project, images, moved, _ = _moved_project(tmp_path)
    moved.rename(images)  # back in place
    gone = sorted((images / "circle").iterdir())[:2]
    for path in gone:
        path.unlink()
    window, controller = build_window(project)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "were deleted or renamed" in window.statusBar().currentMessage(), timeout=10_000)
    assert _gone_box() is None and "Remove problem files" in window.statusBar().currentMessage()
    assert window.training.start_button.isEnabled()  # the other images still train
    assert "2 image(s) are gone from disk" in window.training.status.text()
    with ProjectStore.open(project) as store:  # dmtl-studio remove P --missing, from a terminal
        remove_items(store, problem_ids(store, missing_only=True))
    controller._changed_elsewhere()  # the window's look at outside changes (every 1.5 s)
    assert "gone" not in window.training.status.text()  # removed: no longer counted
    controller.shutdown()


def test_a_look_for_gone_files_that_fails_is_said(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A failed look was only logged (h31): the person had no word that nothing was checked."""
    from dmtl_studio.core.project import gone_files
    from dmtl_studio.core.project.errors import ProjectError

    project, _images, _moved, _labels = _moved_project(tmp_path)

    def fails(store, cancelled=None):  # noqa: ANN001, ANN202
        raise ProjectError("the project database cannot be read (disk I/O error)")

    monkeypatch.setattr(gone_files, "find_gone_files", fails)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "Could not look for images gone from disk" in window.statusBar().currentMessage())
    assert "disk I/O error" in window.statusBar().currentMessage() and _gone_box() is None
    controller.shutdown()
