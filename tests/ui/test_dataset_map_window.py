"""Labels ▸ Dataset map…: the map of the open project, its selection in the browser, and labelling by key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.dataset_browser import MAP_SELECTION_KEY


def test_the_map_selects_images_in_the_browser_and_labels_them(
    qtbot, project: Path, small_backbone_config
) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    view, browser = window.dataset_map, window.browser
    menu_action = next(a for a in window.project_actions if a.text() == "Dataset &map…")
    try:
        assert menu_action.isEnabled()
        menu_action.trigger()
        assert window.map_dock.isVisible()
        qtbot.waitUntil(lambda: len(view.points) > 0, timeout=180_000)
        with ProjectStore.open(project) as store:
            usable = {im.id for im in store.images(usable_only=True)}
        assert set(int(i) for i in view.image_ids) == usable
        # A rectangle around the left half of the map selects those images in the browser.
        middle = float(np.median(view.points[:, 0]))
        low, high = view.points.min(axis=0) - 1, view.points.max(axis=0) + 1
        chosen = view.select_rect(low[0], low[1], middle, high[1])
        assert chosen and browser.filter.currentData() == MAP_SELECTION_KEY
        assert sorted(browser.selected_ids()) == sorted(chosen)
        # Key 1 on the map gives them the first class, through the browser's labelling (with undo).
        first = browser.classes.class_names()[0]
        qtbot.keyClick(view, Qt.Key.Key_1)
        with ProjectStore.open(project) as store:
            labels = {im.id: im.label for im in store.images()}
        assert all(labels[i] == first for i in chosen)
        assert all(view.labels[list(view.image_ids).index(i)] == first for i in chosen)
        assert browser.undo_action.isEnabled()
        # A class's new colour, and labels a CSV brings, reach the map too (it kept its old colours and labels).
        browser._class_change(lambda: browser.store.set_class_color(first, "#ff0000"), "colour")
        assert view.class_colors[first] == "#ff0000"
        rows = list(view.image_ids)
        record = next(
            browser._all[int(i)] for i, label in zip(rows, view.labels, strict=True) if label is None
        )
        table = project.parent / "more-labels.csv"
        table.write_text(f"path,label\n{record.path},{first}\n", encoding="utf-8")
        window.import_csv_requested.emit(str(table))
        qtbot.waitUntil(lambda: view.labels[rows.index(record.id)] == first, timeout=10_000)
        assert "Out of date" not in view.status.text()  # labels follow the project: the map is current
        # A removal (here through core, then the browser reads the store again) leaves the map out of date.
        from dmtl_studio.core.project.removal import remove_items

        with ProjectStore.open(project) as store:
            remove_items(store, [record.id])
        browser.reload()
        assert "Out of date" in view.status.text() and "1 image(s) removed" in view.status.text()
    finally:
        controller.shutdown()
        window.close()
    window.set_project_open(False)
    assert not menu_action.isEnabled() and not len(view.points)


def test_the_map_can_be_cancelled_while_it_is_computed(qtbot, project: Path, small_backbone_config) -> None:  # noqa: ANN001
    """A map of 24,000 images is six minutes of features; only closing the window stopped it."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    view = window.dataset_map
    try:
        next(a for a in window.project_actions if a.text() == "Dataset &map…").trigger()
        assert view.cancel_button.isVisible() and not view.compute_button.isEnabled()
        view.cancel_button.click()
        qtbot.waitUntil(lambda: view.compute_button.isEnabled(), timeout=120_000)
        assert view.status.text() == "The dataset map was stopped." and not view.cancel_button.isVisible()
        assert len(view.points) == 0
    finally:
        controller.shutdown()
