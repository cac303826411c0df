"""The backbone selector: catalog list with search and disabled entries, strategy, head, LR finder."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from dmtl_studio.core.models import weight_store
from dmtl_studio.core.models.backbone_specs import CATALOG
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.ui.model_panel import NAME_ROLE, ModelPanel
from tests.conftest import TEST_INPUT_SIZE


def _items(panel: ModelPanel) -> dict[str, object]:
    return {
        panel.backbones.item(i).data(NAME_ROLE): panel.backbones.item(i)
        for i in range(panel.backbones.count())
    }


@pytest.fixture
def panel(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelPanel:  # noqa: ANN001
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    widget = ModelPanel()
    qtbot.addWidget(widget)
    return widget


def test_every_catalog_backbone_is_listed_and_unavailable_ones_are_disabled(panel: ModelPanel) -> None:
    items = _items(panel)
    assert set(items) == {info.name for info in CATALOG}
    assert panel.backbone_name() == "efficientnet_lite0"
    lite2 = items["efficientnet_lite2"]
    assert lite2.flags() & Qt.ItemFlag.ItemIsEnabled
    resnet = items["torchvision/resnet18"]
    assert not resnet.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "resnet18-f37072fd.pth" in resnet.text() and "nothing is downloaded" in resnet.toolTip()
    assert not panel.select_backbone("torchvision/resnet18")
    assert panel.backbone_name() == "efficientnet_lite0"


def test_details_show_size_input_normalisation_licence_and_weights(panel: ModelPanel) -> None:
    assert panel.select_backbone("efficientnet_lite1")
    text = panel.details.text()
    for part in ("EfficientNet-Lite1", "4,135,680", "240 px", "0.485", "Apache-2.0", "bundled"):
        assert part in text, part


def test_search_filters_the_list(panel: ModelPanel) -> None:
    panel.search.setText("resnet")
    visible = {name for name, item in _items(panel).items() if not item.isHidden()}
    assert visible == {"torchvision/resnet18", "torchvision/resnet50", "timm/resnet50"}
    panel.search.setText("lite bundled")
    visible = {name for name, item in _items(panel).items() if not item.isHidden()}
    assert visible == {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}
    panel.search.clear()
    assert not any(item.isHidden() for item in _items(panel).values())


def test_strategy_head_and_rates_make_the_config(panel: ModelPanel) -> None:
    assert not panel.stages.isEnabled() and not panel.backbone_factor.isEnabled()
    panel.partial.setChecked(True)
    assert panel.stages.isEnabled() and panel.backbone_factor.isEnabled()
    assert panel.stages.maximum() == 8 and "of 8 stages" in panel.stages_label.text()
    panel.stages.setValue(3)
    panel.head_kind.setCurrentIndex(panel.head_kind.findData("mlp"))
    assert panel.hidden.isEnabled()
    panel.hidden.setValue(128)
    panel.backbone_factor.setValue(0.25)
    panel.learning_rate.setValue(0.002)
    assert "0.0005" in panel.backbone_lr_label.text()
    assert panel.select_backbone("efficientnet_lite2")
    config = panel.config()
    assert isinstance(config, TrainConfig)
    assert (config.backbone, config.transfer, config.unfreeze_stages) == ("efficientnet_lite2", "partial", 3)
    assert (config.head, config.hidden_size, config.backbone_lr_factor) == ("mlp", 128, 0.25)
    assert config.learning_rate == pytest.approx(0.002)
    panel.full.setChecked(True)
    assert panel.config().transfer == "full" and not panel.stages.isEnabled()


def test_the_fine_tuning_recipe_is_offered_where_it_applies_and_reaches_the_config(panel: ModelPanel) -> None:
    # The recommended strategy is frozen: neither the layer rates nor the mirror image apply.
    assert panel.frozen.isChecked()
    assert not panel.layer_decay.isEnabled() and not panel.tta_flip.isEnabled()
    assert not panel.ema_decay.isEnabled()  # the linear probe fits once: no steps to average
    # Nor a learning rate, dropout or a learning-rate search: L-BFGS to convergence, C by cross-validation.
    assert not any(w.isEnabled() for w in (panel.learning_rate, panel.dropout, panel.find_lr))
    assert "fitted to convergence" in panel.find_lr.toolTip()
    panel.linear_probe.setChecked(False)
    assert panel.ema_decay.isEnabled()
    assert all(w.isEnabled() for w in (panel.learning_rate, panel.dropout, panel.find_lr))
    panel.full.setChecked(True)
    assert panel.layer_decay.isEnabled() and panel.tta_flip.isEnabled() and panel.ema_decay.isEnabled()
    panel.learning_rate.setValue(0.002)
    panel.backbone_factor.setValue(0.25)
    panel.layer_decay.setValue(0.5)
    text = panel.backbone_lr_label.text()
    # 8 stages learn: the top one at 0.002 x 0.25, the lowest 7 halvings below.
    assert "0.0005 for the top stage" in text and "3.9e-06" in text and "of the 8" in text
    panel.partial.setChecked(True)
    panel.stages.setValue(2)
    assert "of the 2" in panel.backbone_lr_label.text() and "0.00025" in panel.backbone_lr_label.text()
    panel.ema_decay.setValue(0.998)
    panel.tta_flip.setChecked(True)
    config = panel.config()
    assert (config.layer_decay, config.ema_decay, config.tta_flip) == (0.5, 0.998, True)
    panel.layer_decay.setValue(1.0)
    assert "head × factor)." in panel.backbone_lr_label.text()
    panel.ema_decay.setValue(0.0)
    assert panel.ema_decay.text() == "off" and panel.config().ema_decay == 0.0


def test_imported_weights_enable_a_backbone(panel: ModelPanel) -> None:
    stored = weight_store.store_dir() / "resnet18-test.safetensors"
    stored.write_bytes(b"placeholder")
    weight_store.add_to_index(
        weight_store.StoredWeights(
            "torchvision/resnet18", stored.name, "0" * 64, "r18.pth", "1" * 64, "now", 1
        )
    )
    panel.reload_backbones()
    assert panel.select_backbone("torchvision/resnet18")
    assert "imported" in panel.details.text()
    assert panel.stages.maximum() == 5


def test_lr_finder_is_requested_by_signal_and_its_result_plotted(qtbot, panel: ModelPanel) -> None:  # noqa: ANN001
    # Before any search the empty plot spans the finder's sweep, so its log axis has labelled decades.
    (x_low, x_high), _ = panel.lr_plot.getViewBox().viewRange()
    assert x_low <= -6 and x_high >= 0
    panel.linear_probe.setChecked(False)  # the search is for a head trained by epochs
    with qtbot.waitSignal(panel.lr_finder_requested, timeout=2000) as blocker:
        qtbot.mouseClick(panel.find_lr, Qt.MouseButton.LeftButton)
    assert isinstance(blocker.args[0], TrainConfig)
    result = SimpleNamespace(
        learning_rates=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1), losses=(1.1, 1.0, 0.6, 0.5, 3.0), suggestion=1e-3
    )
    panel.show_lr_finder_result(result)
    xs, ys = panel.lr_curve.getData()
    assert len(xs) == 5 and list(ys) == [1.1, 1.0, 0.6, 0.5, 3.0]
    # The whole curve in view: the axes left the empty plot's fixed span (10^-6 to 1, loss 0 to 1).
    (x_low, x_high), (_, y_high) = panel.lr_plot.getViewBox().viewRange()
    assert y_high >= 3.0 and x_low <= -5 and x_high >= -1
    assert "0.001" in panel.lr_status.text()
    qtbot.mouseClick(panel.use_lr, Qt.MouseButton.LeftButton)
    assert panel.learning_rate.value() == pytest.approx(1e-3)


def test_the_window_runs_the_lr_finder_on_a_worker(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window
    from dmtl_studio.ui import model_panel

    original = model_panel.ModelPanel.config
    monkeypatch.setattr(
        model_panel.ModelPanel,
        "config",
        lambda self: original(self).with_changes(input_size=TEST_INPUT_SIZE, device="cpu"),
    )
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.model_panel
    panel.linear_probe.setChecked(False)  # the search is for a head trained by epochs
    qtbot.mouseClick(panel.find_lr, Qt.MouseButton.LeftButton)
    thread = controller.lr_finder_thread
    assert thread is not None and not panel.find_lr.isEnabled()
    assert (
        panel.lr_curve.getData()[0] is None or len(panel.lr_curve.getData()[0]) == 0
    )  # cleared for the new test
    streamed: list[int] = []
    thread.curve.connect(lambda rates, losses: streamed.append(len(rates)))
    with qtbot.waitSignal(thread.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: panel.use_lr.isEnabled(), timeout=5_000)
    assert panel.find_lr.isEnabled() and "Suggested" in panel.lr_status.text()
    # The curve was drawn while the test ran (growing), then the whole result.
    assert streamed and streamed == sorted(streamed) and streamed[-1] <= len(panel.lr_curve.getData()[0])
    controller.shutdown()


def test_the_window_imports_a_weights_file_on_a_worker(
    qtbot, project: Path, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    import torch
    import torchvision
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    from dmtl_studio.app import build_window

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    weights = tmp_path / "resnet18-f37072fd.pth"  # the file name the catalog says resnet18 needs
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.model_panel
    assert not _items(panel)["torchvision/resnet18"].flags() & Qt.ItemFlag.ItemIsEnabled
    assert panel.guess_backbone(weights.name) == "torchvision/resnet18"

    asked: list[tuple[list[str], int]] = []

    def choose(_parent, _title, _label, names, current, _editable):  # noqa: ANN001, ANN202
        asked.append((names, current))
        return names[current], True

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(weights), ""))
    monkeypatch.setattr(QInputDialog, "getItem", choose)
    qtbot.mouseClick(panel.import_weights_button, Qt.MouseButton.LeftButton)
    assert asked and asked[0][0][asked[0][1]] == "torchvision/resnet18"  # the guess is offered first
    thread = controller.weights_thread
    assert thread is not None and not panel.import_weights_button.isEnabled()
    qtbot.waitUntil(lambda: panel.import_weights_button.isEnabled(), timeout=120_000)
    assert thread.wait(10_000)
    assert "Imported resnet18-f37072fd.pth" in panel.weights_note.text()
    assert panel.backbone_name() == "torchvision/resnet18" and "imported" in panel.details.text()

    # The same file for another architecture is refused with the reason, and that backbone stays unavailable.
    panel.request_weights_import(str(weights), "torchvision/resnet50")
    qtbot.waitUntil(lambda: panel.import_weights_button.isEnabled(), timeout=120_000)
    assert controller.weights_thread is not thread and controller.weights_thread.wait(10_000)
    note = panel.weights_note.text()
    assert note.startswith("Not imported") and "nothing was loaded" in note
    assert not _items(panel)["torchvision/resnet50"].flags() & Qt.ItemFlag.ItemIsEnabled
    controller.shutdown()


def test_a_learning_rate_suggestion_stays_when_the_strategy_changes(qtbot, panel: ModelPanel) -> None:  # noqa: ANN001
    result = SimpleNamespace(
        learning_rates=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
        losses=(1.1, 1.0, 0.6, 0.5, 3.0),
        suggestion=5e-4,
        transfer="frozen",
    )
    panel.show_lr_finder_result(result)
    qtbot.mouseClick(panel.use_lr, Qt.MouseButton.LeftButton)
    assert panel.learning_rate.value() == pytest.approx(5e-4)
    panel.partial.setChecked(True)
    assert panel.learning_rate.value() == pytest.approx(5e-4)  # not silently replaced
    assert "found for frozen transfer" in panel.lr_status.text() and "partial" in panel.lr_status.text()
    panel.learning_rate.setValue(2e-4)  # the user's own rate stays too
    panel.full.setChecked(True)
    assert panel.learning_rate.value() == pytest.approx(2e-4)


def test_the_lr_finder_shows_the_feature_pass_and_can_be_cancelled(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window
    from dmtl_studio.ui import model_panel

    original = model_panel.ModelPanel.config
    monkeypatch.setattr(
        model_panel.ModelPanel,
        "config",
        lambda self: original(self).with_changes(input_size=TEST_INPUT_SIZE, device="cpu"),
    )
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.model_panel
    assert panel.frozen.isChecked() and not panel.lr_cancel.isEnabled()
    panel.linear_probe.setChecked(False)  # the search is for a head trained by epochs
    qtbot.mouseClick(panel.find_lr, Qt.MouseButton.LeftButton)
    thread = controller.lr_finder_thread
    assert panel.lr_cancel.isEnabled()
    shown: list[str] = []

    def cancel_once(*_: object) -> None:
        if not shown:
            shown.append(panel.lr_progress.format() + " | " + panel.lr_status.text())
            qtbot.mouseClick(panel.lr_cancel, Qt.MouseButton.LeftButton)

    thread.preparing.connect(cancel_once)
    with qtbot.waitSignal(thread.finished, timeout=120_000):
        pass
    assert shown and shown[0].startswith("features ") and "Computing features" in shown[0]
    qtbot.waitUntil(lambda: panel.find_lr.isEnabled(), timeout=5_000)
    assert "stopped" in panel.lr_status.text() and not panel.use_lr.isEnabled()
    assert not panel.lr_cancel.isEnabled()
    controller.shutdown()


def test_the_form_starts_from_the_recommended_configuration_and_offers_only_valid_values(
    panel: ModelPanel,
) -> None:
    from dmtl_studio.core.training.config import setting

    recommended = TrainConfig.recommended()
    assert panel.config() == recommended.with_changes(backbone=panel.backbone_name())
    boxes = {
        "epochs": panel.epochs,
        "batch_size": panel.batch_size,
        "learning_rate": panel.learning_rate,
        "backbone_lr_factor": panel.backbone_factor,
        "hidden_size": panel.hidden,
        "dropout": panel.dropout,
        "consistency_weight": panel.consistency_weight,
        "unlabelled_ratio": panel.unlabelled_ratio,
        "layer_decay": panel.layer_decay,
        "ema_decay": panel.ema_decay,
        "contrastive_steps": panel.contrastive_steps,
    }
    for name, box in boxes.items():
        rule = setting(name)
        assert box.value() == pytest.approx(getattr(recommended, name)), name
        assert rule.accepts(box.minimum()) and rule.accepts(box.maximum()), name
        if rule.high is not None and not rule.high_open:
            assert box.maximum() == rule.high, name  # the whole valid range, not a narrower copy
    assert [panel.head_kind.itemData(i) for i in range(panel.head_kind.count())] == list(
        setting("head").choices
    )
    assert list(panel.strategy_buttons) == list(setting("transfer").choices)


def test_auto_is_offered_with_its_time_budget_for_images_and_not_for_texts(panel: ModelPanel) -> None:
    auto = panel.strategy_buttons["auto"]
    assert auto.text() == "Auto: linear probe now, fine-tune if time allows"
    assert not panel.time_budget.isEnabled()
    auto.setChecked(True)
    assert panel.time_budget.isEnabled() and "linear probe first" in panel.help.text()
    # Its fine-tune (the partial one) takes the epochs, the depth and the fine-tuning recipe; its first phase always
    # is the linear probe, which the (greyed) box says.
    assert panel.epochs.isEnabled() and panel.layer_decay.isEnabled() and not panel.linear_probe.isEnabled()
    assert panel.linear_probe.text() == "Fit as a linear probe (Auto's first phase always is one)"
    assert (
        not panel.head_kind.isEnabled() and not panel.hidden.isEnabled()
    )  # Auto's head is the probe's, linear
    assert panel.stages.isEnabled() and "partial fine-tune" in panel.help.text()
    panel.time_budget.setValue(12.5)
    panel.stages.setValue(1)
    config = panel.config()
    assert (config.transfer, config.time_budget, config.linear_probe) == ("auto", 12.5, True)
    assert config.unfreeze_stages == 1
    panel.set_project_kind("text")
    assert auto.isHidden() and panel.time_budget.isHidden()
    assert panel.config().transfer == "frozen"
    panel.set_project_kind("images")
    assert not auto.isHidden()


def test_the_image_shape_is_chosen_here_and_only_for_images(panel: ModelPanel) -> None:
    assert panel.resize_mode.currentData() == TrainConfig.recommended().resize_mode == "pad"
    assert panel.resize_mode.currentText() == "Keep it (pad to a square)"
    panel.resize_mode.setCurrentIndex(panel.resize_mode.findData("stretch"))
    assert panel.config().resize_mode == "stretch"
    panel.apply_config(TrainConfig.recommended(resize_mode="pad"))  # a project's settings as they were left
    assert panel.resize_mode.currentData() == "pad"
    panel.set_project_kind("text")
    assert panel.resize_row.isHidden()
    panel.set_project_kind("images")
    assert not panel.resize_row.isHidden()


def test_the_mixing_note_says_what_the_strategy_does_with_mixing_steps(qtbot, panel: ModelPanel) -> None:  # noqa: ANN001
    heard: list[str] = []
    panel.mixing_note_changed.connect(heard.append)
    assert panel.frozen.isChecked() and panel.linear_probe.isChecked()
    assert panel.mixing_note().startswith("not used by the linear probe")
    panel.linear_probe.setChecked(False)
    assert heard[-1] == panel.mixing_note() and "cached features" in heard[-1]
    panel.full.setChecked(True)
    assert heard[-1] == "" == panel.mixing_note()  # a fine-tune mixes the pictures, as previewed


def test_the_chosen_backbones_input_size_is_told(qtbot, panel: ModelPanel) -> None:  # noqa: ANN001
    heard: list[int] = []
    panel.input_size_changed.connect(heard.append)
    assert panel.input_size() == 224  # EfficientNet-Lite0
    lite2 = next(
        panel.backbones.item(i) for i in range(panel.backbones.count())
        if panel.backbones.item(i).data(Qt.ItemDataRole.UserRole) == "efficientnet_lite2"
        or "Lite2" in panel.backbones.item(i).text()
    )  # fmt: skip
    panel.backbones.setCurrentItem(lite2)
    assert heard[-1] == 260 == panel.input_size()


def test_class_imbalance_is_chosen_in_the_learning_settings(panel: ModelPanel) -> None:
    assert panel.imbalance.currentData() == TrainConfig.recommended().imbalance == "none"
    panel.imbalance.setCurrentIndex(panel.imbalance.findData("weighted_loss"))
    assert panel.config().imbalance == "weighted_loss"
    panel.apply_config(TrainConfig.recommended(imbalance="balanced_sampler"))
    assert panel.imbalance.currentText() == "Sample classes evenly"


def test_the_dmtl_note_says_what_unlabelled_images_do_in_the_run_set_up(panel: ModelPanel) -> None:
    """Under a linear probe the note described a consistency term the probe does not have (h25)."""
    panel.frozen.setChecked(True)
    panel.linear_probe.setChecked(True)
    note = panel.dmtl_note.text()
    assert "pseudo-labels (label spreading)" in note and "no consistency term" in note and "λ" not in note
    panel.linear_probe.setChecked(False)  # a head trained by epochs: the DMTL objective
    assert "λ × consistency" in panel.dmtl_note.text()
    panel.set_project_kind("text")
    panel.frozen.setChecked(True)
    panel.linear_probe.setChecked(True)
    assert "unlabelled texts by class-balanced pseudo-labels (self-training)" in panel.dmtl_note.text()


def test_the_input_size_is_the_backbones_unless_set_and_a_run_keeps_it(qtbot) -> None:  # noqa: ANN001
    """The window had no input size: 64 px micrographs always trained at 224 px there, while the command line
    trained them at 64 px with --input-size, and the run lists told the two apart nowhere (h33)."""
    from dmtl_studio.core.project.runs_table import RunRecord
    from dmtl_studio.ui.evaluation_view import EvaluationView
    from dmtl_studio.ui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    sizes: list[int] = []
    panel.input_size_changed.connect(sizes.append)
    own = panel.input_size()
    assert panel.config().input_size is None and panel.input_size_box.text() == "backbone's"
    for _ in range(3):
        panel.input_size_box.stepUp()  # the arrows: 32, 48, 64 (they went 47, 63 from the minimum, h34)
    assert panel.input_size_box.value() == 64
    panel.input_size_box.stepDown()
    panel.input_size_box.stepUp()
    assert (
        panel.config().input_size == 64 and panel.input_size() == 64 and sizes[-1] == 64
    )  # the preview follows
    panel.apply_config(panel.config().with_changes(input_size=None))
    assert panel.input_size() == own and panel.config().input_size is None
    panel.apply_config(panel.config().with_changes(input_size=96))
    assert panel.input_size_box.value() == 96
    panel.set_project_kind("text")  # a text is never resized: no size in its runs
    assert panel.config().input_size is None and not panel.input_size_box.isVisibleTo(panel)
    assert panel.input_size() == 224  # a text is never resized: the box's 96 is not its size

    view = EvaluationView()
    qtbot.addWidget(view)
    config = {"backbone": "efficientnet_lite0", "transfer": "partial"}
    view.set_runs(
        [
            RunRecord(1, "run-1", 1.0, "completed", "/runs/run-1", config, {}),
            RunRecord(2, "run-2", 2.0, "completed", "/runs/run-2", {**config, "input_size": 64}, {}),
        ]
    )
    assert view.run_choice.itemText(0) == "run-2 — efficientnet_lite0, 64 px, partial, completed"
    assert view.run_choice.itemText(1) == "run-1 — efficientnet_lite0, partial, completed"
