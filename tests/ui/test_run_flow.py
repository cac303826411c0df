"""Run lifecycle as the window shows it: run lists follow the project, closing during training asks, Stop says
what it costs, and the ETA comes from the phase it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.app import build_window
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore

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


def _answer_close_question(button_text: str, asked: list[str]) -> None:
    """Press ``button_text`` in the question the window shows next (as the user would)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def press() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(50, press)
            return
        asked.append(box.text() + "\n" + box.informativeText())
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(50, press)


def _long_run_past_its_first_epoch(qtbot, project: Path) -> tuple:  # noqa: ANN001
    """The window on ``project``, a 200-epoch run (trained by epochs: a probe fits in one go) past its first."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    window.model_panel.linear_probe.setChecked(False)
    window.model_panel.epochs.setValue(200)
    controller.start_training()
    thread = controller.training_thread
    qtbot.waitUntil(lambda: window.training.epochs_done >= 1, timeout=TIMEOUT)
    return window, controller, thread


def test_closing_during_training_asks_and_stays_responsive(qtbot, tiny_project: Path) -> None:  # noqa: ANN001
    import time

    window, controller, thread = _long_run_past_its_first_epoch(qtbot, tiny_project)

    asked: list[str] = []
    _answer_close_question("Cancel", asked)
    window.close()
    assert len(asked) == 1 and "still training" in asked[0]
    assert "keeps the run at epoch" in asked[0]  # what stopping would cost, said before it happens
    assert window.isVisible() and thread.isRunning()  # Cancel: nothing changed

    _answer_close_question("Stop and quit", asked)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 1.0  # no waiting for the batch inside the close
    assert len(asked) == 2
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert not thread.isRunning()
    with ProjectStore.open(tiny_project) as store:
        run = store.runs()[-1]
        assert run.status == "stopped" and len(store.epoch_metrics(run.id)) >= 1


def test_opening_another_project_during_a_run_asks_and_opens_it_once_stopped(
    qtbot, tiny_project: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    other = tmp_path / "other"
    ProjectStore.create(other).close()
    window, controller, thread = _long_run_past_its_first_epoch(qtbot, tiny_project)

    asked: list[str] = []
    _answer_close_question("Cancel", asked)
    assert controller.open_project(str(other)) is False  # File ▸ Open, Open recent, the start page, the demos
    assert len(asked) == 1 and "Stop it and open other?" in asked[0] and "keeps the run at epoch" in asked[0]
    assert controller.project_dir == tiny_project and thread.isRunning()  # Cancel: nothing changed

    _answer_close_question("Stop the run and open", asked)
    assert controller.open_project(str(other)) is False  # not yet: the run stops first
    qtbot.waitUntil(lambda: controller.project_dir == other, timeout=60_000)
    assert not thread.isRunning() and window.windowTitle().endswith("other")
    with ProjectStore.open(tiny_project) as store:
        run = store.runs()[-1]
        assert run.status == "stopped" and len(store.epoch_metrics(run.id)) >= 1
    controller.shutdown()


def _two_epoch_run(qtbot, project: Path) -> tuple:  # noqa: ANN001
    """The window on ``project``, a 2-epoch run started and showing its progress."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    window.model_panel.epochs.setValue(2)
    controller.start_training()
    qtbot.waitUntil(lambda: window.training.progress.maximum() > 0, timeout=TIMEOUT)
    return window, controller, controller.training_thread


def test_keep_training_closes_the_window_when_the_run_ends(qtbot, tiny_project: Path) -> None:  # noqa: ANN001
    window, controller, thread = _two_epoch_run(qtbot, tiny_project)
    window.training.pause_button.click()  # paused: "keep training" resumes it, or the window would never close
    asked: list[str] = []
    _answer_close_question("Keep training", asked)
    window.close()
    assert asked and "the run goes on (it is resumed)" in asked[0] and window.isVisible()
    assert not window.training.paused
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)
    assert not thread.isRunning()
    with ProjectStore.open(tiny_project) as store:
        assert store.runs()[-1].status == "completed"


def test_keep_training_chosen_after_the_run_ended_behind_the_question_closes_the_window(
    qtbot, tiny_project: Path
) -> None:  # noqa: ANN001
    """The run finished while the question was open: Keep training left the window open for good, and every
    later Quit asked again about a run that had ended (h33)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    window, controller, thread = _two_epoch_run(qtbot, tiny_project)
    asked: list[str] = []

    def answer_once_the_run_has_ended() -> None:
        box = QApplication.activeModalWidget()
        if box is None or thread.isRunning() or not window.training.status.text().startswith("Finished"):
            QTimer.singleShot(50, answer_once_the_run_has_ended)
            return
        asked.append(box.text())
        next(b for b in box.buttons() if b.text() == "Keep training").click()

    QTimer.singleShot(50, answer_once_the_run_has_ended)
    window.close()
    assert asked and "still training" in asked[0]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    with ProjectStore.open(tiny_project) as store:
        assert store.runs()[-1].status == "completed"


def test_the_step_eta_comes_from_the_steps_own_rate(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.training.events import PreparationProgress, StepProgress
    from dmtl_studio.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    now = [0.0]
    panel.clock = lambda: now[0]
    panel.run_started("frozen run")
    for done in (100, 500, 1000):  # a 5-minute feature pass
        now[0] = done * 0.3
        panel.on_preparing(PreparationProgress(done=done, total=1000, seconds=now[0]))
    assert panel.progress.format() == "features 1,000/1,000 · ETA 0:00"
    now[0] = 301.0
    panel.on_progress(StepProgress(1, 10, 1, 10, 0.9, 1e-3, 500.0))
    assert panel.progress.format().endswith("ETA …")  # no step rate measured yet
    now[0] = 311.0  # ten more steps in ten seconds: 89 steps are left, at one a second
    panel.on_progress(StepProgress(2, 10, 1, 10, 0.8, 1e-3, 500.0))
    assert panel.progress.format() == "epoch 2/10 · step 1/10 · ETA 1:29"
    panel.on_failed("stopped for the test")


def test_stop_says_what_it_keeps_before_it_does(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.training.events import EpochResult, PreparationProgress, StepProgress
    from dmtl_studio.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("frozen run")
    assert "No epoch has finished yet" in panel.stop_note.text()
    panel.on_preparing(PreparationProgress(done=10, total=100, seconds=2.0))
    assert "only the features computed so far" in panel.stop_button.toolTip()
    panel.on_progress(StepProgress(1, 5, 1, 4, 0.9, 1e-3, 500.0))
    assert "keeps no model" in panel.stop_note.text()
    panel.on_epoch(EpochResult(2, 5, 0.7, 0.6, 0.8, 0.5, 1e-3))
    assert (
        "epoch 2 of 5" in panel.stop_note.text()
        and "current epoch's progress is lost" in panel.stop_note.text()
    )
    assert panel.stop_button.toolTip() == panel.stop_note.text()
    panel.stop_button.click()
    assert "epoch 2 of 5" in panel.status.text()
    panel.on_failed("stopped for the test")


def test_terms_have_plain_language_tooltips(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    from dmtl_studio.ui.evaluation_view import EvaluationView
    from dmtl_studio.ui.model_panel import ModelPanel

    panel, view = ModelPanel(), EvaluationView()
    qtbot.addWidget(panel)
    qtbot.addWidget(view)
    lambda_label = next(
        label for label in panel.findChildren(QLabel) if label.text() == "Consistency weight λ"
    )
    for tip in (lambda_label.toolTip(), panel.consistency_weight.toolTip()):
        assert "same answer" in tip and "unlabelled" in tip
    for row, words in ((0, "spread out"), (1, "two best guesses")):
        assert words in view.method.itemData(row, Qt.ItemDataRole.ToolTipRole)
    assert "entropy:" in view.method.toolTip()
    tip = view.export_button.toolTip()
    for words in (
        "ONNX: runs in other programs",
        "TorchScript: runs with PyTorch",
        "safetensors: the weights alone",
    ):
        assert words in tip


def test_a_new_run_becomes_the_evaluation_choice(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.runs_table import RunRecord
    from dmtl_studio.ui.evaluation_view import EvaluationView

    def run(number: int) -> RunRecord:
        return RunRecord(number, f"run-{number}", float(number), "completed", f"/runs/run-{number}", {}, {})

    view = EvaluationView()
    qtbot.addWidget(view)
    view.set_runs([run(1), run(2)])
    view.run_choice.setCurrentIndex(1)  # the user looks at the older run
    view.set_runs([run(1), run(2)])
    assert view.selected_run() == "/runs/run-1"  # a refresh keeps the user's choice
    view.set_runs([run(1), run(2), run(3)])  # a run just finished
    assert view.selected_run() == "/runs/run-3"
    folds = [
        RunRecord(4 + k, f"cv-{k + 1}of2-x", 4.0 + k, "completed", f"/runs/cv-{k + 1}", {}, {})
        for k in range(2)
    ]
    view.set_runs([run(1), run(2), run(3), *folds])  # a cross-validation ended: its folds are not the choice
    assert view.selected_run() == "/runs/run-3"
    assert "a cross-validation fold: trained on part of the test split" in view.run_choice.itemText(0)
    tuned = RunRecord(
        9, "run-9", 9.0, "completed", "/runs/run-9", {"backbone": "b", "transfer": "partial"}, {}
    )
    view.set_runs([tuned])
    assert view.run_choice.itemText(0) == "run-9 — b, partial, completed"  # the strategy is said (h28)
    fresh = EvaluationView()
    qtbot.addWidget(fresh)
    fresh.set_runs([run(1), *folds])  # a project opened after a cross-validation
    assert fresh.selected_run() == "/runs/run-1"
    view.kept_run = "/runs/run-5"  # an Auto run kept its probe (run 5) over its newer fine-tune (run 6)
    view.set_runs([run(1), run(2), run(3), *folds, run(5), run(6)])
    assert view.selected_run() == "/runs/run-5" and view.kept_run is None
    view.set_runs([run(1), run(2), run(3), *folds, run(5), run(6), run(7)])  # the next run: the newest again
    assert view.selected_run() == "/runs/run-7"
    # A project opened whose newest run was stopped (after 3 of 40 epochs, barely learnt: h25): its newest
    # completed run is the choice; with no completed run, the newest.
    stopped = RunRecord(8, "run-8", 8.0, "stopped", "/runs/run-8", {}, {})
    opened = EvaluationView()
    qtbot.addWidget(opened)
    opened.set_runs([run(1), run(2), stopped])
    assert opened.selected_run() == "/runs/run-2"
    alone = EvaluationView()
    qtbot.addWidget(alone)
    alone.set_runs([stopped])
    assert alone.selected_run() == "/runs/run-8"
    alone.clear_result()  # another project opened in the same window: its runs are not "just finished"
    alone.set_runs([run(1), run(2), stopped])
    assert alone.selected_run() == "/runs/run-2"
    # A project opened after an Auto run kept its probe: not the newer fine-tune that lost (h29).
    choice = {"kept": "probe", "probe_run": "/runs/run-5", "finetune_run": "/runs/run-6"}
    probe = RunRecord(5, "run-5", 5.0, "completed", "/runs/run-5", {}, {"auto": choice})
    reopened = EvaluationView()
    qtbot.addWidget(reopened)
    reopened.set_runs([run(1), probe, run(6)])
    assert reopened.selected_run() == "/runs/run-5"
    # The project moved since Auto ran: the stored paths are the old place's (h31).
    moved = [
        RunRecord(r.id, r.name, r.created_at, r.status, "/new" + r.run_dir, r.config, r.final_metrics)
        for r in (run(1), probe, run(6))
    ]
    reopened.clear_result()
    reopened.set_runs(moved)
    assert reopened.selected_run() == "/new/runs/run-5"
    finetune_kept = RunRecord(
        6, "run-6", 6.0, "completed", "/runs/run-6", {}, {"auto": {**choice, "kept": "x"}}
    )
    reopened.clear_result()
    reopened.set_runs([run(1), run(5), finetune_kept])
    assert reopened.selected_run() == "/runs/run-6"
    # An Auto run of the command line, seen from an open window: its probe, then its fine-tune are listed as
    # they start, and only its end says the probe was kept. The box followed the fine-tune that lost while the
    # line under it named the probe (h33).
    watching = EvaluationView()
    qtbot.addWidget(watching)
    watching.set_runs([run(1)])
    watching.set_runs([run(1), run(5)])
    assert watching.selected_run() == "/runs/run-5"
    watching.set_runs([run(1), run(5), run(6)])
    assert watching.selected_run() == "/runs/run-6" and "run-5" not in watching.summary.text()
    watching.set_runs([run(1), probe, run(6)])  # Auto ended: the probe kept
    assert watching.selected_run() == "/runs/run-5" and "run-6" not in watching.summary.text()
    picked = EvaluationView()  # the person picks the fine-tune while Auto still runs: it stays theirs (h34)
    qtbot.addWidget(picked)
    picked.set_runs([run(1)])
    picked.set_runs([run(1), run(5), run(6)])
    picked.run_choice.activated.emit(picked.run_choice.findData("/runs/run-6"))  # as a click in the list does
    picked.set_runs([run(1), probe, run(6)])
    assert picked.selected_run() == "/runs/run-6"
    watching.run_choice.setCurrentIndex(watching.run_choice.findData("/runs/run-6"))  # the person's choice
    watching.set_runs([run(1), probe, run(6)])
    assert watching.selected_run() == "/runs/run-6"  # kept


def test_overlays_draw_runs_with_validation_curves_and_say_which_have_none(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.runs_table import EpochMetrics, RunRecord
    from dmtl_studio.ui.training_panel import CONSISTENCY_COLOR, OVERLAY_COLORS, TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert CONSISTENCY_COLOR not in OVERLAY_COLORS  # an overlay never reads as the live consistency curves
    runs = [
        RunRecord(1, "probe-run", 0.0, "completed", "/r/1", {"transfer": "frozen"}, {}),
        RunRecord(2, "epoch-run", 1.0, "completed", "/r/2", {"transfer": "partial"}, {}),
    ]
    metrics = {
        1: [EpochMetrics(1, 0.5, 0.8, None, None, 0.0)],  # its validation images joined the fit
        2: [EpochMetrics(e, 0.5, 0.8, 0.6, 0.7, 1e-3) for e in (1, 2, 3)],
    }
    panel.show_history(runs, metrics)
    panel.history.selectAll()
    assert panel.overlaid_runs() == 1
    note = panel.history_note.text()
    assert "Overlaid (dashed: their validation curves): epoch-run." in note
    assert "probe-run: no validation curve to overlay" in note
    legend = [label.text for _, label in panel.accuracy_plot.getPlotItem().legend.items]
    assert "epoch-run · partial" in legend and not any("probe-run" in text for text in legend)


def test_a_linear_probe_run_is_spoken_of_as_a_probe_not_epochs(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.runs_table import RunRecord
    from dmtl_studio.core.training.events import PreparationProgress, StepProgress
    from dmtl_studio.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("frozen transfer, a linear probe", epochs=10, probe=True)
    panel.on_preparing(PreparationProgress(done=10, total=40, seconds=2.0))
    assert "the linear probe is then fitted in seconds" in panel.status.text()
    panel.on_progress(StepProgress(1, 1, 2, 7, 0.9, 0.1, 0.0, phase="probe"))  # C 2 of 7 cross-validated
    assert (
        panel.stop_note.text()
        == "The linear probe is being fitted: Stop keeps the computed features, no model."
    )
    panel._stop_clicked()
    assert panel.status.text().startswith("Stopping after the current step… The linear probe is being fitted")
    config = {"transfer": "frozen", "head": "linear", "linear_probe": True}
    runs = [RunRecord(1, "probe-run", 0.0, "completed", "/r/1", config, {})]
    panel.show_history(runs, {1: []})
    assert panel.history.item(0, 4).text() == "probe"


def test_an_evaluation_of_the_project_open_before_is_not_shown_in_this_one(qtbot) -> None:  # noqa: ANN001
    """An evaluation still running when another project opened ended in that project's view (h29)."""
    import numpy as np

    from dmtl_studio.core.evaluation.inference import EvaluationResult
    from dmtl_studio.core.project.runs_table import RunRecord
    from dmtl_studio.ui.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    view.set_runs([RunRecord(1, "this", 1.0, "completed", "/b/runs/this", {}, {})])
    shown: list[object] = []
    view.result_shown.connect(shown.append)
    other = EvaluationResult(
        run_dir="/a/runs/before", run_name="before", split="val", note="", classes=("x", "y"),
        image_ids=np.array([1, 2]), paths=("/a/1.png", "/a/2.png"), targets=np.array([0, 1]),
        probabilities=np.array([[0.9, 0.1], [0.2, 0.8]]),
    )  # fmt: skip
    view.show_result(other)
    assert not shown and view.result is None and "/a/runs/before" not in view.evaluated
