"""DMTL controls: consistency weight, unlabelled images with their count, cross-validation with cancel, and the
consistency curve in the training view."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EpochResult, StepProgress
from dmtl_studio.ui.model_panel import ModelPanel
from dmtl_studio.ui.training_panel import TrainingPanel


@pytest.fixture
def panel(qtbot) -> ModelPanel:  # noqa: ANN001
    widget = ModelPanel()
    qtbot.addWidget(widget)
    return widget


def test_consistency_weight_and_unlabelled_images_make_the_config(panel: ModelPanel) -> None:
    panel.set_unlabelled_count(42)
    assert panel.use_unlabelled.text() == "Learn from unlabelled images (42 available)"
    panel.consistency_weight.setValue(0.0)
    assert not panel.use_unlabelled.isEnabled()  # nothing to learn from them without the consistency term
    panel.use_unlabelled.setChecked(True)
    assert panel.config().consistency_weight == 0 and panel.config().use_unlabelled is False
    panel.consistency_weight.setValue(1.5)
    assert panel.use_unlabelled.isEnabled()
    # The recommended frozen run fits a linear probe, which spreads labels to every unlabelled image: no ratio.
    assert not panel.unlabelled_ratio.isEnabled() and "label spreading" in panel.unlabelled_ratio.toolTip()
    panel.linear_probe.setChecked(False)  # a head trained by epochs draws unlabelled batches
    assert panel.unlabelled_ratio.isEnabled() and "label spreading" not in panel.unlabelled_ratio.toolTip()
    panel.linear_probe.setChecked(True)
    panel.strategy_buttons["partial"].setChecked(True)
    assert panel.unlabelled_ratio.isEnabled()
    panel.unlabelled_ratio.setValue(5)
    config = panel.config()
    assert (config.consistency_weight, config.use_unlabelled, config.unlabelled_ratio) == (1.5, True, 5)
    panel.set_unlabelled_count(0)
    assert not panel.use_unlabelled.isEnabled() and panel.config().use_unlabelled is False


def test_the_unlabelled_rule_is_offered_for_fine_tuning_and_reaches_the_config(panel: ModelPanel) -> None:
    panel.set_unlabelled_count(42)
    panel.consistency_weight.setValue(1.0)
    panel.use_unlabelled.setChecked(True)
    panel.strategy_buttons["frozen"].setChecked(True)
    assert not panel.unlabelled_rule.isEnabled()  # a frozen backbone keeps its feature-space rule
    panel.strategy_buttons["partial"].setChecked(True)
    assert panel.unlabelled_rule.isEnabled()
    assert panel.unlabelled_rule.currentData() == TrainConfig.recommended().unlabelled_rule
    panel.unlabelled_rule.setCurrentIndex(panel.unlabelled_rule.findData("consistency"))
    assert panel.config().unlabelled_rule == "consistency"
    panel.unlabelled_rule.setCurrentIndex(panel.unlabelled_rule.findData("fixmatch"))
    config = panel.config()
    assert (config.transfer, config.use_unlabelled, config.unlabelled_rule) == ("partial", True, "fixmatch")
    panel.use_unlabelled.setChecked(False)
    assert not panel.unlabelled_rule.isEnabled()


def test_cross_validation_is_requested_with_the_fold_count_and_its_result_shown(
    qtbot, panel: ModelPanel
) -> None:  # noqa: ANN001
    panel.folds.setValue(3)
    with qtbot.waitSignal(panel.crossval_requested, timeout=2000) as blocker:
        qtbot.mouseClick(panel.crossval_button, Qt.MouseButton.LeftButton)
    assert isinstance(blocker.args[0], TrainConfig) and blocker.args[1] == 3
    panel.set_crossval_running(True, "Training 3 folds…")
    assert not panel.crossval_button.isEnabled() and panel.crossval_cancel.isEnabled()
    with qtbot.waitSignal(panel.crossval_cancel_requested, timeout=2000):
        qtbot.mouseClick(panel.crossval_cancel, Qt.MouseButton.LeftButton)
    panel.show_crossval_result(
        {
            "folds": 3,
            "mean_accuracy": 0.9,
            "std_accuracy": 0.05,
            "per_fold": [{"accuracy": a} for a in (0.85, 0.9, 0.95)],
        }
    )
    assert "3-fold accuracy: 90.0 ± 5.0 %" in panel.crossval_status.text()
    assert panel.crossval_button.isEnabled() and not panel.crossval_cancel.isEnabled()
    panel.show_crossval_result(  # 80:8 classes: the plain accuracy is under always answering the larger one
        {
            "folds": 3,
            "mean_accuracy": 0.898,
            "std_accuracy": 0.035,
            "mean_balanced_accuracy": 0.494,
            "std_balanced_accuracy": 0.011,
            "majority_rate": 0.909,
            "majority_warning": "always answering the largest class would score 0.909: judge by the balanced accuracy",
            "per_fold": [{"accuracy": a} for a in (0.9, 0.862, 0.931)],
        }
    )
    text = panel.crossval_status.text()
    assert (
        "balanced accuracy 49.4 ± 1.1 %" in text
        and ". Always answering the largest class would score 0.909" in text
    )


def test_the_training_view_plots_the_consistency_loss_apart_from_the_supervised_loss(qtbot) -> None:  # noqa: ANN001
    view = TrainingPanel()
    qtbot.addWidget(view)
    legend = view.loss_plot.getPlotItem().legend
    names = lambda: [label.text for _, label in legend.items]  # noqa: E731
    view.run_started("test")
    view.on_progress(StepProgress(1, 1, 1, 2, 0.9, 1e-3, 10.0))
    view.redraw()
    assert "consistency (per step)" not in names()  # a plain run has no consistency curve
    view.on_progress(StepProgress(1, 1, 2, 2, 0.8, 1e-3, 10.0, consistency_loss=0.25))
    view.redraw()
    assert "consistency (per step)" in names()
    assert list(view.consistency_loss.curve.getData()[1]) == [0.25]
    assert list(view.train_loss.curve.getData()[1]) == [0.9, 0.8]
    view.run_started("again")
    assert "consistency (per step)" not in names()


def test_the_training_view_plots_the_share_of_pseudo_labels_kept_per_epoch(qtbot) -> None:  # noqa: ANN001
    view = TrainingPanel()
    qtbot.addWidget(view)
    legend = view.accuracy_plot.getPlotItem().legend
    names = lambda: [label.text for _, label in legend.items]  # noqa: E731
    view.run_started("test")
    view.on_epoch(EpochResult(1, 2, 0.9, 0.5, None, None, 1e-3))
    view.redraw()
    kept = "views confident enough for consistency"
    assert kept not in names()  # a plain run keeps nothing
    view.on_epoch(EpochResult(2, 3, 0.8, 0.6, None, None, 1e-3, consistency_loss=0.2, consistency_mask=1.0))
    view.redraw()
    assert kept not in names() and not view.kept_share.curve.isVisible()  # every view kept: nothing to show
    view.on_epoch(EpochResult(3, 3, 0.8, 0.6, None, None, 1e-3, consistency_loss=0.2, consistency_mask=0.35))
    view.redraw()
    assert kept in names() and view.kept_share.curve.isVisible()
    assert list(view.kept_share.curve.getData()[1]) == [1.0, 0.35]
    view.run_started("again")
    assert kept not in names() and not view.kept_share.curve.isVisible()


def test_the_window_shows_the_unlabelled_count_and_cancels_cross_validation(qtbot, project: Path) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window

    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.model_panel
    assert "(6 available)" in panel.use_unlabelled.text()
    panel.folds.setValue(2)
    panel.epochs.setValue(1)
    qtbot.mouseClick(panel.crossval_button, Qt.MouseButton.LeftButton)
    thread = controller.crossval_thread
    assert thread is not None and panel.crossval_cancel.isEnabled()
    qtbot.mouseClick(panel.crossval_cancel, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(thread.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: "cancelled" in panel.crossval_status.text(), timeout=5_000)
    assert panel.crossval_button.isEnabled()
    controller.shutdown()


def test_the_linear_probe_box_follows_the_strategy_and_head(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    assert panel.frozen.isChecked() and panel.linear_probe.isChecked() and panel.linear_probe.isEnabled()
    assert panel.config().linear_probe and not panel.epochs.isEnabled()  # one fit: epochs do not apply
    panel.linear_probe.setChecked(False)
    assert panel.epochs.isEnabled() and not panel.config().linear_probe
    panel.linear_probe.setChecked(True)
    panel.full.setChecked(True)
    assert not panel.linear_probe.isEnabled() and panel.epochs.isEnabled()
    assert (
        "only with the frozen strategy and a linear head" in panel.linear_probe.text()
    )  # greyed and ticked: says when it applies
    panel.frozen.setChecked(True)
    assert panel.linear_probe.text() == "Fit as a linear probe (recommended)"
    panel.head_kind.setCurrentIndex(panel.head_kind.findData("mlp"))
    assert not panel.linear_probe.isEnabled() and panel.epochs.isEnabled()


def test_the_ratio_s_tooltip_keeps_the_words_of_a_text_project(panel: ModelPanel) -> None:
    panel.set_project_kind("text")
    panel.set_unlabelled_count(5)
    panel.consistency_weight.setValue(1.0)
    panel.use_unlabelled.setChecked(True)
    tip = panel.unlabelled_ratio.toolTip()
    assert "self-training" in tip and "text" in tip.split("\n\n")[0].lower()
    assert "image" not in tip.split("\n\n")[0].lower(), tip


def test_the_contrastive_box_says_how_many_steps_this_project_takes(panel: ModelPanel) -> None:
    panel.set_project_kind("text")
    panel.contrastive_steps.setValue(200)
    panel.set_training_count(30)
    assert panel.contrastive_note.text() == "(75 for this project's 30 labelled training texts)"
    panel.contrastive_steps.setValue(50)  # the box is what runs: nothing to add
    assert panel.contrastive_note.text() == ""
    panel.contrastive_steps.setValue(200)
    panel.set_training_count(400)
    assert panel.contrastive_note.text() == ""


def test_the_contrastive_box_and_its_note_do_not_widen_the_dock(panel: ModelPanel, qtbot) -> None:  # noqa: ANN001
    """In one line they made the text encoder dock 754 px wide of 1600, squeezing the text list (h32)."""
    panel.show()
    qtbot.waitExposed(panel)
    images_width = panel.minimumSizeHint().width()
    panel.set_project_kind("text")
    panel.contrastive_steps.setValue(200)
    panel.set_training_count(20)
    qtbot.wait(20)
    assert (
        panel.contrastive_note.isVisibleTo(panel)
        and "(50 for this project's 20" in panel.contrastive_note.text()
    )
    assert panel.minimumSizeHint().width() <= images_width + 20
    panel.set_project_kind("images")
    assert not panel.contrastive_note.isVisibleTo(panel)
