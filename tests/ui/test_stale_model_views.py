"""What the model said about an image follows the image's label: no stale verdict or Grad-CAM after a relabel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt

from dmtl_studio.app import build_window
from dmtl_studio.core.evaluation.results import EvaluationResult
from dmtl_studio.ui.evaluation_view import OUT_OF_DATE


def test_relabelling_updates_the_verdict_and_drops_the_grad_cam_overlay(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    browser, viewer = window.browser, window.browser.viewer
    circles = [r for r in browser._all.values() if r.label == "circle" and r.split == "val"][:2]
    classes = ("circle", "square", "triangle")
    # The run called both circles squares (80 %): an evaluation of them, as the evaluation view hands it over.
    result = EvaluationResult(
        run_dir=str(project / "runs" / "r"),
        run_name="r",
        split="val",
        note="",
        classes=classes,
        image_ids=np.array([r.id for r in circles]),
        paths=tuple(r.path for r in circles),
        targets=np.array([0, 0]),
        probabilities=np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]]),
    )
    browser.set_evaluation(result)
    browser.set_filter("eval:misclassified")
    assert browser.model.rowCount() == 2
    selection = browser.view.selectionModel()
    selection.setCurrentIndex(browser.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    selection.select(browser.model.index(1), QItemSelectionModel.SelectionFlag.Select)
    current = browser.model.record(0).id
    assert sorted(browser.selected_ids()) == sorted(r.id for r in circles)
    assert viewer.image_id == current and "✗ square" in viewer.caption.text()
    assert browser.model.data(browser.model.index(0)) == "circle ✗ square 80%"  # with its confidence (h28)
    qtbot.waitUntil(lambda: not viewer.view.item.pixmap().isNull(), timeout=10_000)  # the picture is decoded
    viewer.explain_button.setChecked(True)
    viewer.set_overlay(current, np.linspace(0, 1, 64).reshape(8, 8), "Grad-CAM of 'square' (80%)")
    assert viewer.overlay_shown()

    browser.view.setFocus()
    with qtbot.waitSignal(viewer.explain_requested, timeout=2_000):  # made again for the new state
        qtbot.keyClick(browser.view, Qt.Key.Key_2)  # both are squares after all
    assert not viewer.overlay_shown() and "Grad-CAM of 'square'" not in viewer.overlay_note.text()
    assert "✓ square" in viewer.caption.text() and "✗" not in viewer.caption.text()
    assert browser.model.data(browser.model.index(browser.model.row_of(current))) == "square ✓ 80%"
    controller.shutdown()


def test_choosing_another_run_never_shows_the_last_run_s_figures_and_filters_follow_a_new_evaluation(
    qtbot, project: Path
) -> None:  # noqa: ANN001
    """A second run arrived and was chosen: the matrix, the per-class table and the thumbnails' verdicts still showed
    the first run's "100 %, 0 misclassified" under its name; and a new evaluation's misclassified list was not shown
    by the filter already chosen ("Misclassified (1)", "0 shown")."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    view, browser = window.evaluation, window.browser
    val = [r for r in browser._all.values() if r.split == "val" and r.label in ("circle", "square")][:4]
    classes = ("circle", "square", "triangle")
    truth = [classes.index(r.label) for r in val]

    def add_run(name: str) -> str:  # a finished run, as training leaves it in the project
        folder = project / "runs" / name
        folder.mkdir(parents=True)
        (folder / "model.json").write_text("{}", encoding="utf-8")
        browser.store.finish_run(browser.store.create_run(name, folder, {}), "completed", {})
        controller.runs_changed.emit()
        return str(folder)

    def evaluation(run_dir: str, wrong: int) -> EvaluationResult:  # the first ``wrong`` items predicted wrong
        predicted = [(t + 1) % 3 if k < wrong else t for k, t in enumerate(truth)]
        return EvaluationResult(
            run_dir=run_dir,
            run_name=Path(run_dir).name,
            split="val",
            note="",
            classes=classes,
            image_ids=np.array([r.id for r in val]),
            paths=tuple(r.path for r in val),
            targets=np.array(truth),
            probabilities=np.eye(3)[predicted] * 0.9 + 0.1 / 3,
        )

    first = evaluation(add_run("first"), 0)
    view.show_result(first)
    browser.set_filter("eval:misclassified")
    assert browser.model.rowCount() == 0 and view.confusion.rowCount() == 3
    assert {browser.model.verdicts.get(r.id) for r in val} == {"✓ 93%"}

    said: list[str] = []
    browser.status_message.connect(said.append)
    second_run = add_run("second")  # a training ended: its run is chosen
    assert view.selected_run() == second_run
    assert view.result is None and view.confusion.rowCount() == 0 and view.per_class.rowCount() == 0
    assert "second</b> is not evaluated yet" in view.summary.text()
    third_run = add_run("third")  # another arrives (a command's Auto: its probe, then its fine-tune)
    assert (
        view.selected_run() == third_run and "third</b> is not evaluated yet" in view.summary.text()
    )  # (h33)
    view.run_choice.setCurrentIndex(view.run_choice.findData(second_run))
    assert "second</b> is not evaluated yet" in view.summary.text()
    assert browser.evaluation is None and not any(r.id in browser.model.verdicts for r in val)
    assert browser.filter.currentData() == "all"  # the first run's misclassified list is gone with it
    assert said == [
        "The filter 'Misclassified (validation)' was of an evaluation no longer shown: all images are shown"
    ]

    view.show_result(evaluation(second_run, 1))
    qtbot.mouseClick(view.misclassified_button, Qt.MouseButton.LeftButton)
    assert [browser.model.record(r).id for r in range(browser.model.rowCount())] == [val[0].id]
    view.show_result(evaluation(second_run, 2))  # evaluated again with the filter shown: the grid follows
    assert browser.model.rowCount() == 2 and browser.filter.currentText() == "Misclassified (validation) (2)"
    view.confusion.cellClicked.emit(0, 1)  # a cell: circle → square, the first items' mistakes
    cell = view.result.cell_ids(0, 1)
    assert cell and [browser.model.record(r).id for r in range(browser.model.rowCount())] == cell
    view.show_result(evaluation(second_run, 0))  # evaluated again: the same cell, of the new figures
    assert browser.filter.currentText() == "Cell: circle → square (0)" and browser.model.rowCount() == 0
    view.show_result(evaluation(second_run, 2))
    assert browser.filter.currentText() == f"Cell: circle → square ({len(cell)})"
    browser.set_filter("eval:misclassified")

    view.run_choice.setCurrentIndex(view.run_choice.findData(first.run_dir))  # back: its own figures
    assert view.result is first and browser.evaluation is first and browser.model.rowCount() == 0
    assert browser.filter.currentText() == "Misclassified (validation) (0)"
    assert {browser.model.verdicts.get(r.id) for r in val} == {"✓ 93%"}
    assert "first" in view.summary.text() and "0 misclassified" in view.summary.text()
    assert view.note.isHidden()

    # Labels change: the evaluation shown is marked, and stays marked when its run is chosen again after another.
    view.mark_out_of_date()
    assert view.note.text().startswith(OUT_OF_DATE)
    view.run_choice.setCurrentIndex(view.run_choice.findData(second_run))
    assert view.result is None  # its evaluation was of the labels before the change: dropped
    view.run_choice.setCurrentIndex(view.run_choice.findData(first.run_dir))
    assert view.result is first and view.note.text().startswith(OUT_OF_DATE) and view.note.isVisibleTo(window)
    # One line in the dock of a 1600 px window (two pushed the matrix's last row out of view, h32); the rest is
    # in its tooltip.
    assert view.note.fontMetrics().horizontalAdvance(OUT_OF_DATE) < 600 and "as it was" in view.note.toolTip()
    # Evaluated while labels change: the result arrives marked; evaluated again after, it is current.
    view.evaluate_requested.disconnect()  # no worker: the result comes from here
    view.evaluate_button.click()
    view.mark_out_of_date()
    view.show_result(evaluation(first.run_dir, 1))
    assert view.note.text().startswith(OUT_OF_DATE)
    view.show_result(evaluation(first.run_dir, 1))
    assert view.note.isHidden() and view.note.toolTip() == ""
    controller.shutdown()
