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


def _recipe_behind(qtbot, project: Path) -> tuple:  # noqa: ANN001
    """The window at 1280 x 720, the recipe dock behind the backbone dock: ``(window, controller, recipe,
    backbone)``."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    recipe, backbone = _dock(window, "Augmentation recipe"), _dock(window, "Backbone and head")
    backbone.raise_()
    qtbot.waitUntil(lambda: recipe.widget().visibleRegion().isEmpty())
    return window, controller, recipe, backbone


def test_focus_in_a_dock_tab_behind_brings_it_to_the_front(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller, recipe, backbone = _recipe_behind(qtbot, project)
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


def _wheel(widget, notches: int) -> None:  # noqa: ANN001
    """Turn the mouse wheel over the middle of ``widget``, as the system delivers it (to the widget under it)."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    middle = QPointF(widget.rect().center())
    event = QWheelEvent(
        middle,
        QPointF(widget.mapToGlobal(middle.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_settings_panel_and_changes_only_a_field_the_user_is_in(
    qtbot, project: Path
) -> None:  # noqa: ANN001
    """Rolling the wheel to scroll the settings stopped at the first field under the pointer and changed it, unseen:
    batch size 16 became 8, the consistency weight 1.00 became 0.25, and the project kept them for every run."""
    from PySide6.QtWidgets import QScrollArea

    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    _dock(window, "Backbone and head").raise_()
    panel = window.model_panel
    field = panel.batch_size
    area = next(a for a in window.findChildren(QScrollArea) if a.isAncestorOf(field))
    bar = area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)  # the panel is taller than its dock: it scrolls
    area.ensureWidgetVisible(field)
    # A real wheel gives a WheelFocus field the focus before any filter sees the turn (a sent event does not):
    # the settings' spin and combo boxes take it from a click or Tab only.
    for box in (field, panel.imbalance, panel.head_kind):
        assert box.focusPolicy() == Qt.FocusPolicy.StrongFocus, box
    value, position = field.value(), bar.value()
    window.browser.view.setFocus()
    _wheel(field, 3)
    assert field.value() == value and bar.value() > position  # the panel scrolled; the field kept its value
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    _wheel(field, 1)
    assert field.value() != value  # in the field, the wheel steps it as before
    controller.shutdown()


def test_a_button_disabled_by_its_own_press_keeps_its_dock_in_front(qtbot, project: Path) -> None:  # noqa: ANN001
    """Cross-validate disables itself while it runs; Qt gave the focus to the next widget, in the recipe dock behind,
    and raising that dock hid the folds' progress and Cancel."""
    window, controller, recipe, backbone = _recipe_behind(qtbot, project)
    button = window.model_panel.crossval_button
    button.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(button.hasFocus)
    button.setEnabled(False)  # as pressing it does
    qtbot.wait(50)
    assert not button.hasFocus()  # Qt moved the focus on...
    assert recipe.widget().visibleRegion().isEmpty() and not backbone.widget().visibleRegion().isEmpty()
    focused = QApplication.focusWidget()  # ...but not into the dock behind, where keys would act unseen
    assert focused is None or not recipe.isAncestorOf(focused), focused
    controller.shutdown()
