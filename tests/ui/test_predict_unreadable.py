"""The window's prediction result names the files it could not read."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.app import build_window
from dmtl_studio.core.project.demo import write_shapes_folder
from tests.core.trained_run import copy_project


def test_the_window_names_unreadable_files_after_predicting(qtbot, tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 1, seed=4, size=64)
    (images / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    window, controller = build_window(project)
    qtbot.addWidget(window)
    view = window.evaluation
    out = tmp_path / "predictions.csv"
    view.predict_requested.emit(str(run_dir), str(images), str(out), {})
    qtbot.waitUntil(lambda: view.summary.text().startswith("Predicted"), timeout=120_000)
    text = view.summary.text()
    assert "1 file(s) could not be read: broken.png (" in text and "error column" in text
    assert out.is_file()
    controller.shutdown()
