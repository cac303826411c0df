"""Labels ▸ Find duplicates and leaks: the browser's Duplicates filter, and Enter keeps a group in one split."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabBar

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.dataset_browser import DUPLICATES_KEY
from tests.core.quality.test_duplicates import make_duplicates_project


def _studio(qtbot, project: Path) -> tuple:  # noqa: ANN001
    """The window on ``project``: ``(window, controller, browser, the status messages said so far)``."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    messages: list[str] = []
    window.browser.status_message.connect(messages.append)
    return window, controller, window.browser, messages


def _titles(bar: QTabBar) -> list[str]:
    return [bar.tabText(i) for i in range(bar.count())]


def test_duplicates_filter_lists_groups_and_enter_fixes_a_leak(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    project = make_duplicates_project(tmp_path)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    browser = window.browser
    try:
        window.duplicates_requested.emit()  # the Labels menu's action
        # Its progress and result show under Evaluation, which comes to the front (it stayed behind Training).
        bars = [bar for bar in window.findChildren(QTabBar) if "Evaluation" in _titles(bar)]
        assert any(bar.tabText(bar.currentIndex()) == "Evaluation" for bar in bars)
        qtbot.waitUntil(lambda: browser.filter.currentData() == DUPLICATES_KEY, timeout=60_000)
        assert browser.filter.currentText() == "Duplicates: 2/2 warned"  # no item count: it was cut off (h30)
        shown = {Path(browser.model.record(r).path).name: r for r in range(browser.model.rowCount())}
        assert set(shown) == {"camera.png", "camera-small.jpg", "coffee.png", "coffee-copy.png"}
        row = shown["camera-small.jpg"]
        text = browser.model.data(browser.model.index(row))
        assert "leak" in text  # the thumbnail says the group spans splits

        browser.view.setFocus()
        browser._select_row(row)
        record = browser.model.record(row)
        browser.relabel[record.id] = (
            record.label,
            "other",
        )  # also a suspected label error: Enter must not relabel
        qtbot.keyClick(browser.view, Qt.Key.Key_Return)
        with ProjectStore.open(project) as store:
            splits = {Path(im.path).name: im.split for im in store.images()}
        assert splits["camera-small.jpg"] == splits["camera.png"] == "train"
        with ProjectStore.open(project) as store:
            assert next(im.label for im in store.images() if im.id == record.id) == record.label
        assert "leak" not in browser.model.data(browser.model.index(row))
        assert "in the training split" in window.statusBar().currentMessage()
        assert (
            "Undo label does not go back over it" in window.statusBar().currentMessage()
        )  # Ctrl+Z: silent (h30)
    finally:
        controller.shutdown()


def test_moving_an_image_says_its_identical_copy_moved_along(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    project = make_duplicates_project(tmp_path)
    window, controller, browser, messages = _studio(qtbot, project)
    try:
        rows = {Path(browser.model.record(r).path).name: r for r in range(browser.model.rowCount())}
        browser._select_row(rows["coffee.png"])
        browser.move_selected_to_split("test")
        assert messages[-1] == (
            "Moved 2 image(s) to the test split (1 of them identical copies of those selected, which share one "
            "split) (a split change: Undo label does not go back over it; move them back to undo it)"
        )
        with ProjectStore.open(project) as store:
            splits = {Path(im.path).name: im.split for im in store.images()}
        assert splits["coffee.png"] == splits["coffee-copy.png"] == "test"
    finally:
        controller.shutdown()


def test_the_duplicate_marks_follow_moves_and_removals_and_enter_says_when_nothing_moved(
    qtbot, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QMessageBox

    from dmtl_studio.core.quality.duplicates import find_duplicates

    project = make_duplicates_project(tmp_path)
    window, controller, browser, messages = _studio(qtbot, project)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    try:
        browser.set_duplicates(find_duplicates(project))
        rows = {Path(browser.model.record(r).path).name: r for r in range(browser.model.rowCount())}
        small = browser.model.record(rows["camera-small.jpg"]).id

        def mark(name: str) -> str:
            row = next(
                r for r in range(browser.model.rowCount()) if browser.model.record(r).path.endswith(name)
            )
            return browser.model.data(browser.model.index(row))

        assert "leak" in mark("camera.png") and browser.filter.currentText().startswith(
            "Duplicates: 2/2 warned"
        )
        browser._select_row(rows["camera-small.jpg"])
        browser.move_selected_to_split("train")  # by hand: the leak is gone, the marks said it still was
        assert "leak" not in mark("camera.png") and "dup" in mark("camera.png")
        assert browser.filter.currentText().startswith("Duplicates: 1/2 warned")
        assert browser.dup_notes[small].endswith("same split, same label")

        browser._select_row(rows["coffee.png"])  # the two labels: both in training already
        browser.keep_duplicate_group_in_one_split()
        assert messages[-1] == (
            "These 2 duplicate image(s) are already in one split (training); their labels differ (a, b): give "
            "them one label"
        )

        browser._select_row(rows["camera-small.jpg"])
        browser.remove_selected()  # its group is a group no more
        assert browser.filter.currentText().startswith("Duplicates: 1/1 warned")
        shown = {Path(browser.model.record(r).path).name for r in range(browser.model.rowCount())}
        assert shown == {"coffee.png", "coffee-copy.png"} and small not in browser.duplicate_group
    finally:
        controller.shutdown()


def test_long_work_in_the_evaluation_area_can_be_cancelled(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Duplicates, label errors, the audit…: progress and no Cancel; only closing the window stopped them."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    images = write_shapes_folder(tmp_path / "images", 100, seed=4, size=128)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, images, seed=0)
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    window.show()
    view = window.evaluation
    try:
        window.duplicates_requested.emit()
        assert view.cancel_button.isVisible() and view.cancel_button.isEnabled()
        qtbot.wait(QApplication.doubleClickInterval() + 50)  # sooner, a click is a double-click's second half
        assert view.cancel_button.isVisible()
        view.cancel_button.click()
        assert view.cancel_button.text() == "Stopping…"
        qtbot.waitUntil(lambda: not view.progress.isVisible(), timeout=60_000)
        assert view.message.text() == "The search for duplicates was stopped."
        assert not view.cancel_button.isVisible()
        assert window.browser.filter.currentData() != DUPLICATES_KEY  # nothing was offered
        from dmtl_studio.app import CANCELLABLE_TASKS

        assert "export" not in CANCELLABLE_TASKS  # an export cannot be stopped: no Cancel button for it
    finally:
        controller.shutdown()


def test_enter_asks_before_moving_many_items_between_splits(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """One Enter moved a group of 12,895 into training, half of validation and test with it, without a word."""
    from PySide6.QtWidgets import QMessageBox

    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.quality.duplicates import find_duplicates

    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    source = make_duplicates_project(tmp_path / "source").parent / "images"
    for k in range(30):
        (folder / f"copy{k}.png").write_bytes((source / "b" / "coffee.png").read_bytes())
    (tmp_path / "images" / "b").mkdir()
    (tmp_path / "images" / "b" / "other.png").write_bytes((source / "a" / "camera.png").read_bytes())
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, tmp_path / "images", seed=0)
        ids = sorted(r.id for r in store.images() if "copy" in r.path)
        store.set_splits({i: ("train" if k < 11 else "val" if k < 21 else "test") for k, i in enumerate(ids)})
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    browser = window.browser
    answers: list[str] = []
    reply = [QMessageBox.StandardButton.No]

    def splits() -> list[str]:
        with ProjectStore.open(tmp_path / "p") as store:
            return sorted(r.split for r in store.images() if "copy" in r.path)

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.append(a[2]) or reply[0])
    try:
        browser.set_duplicates(find_duplicates(tmp_path / "p"))
        browser._select_ids([ids[0]])
        browser.keep_duplicate_group_in_one_split()
        assert answers == ["Move 19 image(s) of this group of 30 into the training split? Splits are not undone "
                           "with Ctrl+Z."]  # fmt: skip
        assert splits().count("train") == 11  # answered No: nothing moved
        reply[0] = QMessageBox.StandardButton.Yes
        browser.keep_duplicate_group_in_one_split()
        assert splits() == ["train"] * 30
    finally:
        controller.shutdown()


def test_in_a_list_of_the_model_s_a_duplicate_mark_does_not_replace_its_word(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Relabelling a suspect made another suspect, a duplicate, show 'dup 1 labels' in place of its 'looks like
    circle' in the Suspected label errors list; the Duplicates filter shows the mark again."""
    from dmtl_studio.core.quality.duplicates import find_duplicates
    from dmtl_studio.ui.dataset_browser import LABEL_ERRORS_KEY

    project = make_duplicates_project(tmp_path)
    window, controller, browser, _messages = _studio(qtbot, project)
    try:
        browser.set_duplicates(find_duplicates(project))
        member = next(iter(browser.duplicate_group))

        def under_thumbnail() -> str:
            return browser.model.data(browser.model.index(browser.model.row_of(member)))

        browser.model.verdicts[member], browser.notes[member] = (
            "→ b 1.00",
            "labelled a, looks like b (score 1.00)",
        )
        browser._ordered[LABEL_ERRORS_KEY] = ("Suspected label errors", [member])
        browser._rebuild_filters(browser.classes.class_names())
        browser.set_filter(LABEL_ERRORS_KEY)
        browser._refresh_duplicate_flags()  # as a relabel of another item refreshes them
        assert under_thumbnail().endswith("→ b 1.00") and "looks like b" in browser._note_of(member)
        browser.set_filter(DUPLICATES_KEY)  # its marks first there
        assert " dup " in under_thumbnail() and browser._note_of(member).startswith("duplicate group ")
        browser.set_filter(LABEL_ERRORS_KEY)  # and back: the model's word again (it was lost)
        assert under_thumbnail().endswith("→ b 1.00")
    finally:
        controller.shutdown()


def test_the_duplicate_checks_line_says_when_items_were_removed_since(
    qtbot, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    """The Evaluation area's "Duplicate check at …: 2 group(s)" stayed after removals changed the groups (h30,
    h35): it says so until the check runs again."""
    from PySide6.QtWidgets import QMessageBox

    project = make_duplicates_project(tmp_path)
    window, controller, browser, _messages = _studio(qtbot, project)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    message = window.evaluation.message
    try:
        window.duplicates_requested.emit()
        qtbot.waitUntil(lambda: message.text().startswith("Duplicate check at"), timeout=60_000)
        assert (
            "2 group(s) of duplicates among 8 image(s)" in message.text()
            and "Out of date" not in message.text()
        )
        browser.set_filter("all")
        row = next(
            r for r in range(browser.model.rowCount()) if browser.model.record(r).path.endswith("small.jpg")
        )
        browser._select_row(row)
        browser.remove_selected()
        assert "Out of date (1 image(s) removed since): run Labels ▸ Find duplicates and leaks again." in (
            message.text()
        )
        window.duplicates_requested.emit()
        qtbot.waitUntil(lambda: "among 7 image(s)" in message.text(), timeout=60_000)
        assert "Out of date" not in message.text()
    finally:
        controller.shutdown()


def test_a_search_shows_a_duplicate_group_whole(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """With a search text, the Duplicates filter showed one member of a two-image group, hiding its partner (h35):
    a group with a member the search finds is shown whole."""
    from dmtl_studio.core.quality.duplicates import find_duplicates

    project = make_duplicates_project(tmp_path)
    window, controller, browser, _messages = _studio(qtbot, project)
    try:
        browser.set_duplicates(find_duplicates(project))
        browser.search.setText("small")
        browser.apply_filter()
        shown = [Path(browser.model.record(r).path).name for r in range(browser.model.rowCount())]
        assert sorted(shown) == ["camera-small.jpg", "camera.png"]  # its partner shown with it
        browser.search.setText("nothing matches")
        browser.apply_filter()
        assert browser.model.rowCount() == 0
    finally:
        controller.shutdown()
