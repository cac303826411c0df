"""The model panel in a text project: it lists the text encoders (the bundled one chosen), the chosen encoder goes
into the run's configuration, an encoder folder is imported on a worker, an image project lists backbones again, and
nothing the panel shows in a text project speaks of images."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QSpinBox,
    QWidget,
)

from dmtl_studio.core.models.backbone_specs import CATALOG
from dmtl_studio.core.models.text_catalog import (
    DEFAULT_TEXT_ENCODER,
    bundled_encoder_folder,
    import_text_encoder,
    imported_encoders_dir,
)
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_demo import create_text_demo_project
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.ui.model_panel import NAME_ROLE, ModelPanel
from tests.core.encoder_folders import write_small_encoder

TIMEOUT = 120_000


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


@pytest.fixture
def text_project(tmp_path: Path) -> Path:
    project = tmp_path / "tickets"
    create_text_demo_project(project)
    return project


def test_a_text_project_lists_the_encoders_and_the_chosen_one_goes_into_the_config(
    panel: ModelPanel, tmp_path: Path
) -> None:
    import_text_encoder(write_small_encoder(tmp_path / "tiny-bert"))
    panel.set_project_kind("text")
    items = _items(panel)
    assert list(items) == [DEFAULT_TEXT_ENCODER, "text/tiny-bert"]
    assert panel.backbone_box.title() == "Text encoder"
    assert "encoders" in panel.search.placeholderText()
    assert panel.import_weights_button.text() == "Import encoder folder…"
    assert "safetensors" in panel.import_weights_button.toolTip()
    assert panel.backbone_name() == DEFAULT_TEXT_ENCODER
    assert (
        "384-d" in items[DEFAULT_TEXT_ENCODER].text() and "256 tokens" in items[DEFAULT_TEXT_ENCODER].text()
    )
    details = panel.details.text()
    for part in (
        "all-MiniLM-L6-v2",
        "22,713,216",
        "384-d",
        "256 tokens",
        "7 (embeddings + 6 layers)",
        "Bundled with the application",
    ):
        assert part in details, part
    assert panel.config().backbone == DEFAULT_TEXT_ENCODER
    # Partial transfer counts the encoder's stages: the embeddings and each transformer layer.
    panel.partial.setChecked(True)
    assert "encoder" in panel.help.text() and "images" not in panel.help.text()
    assert panel.stages.maximum() == 7 and "of 7 stages" in panel.stages_label.text()
    panel.stages.setValue(5)
    assert (panel.config().transfer, panel.config().unfreeze_stages) == ("partial", 5)
    assert panel.select_backbone("text/tiny-bert")
    assert panel.stages.maximum() == 3 and panel.stages.value() == 3  # 2 layers + embeddings
    assert "6 layers" not in panel.details.text() and "2 layers" in panel.details.text()
    assert "(text/tiny-bert)" in panel.details.text() and "Imported; its files are in" in panel.details.text()
    config = panel.config()
    assert (config.backbone, config.unfreeze_stages) == ("text/tiny-bert", 3)
    assert "unlabelled texts" in panel.use_unlabelled.text() and "texts" in panel.dmtl_note.text()


def test_an_unusable_encoder_is_listed_disabled_and_search_finds_imported_ones(
    panel: ModelPanel, tmp_path: Path
) -> None:
    import_text_encoder(write_small_encoder(tmp_path / "good"))
    pickled = write_small_encoder(imported_encoders_dir() / "pickled", weights=False)
    (pickled / "pytorch_model.bin").write_bytes(b"never read")
    panel.set_project_kind("text")
    items = _items(panel)
    assert not items["text/pickled"].flags() & Qt.ItemFlag.ItemIsEnabled
    assert "unavailable" in items["text/pickled"].text() and "pickle" in items["text/pickled"].toolTip()
    assert not panel.select_backbone("text/pickled") and panel.backbone_name() == DEFAULT_TEXT_ENCODER
    panel.search.setText("imported")
    visible = {name for name, item in _items(panel).items() if not item.isHidden()}
    assert visible == {"text/good", "text/pickled"}
    panel.search.setText("bundled")
    visible = {name for name, item in _items(panel).items() if not item.isHidden()}
    assert visible == {DEFAULT_TEXT_ENCODER}


def test_switching_kinds_lists_the_kind_s_own_choices_and_keeps_each_selection(
    panel: ModelPanel, tmp_path: Path
) -> None:
    import_text_encoder(write_small_encoder(tmp_path / "tiny"))
    assert panel.select_backbone("efficientnet_lite2")
    panel.set_project_kind("text")
    assert set(_items(panel)) == {DEFAULT_TEXT_ENCODER, "text/tiny"}
    assert panel.select_backbone("text/tiny")
    panel.set_project_kind("images")
    assert set(_items(panel)) == {info.name for info in CATALOG}
    assert panel.backbone_box.title() == "Backbone" and "backbones" in panel.search.placeholderText()
    assert panel.import_weights_button.text() == "Import weights file…"
    assert panel.backbone_name() == "efficientnet_lite2" and panel.config().backbone == "efficientnet_lite2"
    assert panel.stages.maximum() == 8 and "images" in panel.use_unlabelled.text()
    panel.set_project_kind("text")
    assert panel.backbone_name() == "text/tiny"
    with pytest.raises(ValueError, match="unknown project kind"):
        panel.set_project_kind("audio")


def test_a_text_fine_tune_offers_layer_decay_but_no_mirror_image(panel: ModelPanel) -> None:
    panel.full.setChecked(True)
    assert panel.tta_flip.isEnabled() and panel.layer_decay.isEnabled()
    panel.set_project_kind("text")
    assert not panel.tta_flip.isEnabled()  # a text has no mirror image
    assert panel.layer_decay.isEnabled() and panel.ema_decay.isEnabled()
    panel.partial.setChecked(True)
    assert not panel.tta_flip.isEnabled()
    panel.set_project_kind("images")
    assert panel.tta_flip.isEnabled()


def test_the_learning_rate_line_speaks_of_the_encoder_in_a_text_project(panel: ModelPanel) -> None:
    panel.frozen.setChecked(True)
    assert panel.backbone_lr_label.text() == "Backbone learning rate: none (the backbone is frozen)."
    panel.set_project_kind("text")
    assert panel.contrastive_steps.value() > 0  # the recommended contrastive step tunes the encoder first
    assert panel.backbone_lr_label.text().startswith("Encoder learning rate: none while the head learns")
    panel.contrastive_steps.setValue(0)
    assert panel.backbone_lr_label.text() == "Encoder learning rate: none (the encoder is frozen)."
    panel.full.setChecked(True)
    assert panel.backbone_lr_label.text().startswith("Encoder learning rate: ")
    assert panel.backbone_factor_label.text() == "Encoder LR factor"
    panel.set_project_kind("images")
    assert panel.backbone_lr_label.text().startswith("Backbone learning rate: ")
    assert panel.backbone_factor_label.text() == "Backbone LR factor"


def test_the_window_imports_an_encoder_folder_on_a_worker(
    qtbot, text_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window

    source = write_small_encoder(tmp_path / "tiny-bert")
    window, controller = build_window(text_project)
    qtbot.addWidget(window)
    panel = window.model_panel
    assert panel.kind == "text" and list(_items(panel)) == [DEFAULT_TEXT_ENCODER]
    assert window._side_dock.windowTitle() == "Text encoder and head"

    chosen: list[str] = []
    names = iter(["tiny", "tiny", "pickled"])

    def ask_name(_parent, _title, _label, _mode, text):  # noqa: ANN001, ANN202
        chosen.append(text)
        return next(names), True

    folders = iter([str(source), str(source)])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: next(folders))
    monkeypatch.setattr(QInputDialog, "getText", ask_name)
    qtbot.mouseClick(panel.import_weights_button, Qt.MouseButton.LeftButton)
    assert chosen == ["tiny-bert"]  # the folder's name is offered
    thread = controller.weights_thread
    assert thread is not None and not panel.import_weights_button.isEnabled()
    qtbot.waitUntil(lambda: panel.import_weights_button.isEnabled(), timeout=TIMEOUT)
    assert thread.wait(10_000)
    note = panel.weights_note.text()
    assert note.startswith("Imported tiny-bert as text/tiny: 8-d embeddings"), note
    assert list(_items(panel)) == [DEFAULT_TEXT_ENCODER, "text/tiny"]
    assert panel.backbone_name() == "text/tiny" and panel.config().backbone == "text/tiny"

    # The same name again is refused with the reason; the first import stays.
    qtbot.mouseClick(panel.import_weights_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.import_weights_button.isEnabled(), timeout=TIMEOUT)
    assert controller.weights_thread.wait(10_000)
    note = panel.weights_note.text()
    assert note.startswith("Not imported: a text encoder named text/tiny is already imported"), note
    assert "details in" not in note  # a plain message, not an unexpected error
    assert (imported_encoders_dir() / "tiny" / "model.safetensors").is_file()

    # A folder with only pickle weights is refused, and nothing of it is kept.
    pickled = write_small_encoder(tmp_path / "pickled", weights=False)
    (pickled / "pytorch_model.bin").write_bytes(b"never read")
    panel.request_encoder_import(str(pickled), "pickled")
    qtbot.waitUntil(lambda: panel.import_weights_button.isEnabled(), timeout=TIMEOUT)
    assert controller.weights_thread.wait(10_000)
    note = panel.weights_note.text()
    assert note.startswith("Not imported") and "pickle" in note and "safetensors" in note
    assert not (imported_encoders_dir() / "pickled").exists()
    assert list(_items(panel)) == [DEFAULT_TEXT_ENCODER, "text/tiny"] and panel.backbone_name() == "text/tiny"
    controller.shutdown()


def test_a_run_started_from_the_window_uses_the_chosen_encoder(
    qtbot, text_project: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window

    copy = tmp_path / "minilm-copy"
    shutil.copytree(bundled_encoder_folder(), copy)
    name = import_text_encoder(copy)
    window, controller = build_window(text_project)
    qtbot.addWidget(window)
    panel = window.model_panel
    ready = window.training.status.text()
    assert ready.startswith("Ready:") and "validation texts" in ready and "images" not in ready, ready
    assert panel.select_backbone(name)
    assert panel.frozen.isChecked() and panel.linear_probe.isChecked()
    assert panel.contrastive_row.isVisibleTo(panel) and panel.contrastive_row.isEnabled()
    assert panel.contrastive_steps.value() == TrainConfig.recommended().contrastive_steps
    panel.contrastive_steps.setValue(3)  # SetFit's step, kept short here
    controller.start_training()
    thread = controller.training_thread
    assert thread is not None
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=TIMEOUT)
    with ProjectStore.open(text_project) as store:
        runs = store.runs()
    assert len(runs) == 1 and runs[0].status == "completed", runs
    assert runs[0].config["backbone"] == name
    assert runs[0].config["contrastive_steps"] == 3
    assert "contrastive fine-tuning (SetFit)" in window.training.notices.text(), (
        window.training.notices.text()
    )
    controller.shutdown()


def _words_shown(panel: ModelPanel) -> list[str]:
    """Every text and tooltip the panel shows: its visible widgets' texts, titles, placeholders, progress
    formats, spin box affixes, and their list and drop-down entries."""
    shown = [panel.toolTip()]
    for widget in panel.findChildren(QWidget):
        if not widget.isVisibleTo(panel):
            continue
        shown.append(widget.toolTip())
        if isinstance(widget, (QAbstractButton, QLabel)):
            shown.append(widget.text())
        if isinstance(widget, QLineEdit):
            shown += [widget.text(), widget.placeholderText()]
        if isinstance(widget, QGroupBox):
            shown.append(widget.title())
        if isinstance(widget, QProgressBar):
            shown.append(widget.format())
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            shown += [widget.prefix(), widget.suffix(), widget.specialValueText()]
        if isinstance(widget, QComboBox):
            shown += [widget.itemText(i) for i in range(widget.count())]
            shown += [
                str(widget.itemData(i, Qt.ItemDataRole.ToolTipRole) or "") for i in range(widget.count())
            ]
        if isinstance(widget, QListWidget):
            items = [widget.item(i) for i in range(widget.count())]
            shown += [item.text() for item in items if not item.isHidden()]
            shown += [item.toolTip() for item in items if not item.isHidden()]
    return [words for words in shown if words]


def test_a_text_project_s_panel_never_speaks_of_images(qtbot, text_project: Path) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window

    window, controller = build_window(text_project)
    qtbot.addWidget(window)
    window.show()
    panel = window.model_panel
    assert panel.kind == "text"
    for strategy in (panel.frozen, panel.partial, panel.full):
        strategy.setChecked(True)
        panel.consistency_weight.setValue(1.0)  # the unlabelled-text settings in use too
        shown = _words_shown(panel)
        assert any("texts" in words for words in shown)
        assert [words for words in shown if "image" in words.lower()] == []
    # An image project's panel speaks of images again, with its image-only settings back.
    panel.set_project_kind("images")
    assert panel.tta_flip.isVisibleTo(panel) and panel.unlabelled_rule.isVisibleTo(panel)
    assert "images" in panel.epochs.toolTip() and "images" in panel.crossval_button.toolTip()
    assert "images" in panel.lr_status.text() and "images" in panel.crossval_status.text()
    panel.set_project_kind("text")
    panel.show_lr_finder_preparing(3, 40, 2.0)  # the finder's feature pass
    assert "text views" in panel.lr_status.text()
    assert [words for words in _words_shown(panel) if "image" in words.lower()] == []
    controller.shutdown()
