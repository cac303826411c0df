"""What the model said about an image follows the image's label: no stale verdict or Grad-CAM after a relabel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt

from dmtl_studio.app import build_window
from dmtl_studio.core.evaluation.results import EvaluationResult


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
    assert browser.model.data(browser.model.index(0)) == "circle ✗ square"
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
