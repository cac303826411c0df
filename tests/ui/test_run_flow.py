"""Run lifecycle as the window shows it: run lists follow the project, closing during training asks, Stop says
what it costs, and the ETA comes from the phase it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.app import build_window
from dmtl_studio.core.demo import write_shapes_folder
from dmtl_studio.core.importer import import_folder
from dmtl_studio.core.store import ProjectStore

TIMEOUT = 120_000


@pytest.fixture
def tiny_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """3 classes x 6 small pictures; the window trains them at 32 px on the CPU."""
    from dmtl_studio.ui import model_panel

    images = write_shapes_folder(tmp_path / "images", 6, seed=5, size=48)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, seed=0)
    original = model_panel.ModelPanel.config
    monkeypatch.setattr(
        model_panel.ModelPanel,
        "config",
        lambda self: original(self).with_changes(input_size=32, device="cpu", feature_views=1),
    )
    return project


def test_a_finished_run_reaches_every_run_list_without_a_click(qtbot, tiny_project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(tiny_project)
    qtbot.addWidget(window)
    window.show()
    window.evaluation_dock.raise_()
    view = window.evaluation
    qtbot.waitUntil(lambda: not view.evaluate_button.isEnabled(), timeout=5_000)
    assert view.run_choice.count() == 0 and window.training.history.rowCount() == 0
    window.model_panel.epochs.setValue(1)
    controller.start_training()
    thread = controller.training_thread
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=TIMEOUT)
    # No click on the chooser: the finished run is listed and can be evaluated at once.
    qtbot.waitUntil(lambda: view.run_choice.count() == 1, timeout=5_000)
    assert view.evaluate_button.isEnabled() and view.export_button.isEnabled()
    assert window.training.history.rowCount() == 1
    controller.shutdown()


def test_export_and_predict_need_a_run(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    for button in (view.export_button, view.predict_button, view.evaluate_button, view.report_button):
        assert not button.isEnabled(), button.text()
