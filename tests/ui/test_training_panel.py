"""The training view's drawing: batched, one part per timer tick, and nothing lost at the end of a run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from dmtl_studio.core.training.events import (
    EpochResult,
    PhaseStarted,
    PreparationProgress,
    RunSummary,
    StepProgress,
)
from dmtl_studio.ui.training_panel import NOTES_LINES, NOTES_SHOWN, TrainingPanel


def _feed(panel: TrainingPanel, epochs: int, steps: int) -> None:
    for epoch in range(1, epochs + 1):
        for step in range(1, steps + 1):
            panel.on_progress(StepProgress(epoch, epochs, step, steps, 1.0 / (epoch + step), 1e-3, 50.0))
        panel.on_epoch(
            EpochResult(
                epoch,
                epochs,
                0.5,
                0.6 + epoch / 100,
                0.4,
                0.7,
                1e-3,
                confusion=np.array([[5, epoch], [1, 7]]),
                classes=("a", "b"),
            )
        )


def test_points_wait_for_the_timer_and_each_tick_draws_one_part(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("test run")
    panel.redraw_timer.stop()  # ticks are driven by hand below
    _feed(panel, epochs=3, steps=4)
    # Nothing is painted per event: the curves hold the points, the table waits.
    assert panel.train_loss.curve.getData()[0] is None or len(panel.train_loss.curve.getData()[0]) == 0
    assert panel.confusion.rowCount() == 0
    panel._redraw_next()
    assert panel.train_loss.drawn == 12 and panel.val_loss.drawn == 3  # the loss plot, all of it
    assert (
        panel.train_accuracy.drawn == 0 and panel.learning_rate.drawn == 0 and panel.confusion.rowCount() == 0
    )
    panel._redraw_next()
    assert panel.train_accuracy.drawn == 3 and panel.learning_rate.drawn == 0
    panel._redraw_next()
    assert panel.learning_rate.drawn == 12 and panel.confusion.rowCount() == 0
    panel._redraw_next()
    # Only the latest epoch's confusion matrix is shown, however many epochs ended between two ticks.
    assert panel.confusion.rowCount() == 2 and panel.confusion.item(0, 1).text() == "3"
    # With nothing new, a tick skips to whatever changed next.
    _feed(panel, epochs=1, steps=1)
    panel._redraw_next()
    assert panel.train_loss.drawn == panel.train_loss.n == 13


def test_the_end_of_a_run_draws_everything_pending(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("test run")
    panel.redraw_timer.stop()
    _feed(panel, epochs=2, steps=3)
    panel.on_failed("disk full")
    assert all(series.drawn == series.n for series in panel.live)
    assert len(panel.train_loss.curve.getData()[0]) == 6
    assert panel.confusion.rowCount() == 2 and panel.confusion.item(0, 1).text() == "2"
    assert not panel.redraw_timer.isActive()


def test_the_feature_pass_shows_its_own_progress_then_steps_take_over(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("frozen run")
    assert panel.progress.maximum() == 0  # busy: nothing is known yet
    panel.on_preparing(PreparationProgress(done=250, total=1000, seconds=30.0))
    assert (panel.progress.value(), panel.progress.maximum()) == (250, 1000)
    assert panel.progress.format() == "features 250/1,000 · ETA 1:30"
    assert "Computing features once" in panel.status.text()
    panel.on_progress(StepProgress(1, 5, 1, 4, 0.9, 1e-3, 500.0))
    assert (panel.progress.value(), panel.progress.maximum()) == (1, 20)
    assert panel.progress.format().startswith("epoch 1/5 · step 1/4")
    panel.on_failed("stopped for the test")


def test_axes_show_plain_numbers_and_legends_stay_off_the_curves(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 420)
    panel.show()
    panel.run_started("a long run")
    # The first steps of a long run: x is a thousandth of an epoch, the rate a few millionths.
    panel.on_progress(StepProgress(1, 1, 1, 1000, 0.9, 2e-6, 100.0))
    panel.on_progress(StepProgress(1, 1, 3, 1000, 0.8, 3e-6, 100.0))
    panel.redraw()
    qtbot.wait(100)
    for plot in (panel.loss_plot, panel.accuracy_plot, panel.lr_plot):
        for axis in ("bottom", "left"):
            assert "(x" not in plot.getAxis(axis).labelString(), plot.getAxis(axis).labelString()
        legend, view = plot.getPlotItem().legend, plot.getPlotItem().getViewBox()
        assert not legend.sceneBoundingRect().intersects(view.sceneBoundingRect())
    # Accuracies of 1: the axis stops at 1, whatever the auto-range adds (it read "0.6 … 1.4", h28).
    for epoch in (1, 2):
        panel.on_epoch(EpochResult(epoch, 3, 0.5, 1.0, 0.4, 1.0, 1e-3, consistency_mask=1.0))
    panel.redraw()
    qtbot.wait(100)
    view = panel.accuracy_plot.getPlotItem().getViewBox()
    low, high = view.viewRange()[1]
    assert low >= -0.1 and high <= 1.1, (low, high)
    # ... yet a point at 1 is drawn whole, not half cut by the plot's top edge (h33).
    pixels_per_unit = view.height() / (high - low)
    symbol = panel.val_accuracy.curve.opts["symbolSize"]
    assert (high - 1) * pixels_per_unit >= symbol / 2, (high, view.height())
    panel.on_failed("stopped for the test")


def test_an_entry_arriving_mid_run_refits_the_legend_so_none_is_cut(qtbot) -> None:  # noqa: ANN001
    """The consistency share's long entry came with the third epoch and pushed "validation" out of the plot's
    width, cut to "vali" (h33)."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 420)
    panel.show()
    panel.run_started("a run with unlabelled images")
    panel.on_epoch(EpochResult(1, 3, 0.9, 0.5, 0.8, 0.4, 1e-3, consistency_loss=0.2, consistency_mask=1.0))
    panel.redraw()
    qtbot.wait(100)
    panel.on_epoch(EpochResult(2, 3, 0.8, 0.6, 0.7, 0.5, 1e-3, consistency_loss=0.2, consistency_mask=0.35))
    panel.redraw()
    qtbot.wait(100)
    plot = panel.accuracy_plot
    legend = plot.getPlotItem().legend
    assert len(legend.items) == 3
    right = plot.mapToScene(plot.rect().topRight()).x()
    for _sample, label in legend.items:
        text = label.item.sceneBoundingRect()
        assert text.right() <= right, (label.text, text, right)
    panel.on_failed("stopped for the test")


def test_continue_is_offered_for_an_interrupted_run_with_a_saved_epoch(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.runs_table import RunRecord

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    config = {"backbone": "efficientnet_lite0", "transfer": "frozen"}
    runs = [
        RunRecord(1, "crashed", 0.0, "interrupted", "/p/runs/crashed", config, {}, resumable=True),
        RunRecord(2, "done", 1.0, "completed", "/p/runs/done", config, {}, resumable=False),
    ]
    panel.show_history(runs, {})
    requested: list[str] = []
    panel.resume_run_requested.connect(requested.append)
    panel.history.selectRow(1)  # newest first: "crashed" is the second row
    assert panel.history.item(1, 1).text() == "interrupted"
    assert panel.resume_button.isEnabled()
    panel.resume_button.click()
    assert requested == ["/p/runs/crashed"]
    panel.history.selectRow(0)
    assert not panel.resume_button.isEnabled()


def test_the_eta_comes_from_the_phase_it_describes(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("test run")
    panel._started_at -= 600  # ten minutes went into the feature pass before the first step
    panel.on_preparing(PreparationProgress(50, 100, 600.0, reused=40, eta_seconds=90.0))
    assert "ETA 1:30" in panel.progress.format() and "Reused 40 cached views" in panel.status.text()
    panel.on_progress(StepProgress(1, 2, 1, 10, 0.5, 1e-3, 100.0, eta_seconds=19.0))
    assert "ETA 0:19" in panel.progress.format()


def test_a_linear_probe_plots_its_strengths_and_the_next_run_plots_learning_rates_again(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("frozen run, linear probe")
    grid = (1e-3, 1e-2, 1e-1)
    for step, c in enumerate(grid, start=1):
        panel.on_progress(StepProgress(1, 1, step, len(grid), 0.9 - step / 10, c, 0.0, phase="probe"))
    assert panel.progress.format().startswith("linear probe · strength 3/3")
    assert "C = 0.1" in panel.status.text() and "log-loss 0.600" in panel.status.text()
    assert panel.lr_plot.getAxis("left").labelText == "C (inverse L2 strength)"  # as scikit-learn's C (h28)
    assert panel.lr_plot.getPlotItem().ctrl.logYCheck.isChecked()
    legend = panel.loss_plot.getPlotItem().legend
    assert legend.getLabel(panel.train_loss.curve).text == "cross-validated (per C)"
    assert legend.getLabel(panel.val_loss.curve) is None  # a probe's loss plot has no validation loss
    assert "linear probe" in panel.stop_cost()
    assert not any(marker.isVisible() for marker in panel.chosen_c)
    panel.on_epoch(EpochResult(1, 1, 0.6, 0.9, 0.7, 0.8, 1e-3, probe_c=1e-2))
    for marker in panel.chosen_c:  # the chosen strength is the second one tried
        assert marker.isVisible() and marker.value() == 2 and marker.label.toPlainText() == "chosen C = 0.01"
    # Overlaid history runs (plotted by epoch) hide the mark; clearing the selection brings it back.
    from dmtl_studio.core.project.runs_table import RunRecord

    config = {"backbone": "efficientnet_lite0", "transfer": "frozen"}
    panel.show_history([RunRecord(1, "earlier", 0.0, "completed", "/p/runs/earlier", config, {})], {})
    panel.history.selectRow(0)
    assert not any(marker.isVisible() for marker in panel.chosen_c)
    panel.history.clearSelection()
    assert all(marker.isVisible() for marker in panel.chosen_c)
    panel.progress.setRange(0, 100)
    panel.progress.setValue(8)  # as Auto's first phase leaves it when its fine-tune is skipped
    panel.on_finished(RunSummary(1, "/runs/probe", "completed", 1, ("a", "b"), "cpu", {}))
    assert panel.progress.value() == panel.progress.maximum() > 0  # "finished" on a full bar
    assert panel.status.text().startswith("Finished: the linear probe was fitted on cpu"), panel.status.text()
    accuracy_legend = panel.accuracy_plot.getPlotItem().legend
    assert accuracy_legend.getLabel(panel.val_accuracy.curve) is None  # no validation pass: no empty entry
    panel.redraw()
    x, y = panel.learning_rate.curve.getData()
    assert list(x) == [1, 2, 3] and np.allclose(10 ** np.asarray(y), grid)  # drawn on a log axis
    panel.run_started("an epoch run")
    assert not any(marker.isVisible() for marker in panel.chosen_c)
    assert panel.lr_plot.getAxis("left").labelText == "Learning rate"
    assert not panel.lr_plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert legend.getLabel(panel.train_loss.curve).text == "train (per step)"
    assert legend.getLabel(panel.val_loss.curve).text == "validation"
    assert accuracy_legend.getLabel(panel.val_accuracy.curve).text == "validation"
    panel.on_progress(StepProgress(1, 2, 1, 4, 0.9, 1e-3, 50.0))
    assert panel.progress.format().startswith("epoch 1/2 · step 1/4")
    panel.on_failed("stopped for the test")


def test_a_text_project_is_told_of_in_texts_and_the_encoder(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_kind("text")
    panel.run_started("frozen transfer of all-MiniLM-L6-v2")
    assert (
        "validation texts" in panel.confusion_note.text() and "validation texts" in panel.confusion.toolTip()
    )
    panel.on_preparing(PreparationProgress(done=25, total=100, seconds=3.0))
    assert "frozen encoder: 25 of 100 text views (a few augmented views of each training text)" in (
        panel.status.text()
    )
    panel.on_progress(StepProgress(1, 5, 1, 4, 0.9, 1e-3, 500.0))
    assert "500 texts/s" in panel.status.text() and "image" not in panel.status.text()
    panel.show_confusion(np.array([[3, 1], [0, 4]]), ["a", "b"], "epoch 1")
    assert panel.confusion_note.text().startswith("Validation texts, epoch 1")
    assert panel.per_class.horizontalHeaderItem(4).text() == "Texts"  # it said "Images" (h25)
    panel.set_kind("images")  # the next project holds images again
    assert panel.per_class.horizontalHeaderItem(4).text() == "Images"
    panel.on_progress(StepProgress(1, 5, 2, 4, 0.9, 1e-3, 500.0))
    assert "500 images/s" in panel.status.text()


def test_an_auto_run_says_its_phase_and_plots_each_phase_from_its_first_epoch(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("auto transfer")
    panel.on_phase(PhaseStarted(1, 2, "linear probe (frozen backbone)"))
    assert panel.status.text().startswith("Auto, phase 1 of 2 (linear probe (frozen backbone))")
    _feed(panel, 1, 2)
    panel.redraw()
    assert panel.val_accuracy.n == 1
    panel.on_phase(PhaseStarted(2, 2, "full fine-tune"))
    assert panel.val_accuracy.n == 0  # the fine-tune's curves start on their own
    panel.on_progress(StepProgress(1, 3, 1, 2, 0.7, 1e-3, 20.0))
    assert panel.status.text().startswith("Auto, phase 2 of 2 (full fine-tune): Training")
    _feed(panel, 3, 2)
    note = "Auto kept the fine-tune: balanced accuracy 0.611 vs 0.556 for the linear probe on the 18 validation images"
    panel.on_finished(
        RunSummary(3, "/runs/auto-finetune-1", "completed", 3, ("a", "b"), "cpu", {"auto": {"note": note}})
    )
    assert panel.val_accuracy.n == 3
    assert note in panel.status.text() and "/runs/auto-finetune-1" in panel.status.text()


def test_the_latest_notes_are_shown_and_the_tooltip_keeps_every_note_of_the_run(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("frozen transfer")
    notes = [f"note number {i}" for i in range(1, NOTES_SHOWN + 3)]
    for note in notes[:NOTES_SHOWN]:
        panel.on_notice(note)
    assert all(note in panel.notices.text() for note in notes[:NOTES_SHOWN]) and panel.notices.toolTip() == ""
    for note in notes[NOTES_SHOWN:]:
        panel.on_notice(note)
    shown = panel.notices.text().split("<br>")
    assert shown == [f"Note: {note}" for note in notes[-NOTES_SHOWN:]]  # the latest, in order
    assert panel.notices.toolTip().splitlines()[1:] == [f"Note: {note}" for note in notes]  # every one
    panel.run_started("frozen transfer")  # a new run starts with none
    assert panel.notices.text() == "" and panel.notices.toolTip() == "" and panel.notices.isHidden()
    panel.on_notice(
        "2 image(s) left out: <lab & co>/a.png"
    )  # markup characters of a file name shown as they are
    assert panel.notices.text() == "Note: 2 image(s) left out: &lt;lab &amp; co&gt;/a.png"


def test_a_note_the_run_already_gave_is_shown_once(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("auto transfer")
    for note in (
        "2 validation image(s), too few to calibrate",
        "the fine-tune starts",
        "2 validation image(s), too few to calibrate",
    ):
        panel.on_notice(note)
    assert panel.notices.text().split("<br>") == [
        "Note: 2 validation image(s), too few to calibrate",
        "Note: the fine-tune starts",
    ]


def test_long_notes_scroll_in_a_few_lines_so_the_curves_keep_their_room(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(820, 300)  # the training dock of a 1280 x 720 window
    panel.show()
    qtbot.waitExposed(panel)
    panel.run_started("frozen transfer")
    panel.on_notice("one short note")
    line = panel.notices.fontMetrics().lineSpacing()
    assert panel.notices_area.isVisible() and line <= panel.notices_area.height() < 2 * line  # one line
    for i in range(NOTES_SHOWN):
        panel.on_notice(f"note {i}: " + "a long sentence of the kind a linear probe writes about its C " * 3)
    qtbot.wait(50)
    assert 2 * line <= panel.notices_area.height() <= NOTES_LINES * line + 4
    assert panel.notices_area.verticalScrollBar().maximum() > 0  # the rest is a scroll away
    assert panel.tabs.height() > 0.45 * panel.height()  # the curves keep their share of the panel
    panel.run_started("frozen transfer")
    assert panel.notices_area.isHidden()


def _shown_panel(qtbot, width: int, height: int) -> TrainingPanel:  # noqa: ANN001
    """A training panel on screen at ``width`` x ``height``."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_notes_out_of_view_are_offered_whole_and_folded_again(qtbot) -> None:  # noqa: ANN001
    """Five notes in three lines hid the self-training and C notes behind a 10-px scroll bar, and nothing said
    more were there (h32)."""
    panel = _shown_panel(qtbot, 820, 420)
    panel.run_started("frozen transfer")
    panel.on_notice("one short note")
    qtbot.wait(20)
    assert panel.notes_toggle.isHidden()  # all in view: nothing to offer
    notes = [
        f"note {i}: " + "a long sentence of the kind a linear probe writes about its C " * 2 for i in range(7)
    ]
    for note in notes:
        panel.on_notice(note)
    qtbot.wait(50)
    assert panel.notes_toggle.isVisible() and panel.notes_toggle.text() == "All 8 notes ▾"
    folded = panel.notices_area.height()
    panel.notes_toggle.click()
    qtbot.wait(50)
    assert all(
        f"Note: {note}" in panel.notices.text() for note in ["one short note", *notes]
    )  # older ones too
    assert panel.notices_area.height() > 2 * folded and panel.notes_toggle.text() == "Fewer notes ▴"
    panel.notes_toggle.click()
    qtbot.wait(50)
    assert panel.notices_area.height() == folded and "one short note" not in panel.notices.text()
    panel.notes_toggle.click()  # left open…
    panel.run_started("frozen transfer")  # …a new run: no notes, nothing offered, folded again (h34)
    assert panel.notes_toggle.isHidden() and not panel.notices_area.whole


def test_a_run_stopped_before_its_first_epoch_says_features_were_cached_only_when_some_were(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    stopped = RunSummary(1, "/runs/x", "stopped", 0, ("a", "b"), "cpu", {}, removed=True)
    panel.run_started("frozen transfer")
    panel.on_preparing(PreparationProgress(12, 40, 3.0))
    panel.on_finished(stopped)
    assert "features computed so far are cached" in panel.status.text()
    panel.run_started("partial transfer")  # a fine-tune: no feature pass, nothing cached
    panel.on_progress(StepProgress(1, 3, 1, 10, 0.9, 1e-3, 20.0))
    panel.on_finished(stopped)
    assert (
        panel.status.text()
        == "Stopped before the first epoch ended. No run was kept: Start trains a new one."
    )


def test_legend_entries_wrap_rather_than_be_cut(qtbot) -> None:  # noqa: ANN001
    """At a large font or in a narrow plot a row of legend entries was cut ("validatio"): they take more rows."""

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    legend = panel.loss_plot.getPlotItem().legend
    panel.resize(1400, 320)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: legend.columnCount == 2)  # "train (per step)" and "validation" side by side
    panel.resize(480, 320)
    qtbot.waitUntil(lambda: legend.columnCount == 1)
    widest = max(label.item.boundingRect().width() for _sample, label in legend.items)
    assert widest + 20 <= panel.loss_plot.width()  # each entry whole on its own row


def test_the_chosen_c_label_stays_inside_the_plot_when_the_largest_strength_wins(qtbot) -> None:  # noqa: ANN001
    """The probe chose the last C tried (10, twice in a real window): its label, drawn to the line's right, was cut
    to "ch" by the plot's frame."""
    panel = _shown_panel(qtbot, 1200, 400)
    panel.run_started("frozen run, linear probe")
    grid = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    for step, c in enumerate(grid, start=1):
        panel.on_progress(StepProgress(1, 1, step, len(grid), 0.9 - step / 10, c, 0.0, phase="probe"))
    for chosen in (10.0, 1e-3):  # the last strength tried, then the first: the label reads inward each time
        panel.on_epoch(EpochResult(1, 1, 0.6, 0.9, 0.7, 0.8, 1e-3, probe_c=chosen))
        for plot in (panel.loss_plot, panel.lr_plot):  # the plots take in the five strengths (drawn lazily)
            qtbot.waitUntil(lambda plot=plot: plot.getPlotItem().getViewBox().viewRange()[0][1] >= len(grid))
        qtbot.wait(50)
        for marker, plot in zip(panel.chosen_c, (panel.loss_plot, panel.lr_plot), strict=True):
            box = plot.getPlotItem().getViewBox().sceneBoundingRect()
            label = marker.label.sceneBoundingRect()
            assert box.left() - 1 <= label.left() and label.right() <= box.right() + 1, (chosen, label, box)


def test_the_contrastive_step_s_eta_leaves_a_pause_out(qtbot) -> None:  # noqa: ANN001
    """Paused for a while during the contrastive step, its ETA came back inflated by the pause (the core's rate
    counts the pause as time spent on the steps)."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    now = [100.0]
    panel.clock = lambda: now[0]
    panel.run_started("text run")
    panel.on_preparing(PreparationProgress(1, 41, 2.0, eta_seconds=80.0, phase="contrastive"))
    assert (
        panel.progress.format() == "contrastive 1/41 · ETA 1:20"
    )  # the core's, before a rate is measured here
    now[0] += 10  # 10 steps in 10 s
    panel.on_preparing(PreparationProgress(11, 41, 12.0, eta_seconds=32.7, phase="contrastive"))
    assert panel.progress.format() == "contrastive 11/41 · ETA 0:30"
    panel.pause_button.setEnabled(True)
    panel._pause_clicked()
    now[0] += 600  # ten minutes paused
    panel._pause_clicked()
    now[0] += 10
    panel.on_preparing(PreparationProgress(21, 41, 622.0, eta_seconds=592.4, phase="contrastive"))
    assert panel.progress.format() == "contrastive 21/41 · ETA 0:20"  # 1 s a step, the pause left out


def test_a_probe_run_is_compared_by_its_out_of_fold_accuracy_in_the_history(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.runs_table import RunRecord

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    config = {"backbone": "efficientnet_lite0", "transfer": "frozen", "linear_probe": True}
    probe = {"best": {"epoch": 1, "val_accuracy": None, "out_of_fold_accuracy": 0.8125}}
    epochs = {"best": {"epoch": 3, "val_accuracy": 0.75, "out_of_fold_accuracy": 0.5}}
    runs = [
        RunRecord(1, "probe", 0.0, "completed", "/p/runs/probe", config, probe),
        RunRecord(2, "epochs", 1.0, "completed", "/p/runs/epochs", config, epochs),
        RunRecord(3, "old", 2.0, "completed", "/p/runs/old", config, {}),
    ]
    panel.show_history(runs, {})
    shown = [panel.history.item(row, 5).text() for row in range(3)]  # newest first
    assert shown == ["—", "75.0%", "81.2% (out-of-fold)"]  # every probe run read "—"
    assert "left them out" in panel.history.item(2, 5).toolTip() and not panel.history.item(1, 5).toolTip()
    from dmtl_studio.core.project.runs_table import EpochMetrics

    crashed = RunRecord(4, "crashed", 3.0, "interrupted", "/p/runs/crashed", config, {}, resumable=True)
    saved = [EpochMetrics(1, 0.9, 0.6, 0.5, 0.929, 3e-3), EpochMetrics(2, 0.7, 0.7, 0.6, 0.9, 3e-3)]
    panel.show_history([crashed], {4: saved})
    assert panel.history.item(0, 5).text() == "92.9%"  # "—" after a kill, though epoch 1 had its figure (h28)


def test_a_run_without_validation_items_keeps_no_empty_validation_key(qtbot) -> None:  # noqa: ANN001
    """Validation images too few for a pick joined training: the loss plot kept a "validation" key with no curve
    (h33)."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("partial transfer")
    loss_legend = panel.loss_plot.getPlotItem().legend
    assert (
        loss_legend.getLabel(panel.val_loss.curve).text == "validation"
    )  # a run may have them: keyed at start
    panel.on_progress(StepProgress(1, 2, 1, 4, 0.9, 1e-3, 50.0))
    for epoch in (1, 2):
        panel.on_epoch(EpochResult(epoch, 2, 0.8, 0.6, None, None, 1e-3))
    panel.on_finished(RunSummary(1, "/runs/x", "completed", 2, ("a", "b"), "cpu", {}))
    assert loss_legend.getLabel(panel.val_loss.curve) is None
    assert panel.accuracy_plot.getPlotItem().legend.getLabel(panel.val_accuracy.curve) is None
    panel.run_started("partial transfer")  # the next run may have them again
    assert loss_legend.getLabel(panel.val_loss.curve).text == "validation"


def test_a_probe_whose_validation_joined_its_fit_plots_their_out_of_fold_accuracy(qtbot) -> None:  # noqa: ANN001
    """Its accuracy plot showed one "train" dot, and the out-of-fold accuracy the status line quoted was nowhere
    on it (h32)."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.run_started("frozen run, linear probe")
    for step, c in enumerate((1e-2, 1e-1), start=1):
        panel.on_progress(StepProgress(1, 1, step, 2, 0.9, c, 0.0, phase="probe"))
    panel.on_epoch(EpochResult(1, 1, 0.3, 0.97, None, None, 1e-3, probe_c=1e-1))
    metrics = {"best": {"out_of_fold_accuracy": 0.875}}
    panel.on_finished(RunSummary(1, "/runs/probe", "completed", 1, ("a", "b"), "cpu", metrics))
    legend = panel.accuracy_plot.getPlotItem().legend
    assert legend.getLabel(panel.val_accuracy.curve).text == "validation (out-of-fold)"
    x, y = panel.val_accuracy.curve.getData()
    assert (
        list(x) == [1]
        and list(y) == [0.875]
        and "out-of-fold validation accuracy 87.5%" in panel.status.text()
    )
    assert "No validation" in panel.confusion_note.text()  # no matrix of them: they joined the fit
    panel.run_started("an epoch run")  # the next run's key is plain again
    assert legend.getLabel(panel.val_accuracy.curve).text == "validation"


def test_the_run_controls_move_beside_the_tabs_only_where_they_fit_and_never_flip_back_and_forth(
    qtbot,
) -> None:  # noqa: ANN001
    """Start, Pause, Stop and the progress bar sit in the tab bar's empty corner on a wide panel (their row goes to
    the curves: 720 px screens with a taller font, h37) and above the tabs on a narrow one; sweeping the width moves
    them once each way, and the panel's minimum width does not depend on where they are."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.resize(300, 400)
    narrow_minimum = panel.minimumSizeHint().width()
    places = []
    for width in [*range(300, 1001, 25), *range(1000, 299, -25)]:
        panel.resize(width, 400)
        qtbot.wait(1)
        places.append(panel.run_controls.in_corner)
        if panel.run_controls.in_corner:
            assert panel.tabs.cornerWidget(Qt.Corner.TopRightCorner) is panel.run_controls
            tabs = panel.tabs.tabBar().sizeHint().width()
            assert tabs + panel.run_controls.row.sizeHint().width() <= width  # it fits beside the tabs
    changes = sum(1 for a, b in zip(places, places[1:], strict=False) if a != b)
    assert places[0] is False and places[len(places) // 2] is True and changes == 2
    assert panel.minimumSizeHint().width() <= narrow_minimum


def test_a_flow_layout_tail_shows_only_where_it_fits_and_asks_for_no_line_or_width(qtbot) -> None:  # noqa: ANN001
    """The key strip's hint is shown after the last chip where it fits, never on a line of its own, and the
    strip's minimum width does not grow with it (h39)."""
    from PySide6.QtWidgets import QLabel, QWidget

    from dmtl_studio.ui.flow_layout import FlowLayout

    strip = QWidget()
    qtbot.addWidget(strip)
    flow = FlowLayout(strip, spacing=4)
    chips = [QLabel(f"chip number {i}") for i in range(4)]
    for chip in chips:
        flow.addWidget(chip)
    hint = QLabel("0 unlabels · Space next · Ctrl+Z undo")
    flow.addWidget(hint)
    flow.set_tail(hint)
    strip.show()
    chips_width = sum(c.sizeHint().width() for c in chips) + 3 * 4
    wide, narrow = chips_width + hint.sizeHint().width() + 20, chips_width + 10
    assert flow.heightForWidth(wide) == flow.heightForWidth(
        narrow
    )  # one line either way: no line for the hint
    strip.resize(wide, flow.heightForWidth(wide))
    qtbot.wait(1)
    assert hint.isVisible()
    strip.resize(narrow, flow.heightForWidth(narrow))
    qtbot.wait(1)
    assert not hint.isVisible()
    assert flow.minimumSize().width() < hint.sizeHint().width() + 10  # the hint asks for no width
