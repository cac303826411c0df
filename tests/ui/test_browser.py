"""The browser as a labeller uses it: keyboard, undo/redo, filters, search, splits, problem files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore


@pytest.fixture
def browser_window(qtbot, project: Path):  # noqa: ANN001, ANN201
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.resize(1280, 720)  # a laptop's window: the grid shows a few rows of thumbnails
    window.show()
    yield window, window.browser
    controller.shutdown()


def _labels(project: Path) -> dict[str, str | None]:
    with ProjectStore.open(project) as store:
        return {Path(im.path).name: im.label for im in store.images()}


def test_grid_counts_and_disk_cached_thumbnails(qtbot, qtmodeltester, browser_window, project: Path) -> None:  # noqa: ANN001
    _window, browser = browser_window
    assert browser.model.rowCount() == 81  # 72 labelled + 6 unlabelled + 3 problem files
    table = browser.classes.table
    assert [table.item(r, 1).text() for r in range(3)] == ["circle", "square", "triangle"]
    assert table.item(0, 0).text() == "1" and table.item(0, 2).text() == "24"
    qtbot.waitUntil(lambda: browser.model.thumbnail_count() >= 5, timeout=15_000)
    assert len(list((project / ".thumbnails").rglob("*.jpg"))) >= 5
    qtmodeltester.check(browser.model)


def test_problem_view_lists_each_bad_file_with_its_reason(browser_window) -> None:  # noqa: ANN001
    _window, browser = browser_window
    browser.set_filter("problems")
    rows = [browser.model.data(browser.model.index(r)) for r in range(browser.model.rowCount())]
    assert len(rows) == 3
    text = " | ".join(rows)
    assert "empty.jpg — empty file" in text and "notes.png — not an image" in text and "truncated.png" in text


def test_a_number_key_on_a_problem_file_says_why_nothing_happens(qtbot, browser_window) -> None:  # noqa: ANN001
    """It did nothing and said nothing (h25)."""
    window, browser = browser_window
    browser.set_filter("problems")
    browser.view.setCurrentIndex(browser.model.index(0))
    browser.view.setFocus()
    said: list[str] = []
    browser.status_message.connect(said.append)
    qtbot.keyClick(browser.view, Qt.Key.Key_1)
    assert said and said[-1].startswith("A problem image cannot be labelled")
    assert "Remove problem files from project" in said[-1]


def test_number_keys_label_and_advance_then_undo_redo(qtbot, browser_window, project: Path) -> None:  # noqa: ANN001
    _window, browser = browser_window
    browser.set_filter("unlabelled")
    assert browser.model.rowCount() == 6
    first = browser.model.record(0)
    second = browser.model.record(1)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_2)  # key 2 is the second class: square
    assert _labels(project)[Path(first.path).name] == "square"
    assert browser.view.currentIndex().row() == 1  # moved on to the next unlabelled image

    qtbot.keyClick(browser.view, Qt.Key.Key_3)
    assert _labels(project)[Path(second.path).name] == "triangle"
    # The labelled images stay in place (no jumping grid), and the count says they no longer match.
    assert browser.model.rowCount() == 6
    assert (
        browser.count_label.text() == "6 shown (2 done)"
        and "no longer match" in browser.count_label.toolTip()
    )

    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(project)[Path(second.path).name] is None
    assert browser.count_label.text() == "6 shown (1 done)"  # unlabelled again: it matches
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(project)[Path(first.path).name] is None
    qtbot.keyClick(
        browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert _labels(project)[Path(first.path).name] == "square"
    assert browser.classes.table.item(1, 2).text() == "25"  # counts follow every action
    browser.apply_filter()  # the filter chosen again leaves the labelled image out
    assert browser.model.rowCount() == 5 and browser.count_label.text() == "5 shown"


def test_an_undo_leaves_a_label_another_program_changed_and_says_so(
    qtbot, browser_window, project: Path
) -> None:  # noqa: ANN001
    window, browser = browser_window
    browser.set_filter("unlabelled")
    first = browser.model.record(0)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_2)
    with ProjectStore.open(project) as other:  # a command in another terminal relabels the same image
        other.set_label([first.id], "triangle")
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(project)[Path(first.path).name] == "triangle"  # not set back to unlabelled
    assert window.statusBar().currentMessage() == (
        "Nothing to undo: its 1 image(s) were changed since by another window or a command; left as they are"
    )
    assert browser.model.record(0).label == "triangle"  # the grid shows the label it kept


def test_multi_select_assign_and_unlabel_with_zero(qtbot, browser_window, project: Path) -> None:  # noqa: ANN001
    _window, browser = browser_window
    browser.set_filter("unlabelled")
    selection = browser.view.selectionModel()
    names = []
    for row in (0, 2, 4):
        selection.select(browser.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        names.append(Path(browser.model.record(row).path).name)
    qtbot.keyClick(browser.view, Qt.Key.Key_1)
    labels = _labels(project)
    assert all(labels[name] == "circle" for name in names)
    with ProjectStore.open(project) as store:  # newly labelled images join a split at once
        assert all(im.split for im in store.images(usable_only=True) if im.label)
    qtbot.keyClick(browser.view, Qt.Key.Key_0)
    labels = _labels(project)
    assert all(labels[name] is None for name in names)


def test_an_undo_selects_what_it_changed_in_one_selection_change(browser_window) -> None:  # noqa: ANN001
    """Row by row, each change made the recipe editor read the whole selection again: undoing 10,000 labels
    froze the window for over a minute."""
    _window, browser = browser_window
    ids = [browser.model.record(row).id for row in range(browser.model.rowCount())]
    picked = ids[::2] + ids[1:3]  # gaps and a contiguous run
    changes: list[int] = []
    browser.view.selectionModel().selectionChanged.connect(lambda *_: changes.append(1))
    browser._select_ids(picked)
    selected = {browser.model.record(i.row()).id for i in browser.view.selectionModel().selectedIndexes()}
    assert selected == set(picked) and browser.current_record().id == picked[0]
    assert len(changes) <= 2  # the current item, then the rest at once


def test_the_large_view_never_shows_the_previous_picture_under_the_next_caption(
    qtbot, browser_window
) -> None:  # noqa: ANN001
    """While the next image decodes (a large photo takes seconds), the view shows its thumbnail, or nothing."""
    _window, browser = browser_window
    browser.view.setCurrentIndex(browser.model.index(0))
    qtbot.waitUntil(lambda: not browser.viewer.view.item.pixmap().isNull(), timeout=15_000)
    first = browser.viewer.view.item.pixmap().toImage()
    browser.view_image_wanted.disconnect()  # the next decode never arrives
    browser.model._pixmaps.pop(browser.model.record(1).id, None)  # and no thumbnail of it is in memory yet
    browser.view.setCurrentIndex(browser.model.index(1))
    assert browser.viewer.view.item.pixmap().isNull()
    qtbot.waitUntil(
        lambda: browser.model.cached_thumbnail(browser.model.record(2).id) is not None, timeout=15_000
    )
    browser.view.setCurrentIndex(browser.model.index(2))
    shown = browser.viewer.view.item.pixmap().toImage()
    assert not shown.isNull() and shown != first
    assert shown == browser.model.cached_thumbnail(browser.model.record(2).id).toImage()


def test_space_moves_and_search_filters_by_name(qtbot, browser_window) -> None:  # noqa: ANN001
    _window, browser = browser_window
    qtbot.keyClick(browser.view, Qt.Key.Key_Space)
    assert browser.view.currentIndex().row() == 1
    qtbot.keyClick(browser.view, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert browser.view.currentIndex().row() == 0
    browser.search.setText("triangle_01")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 10, timeout=3_000)  # triangle_010 … triangle_019
    qtbot.waitUntil(lambda: browser.viewer.image_id is not None, timeout=3_000)
    browser.set_filter("class:square")
    assert browser.model.rowCount() == 0  # the search still applies
    # Nothing is current: the image the filter left out does not stay in the large view (nor its caption)
    assert browser.viewer.image_id is None and browser.viewer.view.item.pixmap().isNull()
    assert browser.viewer.caption.text() == "No image matches the filter and search"
    browser.search.clear()
    qtbot.waitUntil(lambda: browser.model.rowCount() == 24, timeout=3_000)


def test_moving_images_between_splits(browser_window, project: Path) -> None:  # noqa: ANN001
    _window, browser = browser_window
    browser.set_filter("split:val")
    before = browser.model.rowCount()
    browser.view.selectionModel().select(browser.model.index(0), QItemSelectionModel.SelectionFlag.Select)
    browser.move_selected_to_split("test")
    with ProjectStore.open(project) as store:
        assert store.split_counts()["test"] == 1 and store.split_counts()["val"] == before - 1


def test_deleting_a_class_asks_and_keeps_the_images(
    qtbot, browser_window, project: Path, monkeypatch
) -> None:  # noqa: ANN001
    _window, browser = browser_window
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or QMessageBox.StandardButton.Yes
    )
    browser._delete_class("square")
    assert asked and "24 image(s) become unlabelled" in asked[0]
    assert "cannot be undone with Undo label" in asked[0]  # said before the history goes
    assert browser.classes.class_names() == ["circle", "triangle"]
    labels = _labels(project)
    assert sum(1 for name in labels if name.startswith("square_")) == 24  # no image was removed
    assert all(labels[name] is None for name in labels if name.startswith("square_"))


def test_adding_a_class_that_exists_says_so_and_adds_nothing(browser_window) -> None:  # noqa: ANN001
    window, _controller = browser_window
    browser = window.browser
    messages: list[str] = []
    browser.status_message.connect(messages.append)
    before = browser.store.class_names()
    browser.add_class(" Circle ")
    assert browser.store.class_names() == before
    assert messages[-1] == "There is a class 'circle' already; nothing added"
    browser.add_class("mitotic")
    assert browser.store.class_names() == [*before, "mitotic"] and messages[-1] == "Added class 'mitotic'"


def test_number_keys_also_label_while_the_large_view_has_the_focus(
    qtbot, browser_window, project: Path
) -> None:  # noqa: ANN001
    _window, browser = browser_window
    browser.set_filter("unlabelled")
    first = browser.model.record(0)
    browser.view.setCurrentIndex(browser.model.index(0, 0))
    browser.viewer.view.setFocus()  # e.g. after zooming the large view with the mouse
    qtbot.keyClick(browser.viewer.view, Qt.Key.Key_1)
    assert _labels(project)[Path(first.path).name] == "circle"
    qtbot.keyClick(browser.viewer.view, Qt.Key.Key_Plus)  # the view's own keys still zoom
    # Clicking the classes table leaves the keyboard where it was; Tab reaches it, and the arrow keys choose a
    # class there (mouse only before, h30).
    table = browser.classes.table
    assert table.focusPolicy() == Qt.FocusPolicy.TabFocus
    table.setFocus(Qt.FocusReason.TabFocusReason)
    table.setCurrentCell(0, 1)
    qtbot.keyClick(table, Qt.Key.Key_Down)
    assert browser.classes.selected_classes() == [browser.store.class_names()[1]]


def test_shift_delete_removes_the_selected_images_from_the_project_after_asking(
    qtbot, browser_window, project: Path, monkeypatch
) -> None:  # noqa: ANN001
    window, browser = browser_window
    messages: list[str] = []
    browser.status_message.connect(messages.append)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or answers.pop(0))
    browser.set_filter("unlabelled")
    first = Path(browser.model.record(0).path).name
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_1)  # a label action, to undo (the image stays in view, row 0)
    assert browser.undo_action.isEnabled()
    browser.view.selectionModel().clearSelection()
    for row in (1, 2):
        browser.view.selectionModel().select(
            browser.model.index(row), QItemSelectionModel.SelectionFlag.Select
        )
    chosen = [Path(browser.model.record(r).path).name for r in (1, 2)]
    qtbot.keyClick(browser.view, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)  # answered No
    assert "Remove 2 selected image(s) from the project" in asked[0] and len(_labels(project)) == 81
    qtbot.keyClick(browser.view, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    left = _labels(project)
    assert (
        len(left) == 79 and not set(chosen) & set(left) and browser.model.rowCount() == 3
    )  # filter applied again
    assert left[first] == "circle"  # the image labelled first was not selected: it stays, labelled
    assert messages[-1].startswith("Removed 2 image(s) from the project (0 labelled)")
    assert messages[-1].endswith("(Labels ▸ Import labels from CSV…)")
    assert len(list((project / "removed").glob("removed-*.csv"))) == 1
    # The label action on an image that stays is still undoable (a removal cleared the whole history, h35).
    assert browser.undo_action.isEnabled()
    browser.undo_action.trigger()
    assert _labels(project)[first] is None and not browser.undo_action.isEnabled()

    menu_titles = [a.text() for a in window.menuBar().actions()[2].menu().actions()]
    assert "&Remove from project…" in menu_titles and "Remove &problem files from project…" in menu_titles
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: QMessageBox.StandardButton.Yes)
    browser.remove_problem_items()
    with ProjectStore.open(project) as store:
        assert store.problems() == [] and store.image_count() == 76
    browser.remove_problem_items()
    assert messages[-1] == "No problem image(s) to remove"


def test_opening_another_project_shows_its_own_thumbnails(qtbot, project: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """Thumbnails are held by image id, and ids are per project: switching must forget them, and a thumbnail the
    old project's work delivers late must not reach the new one."""
    from PySide6.QtGui import QImage

    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    other = tmp_path / "other"
    with ProjectStore.create(other) as store:
        import_folder(store, write_shapes_folder(tmp_path / "pictures", 2, seed=9, size=48), seed=0)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    browser = window.browser
    try:
        qtbot.waitUntil(lambda: browser.model.thumbnail_count() >= 3, timeout=15_000)
        service = controller.thumbnails
        old = service._generation
        window.evaluation.result = SimpleNamespace(
            run_dir="r"
        )  # as if a run of this project had been evaluated
        window.evaluation.confusion.setRowCount(3)
        window.evaluation.summary.setText("run-1: accuracy 100%")
        assert controller.open_project(str(other))
        assert service._generation == old + 1
        assert browser.model.thumbnail_count() == 0  # nothing of the old project's is held
        assert window.evaluation.result is None and window.evaluation.confusion.rowCount() == 0
        assert "100%" not in window.evaluation.summary.text()
        delivered: list[int] = []
        service.ready.connect(lambda image_id, _image: delivered.append(image_id))
        service._ready(old, 1, QImage(4, 4, QImage.Format.Format_RGB888))  # late work of the old project
        assert delivered == []
        service._ready(old + 1, 1, QImage(4, 4, QImage.Format.Format_RGB888))
        assert delivered == [1]
    finally:
        controller.shutdown()


def test_select_all_and_end_reach_every_image_shown_not_only_the_rows_fetched(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The grid fetches rows as it scrolls (500 at a time); Ctrl+A and End act on every image the filter shows."""
    project = tmp_path / "many"
    with ProjectStore.create(project) as store:
        store.add_class("a")
        store.add_images([(str(tmp_path / f"img_{i:04d}.png"), None, None, None) for i in range(1200)])
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    try:
        browser = window.browser
        assert browser.model.rowCount() < 1200  # fetched lazily
        browser.view.setFocus()
        browser.view.setCurrentIndex(browser.model.index(0))
        qtbot.keyClick(browser.view, Qt.Key.Key_End)
        assert browser.view.currentIndex().row() == 1199
        qtbot.keyClick(browser.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(browser.view, Qt.Key.Key_1)
        with ProjectStore.open(project) as store:
            assert store.class_counts()["a"]["total"] == 1200
    finally:
        controller.shutdown()


def test_changes_made_by_another_program_are_shown_and_the_windows_own_are_not_taken_for_them(
    qtbot,  # noqa: ANN001
    tmp_path: Path,
    project: Path,
) -> None:
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    try:
        browser = window.browser
        free = [r for r in range(browser.model.rowCount()) if browser.model.record(r).label is None]
        rows = [r for r in free if browser.model.record(r).problem is None]
        first, second = browser.model.record(rows[0]), browser.model.record(rows[1])
        browser.view.setCurrentIndex(browser.model.index(rows[0]))
        browser.view.setFocus()
        qtbot.keyClick(browser.view, Qt.Key.Key_1)  # the window's own label: not a change made elsewhere
        current = browser.current_record().id  # moved on to the next image
        with ProjectStore.open(project) as other:
            other.set_meta("note", "a run's epochs or settings: nothing the grid shows")
        assert not controller.outside.check()
        window.statusBar().clearMessage()
        with ProjectStore.open(project) as other:  # a command in another terminal
            other.set_label([second.id], "triangle")
            other.rename_class("square", "box")
        assert controller.outside.check()
        assert browser.model.record(browser.model.row_of(second.id)).label == "triangle"
        assert (
            browser.model.record(browser.model.row_of(first.id)).label == "circle"
        )  # the window's own, kept
        assert "box" in browser.classes.class_names() and "square" not in browser.classes.class_names()
        assert browser.current_record().id == current  # the place kept
        assert window.statusBar().currentMessage().startswith("The project was changed by another window")
        assert not controller.outside.check()  # seen once
        listed: list[bool] = []
        controller.runs_changed.connect(lambda: listed.append(True))
        with ProjectStore.open(project) as other:  # a training in another terminal starts a run
            other.create_run("elsewhere", project / "runs" / "elsewhere", {})
        controller.outside.check()
        assert listed  # the run lists are read again
    finally:
        controller.shutdown()


def test_a_class_name_with_markup_is_shown_as_written(qtbot, project: Path) -> None:  # noqa: ANN001
    """Class names may hold '<' and '>': the large view's caption showed '<b>x' as bold x (and could load a local
    picture through '<img src=…>')."""
    with ProjectStore.open(project) as store:
        labelled = next(im for im in store.images(usable_only=True) if im.label)
        store.rename_class(labelled.label, "<b>x")
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    row = next(r for r in range(browser.model.rowCount()) if browser.model.record(r).id == labelled.id)
    browser.view.setCurrentIndex(browser.model.index(row))
    assert "&lt;b&gt;x" in browser.viewer.caption.text()
    controller.shutdown()


def test_clearing_the_search_keeps_the_current_image(qtbot, browser_window) -> None:  # noqa: ANN001
    _window, browser = browser_window
    browser.search.setText("triangle_015")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=3_000)
    found = browser.current_record()
    assert found is not None and found.path.endswith("triangle_015.png")
    browser.search.clear()
    qtbot.waitUntil(lambda: browser.model.rowCount() == 81, timeout=3_000)
    # still the image found: the next number key labels it, not the first image of the grid
    assert browser.current_record().id == found.id
    assert browser.view.currentIndex().row() == browser.model.row_of(found.id) > 0
    assert [i.row() for i in browser.view.selectionModel().selectedIndexes()] == [
        browser.model.row_of(found.id)
    ]
    browser.set_filter("unlabelled")  # another filter starts at its first item, as before
    assert browser.view.currentIndex().row() == 0


def test_an_image_gone_from_disk_says_so_in_the_viewer(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """A file moved away while the window was open showed an empty grey view under a caption as if all were well."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.ui.image_viewer import MISSING_HINT

    project = tmp_path / "project"  # its own images: one of them is moved away
    with ProjectStore.create(project) as store:
        import_folder(store, write_shapes_folder(tmp_path / "images", 3, unlabelled=0, seed=2, size=32))
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    browser = window.browser
    record = browser.model.record(3)
    Path(record.path).rename(tmp_path / "moved.png")
    browser.view.setCurrentIndex(browser.model.index(3))
    qtbot.waitUntil(lambda: MISSING_HINT in browser.viewer.caption.text(), timeout=10_000)
    assert "No such file" in browser.viewer.caption.text() and browser.viewer.view.item.pixmap().isNull()
    browser.viewer.set_caption(browser._caption(record))  # drawn again (a label, a note): the line stays
    assert MISSING_HINT in browser.viewer.caption.text()
    controller.shutdown()


def test_an_item_undone_back_to_unlabelled_returns_to_the_unlabelled_queue(qtbot, browser_window) -> None:  # noqa: ANN001
    """Labelled in the Unlabelled queue, dropped from it by a reload after another window's change, then unlabelled
    again by Undo: the header counted it, the queue did not show it (h30)."""
    _window, browser = browser_window
    browser.set_filter("unlabelled")
    first = browser.model.record(0).id
    browser.view.setCurrentIndex(browser.model.index(0))
    browser.label_selected("circle")
    browser.reload_keeping_place()  # as after a change made elsewhere: the labelled item no longer matches
    assert browser.model.row_of(first) is None
    browser.undo()
    assert browser.model.row_of(first) is not None and first in browser.selected_ids()


def test_a_rename_asked_after_labelling_says_undo_stops_there(qtbot, browser_window, monkeypatch) -> None:  # noqa: ANN001
    """Merge and Delete said a class change ends Undo label's history; Rename did not (h30)."""
    from PySide6.QtWidgets import QInputDialog

    _window, browser = browser_window
    asked: list[str] = []
    monkeypatch.setattr(
        QInputDialog, "getText", lambda _p, _t, label, **kw: asked.append(label) or ("", False)
    )
    browser._rename_class("circle")
    browser.set_filter("unlabelled")
    browser.view.setCurrentIndex(browser.model.index(0))
    browser.label_selected("square")
    browser._rename_class("circle")
    assert asked == [
        "New name for 'circle':",
        "New name for 'circle':\n(Undo label cannot go back past a rename.)",
    ]
