"""The evaluation view, confusion-matrix cells and filters in the browser, suggestions with Enter, Grad-CAM."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from tests.core.trained_run import copy_project

TIMEOUT = 120_000


@pytest.fixture
def studio(qtbot, tmp_path_factory):  # noqa: ANN001, ANN201
    project, run_dir = copy_project(tmp_path_factory)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    window.evaluation_dock.raise_()
    view = window.evaluation
    qtbot.waitUntil(lambda: view.run_choice.count() == 1, timeout=5_000)
    yield window, controller, project, run_dir
    controller.shutdown()


def _labels(project: Path) -> dict[int, str | None]:
    with ProjectStore.open(project) as store:
        return {im.id: im.label for im in store.images()}


def test_evaluation_view_cells_and_filters(qtbot, studio) -> None:  # noqa: ANN001
    window, _controller, project, run_dir = studio
    view, browser = window.evaluation, window.browser
    assert Path(view.selected_run()).name == run_dir.name
    qtbot.mouseClick(view.evaluate_button, Qt.MouseButton.LeftButton)
    # The view and the browser each get the result through their own queued call: wait for both.
    qtbot.waitUntil(lambda: view.result is not None and browser.evaluation is not None, timeout=TIMEOUT)
    result = view.result
    assert view.note.isVisibleTo(window) and "validation split was used" in view.note.text()
    assert "validation split" in view.summary.text() and "balanced accuracy" in view.summary.text()
    n = len(result.classes)
    cells = [[int(view.confusion.item(i, j).text()) for j in range(n)] for i in range(n)]
    assert cells == result.confusion.tolist() and sum(map(sum, cells)) == 9
    assert view.per_class.item(0, 0).text() == result.classes[0]

    view.confusion.cellClicked.emit(0, 0)  # as a click on the cell does
    shown = [browser.model.record(r).id for r in range(browser.model.rowCount())]
    assert shown == result.cell_ids(0, 0) and shown
    assert "Cell: circle → circle" in browser.filter.currentText()
    assert "✓" in browser.model.data(browser.model.index(0))

    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_2)  # relabel from the cell: one key, stored for the next run
    assert _labels(project)[shown[0]] == "square"
    # The figures shown are of the labels as they were: the view says so, and keeps the split's own note.
    assert view.note.text().startswith("Labels, classes or splits have changed since this evaluation")
    assert "validation split was used" in view.note.text()
    qtbot.keyClick(browser.view, Qt.Key.Key_1)  # a second change adds no second note
    assert view.note.text().count("have changed since this evaluation") == 1
    qtbot.mouseClick(view.misclassified_button, Qt.MouseButton.LeftButton)
    shown = [browser.model.record(r).id for r in range(browser.model.rowCount())]
    assert shown == result.misclassified_ids()
    qtbot.mouseClick(view.low_confidence_button, Qt.MouseButton.LeftButton)
    assert [
        browser.model.record(r).id for r in range(browser.model.rowCount())
    ] == result.low_confidence_ids()
    browser.set_filter("all")
    assert browser.model.rowCount() == len(browser._all)  # the ordinary filters still work
    # Evaluated again: the note goes. Then labels imported from a CSV with the Evaluation panel closed.
    qtbot.mouseClick(view.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not result and browser.evaluation is not result, timeout=TIMEOUT)
    assert "have changed since" not in view.note.text()
    window.evaluation_dock.hide()  # the user closed the Evaluation panel
    assert not view.isVisible()
    record = next(r for r in browser.store.images() if r.label == "circle")
    table = project.parent / "relabel.csv"
    table.write_text(f"path,label\n{record.path},square\n", encoding="utf-8")
    window.import_csv_requested.emit(str(table))
    assert view.note.text().startswith("Labels, classes or splits have changed since this evaluation")
    assert "validation split was used" in view.note.text()  # the evaluation's own note is kept


def test_suggestions_queue_enter_accepts_and_a_number_corrects(qtbot, studio) -> None:  # noqa: ANN001
    window, _controller, project, _run = studio
    view, browser = window.evaluation, window.browser
    qtbot.mouseClick(view.suggest_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(browser.suggestions), timeout=TIMEOUT)
    assert browser.filter.currentData() == "queue" and browser.model.rowCount() == 6
    queue = [browser.model.record(r).id for r in range(6)]
    scores = [browser.suggestions[i].uncertainty for i in queue]
    assert scores == sorted(scores, reverse=True)  # uncertain first
    first = browser.suggestions[queue[0]]
    text = browser.model.data(browser.model.index(0))
    assert text.startswith("→ " + first.label) and text.endswith("%")

    browser.view.setFocus()
    assert browser.view.currentIndex().row() == 0
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    assert _labels(project)[queue[0]] == first.label  # stored as a human label
    assert browser.view.currentIndex().row() == 1  # on to the next image of the queue
    digit = 1 if browser.suggestions[queue[1]].label != "circle" else 2
    qtbot.keyClick(browser.view, Qt.Key.Key_0 + digit)
    assert _labels(project)[queue[1]] == browser.classes.class_names()[digit - 1]  # corrected by a number
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(project)[queue[0]] is None  # accepting is undoable like any label


def test_grad_cam_overlay_and_report(qtbot, studio, monkeypatch) -> None:  # noqa: ANN001
    window, _controller, _project, run_dir = studio
    browser, viewer, view = window.browser, window.browser.viewer, window.evaluation
    browser.set_filter("class:square")
    qtbot.waitUntil(lambda: not viewer.view.item.pixmap().isNull(), timeout=15_000)
    viewer.explain_button.setChecked(True)
    qtbot.waitUntil(viewer.overlay_shown, timeout=TIMEOUT)
    assert "Grad-CAM of" in viewer.overlay_note.text()
    viewer.explain_button.setChecked(False)
    assert not viewer.overlay_shown()

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    qtbot.mouseClick(view.report_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(opened), timeout=TIMEOUT)
    assert Path(opened[0]) == run_dir / "report.html" and Path(opened[0]).is_file()
    qtbot.waitUntil(lambda: view.message.text().startswith("Report written to"), timeout=TIMEOUT)
    assert "no web browser" not in view.message.text()
    # No browser to open it: the line says so (it said only "Report written to …").
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    view.message.clear()
    qtbot.mouseClick(view.report_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no web browser could open it here" in view.message.text(), timeout=TIMEOUT)


def test_export_and_predict_from_the_window(qtbot, studio, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import csv

    from PySide6.QtWidgets import QFileDialog

    window, _controller, project, run_dir = studio
    view = window.evaluation
    target = tmp_path / "cells.onnx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "ONNX (*.onnx)"))
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.message.text().startswith("Exported"), timeout=TIMEOUT)
    assert target.is_file() and Path(str(target) + ".json").is_file()
    assert "outputs match PyTorch" in view.message.text() and view.export_button.isEnabled()

    with ProjectStore.open(project) as store:
        images = Path(next(im.path for im in store.images(usable_only=True) if im.label)).parent
    out = images.with_name(f"{images.name}-predictions.csv")  # the name suggested: beside the folder
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(images))
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda _parent, _title, suggested, _f: (suggested, "CSV")
    )
    qtbot.mouseClick(view.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.message.text().startswith("Predicted"), timeout=TIMEOUT)
    with open(out, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and len(rows) == len(list(images.glob("*.png")))
    assert f"Predicted {len(rows)} image(s) into {out}" in view.message.text()


def test_progress_with_nothing_counted_yet_is_busy_not_zero_of_zero(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    view.set_busy(True, "Evaluating…")
    view.show_progress(0, 0)
    assert (view.progress.minimum(), view.progress.maximum()) == (0, 0)  # the busy indicator
    view.show_progress(3, 8)
    assert (view.progress.maximum(), view.progress.value()) == (8, 3)


def test_a_double_click_on_evaluate_does_not_cancel_what_it_started(qtbot) -> None:  # noqa: ANN001
    """Cancel appears in the row the click was on: a double-click's second half stopped the evaluation (h33)."""
    from PySide6.QtWidgets import QApplication

    from dmtl_studio.ui.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    cancelled: list[bool] = []
    view.cancel_requested.connect(lambda: cancelled.append(True))
    view.set_busy(True, "Evaluating…", cancellable=True)
    view.cancel_button.click()  # at once: the second click of a double-click
    assert cancelled == [] and view.cancel_button.text() == "Cancel"
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    view.set_busy(True, "Evaluating… 3 of 40", cancellable=True)  # progress updates keep Cancel where it was
    view.cancel_button.click()
    assert cancelled == [True] and view.cancel_button.text() == "Stopping…"


def test_the_button_pressed_from_the_keyboard_has_the_focus_again_when_its_work_ends(qtbot) -> None:  # noqa: ANN001
    """Evaluate pressed with Space is disabled while it works, so the focus left it, and Space then did nothing
    (h30)."""
    from dmtl_studio.core.project.runs_table import RunRecord
    from dmtl_studio.ui.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.set_runs([RunRecord(1, "run-1", 1.0, "completed", "/runs/run-1", {}, {})])
    view.activateWindow()
    view.evaluate_button.setFocus()
    qtbot.waitUntil(view.evaluate_button.hasFocus, timeout=2000)
    view.set_busy(True, "Evaluating…", cancellable=True)
    assert not view.evaluate_button.hasFocus()
    view.show_message("Evaluated.")
    assert view.evaluate_button.hasFocus()


def test_the_calibration_tab_says_when_the_temperature_makes_confidences_worse(qtbot) -> None:  # noqa: ANN001
    """The command line said it; the window's Calibration tab did not (h33: ECE 0.141 -> 0.233 on its own
    15 validation images)."""
    from dmtl_studio.ui.evaluation_view import ReliabilityDiagram

    diagram = ReliabilityDiagram()
    qtbot.addWidget(diagram)
    bins = {"edges": [0.0, 0.5, 1.0], "counts": [2, 3], "accuracy": [0.5, None], "confidence": [0.4, None]}
    summary = {
        "calibrated": True,
        "ece": 0.233,
        "ece_uncalibrated": 0.141,
        "temperature": 0.59,
        "fitted": {"images": 15, "fitted_on": "validation"},
        "bins": bins,
        "worse": True,  # core's rule, the one evaluate's text follows
    }
    diagram.show_summary(summary, bins, noun="image")
    assert "makes these images' confidences worse" in diagram.title.text()
    diagram.show_summary({**summary, "ece": 0.12, "worse": False}, bins, noun="image")
    assert "worse" not in diagram.title.text() and "fitted on 15 validation images" in diagram.title.text()
    # In a short dock the diagram keeps its height: the words go beside it, not above (it was ~30 px tall, h35).
    diagram.show_summary(summary, bins, noun="image")
    diagram.resize(420, 180)
    diagram.show()
    qtbot.waitExposed(diagram)
    assert diagram.plot.height() >= 170 and diagram.plot.width() >= 160
