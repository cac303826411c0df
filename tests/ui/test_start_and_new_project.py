"""First start: the start page, recent projects, the demo, and the New project form."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import is_project
from dmtl_studio.ui.new_project_dialog import NewProjectDialog
from dmtl_studio.ui.settings import recent_projects, remember_project


def test_without_a_project_the_window_is_a_start_page(qtbot) -> None:  # noqa: ANN001
    window, controller = build_window()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    page = window.start_page
    assert window.pages.currentWidget() is page and page.isVisible()
    assert not any(dock.isVisible() for dock in window.docks)  # no wall of empty panels
    for button in (page.new_button, page.open_button, page.demo_button, page.text_demo_button):
        assert button.isVisible() and button.isEnabled()
    order = [text.text() for text in page.step_labels]
    for step, word in zip(order, ["Import", "Label", "Recipe", "Train", "Evaluate"], strict=True):
        assert f"<b>{word}</b>" in step
    controller.shutdown()


def test_recent_projects_open_and_gone_ones_can_be_removed(qtbot, project: Path, tmp_path: Path) -> None:  # noqa: ANN001
    gone = tmp_path / "gone"
    shutil.copytree(project, gone)
    remember_project(project)
    remember_project(gone)
    shutil.rmtree(gone)  # deleted since it was last opened
    window, controller = build_window()
    qtbot.addWidget(window)
    page = window.start_page
    texts = [page.recent.item(row).text() for row in range(page.recent.count())]
    assert len(texts) == 2 and "gone" in texts[0] and "gone" not in texts[1]
    page.recent.setCurrentRow(0)
    assert not page.open_recent_button.isEnabled()
    page._open_item(page.recent.item(0))
    assert "no longer a project" in page.recent_note.text() and window.pages.currentWidget() is page
    qtbot.mouseClick(page.forget_button, Qt.MouseButton.LeftButton)
    assert recent_projects() == [str(project)] and page.recent.count() == 1
    page.recent.setCurrentRow(0)
    qtbot.mouseClick(page.open_recent_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.browser_page
    assert all(dock.isVisibleTo(window) for dock in window.docks)
    assert controller.project_dir == project
    controller.shutdown()


def test_the_demo_opens_from_the_start_page(qtbot) -> None:  # noqa: ANN001
    window, controller = build_window()
    qtbot.addWidget(window)
    qtbot.mouseClick(window.start_page.demo_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.browser_page
    assert controller.store is not None and len(controller.store.class_counts()) == 3
    assert recent_projects() == [str(controller.project_dir)]
    controller.shutdown()


def test_the_text_demo_opens_from_the_start_page(qtbot) -> None:  # noqa: ANN001
    window, controller = build_window()
    qtbot.addWidget(window)
    qtbot.mouseClick(window.start_page.text_demo_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.browser_page
    assert controller.store is not None and controller.store.kind == "text"
    assert sorted(controller.store.class_counts()) == ["billing", "hardware", "software"]
    assert window.import_action.text() == "&Import texts…"
    controller.shutdown()


def test_an_empty_name_and_enter_make_nothing(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dialog = NewProjectDialog(location=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.folder() is None
    assert not dialog.create_button.isEnabled()
    dialog.accept()  # even when forced, an empty name is refused with a reason
    assert dialog.isVisible() and "name" in dialog.problem.text()
    assert not any(tmp_path.iterdir())


def test_a_non_empty_folder_is_only_used_when_confirmed(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    answers: list[bool] = []
    monkeypatch.setattr(NewProjectDialog, "confirm_non_empty", lambda self, check: answers.pop(0))
    dialog = NewProjectDialog(location=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name, "photos")
    assert "already holds 1" in dialog.target.text()
    answers.append(False)
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.folder() is None
    answers.append(True)
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    assert not dialog.isVisible() and dialog.folder() == tmp_path / "photos"


def test_new_project_makes_its_folder_from_the_form(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    window, controller = build_window()
    qtbot.addWidget(window)
    location = tmp_path / "projects" / "not-yet"  # a location that does not exist yet

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, NewProjectDialog)
        dialog.location.setText(str(location))
        qtbot.keyClicks(dialog.name, "leaf spots")
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(100, fill_in)
    window.new_action.trigger()
    assert is_project(location / "leaf spots")
    assert controller.project_dir == location / "leaf spots"
    assert window.pages.currentWidget() is window.browser_page
    assert recent_projects() == [str(location / "leaf spots")]
    controller.shutdown()


def test_the_file_menu_reopens_recent_projects(qtbot, project: Path, tmp_path: Path) -> None:  # noqa: ANN001
    remember_project(project)
    remember_project(tmp_path / "moved-away")
    window, controller = build_window()
    qtbot.addWidget(window)
    window.recent_menu.aboutToShow.emit()
    actions = window.recent_menu.actions()
    assert [a.isEnabled() for a in actions] == [False, True] and "(gone)" in actions[0].text()
    actions[1].trigger()
    assert controller.project_dir == project and window.pages.currentWidget() is window.browser_page
    controller.shutdown()


def test_the_window_says_why_it_cannot_start_instead_of_a_traceback_or_an_abort(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # noqa: ANN001
    """No display: Qt aborted the process (134), blaming a library; a data folder that cannot be made: a
    traceback, and nothing at all when started from the menu."""
    from PySide6.QtWidgets import QMessageBox

    from dmtl_studio.app import display_problem, run_app

    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    assert (
        display_problem()
        == "there is no display to show the window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    )
    assert run_app([]) == 2
    assert "start it in a desktop session" in capsys.readouterr().err
    monkeypatch.setenv("DISPLAY", ":4321")  # named: Qt's to try
    assert display_problem() is None

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() is None
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("DMTL_STUDIO_HOME", str(tmp_path / "afile"))
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
    assert run_app([]) == 2
    assert (
        len(shown) == 1
        and shown[0].startswith("The application's data folder")
        and "DMTL_STUDIO_HOME" in shown[0]
    )
