"""Every documented shortcut is bound once and acts (an ambiguous one does nothing on X11)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.shortcuts import bound_shortcuts

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def _labels(project: Path) -> dict[int, str | None]:
    with ProjectStore.open(project) as store:
        return {im.id: im.label for im in store.images()}


def _dismiss_next_dialog(seen: list[str]) -> None:
    """Close the dialog a shortcut opens (as Escape would), noting its title."""

    def close() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(50, close)
            return
        seen.append(dialog.windowTitle())
        dialog.reject() if hasattr(dialog, "reject") else dialog.close()

    QTimer.singleShot(50, close)


def _activate(qtbot, window) -> None:  # noqa: ANN001
    """Window shortcuts act in the active window (a closed dialog may leave none active offscreen)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


def test_every_shortcut_is_bound_once_and_acts(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    _activate(qtbot, window)
    bound = bound_shortcuts(window)
    ambiguous = {key: names for key, names in bound.items() if len(names) > 1}
    assert not ambiguous, f"bound more than once: {ambiguous}"
    # The README's and the menus' shortcuts are all there.
    for key in (
        "Ctrl+N",
        "Ctrl+O",
        "Ctrl+I",
        "Ctrl+Q",
        "Ctrl+Z",
        "Ctrl+Shift+Z",
        "Ctrl+Y",
        "G",
        "F1",
        "F5",
        "Shift+F5",
    ):
        assert key in bound, key

    # F1 lists the keys; F5 starts a run from anywhere (28 Tab presses from the grid before, h30), when it can.
    seen = []
    _activate(qtbot, window)
    _dismiss_next_dialog(seen)
    qtbot.keyClick(window.browser.view, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: seen == ["Keyboard shortcuts"], timeout=2_000)
    started: list[bool] = []
    window.training.start_requested.disconnect(controller.start_training)  # counted, not trained
    window.training.start_requested.connect(lambda: started.append(True))
    window.evaluation_dock.raise_()
    window.training.set_can_start(False, "not yet")
    _activate(qtbot, window)
    qtbot.keyClick(window.browser.view, Qt.Key.Key_F5)
    assert started == []
    window.training.set_can_start(True, "ready")
    qtbot.keyClick(window.browser.view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: started == [True], timeout=2_000)
    window.training.start_requested.disconnect()
    window.training.start_requested.connect(controller.start_training)
    window.training.set_can_start(False, "")

    # File menu: each opens its dialog.
    for key, action in (("N", window.new_action), ("O", window.open_action), ("I", window.import_action)):
        seen: list[str] = []
        _activate(qtbot, window)
        with qtbot.waitSignal(action.triggered, timeout=2_000):
            _dismiss_next_dialog(seen)
            qtbot.keyClick(window.browser.view, getattr(Qt.Key, f"Key_{key}"), CTRL)
        assert seen, key

    # Labelling keys, undo and both redo keys.
    _activate(qtbot, window)
    browser = window.browser
    browser.set_filter("unlabelled")
    first = browser.model.record(0).id
    browser.view.setFocus()
    browser.view.setCurrentIndex(browser.model.index(0))
    qtbot.keyClick(browser.view, Qt.Key.Key_2)
    assert _labels(project)[first] == "square"
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, CTRL)
    assert _labels(project)[first] is None
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert _labels(project)[first] == "square"
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(browser.view, Qt.Key.Key_Y, CTRL)
    assert _labels(project)[first] == "square"
    browser.view.setCurrentIndex(browser.model.index(0))
    row = browser.view.currentIndex().row()
    qtbot.keyClick(browser.view, Qt.Key.Key_Space)
    assert browser.view.currentIndex().row() == row + 1
    browser.set_filter("all")
    browser.view.setCurrentIndex(browser.model.index(0))
    labelled = browser.model.record(0).id
    qtbot.keyClick(browser.view, Qt.Key.Key_0)
    assert _labels(project)[labelled] is None

    # G asks for Grad-CAM of the image shown (no run yet: the view says what it needs).
    with qtbot.waitSignal(browser.viewer.explain_requested, timeout=2_000):
        qtbot.keyClick(browser.view, Qt.Key.Key_G)
    # The button says its state (it looked the same on and off, so G toggled it unseen: h25), and G still works.
    assert browser.viewer.explain_button.text() == "Grad-CAM: on"
    qtbot.keyClick(browser.view, Qt.Key.Key_G)  # a button's shortcut clicks it after its 100 ms press
    qtbot.waitUntil(lambda: not browser.viewer.explaining, timeout=2_000)
    assert browser.viewer.explain_button.text() == "Grad-CAM"

    # Ctrl+Q quits.
    qtbot.keyClick(browser.view, Qt.Key.Key_Q, CTRL)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    controller.shutdown()
