"""File ▸ Audit bundle of the selected run…: a save dialog, the bundle written on a worker, the result in the
status bar; without a run, the status bar says what is needed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from tests.core.trained_run import trained_project

TIMEOUT = 180_000


def test_audit_menu_writes_the_bundle_of_the_selected_run(
    qtbot, tmp_path_factory, tmp_path, monkeypatch
) -> None:  # noqa: ANN001
    project, run_dir = trained_project(tmp_path_factory)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    try:
        view = window.evaluation
        qtbot.waitUntil(lambda: view.run_choice.count() == 1, timeout=5_000)
        asked: list[str] = []

        def save_as(parent, title, suggested, filters):  # noqa: ANN001, ANN202
            asked.append(suggested)
            return str(tmp_path / "bundle"), filters  # no suffix typed: .zip is added

        monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
        file_menu = window.menuBar().actions()[0].menu()
        assert window.audit_action in file_menu.actions() and window.audit_action.isEnabled()
        assert window.audit_action.text() == "&Audit bundle of the selected run…"
        window.audit_action.trigger()
        out = tmp_path / "bundle.zip"
        qtbot.waitUntil(
            lambda: window.statusBar().currentMessage().startswith("Audit bundle"), timeout=TIMEOUT
        )
        assert asked == [str(project / f"{run_dir.name}-audit.zip")]
        assert window.statusBar().currentMessage() == f"Audit bundle of {run_dir.name} written to {out}."
        with zipfile.ZipFile(out) as bundle:
            card = json.loads(bundle.read("model-card.json"))
            listed = bundle.read("training-images.csv").decode("utf-8").count("\n") - 1
        with ProjectStore.open(project) as store:
            assert listed == sum(1 for im in store.images(usable_only=True) if im.label and im.split)
        assert card["run"] == run_dir.name and card["metrics"]["accuracy"]["ci95"]
    finally:
        controller.shutdown()


def test_audit_menu_without_a_run_says_what_is_needed(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    project = tmp_path / "project"
    ProjectStore.create(project).close()
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    try:
        monkeypatch.setattr(
            QFileDialog, "getSaveFileName", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
        )
        window.audit_action.trigger()
        assert "needs a trained run" in window.statusBar().currentMessage()
    finally:
        controller.shutdown()
