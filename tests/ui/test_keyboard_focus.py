"""The keyboard never works unseen: focus that enters a dock tab behind another brings that tab to the front,
and plots (which take no keys) are not stops of Tab."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from dmtl_studio.app import build_window


def _dock(window, title: str) -> QDockWidget:  # noqa: ANN001
    return next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)


def test_focus_in_a_dock_tab_behind_brings_it_to_the_front(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    recipe, backbone = _dock(window, "Augmentation recipe"), _dock(window, "Backbone and head")
    backbone.raise_()
    qtbot.waitUntil(lambda: recipe.widget().visibleRegion().isEmpty())
    window.recipe.export_button.setFocus(Qt.FocusReason.TabFocusReason)  # as Tab would reach it
    qtbot.waitUntil(lambda: not recipe.widget().visibleRegion().isEmpty())
    assert backbone.widget().visibleRegion().isEmpty()  # the tab in front changed
    evaluation = window.evaluation_dock
    assert evaluation.widget().visibleRegion().isEmpty()  # behind Training
    window.evaluation.run_choice.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: not evaluation.widget().visibleRegion().isEmpty())
    assert QApplication.focusWidget() is window.evaluation.run_choice
    plots = [p for p in window.findChildren(pg.PlotWidget) if not window.dataset_map.isAncestorOf(p)]
    assert plots and all(p.focusPolicy() == Qt.FocusPolicy.NoFocus for p in plots)
    controller.shutdown()


def test_the_main_controls_have_names_a_screen_reader_can_say(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser, panel = window.browser, window.model_panel
    named = {
        browser.view: "Images",
        browser.search: "Search file names",
        browser.filter: "Show",
        browser.classes.table: "Classes",
        browser.viewer.view: "Current image",
        window.evaluation.per_class: "Scores per class",
        window.evaluation.method: "Uncertainty measure",
    }
    assert {w: w.accessibleName() for w in named} == named
    # the consistency weight is named by its own label, not by its group box ("DMTL objective")
    assert panel.consistency_weight.accessibleName() == panel.lambda_label.text() != ""
    assert panel.lambda_label.buddy() is panel.consistency_weight
    controller.shutdown()
