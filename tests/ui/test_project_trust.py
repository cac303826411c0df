"""The window opens a read-only project read-only with a notice, and drops objects the product did not make only
after the person agrees."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import DATABASE_NAME
from tests.core.project.test_store_trust import _snapshot
from tests.disk_faults import read_only_folder


def test_a_read_only_project_opens_for_viewing_with_a_notice(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    errors: list[tuple] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: errors.append(args))
    with read_only_folder(project):
        window, controller = build_window(project)
        qtbot.addWidget(window)
        assert not errors and controller.store is not None and controller.store.read_only
        assert window.windowTitle().endswith("(read-only)")
        assert "read-only" in window.statusBar().currentMessage()
        # It looks read-only where one labels, and a label key says so there, not in a box per key (h30).
        assert window.browser.summary.text().endswith("<b>read-only</b> (for viewing)")
        messages: list[str] = []
        window.browser.status_message.connect(messages.append)
        window.browser.view.setCurrentIndex(window.browser.model.index(0))
        window.browser.label_selected("circle")
        assert not errors and messages and "is open read-only (for viewing)" in messages[-1]
        controller.shutdown()


def test_unknown_database_objects_are_dropped_only_with_consent(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    conn = sqlite3.connect(project / DATABASE_NAME)
    conn.execute("CREATE TRIGGER wipe AFTER UPDATE ON images BEGIN DELETE FROM classes; END")
    conn.commit()
    conn.close()
    before = _snapshot(project)
    asked: list[str] = []

    def answer(choice: QMessageBox.StandardButton):  # noqa: ANN202
        def ask(parent, title, text, *args):  # noqa: ANN001, ANN202
            asked.append(text)
            return choice

        return ask

    monkeypatch.setattr(QMessageBox, "warning", lambda *args: None)
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    window, controller = build_window(project)
    qtbot.addWidget(window)
    assert controller.store is None and "wipe" in asked[0]
    assert _snapshot(project) == before
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    assert controller.open_project(str(project))
    triggers = controller.store._conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    ).fetchall()
    assert triggers == []
    controller.shutdown()
