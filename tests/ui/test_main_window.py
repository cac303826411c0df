from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from tests.conftest import TEST_INPUT_SIZE
from tests.ui.inert_training import InertTrainingThread
from tests.ui.test_run_flow import _answer_close_question


def _fast(window) -> None:  # noqa: ANN001
    window.model_panel.linear_probe.setChecked(False)  # epochs to stop in (a probe fits in one go)
    window.model_panel.epochs.setValue(30)
    window.model_panel.batch_size.setValue(8)


def test_start_shows_live_curves_and_stop_ends_the_thread(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    from dmtl_studio.ui import model_panel

    original = model_panel.ModelPanel.config
    monkeypatch.setattr(
        model_panel.ModelPanel,
        "config",
        lambda self: original(self).with_changes(input_size=TEST_INPUT_SIZE, device="cpu"),
    )
    window, controller = build_window(project)
    qtbot.addWidget(window)
    _fast(window)
    panel = window.training
    assert panel.start_button.isEnabled()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    thread = controller.training_thread
    assert thread is not None
    qtbot.waitUntil(lambda: panel.train_loss.n >= 2, timeout=120_000)
    assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    with qtbot.waitSignal(thread.finished, timeout=30_000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert not thread.isRunning()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=5_000)
    assert "Stopped" in panel.status.text()
    with ProjectStore.open(project) as store:  # a run stopped before its first epoch ended is not kept
        runs = store.runs()
        assert not runs or runs[-1].status == "stopped"
    controller.shutdown()


def test_closing_the_window_during_training_joins_the_thread(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    _fast(window)
    controller.start_training()
    thread = controller.training_thread
    qtbot.waitUntil(lambda: window.training.progress.maximum() > 0, timeout=120_000)
    _answer_close_question("Stop and quit", asked := [])
    window.close()
    assert asked  # closing during a run asks first
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert not thread.isRunning()


def test_a_project_that_cannot_train_says_why(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    with ProjectStore.create(tmp_path / "p"):
        pass
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    assert not window.training.start_button.isEnabled()
    assert "at least 2 classes" in window.training.start_button.toolTip()
    controller.shutdown()


def test_pause_holds_the_run_and_resume_goes_on(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    from dmtl_studio.ui import model_panel

    original = model_panel.ModelPanel.config
    monkeypatch.setattr(
        model_panel.ModelPanel,
        "config",
        lambda self: original(self).with_changes(
            input_size=TEST_INPUT_SIZE, device="cpu", epochs=3, linear_probe=False
        ),
    )
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.training
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.train_loss.n >= 1, timeout=120_000)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.pause_button.text() == "Resume"
    qtbot.wait(300)  # let the batch in flight finish
    held = panel.train_loss.n
    qtbot.wait(1500)
    assert panel.train_loss.n == held  # nothing moves while paused
    assert controller.training_thread.isRunning()
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    # The history's row of the run under way follows its epochs (it read "Epochs 0 · —" to the end, h30).
    qtbot.waitUntil(lambda: panel.val_accuracy.n >= 1, timeout=180_000)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)  # held after its first epoch
    qtbot.wait(300)
    epochs = panel.val_accuracy.n
    assert controller.training_thread.isRunning() and epochs < 3
    assert panel.history.item(0, 1).text() == "running" and panel.history.item(0, 4).text() == str(epochs)
    assert panel.history.item(0, 5).text() != "—"
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    # The run may have ended meanwhile: wait for what its end shows, not for a signal that may be gone.
    qtbot.waitUntil(lambda: "Finished after 3 epoch(s)" in panel.status.text(), timeout=180_000)
    qtbot.waitUntil(lambda: not controller.training_thread.isRunning(), timeout=30_000)
    assert panel.confusion.rowCount() == 3 and panel.per_class.rowCount() == 3
    assert panel.learning_rate.n == panel.train_loss.n
    assert panel.history.rowCount() == 1  # the run history was refreshed
    panel.history.selectRow(0)
    assert panel.overlaid_runs() == 1
    controller.shutdown()


def test_images_gone_from_disk_show_as_problems_after_a_run(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.ui import model_panel

    images = write_shapes_folder(tmp_path / "images", 6, seed=5, size=64)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, seed=0)
        gone = next(im for im in store.images() if im.label and im.split == "train")
    original = model_panel.ModelPanel.config
    monkeypatch.setattr(
        model_panel.ModelPanel,
        "config",
        lambda self: original(self).with_changes(input_size=64, device="cpu", epochs=1),
    )
    window, controller = build_window(project)
    qtbot.addWidget(window)
    Path(gone.path).unlink()  # moved away while the project was open
    assert window.browser._all[gone.id].problem is None
    controller.start_training()
    qtbot.waitUntil(
        lambda: window.training.start_button.isEnabled() and not controller.training_thread.isRunning(),
        timeout=120_000,
    )
    qtbot.waitUntil(lambda: window.browser._all[gone.id].problem is not None, timeout=5_000)
    assert "missing on disk" in window.browser._all[gone.id].problem
    assert "no longer on disk" in window.training.notices.text()
    controller.shutdown()


def test_settings_that_cannot_train_are_refused_with_the_core_reason(
    qtbot, project: Path, monkeypatch
) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QMessageBox

    from dmtl_studio.core.training.settings import BATCH_OF_ONE

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a, **k: shown.append(text))
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.model_panel
    panel.full.setChecked(True)
    panel.batch_size.setValue(1)
    qtbot.mouseClick(window.training.start_button, Qt.MouseButton.LeftButton)
    assert controller.training_thread is None  # nothing started
    qtbot.mouseClick(panel.find_lr, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.crossval_button, Qt.MouseButton.LeftButton)
    assert shown == [BATCH_OF_ONE] * 3  # the command line prints the same sentence
    controller.shutdown()


def test_shutdown_stops_and_joins_the_model_tasks(qtbot, project: Path) -> None:  # noqa: ANN001
    """Evaluation, prediction, Grad-CAM, report and map threads are joined when the window closes."""
    import time

    from PySide6.QtCore import QThread

    class Busy(QThread):
        def run(self) -> None:
            while not self.isInterruptionRequested():
                time.sleep(0.01)

    window, controller = build_window(project)
    qtbot.addWidget(window)
    task = Busy()
    controller.model_tasks["predict"] = task
    task.start()
    qtbot.waitUntil(task.isRunning, timeout=5_000)
    controller.shutdown()
    assert not task.isRunning() and controller.model_tasks == {}


def test_every_menu_entry_that_asks_the_controller_reaches_it(qtbot) -> None:  # noqa: ANN001
    """File ▸ Open the demo project and Labels ▸ Find … emit their requests when chosen from the menu (given the
    signal itself, ``addAction`` raised TypeError and the entry did nothing)."""
    from dmtl_studio.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    heard: list[str] = []
    signals = {
        "Open the image &demo project": window.demo_requested,
        "Open the &text demo project": window.text_demo_requested,
        "Find suspected label &errors": window.label_errors_requested,
        "Find &duplicates and leaks": window.duplicates_requested,
    }
    for name, signal in signals.items():
        signal.connect(lambda *_, n=name: heard.append(n))
    actions = {a.text(): a for menu in window.menuBar().actions() for a in menu.menu().actions()}
    for name in signals:
        actions[name].setEnabled(True)
        actions[name].trigger()
    assert heard == list(signals)


def test_continuing_a_run_says_from_the_start_that_stop_keeps_its_saved_epochs(
    qtbot, project: Path, monkeypatch
) -> None:  # noqa: ANN001
    from dmtl_studio import app
    from dmtl_studio.core.training.config import TrainConfig

    monkeypatch.setattr(app, "TrainingThread", InertTrainingThread)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    run_dir = project / "runs" / "stopped-run"
    (run_dir / "checkpoints" / "epoch-000002").mkdir(parents=True)
    config = TrainConfig(transfer="partial", epochs=5)
    controller._run_training(config, resume_from=str(run_dir))
    panel = window.training
    assert panel.stop_cost().startswith("Stop keeps the run at epoch 2 of 5"), panel.stop_cost()
    assert "continuing after epoch 2" in panel.status.text()
    controller.training_thread = None
    controller._run_training(config)  # a new run: nothing is kept yet
    assert panel.stop_cost().startswith("No epoch has finished yet"), panel.stop_cost()
    controller.training_thread = None
    controller.shutdown()


def test_a_project_opens_with_the_training_settings_it_was_left_with(
    qtbot, project: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.model_panel
    assert panel.transfer() == "frozen"  # the recommended settings of a project never trained
    panel.strategy_buttons["partial"].setChecked(True)
    panel.epochs.setValue(3)
    panel.consistency_weight.setValue(0.5)
    controller.shutdown()  # the window closes

    window2, controller2 = build_window(project)
    qtbot.addWidget(window2)
    config = window2.model_panel.config()
    assert (config.transfer, config.epochs, config.consistency_weight) == ("partial", 3, 0.5)
    # Another project does not inherit them: it shows its own (here, never set: the recommended ones).
    other = tmp_path / "other"
    import shutil

    shutil.copytree(project, other)
    for damaged in ("{not json", "[]", "null"):  # a damaged entry reads as none
        with ProjectStore.open(other) as store:
            store.set_meta("train_settings", damaged)
        assert controller2.open_project(str(other))
        assert window2.model_panel.config().transfer == "frozen" and window2.model_panel.epochs.value() != 3
        assert controller2.open_project(str(project))
    assert controller2.open_project(str(project))  # and back: the first project's own
    assert window2.model_panel.config().epochs == 3
    controller2.shutdown()


def test_settings_left_as_shown_are_not_stored_so_later_recommendations_apply(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    controller.shutdown()  # closed untouched
    with ProjectStore.open(project) as store:
        assert store.get_meta("train_settings") is None
    window2, controller2 = build_window(project)
    qtbot.addWidget(window2)
    window2.model_panel.epochs.setValue(4)
    controller2.shutdown()
    with ProjectStore.open(project) as store:
        assert '"epochs": 4' in store.get_meta("train_settings")


def test_every_menu_item_has_its_own_mnemonic(qtbot) -> None:  # noqa: ANN001
    """Alt+letter reaches every command of the menus from the keyboard, one letter per item in each menu."""
    window, controller = build_window(None)
    qtbot.addWidget(window)
    for menu_action in window.menuBar().actions():
        items = [a for a in menu_action.menu().actions() if not a.isSeparator() and a.isVisible()]
        letters = []
        for action in items:
            text = action.text()
            assert "&" in text.replace("&&", ""), f"{menu_action.text()} ▸ {text} has no mnemonic"
            letters.append(text[text.index("&") + 1].lower())
        assert len(letters) == len(set(letters)), (menu_action.text(), letters)
    controller.shutdown()
