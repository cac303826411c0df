"""Labels → Import labels from CSV in the window: one label action the browser can undo."""

from __future__ import annotations

import csv
from pathlib import Path

from dmtl_studio.app import build_window


def test_a_label_csv_import_is_an_action_the_window_undoes(qtbot, tmp_path: Path, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    store, browser = controller.store, window.browser
    record = next(r for r in store.images() if r.label is None and r.problem is None)
    with (tmp_path / "l.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([("path", "label"), (record.path, "circle")])
    assert not browser.undo_action.isEnabled()
    window.import_csv_requested.emit(str(tmp_path / "l.csv"))
    assert store.labels_of([record.id]) == {record.id: "circle"}
    assert "1 changed" in window.statusBar().currentMessage()
    assert browser.undo_action.isEnabled()
    browser.undo_action.trigger()
    assert store.labels_of([record.id]) == {record.id: None}
    controller.shutdown()


def test_export_as_folders_leaves_out_an_image_gone_from_disk_and_says_so(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.project.store import ProjectStore

    images = write_shapes_folder(tmp_path / "images", 3, seed=2, size=32)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, images, seed=0)
    gone = images / "circle" / "circle_000.png"
    gone.unlink()
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    window.export_folder_requested.emit(str(tmp_path / "by-class"))
    status = window.statusBar().currentMessage()
    assert status.startswith(
        "Copied 8 labelled image(s); 1 image(s) are no longer on disk and were left out"
    ), status
    assert str(gone) in status and len(list((tmp_path / "by-class").rglob("*.png"))) == 8
    assert str(gone) in dict(controller.store.problems())
    assert "1 problem file(s)" in window.browser.summary.text()  # the browser shows it at once
    controller.shutdown()


def test_the_header_counts_a_file_gone_from_disk_once_its_tile_shows_a_problem(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Before a run or an export marks it, a gone file showed a problem tile under "0 problem file(s)"."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.project.store import ProjectStore

    images = write_shapes_folder(tmp_path / "images", 3, seed=2, size=32)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, images, seed=0)
    (images / "circle" / "circle_000.png").unlink()
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    window.show()
    browser = window.browser
    qtbot.waitUntil(lambda: "1 problem file(s)" in browser.summary.text(), timeout=10000)
    assert "9 image(s): 9 labelled" in browser.summary.text()
    assert not controller.store.problems()  # counted, not marked: a drive unplugged for a while marks nothing
    controller.shutdown()
