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
