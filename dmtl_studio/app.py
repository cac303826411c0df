"""Composition root: the QApplication, the main window, the workers, and every signal connection."""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox

from dmtl_studio import __version__
from dmtl_studio.core.augment.presets import default_recipe
from dmtl_studio.core.augment.preview import mixing_partners
from dmtl_studio.core.augment.recipe import Recipe
from dmtl_studio.core.base.paths import (
    RUN_SIDECAR_NAME,
    AppDataError,
    absolute_path,
    app_data_dir,
    demo_project_dir,
    demo_text_project_dir,
    force_offline,
)
from dmtl_studio.core.project.demo import create_demo_project
from dmtl_studio.core.project.errors import ProjectError, UnknownSchemaError
from dmtl_studio.core.project.gone_files import WAY_BACK_IN_WINDOW
from dmtl_studio.core.project.images_table import missing_files_notice
from dmtl_studio.core.project.import_sources import import_sources
from dmtl_studio.core.project.importer import mixed_split_folders
from dmtl_studio.core.project.interop import export_csv, export_imagefolder, import_csv
from dmtl_studio.core.project.project_kind import create_project, kind_undecided
from dmtl_studio.core.project.run_lock import CHECKPOINTS_DIR, unit_folders
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_demo import create_text_demo_project
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.project_recipe import keep_project_recipe, project_recipe
from dmtl_studio.core.training.settings import ConfigError
from dmtl_studio.ui.dataset_browser import ICON_SIZE
from dmtl_studio.ui.main_window import MainWindow
from dmtl_studio.ui.outside_changes import OutsideChanges
from dmtl_studio.ui.settings import remember_project
from dmtl_studio.ui.training_panel import QUIT_AFTER_RUN, QUIT_CANCEL
from dmtl_studio.workers import ImportThread, ThumbnailService, TrainingThread
from dmtl_studio.workers.audit import AuditThread
from dmtl_studio.workers.crossval import CrossValidationThread
from dmtl_studio.workers.dataset_map import DatasetMapThread
from dmtl_studio.workers.evaluation import (
    EvaluationThread,
    ExportThread,
    GradCamThread,
    PredictThread,
    ReportThread,
    SuggestionThread,
    TextExplainThread,
)
from dmtl_studio.workers.lr_finder import LRFinderThread
from dmtl_studio.workers.preload import PRELOAD_DELAY_MS, preload_deep_learning
from dmtl_studio.workers.preview import PreviewService
from dmtl_studio.workers.quality import DuplicatesThread, GoneFilesThread, LabelErrorsThread
from dmtl_studio.workers.text_import import TextImportThread
from dmtl_studio.workers.weights import TextEncoderImportThread, WeightsImportThread

log = logging.getLogger(__name__)
#: The project's stored model-panel settings (a TrainConfig without its recipe, which is stored as "recipe").
TRAIN_SETTINGS_KEY = "train_settings"


class StudioController(QObject):
    """Owns the open project and the worker threads; connects the window's requests to them."""

    #: The project's runs changed (opened, a run started, ended, was continued or removed). Every view that
    #: lists runs listens to this one signal, so none shows a stale list.
    runs_changed = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.runs_changed.connect(self._refresh_history)
        self.window = window
        self.project_dir: Path | None = None
        self._settings_shown: dict | None = None  # the training settings the open project was shown with
        self.training_thread: TrainingThread | None = None
        self.import_thread: ImportThread | TextImportThread | None = None
        # Thumbnails are made at the grid's icon size: a larger pixmap would cover the caption below it.
        self.thumbnails = ThumbnailService(size=ICON_SIZE, parent=self)
        browser = window.browser
        browser.thumbnails_wanted.connect(self.thumbnails.request)
        self.thumbnails.ready.connect(browser.model.set_thumbnail)
        self.thumbnails.failed.connect(browser.model.set_thumbnail_failed)
        self.store: ProjectStore | None = None
        # Another window or a command changing the open project: read it again (the window's own import reads
        # everything again when it ends).
        self.outside = OutsideChanges(
            browser.shown_states, lambda: bool(self.import_thread and self.import_thread.isRunning()), self
        )
        self.outside.changed.connect(self._changed_elsewhere)
        self.outside.runs_changed.connect(self.runs_changed.emit)
        self._connect_label_tools()
        window.new_project_requested.connect(self.new_project)
        window.open_project_requested.connect(self.open_project)
        window.demo_requested.connect(self.open_demo)
        window.text_demo_requested.connect(self.open_text_demo)
        window.import_requested.connect(self.import_images)
        window.import_texts_requested.connect(self.import_texts)
        window.import_cancel_requested.connect(self.cancel_import)
        window.training.start_requested.connect(self.start_training)
        window.training.stop_requested.connect(self.stop_training)
        window.training.pause_requested.connect(self.pause_training)
        window.training.resume_run_requested.connect(self.resume_training)
        window.close_requested.connect(self.shutdown)
        # Closing asks first while a run trains, and waits for stopping threads with the event loop running.
        window.installEventFilter(self)
        # A project to open once the run has stopped (see _may_switch).
        self._switch_after_run: Callable[[], object] | None = None
        self._close_wait = QTimer(self)
        self._close_wait.setInterval(50)
        self._close_wait.timeout.connect(self._close_when_stopped)
        self._quit_after_run = False
        window.training.set_can_start(
            False, "Open a project with labelled images, then press Start training."
        )
        self._connect_recipe_editor()
        self._connect_model_panel()
        self._connect_evaluation()
        self._connect_dataset_map()

    # ----------------------------------------------------------------- project
    def _may_switch(self, folder: str | Path, then: Callable[[], object]) -> bool:
        """Whether another project may be opened now. While a run (or a cross-validation) trains in the open
        project, the window asks first: stop it and open ``folder`` once it has stopped (``then`` is called then),
        or cancel. The training panel shows one project's run; it never carries on in another's."""
        training = next(
            (t for t in (self.training_thread, self.crossval_thread) if t is not None and t.isRunning()), None
        )
        if training is None or (self.project_dir is not None and Path(folder) == self.project_dir):
            return True
        if not self.window.training.ask_switch_while_training(Path(folder).name):
            return False
        if self._switch_after_run is None:
            training.finished.connect(self._switch_when_stopped)
        self._switch_after_run = then
        if training is self.training_thread:
            self.window.training.stop_button.click()  # the panel shows what stopping keeps
        else:
            self.stop_crossval()
        self.window.statusBar().showMessage(
            f"Stopping the run; {Path(folder).name} opens when it has stopped…"
        )
        return False

    def _switch_when_stopped(self) -> None:
        then, self._switch_after_run = self._switch_after_run, None
        if then is not None:
            QTimer.singleShot(0, then)  # after the run's own end has been shown

    def _label_errors_said(self, found: object) -> str:
        """The Evaluation area's line on a finished label-error check (``found``: a ``LabelErrorReport``)."""
        from dmtl_studio.core.quality.label_errors import DEFAULT_FOLDS  # loaded by the check already

        items = self._items(True)
        head = f"Label-error check at {time.strftime('%H:%M')} (on the labels of then"
        if found.folds < DEFAULT_FOLDS:  # the smallest class held too few for the usual folds (h35)
            head += f"; {found.folds} folds, as the smallest class has {found.folds} labelled {items}"
        gone = (
            f" {len(found.gone)} labelled {items} were left out: their files are gone since the import "
            f"({', '.join(Path(p).name for p in found.gone[:3])}{', …' if len(found.gone) > 3 else ''})."
            if found.gone
            else ""
        )
        if not found.suspects:
            return f"{head}): none of the {found.images} labelled {items} looks mislabelled.{gone}"
        return (
            f"{head}): {len(found.suspects)} of {found.images} labelled {items} may carry a wrong label. The "
            "browser shows them most suspect first: Enter takes the suggested class, a number key picks another."
            + gone
        )

    def new_project(self, folder: str, kind: str = "images") -> None:
        """Make the project folder (the New project form has checked it) of ``kind`` and open the new project."""
        if not self._may_switch(folder, lambda: self.new_project(folder, kind)):
            return
        try:
            create_project(folder, kind).close()
        except (ProjectError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.window.show_error("Cannot create the project", f"No project was made in {folder}: {reason}")
            return
        if self.open_project(folder):
            following = (
                "File ▸ Import texts… (a CSV, TSV or JSON Lines file) or File ▸ Import a folder of .txt files… "
                "(one sub-folder per class)"
                if kind == "text"
                else "File ▸ Import image folder… (one sub-folder per class)"
            )
            self.window.statusBar().showMessage(f"New project made. Next: {following}.", 15000)

    def open_demo(self) -> None:
        """Open the image demo project, made on first use in the application's data folder."""
        self._open_made(demo_project_dir(), create_demo_project, "demo project")

    def open_text_demo(self) -> None:
        """Open the text demo project, made on first use in the application's data folder."""
        self._open_made(demo_text_project_dir(), create_text_demo_project, "text demo project")

    def _open_made(self, folder: Path, create: Callable[[Path], object], what: str) -> None:
        if not self._may_switch(folder, lambda: self._open_made(folder, create, what)):
            return
        try:
            if create(folder) is not None:
                log.info("created the %s in %s", what, folder)
        except (ProjectError, OSError) as exc:
            self.window.show_error(f"Cannot make the {what}", f"{folder}: {exc}")
            return
        self.open_project(str(folder))

    def open_project(self, folder: str) -> bool:
        folder = str(absolute_path(folder))  # stored paths are absolute: made so here, once
        if not self._may_switch(folder, lambda: self.open_project(folder)):
            return False
        try:
            store = ProjectStore.open(folder)
        except UnknownSchemaError as exc:
            # Dropping what the product did not make needs the person's explicit consent.
            names = "\n".join(f"  {kind} {name}" for kind, name in exc.objects[:12])
            answer = QMessageBox.question(
                self.window,
                "The project database was changed outside DMTL Studio",
                f"{folder} holds database objects DMTL Studio did not make:\n{names}\n\nThey could change or "
                "delete data behind your back. Remove them and open the project? (Copy the folder first if you "
                "are unsure; No leaves it untouched.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
            try:
                store = ProjectStore.open(folder, drop_unknown=True)
            except ProjectError as again:
                self.window.show_error("Cannot open the project", str(again))
                return False
        except ProjectError as exc:
            self.window.show_error("Cannot open the project", str(exc))
            return False
        self.stop_model_tasks()  # an evaluation of the last project would end in this one's views (h29)
        if self.store is not None:
            self._keep_train_settings()
            self.store.close()
        # The GUI thread's own connection; worker threads open theirs (SQLite connections stay in one thread).
        self.store = store
        self.project_dir = Path(folder)
        self.thumbnails.set_project(self.project_dir)
        self.window.set_project_kind(store.kind, kind_undecided(store))
        self._show_train_settings(store)
        self.window.browser.attach(store)
        self.outside.watch(store)
        self.window.evaluation.clear_result()  # the last project's figures and classes are not this one's
        self.window.training.clear_run()  # nor its last run's curves, notes and "finished"
        self.runs_changed.emit()
        self.window.set_project_open(True)
        read_only = " (read-only)" if store.read_only else ""
        self.window.setWindowTitle(f"DMTL Studio — {Path(folder).name}{read_only}")
        if store.read_only:
            self.window.statusBar().showMessage(
                f"{folder} is read-only (read-only media or folder): it is open for viewing; changes are refused."
            )
        if store.class_name_notes:  # class names an older version stored in another Unicode form
            self.window.statusBar().showMessage("; ".join(store.class_name_notes), 30000)
        if store.moved_images:
            self.window.statusBar().showMessage(
                f"The project was moved: {store.moved_images} image(s) kept in its folder were found at their new "
                "place, labels and splits kept",
                30000,
            )
        remember_project(folder)
        self.window.refresh_recent()
        self._update_readiness()
        self._look_for_gone_files()
        return True

    def _look_for_gone_files(self, ask: bool = True) -> None:
        """Look on a worker for the open project's images whose files are gone (a folder moved or renamed, a
        drive not connected) and say so at once, with the way back (``ask``), rather than at the next run (h28);
        after an import, look again to count what is still gone."""
        self._gone_paths, self._gone_ids = frozenset(), ()
        if self.project_dir is None or self.store is None or self.store.kind == "text":
            return
        earlier = self.model_tasks.get("gone-files")
        if earlier is not None and earlier.isRunning():
            earlier.requestInterruption()
            earlier.wait()
        thread = GoneFilesThread(self.project_dir)
        # Only the latest look counts (a stopped one emits nothing: it raises Cancelled in core).
        thread.result_ready.connect(
            lambda result, me=thread: (
                self._show_gone_files(result, ask) if me is self.model_tasks.get("gone-files") else None
            )
        )
        # A look that failed (a database it could not read…) is said; one stopped (another project, a newer look)
        # is not (h31: a failed look was only logged).
        thread.failed.connect(
            lambda message, me=thread: (
                self.window.statusBar().showMessage(
                    f"Could not look for images gone from disk: {message}", 20000
                )
                if not me.isInterruptionRequested()
                else None
            )
        )
        self.model_tasks["gone-files"] = thread  # stopped with the model tasks when another project opens
        thread.start()

    def _show_gone_files(self, result: object, ask: bool = True) -> None:
        folder, gone = result  # type: ignore[misc]
        if folder != self.project_dir or self.store is None:
            return
        held = {record.path for record in self.store.images()}
        if not held.issuperset(gone.paths):  # an import or a removal while it looked: look again
            self._look_for_gone_files(ask)
            return
        self._gone_paths, self._gone_ids = frozenset(gone.paths), gone.ids
        self.window.browser.set_gone_paths(self._gone_paths)
        self._update_readiness()
        if not gone.gone or not ask:
            return
        log.warning("%d image(s) of %s are gone from disk, first: %s", gone.gone, folder, gone.first)
        if (
            self.store.read_only or not gone.folders
        ):  # nothing to import (or no import can be made): said, not asked
            read_only = " The project is read-only: nothing can be changed." if self.store.read_only else ""
            self.window.statusBar().showMessage(gone.message() + read_only, 60000)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Images no longer on disk", gone.message(), parent=self.window
        )
        find = box.addButton("Import the folder from its new place…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setObjectName("gone-files")
        start = gone.folders[0][0]

        def answered(button: object) -> None:
            if button is find and folder == self.project_dir:
                self.window.ask_import_folder(os.path.dirname(start), f"The new place of {start}")

        box.buttonClicked.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal; the event loop goes on (the window keeps drawing behind it)

    def _keep_train_settings(self, config: TrainConfig | None = None) -> None:
        """Store the model panel's settings (or ``config``'s) in the open project, so that it opens with them: the
        recipe is stored as it is edited, these when a run starts and when the project is left. Settings core
        refuses, and a read-only project, keep what was stored."""
        if self.store is None or self.store.read_only:
            return
        settings = self._panel_settings(config)
        if settings is None:
            return
        try:
            if settings == self._settings_shown and self.store.get_meta(TRAIN_SETTINGS_KEY) is None:
                return  # never changed: a project never set follows later recommendations
            self.store.set_meta(TRAIN_SETTINGS_KEY, json.dumps(settings))
        except ProjectError:
            pass

    def _panel_settings(self, config: TrainConfig | None = None) -> dict | None:
        """``config``'s settings (the model panel's when None) as stored, without the recipe (stored apart);
        None when core refuses the panel's."""
        try:
            config = config or self.window.model_panel.config()
        except ConfigError:
            return None
        return {k: v for k, v in config.to_dict().items() if k != "recipe"}

    def _show_train_settings(self, store: ProjectStore) -> None:
        """The model panel shows the settings the project was left with, or the recommended ones."""
        config = TrainConfig.recommended()
        text = store.get_meta(TRAIN_SETTINGS_KEY)
        if text:
            try:
                data = json.loads(text)
                config = TrainConfig.from_dict(data) if isinstance(data, dict) else config
            except (ValueError, TypeError, ConfigError):  # damaged, or from a version with other settings
                config = TrainConfig.recommended()
        self.window.model_panel.apply_config(config)
        # Settings left as they were shown are not stored: a project never set follows later recommendations.
        self._settings_shown = self._panel_settings()

    def refresh(self) -> None:
        if self.store is not None:
            self.window.browser.reload()
            self._update_readiness()

    def _changed_elsewhere(self) -> None:
        """Another window or a command changed the project's items or classes: show them as they are now."""
        if self.store is None:
            return
        self.window.browser.reload_keeping_place()
        self._update_readiness()
        self.window.evaluation.mark_out_of_date()  # its labels or classes may be those the figures counted
        self.window.statusBar().showMessage(
            f"The project was changed by another window or a command: its {self._items()} are shown as they are "
            "now",
            15000,
        )

    def _update_readiness(self) -> None:
        if self.store is None:
            return
        # The ones a run would learn from: a held-out item whose label was taken off, or a copy of one, is not.
        self.window.model_panel.set_unlabelled_count(self.store.unlabelled_count(pool=True))
        self.window.set_import_sources(import_sources(self.store))
        counts = self.store.class_counts()
        # A labelled item with no split trains (core's labelled_split), as an interrupted import leaves some (h30).
        trains = {name: c["total"] - c["val"] - c["test"] for name, c in counts.items()}
        gone = 0
        # Files found gone as the project opened: a run leaves them out (h31). Only their records are read again:
        # this runs on each label action.
        for record in self.store.images_by_id(self._gone_ids):
            if record.path in self._gone_paths:
                gone += 1
                if record.problem is None and record.label in trains and record.split in (None, "train"):
                    trains[record.label] -= 1
        self.window.model_panel.set_training_count(sum(trains.values()))
        trainable = [name for name, count in trains.items() if count > 0]
        gone_note = (
            f" {gone} image(s) are gone from disk: a run leaves them out; if their folder was moved, "
            f"{WAY_BACK_IN_WINDOW}"
            if gone
            else ""
        )
        if len(trainable) >= 2:
            val = sum(c["val"] for c in counts.values())
            self.window.training.set_can_start(
                True,
                f"Ready: {sum(trains.values())} training and {val} validation {self._items()} in "
                f"{len(trainable)} classes. Press Start training.{gone_note}",
            )
        else:
            self.window.training.set_can_start(
                False,
                f"Training needs labelled training {self._items()} of at least 2 classes: import or label some."
                f"{gone_note}",
            )

    def _items(self, countable: bool = False) -> str:
        """What this project's items are called: images or texts (``countable``: "image(s)" / "text(s)")."""
        word = "text" if self.window.project_kind == "text" else "image"
        return f"{word}(s)" if countable else f"{word}s"

    def _connect_label_tools(self) -> None:
        """The browser's viewer and the label menu actions (export, import, backup, splits)."""
        window, browser = self.window, self.window.browser
        browser.view_image_wanted.connect(self.thumbnails.request_view)
        self.thumbnails.view_ready.connect(browser.viewer.set_image)
        self.thumbnails.view_failed.connect(browser.viewer.show_problem)
        browser.status_message.connect(lambda text: window.statusBar().showMessage(text, 5000))
        browser.project_changed.connect(self._update_readiness)
        browser.project_changed.connect(window.evaluation.mark_out_of_date)
        window.export_csv_requested.connect(
            lambda path: self._label_tool(export_csv, path, "Wrote {} label(s)")
        )
        window.export_folder_requested.connect(
            lambda path: self._label_tool(self._export_folders, path, "Copied {}")
        )
        window.import_csv_requested.connect(self._import_labels_csv)
        window.backup_requested.connect(
            lambda path: self._label_tool(
                lambda s, p: s.backup(p),
                path,
                "Backup: {} (labels, classes, splits and run history; README: Backups and restoring one)",
            )
        )
        window.reassign_splits_requested.connect(browser.reassign_splits)

    def _label_tool(self, action, path: str, done: str) -> None:  # noqa: ANN001 - a core function
        if self.store is None:
            return
        try:
            result = action(self.store, path)
        except (ProjectError, OSError) as exc:
            self.window.show_error("DMTL Studio", str(exc))
            return
        self.window.statusBar().showMessage(done.format(result), 10000)

    def _export_folders(self, store: ProjectStore, path: str) -> str:
        """Labels ▸ Export labelled … as folders: what was copied, and the images left out as gone from disk."""
        gone = store.mark_missing_files()
        copied = f"{export_imagefolder(store, path)} labelled {self._items(countable=True)}"
        if gone:
            self.refresh()  # the gone images are problem files now
            return f"{copied}; {missing_files_notice(gone)}"
        return copied

    def _import_labels_csv(self, path: str) -> None:
        if self.store is None:
            return
        try:
            # The browser's editor: the import is one label action, undone like any other.
            summary = import_csv(self.store, path, editor=self.window.browser.editor)
        except (ProjectError, OSError) as exc:
            self.window.show_error("Cannot import labels", str(exc))
            return
        self.refresh()
        if summary.changed or summary.splits_given:
            self.window.evaluation.mark_out_of_date()
        extra = f" ({summary.changed} changed, {summary.unchanged} unchanged)"
        if summary.empty_kept:
            extra += f"; {summary.empty_kept} empty label(s) left as they were"
        for new, other in summary.case_variants:
            extra += f"; class '{new}' differs from class '{other}' only in case (merge them if they are one)"
        if summary.new_classes:
            extra += f"; new class(es): {', '.join(summary.new_classes)}"
        if summary.splits_given:
            extra += f"; {summary.splits_given} put in the split the file gives"
            if summary.splits_copies:
                extra += f" ({summary.splits_copies} of them identical copies, which share one split)"
        item = "text" if self.window.project_kind == "text" else "file"
        if summary.duplicates:
            extra += f"; {summary.duplicates} row(s) repeated a {item} named before"
            if summary.conflicting:
                first = summary.conflict_lines(lambda key: Path(key).name)[0]
                extra += f", {len(summary.conflicting)} with another label (first: {first})"
        if summary.problems:
            extra += f" (first problem: {summary.problems[0][0]}: {summary.problems[0][1]})"
        if summary.not_found:
            extra += (
                f"; {len(summary.not_found)} row(s) skipped, no such {item} (first: {summary.not_found[0]})"
            )
        self.window.statusBar().showMessage(
            f"Labelled {summary.labelled} {self._items(countable=True)}, added {summary.added}, "
            f"{len(summary.problems)} problem(s){extra}",
            15000,
        )

    # ----------------------------------------------------------------- import
    def import_images(self, folder: str) -> None:
        if self.project_dir is None or (self.import_thread and self.import_thread.isRunning()):
            return
        split_folders = self._split_folders_are_splits(Path(folder))
        if split_folders is not None:
            self._start_import(
                ImportThread(self.project_dir, Path(folder), self, split_folders=split_folders)
            )

    def import_texts(self, source: str, columns: dict[str, str | None]) -> None:
        """Import texts (a folder of .txt files, a .txt file or a table with the ``columns`` chosen)."""
        if self.project_dir is None or (self.import_thread and self.import_thread.isRunning()):
            return
        split_folders = self._split_folders_are_splits(Path(source)) if Path(source).is_dir() else True
        if split_folders is not None:
            options = columns if split_folders else {**columns, "split_folders": False}
            self._start_import(TextImportThread(self.project_dir, Path(source), options, self))

    def _split_folders_are_splits(self, folder: Path) -> bool | None:
        """Whether the folder's split-named top folders (``train/``…) are splits: asked when they sit beside
        other folders, which the import would otherwise refuse (``train`` may be a class of vehicles). ``None``:
        the person chose not to import."""
        splits, others = mixed_split_folders(folder)
        if not splits:
            return True
        named = ", ".join(f"{name}/" for name in splits)
        answer = QMessageBox.question(
            self.window,
            "Split folders or classes?",
            f"{folder} holds folders named like splits ({named}) beside other folders "
            f"({', '.join(others[:5])}{', …' if len(others) > 5 else ''}).\n\nImport {named} as classes too? "
            "(No imports nothing: to use them as splits, put the class folders inside each split folder, "
            "train/cat/…, test/cat/….)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return False if answer == QMessageBox.StandardButton.Yes else None

    def _start_import(self, thread: ImportThread | TextImportThread) -> None:
        bar = self.window.import_progress
        self.window.set_import_running(True)
        thread.progress.connect(lambda done, total, name: (bar.setRange(0, total), bar.setValue(done)))
        thread.done.connect(self._import_done)
        thread.failed.connect(lambda message: self.window.show_error("Import failed", message))
        thread.finished.connect(lambda: self.window.set_import_running(False))
        self.import_thread = thread
        thread.start()

    def cancel_import(self) -> None:
        """Stop the running import at its next file or row; what it has read is kept."""
        if self.import_thread is not None and self.import_thread.isRunning():
            self.import_thread.requestInterruption()
            self.window.import_cancel.setEnabled(False)

    def _import_done(self, summary: object) -> None:
        if self.store is not None and self.window.kind_undecided and not kind_undecided(self.store):
            # A project whose kind was never chosen took the kind of its first import (texts into one opened as
            # images: the window showed them as 30 unreadable image files).
            self.window.set_project_kind(self.store.kind)
            self._show_train_settings(self.store)
            self._recipe_shown["project"] = None  # the recipe editor shows this kind's recipe (h34)
            self.window.browser.attach(self.store)
        text = f"Import: {summary.describe()}"
        if summary.split is not None:
            text += f"; {summary.split.describe()}"
            self.window.browser.set_split_warnings(summary.split.warnings)
        if summary.conflicts:
            items = "text(s)" if self.window.project_kind == "text" else "picture(s)"
            text += f"; {len(summary.conflicts)} {items} carry two labels (filter 'Conflicting labels')"
        self.window.statusBar().showMessage(text, 20000)
        self._show_import_summary(summary)
        self.refresh()
        self._look_for_gone_files(ask=False)  # files found at their new place, or new ones gone
        if (
            summary.added or summary.labelled or getattr(summary, "missing", ())
        ):  # new items, labels or gone files
            self.window.evaluation.mark_out_of_date()

    def _show_import_summary(self, summary: object, notes_shown: int = 3) -> None:
        """The whole summary in the window's summary box: the counts and facts, the split and its first
        ``notes_shown`` notes (a class too small to split, say); the other notes, the label conflicts, the problem
        files and the reading notes behind Show Details, so the box stays as tall as a screen allows."""
        split = [summary.split.describe()] if summary.split is not None else []
        notes = [f"note: {warning}" for warning in summary.split.warnings] if split else []
        conflicts = summary.conflict_lines() if split else []  # a heading, then one indented line each
        details = notes[notes_shown:] + [line.strip() for line in conflicts[1:]] + summary.details(100)
        lines = (
            summary.lines() + split + notes[:notes_shown] + [line.removesuffix(":") for line in conflicts[:1]]
        )
        if len(notes) > notes_shown:
            lines.append(f"… and {len(notes) - notes_shown} more note(s) on the split")
        if details:
            lines.append("Show Details lists every note, label conflict and problem")
        self.window.show_summary(
            "Import stopped" if summary.cancelled else "Import finished",
            [f"{line[:1].upper()}{line[1:]}" for line in lines],
            details,
        )

    # ----------------------------------------------------------------- training
    def start_training(self) -> None:
        config = self.window.model_panel.checked_config()
        if config is None:
            return
        self._keep_train_settings(config)
        self._run_training(config.with_changes(recipe=self.window.recipe.recipe().to_dict()))

    def resume_training(self, run_dir: str) -> None:
        """Continue a stopped run with its own configuration (not the panel's current settings)."""
        if self.store is None:
            return
        run = next((r for r in self.store.runs() if r.run_dir == run_dir), None)
        if run is None:
            return
        try:
            config = TrainConfig.from_dict(run.config)
        except ConfigError as exc:
            self.window.show_error("Cannot continue the run", str(exc))
            return
        self._run_training(config, resume_from=run_dir)

    def _run_training(self, config: TrainConfig, resume_from: str | None = None) -> None:
        if self.project_dir is None or (self.training_thread and self.training_thread.isRunning()):
            return
        thread = TrainingThread(self.project_dir, config, self, resume_from=resume_from)
        panel = self.window.training
        thread.progress.connect(panel.on_progress)
        thread.preparing.connect(panel.on_preparing)
        thread.epoch_finished.connect(panel.on_epoch)
        # The history's row of the run under way follows its epochs (it read "Epochs 0 · —" to the end, h30).
        thread.epoch_finished.connect(lambda _epoch: self._refresh_history())
        thread.run_finished.connect(panel.on_finished)
        thread.run_finished.connect(self._remember_kept_run)
        thread.failed.connect(panel.on_failed)
        thread.notice.connect(panel.on_notice)
        thread.phase_started.connect(panel.on_phase)
        thread.phase_started.connect(self._next_run_row)  # an Auto run's next phase is a run of its own
        # Its run row exists once the first progress arrives; it ends (completed, stopped, failed) at finished.
        thread.preparing.connect(self._run_row_appeared)
        thread.progress.connect(self._run_row_appeared)
        thread.finished.connect(self.runs_changed)
        problems_before = len(self.store.problems()) if self.store is not None else 0
        thread.finished.connect(lambda: self._refresh_browser_if_problems_changed(problems_before))
        self.training_thread = thread
        self._run_row_shown = False
        how = "a linear probe" if config.fits_linear_probe else f"{config.epochs} epoch(s)"
        # A continued run keeps its saved epochs whatever happens next: Stop says so from the start.
        saved = unit_folders(Path(resume_from) / CHECKPOINTS_DIR) if resume_from else []
        verb = f"continuing after epoch {saved[0][0]}: " if saved else ""
        panel.run_started(
            f"{verb}{config.transfer} transfer of {config.backbone}, {how}",
            continues_after=saved[0][0] if saved else 0,
            epochs=config.epochs,
            probe=config.fits_linear_probe,
        )
        thread.start()

    def stop_training(self) -> None:
        if self.training_thread is not None:
            self.training_thread.requestInterruption()

    def pause_training(self, paused: bool) -> None:
        if self.training_thread is not None:
            self.training_thread.set_paused(paused)

    def _refresh_browser_if_problems_changed(self, before: int) -> None:
        """A run marks images that left the disk as problem files: the browser shows them as such at once."""
        if self.store is not None and len(self.store.problems()) != before:
            self.window.browser.reload()

    def _remember_kept_run(self, summary: object) -> None:
        """The run a training ended with (Auto's kept phase) is the one the Evaluation list chooses next."""
        self.window.evaluation.kept_run = str(getattr(summary, "run_dir", "")) or None

    def _next_run_row(self, event: object = None) -> None:
        self._run_row_shown = False
        self.runs_changed.emit()  # the previous phase's run, finished

    def _run_row_appeared(self, event: object = None) -> None:
        if getattr(event, "phase", None) == "contrastive":
            return  # a text encoder's contrastive step runs before the run's folder and row exist
        if not self._run_row_shown:
            self._run_row_shown = True
            self.runs_changed.emit()

    def _refresh_history(self) -> None:
        """The run history table, read from the project (after opening it and after each run)."""
        if self.store is None:
            return
        self.store.mark_interrupted_runs()  # runs whose process died since the project was opened
        runs = self.store.runs()
        self.window.training.show_history(runs, {run.id: self.store.epoch_metrics(run.id) for run in runs})

    # ----------------------------------------------------------------- augmentation recipe
    def _connect_recipe_editor(self) -> None:
        """Previews on a thread pool, the browser's selected images, and the recipe stored in the project."""
        editor, browser = self.window.recipe, self.window.browser
        self.previews = PreviewService(parent=self)
        editor.preview_requested.connect(self.previews.request)
        self.previews.ready.connect(editor.show_preview)
        self.previews.failed.connect(editor.show_preview_failed)
        self.window.close_requested.connect(self.previews.shutdown)
        shown: dict[str, Path | None] = {"project": None}
        self._recipe_shown = shown  # forgotten when the project's kind is decided by its first import

        def selected_images() -> None:
            model = browser.model
            rows = sorted({index.row() for index in browser.view.selectionModel().selectedIndexes()})
            usable = [r for r in (model.record(row) for row in rows) if r.problem is None]
            # Many selected: the first one shown, its mixing partners from the selected classes in turn (h34).
            if len(usable) > 8:
                partners = mixing_partners([(r.path, r.label) for r in usable], 0)
                usable = [usable[0], *(usable[i] for i in partners)]
            if not usable:  # nothing selected, or only problem files: the grid's first items (its filter's)
                first = range(min(model.rowCount(), 40))
                usable = [r for r in (model.record(row) for row in first) if r.problem is None][:8]
            if (
                not usable and self.store is not None
            ):  # the grid shows problem files alone: the project's first
                usable = self.store.images(usable_only=True, limit=8)
            if editor.kind == "text":  # the texts themselves, from the project
                bodies = self.store.texts([r.id for r in usable]) if self.store is not None else {}
                editor.set_texts([(bodies[r.id], r.label) for r in usable if r.id in bodies])
                return
            editor.set_images([(r.path, r.label) for r in usable])  # None: unlabelled (never mixed)

        def project_shown() -> None:
            if self.project_dir is not None and self.project_dir != shown["project"]:
                shown["project"] = self.project_dir
                with ProjectStore.open(self.project_dir) as store:
                    stored, problem = project_recipe(store)
                    kind = store.kind
                editor.set_kind(kind)
                editor.set_recipe(stored or default_recipe(kind))
                if problem is not None:  # after the recipe is shown, which clears earlier messages
                    editor.show_message(
                        f"{problem.rstrip('.')}. The default recipe is shown: editing it replaces the stored one."
                    )
            selected_images()

        def store_recipe(recipe: Recipe) -> None:
            if self.project_dir is not None:
                with ProjectStore.open(self.project_dir) as store:
                    keep_project_recipe(store, recipe)

        browser.model.modelReset.connect(project_shown)
        browser.view.selectionModel().selectionChanged.connect(selected_images)
        # A relabel: the preview's captions name the new label.
        browser.project_changed.connect(selected_images)
        editor.recipe_changed.connect(store_recipe)
        # The samples are fitted into the square as the run will be: the model panel's image shape.
        shape = self.window.model_panel.resize_mode
        shape.currentIndexChanged.connect(lambda _index: editor.set_resize_mode(str(shape.currentData())))

    # ----------------------------------------------------------------- backbone and head
    def _connect_model_panel(self) -> None:
        """The selector's learning-rate finder runs on a worker thread; closing the window stops it."""
        self.lr_finder_thread: LRFinderThread | None = None
        self.window.model_panel.lr_finder_requested.connect(self.find_learning_rate)
        self.window.model_panel.lr_finder_cancel_requested.connect(lambda: self.stop_lr_finder(wait=False))
        self.window.close_requested.connect(self.stop_lr_finder)
        self.crossval_thread: CrossValidationThread | None = None
        self.window.model_panel.crossval_requested.connect(self.cross_validate)
        self.window.model_panel.crossval_cancel_requested.connect(lambda: self.stop_crossval(wait=False))
        self.weights_thread: WeightsImportThread | TextEncoderImportThread | None = None
        self.window.model_panel.weights_import_requested.connect(self.import_weights)
        self.window.model_panel.encoder_import_requested.connect(self.import_text_encoder)

    def import_weights(self, path: str, backbone: str) -> None:
        """Check and store a weights file on a worker; the selector then lists the backbone as available."""
        panel = self.window.model_panel
        if self.weights_thread is not None and self.weights_thread.isRunning():
            return
        thread = WeightsImportThread(Path(path), backbone, self)
        thread.result_ready.connect(lambda imported: panel.show_weights_imported(*imported))
        thread.failed.connect(panel.show_weights_failed)
        self.weights_thread = thread
        thread.start()

    def import_text_encoder(self, folder: str, name: str) -> None:
        """Check and copy a text encoder folder on a worker (one import at a time, as for weights); the list then
        offers it."""
        panel = self.window.model_panel
        if self.weights_thread is not None and self.weights_thread.isRunning():
            return
        thread = TextEncoderImportThread(Path(folder), name, self)
        thread.result_ready.connect(lambda imported: panel.show_weights_imported(*imported))
        thread.failed.connect(panel.show_weights_failed)
        self.weights_thread = thread
        thread.start()

    def find_learning_rate(self, config: object) -> None:
        panel = self.window.model_panel
        if self.lr_finder_thread is not None and self.lr_finder_thread.isRunning():
            return
        if self.project_dir is None:
            panel.show_lr_finder_error("Open a project with labelled images first.")
            return
        config = config.with_changes(recipe=self.window.recipe.recipe().to_dict())
        thread = LRFinderThread(self.project_dir, config, self)
        thread.progress.connect(panel.show_lr_finder_progress)
        thread.preparing.connect(panel.show_lr_finder_preparing)
        thread.curve.connect(panel.show_lr_finder_curve)
        thread.result_ready.connect(panel.show_lr_finder_result)
        thread.failed.connect(panel.show_lr_finder_error)
        self.lr_finder_thread = thread
        panel.set_lr_finder_running(True, f"Preparing {config.backbone} ({config.transfer})…")
        thread.start()

    def cross_validate(self, config: object, folds: int) -> None:
        """k-fold evaluation of the selector's settings on a worker; its fold runs join the history as cv-…."""
        panel = self.window.model_panel
        if self.crossval_thread is not None and self.crossval_thread.isRunning():
            return
        if self.project_dir is None:
            panel.show_crossval_error("Open a project with labelled images first.")
            return
        config = config.with_changes(recipe=self.window.recipe.recipe().to_dict())
        thread = CrossValidationThread(self.project_dir, config, folds, self)
        thread.progress.connect(panel.show_crossval_progress)
        thread.result_ready.connect(panel.show_crossval_result)
        thread.failed.connect(panel.show_crossval_error)
        thread.finished.connect(self.runs_changed)
        self.crossval_thread = thread
        panel.set_crossval_running(True, f"Training {folds} folds of {config.backbone} ({config.transfer})…")
        thread.start()

    def stop_crossval(self, wait: bool = True) -> None:
        """Cancel at the next batch boundary; the Cancel button does not block the window waiting for it."""
        thread = self.crossval_thread
        if thread is not None and thread.isRunning():
            thread.requestInterruption()
            if wait:
                thread.wait()

    def stop_lr_finder(self, wait: bool = True) -> None:
        """Cancel at the next batch boundary; the Cancel button does not block the window waiting for it."""
        thread = self.lr_finder_thread
        if thread is not None and thread.isRunning():
            thread.requestInterruption()
            if wait:
                thread.wait()

    # ----------------------------------------------------------------- evaluation, Grad-CAM, suggestions, report
    def _connect_evaluation(self) -> None:
        """The evaluation view's requests and the viewer's Grad-CAM toggle, each kind on its own thread.

        Results go to the view, the browser (filters, suggestions) and the viewer (overlay). A newer Grad-CAM
        request replaces one still waiting; the others ignore a click while their kind is running.
        """
        view, browser, viewer = self.window.evaluation, self.window.browser, self.window.browser.viewer
        # Threads without a Qt parent, owned here: a finished one is deleted when the next of its kind replaces it.
        self.model_tasks: dict[str, QThread] = {}
        self._gone_paths: frozenset[str] = frozenset()  # files found gone as the project opened
        self._gone_ids: tuple[int, ...] = ()  # their record ids
        self._waiting_cam: tuple[int, str] | None = None
        self._waiting_text: tuple[int, str] | None = None
        self._duplicate_line: tuple[str, set[int]] = ("", set())  # the last check's line and the items then
        # The browser's verdicts and filters are those of the run whose figures the view shows.
        view.result_shown.connect(browser.set_evaluation)

        def start(kind: str, thread: QThread, busy: str | None = None) -> None:
            self.model_tasks[kind] = thread
            if busy is not None:
                view.set_busy(True, busy, cancellable=kind in CANCELLABLE_TASKS)
                thread.progress.connect(view.show_progress)
                thread.failed.connect(
                    lambda message: view.show_message(
                        message  # Cancel pressed: the thread's own "… was stopped."
                        if getattr(thread, "cancelled", False)
                        else f"{busy.rstrip('…')} failed: {message}"
                    )
                )
            thread.start()

        def cancel() -> None:
            for kind, thread in self.model_tasks.items():
                if kind in CANCELLABLE_TASKS and thread.isRunning():
                    thread.cancelled = True  # Qt clears its own flag when the thread ends, before its message
                    thread.requestInterruption()

        view.cancel_requested.connect(cancel)

        def running(kind: str) -> bool:
            thread = self.model_tasks.get(kind)
            return thread is not None and thread.isRunning()

        def show_runs() -> None:
            if self.store is None:
                return
            # Each run's folder is in this project's runs folder, wherever the project was moved or copied to.
            view.set_runs([r for r in self.store.runs() if (Path(r.run_dir) / RUN_SIDECAR_NAME).is_file()])

        def evaluate(run_dir: str) -> None:
            if self.project_dir is None or running("evaluate"):
                return
            thread = EvaluationThread(self.project_dir, run_dir)
            thread.result_ready.connect(view.show_result)  # the browser follows through result_shown
            start("evaluate", thread, f"Evaluating {Path(run_dir).name}…")

        def suggest(run_dir: str, method: str) -> None:
            if self.project_dir is None or running("suggest"):
                return
            thread = SuggestionThread(self.project_dir, run_dir, method)
            thread.result_ready.connect(browser.set_suggestions)
            thread.result_ready.connect(
                lambda found: view.show_message(
                    f"{len(found.suggestions)} unlabelled {self._items(True)} have a suggested class from {found.run_name}. "
                    "The browser shows them most uncertain first: Enter accepts a suggestion, a number key "
                    "corrects it."
                )
            )
            start("suggest", thread, f"Suggesting labels with {Path(run_dir).name}…")

        def report(run_dir: str) -> None:
            if self.project_dir is None or running("report"):
                return
            result = view.result if view.result is not None and view.result.run_dir == run_dir else None
            thread = ReportThread(self.project_dir, run_dir, result)

            def written(path: str) -> None:
                opened = QDesktopServices.openUrl(QUrl.fromLocalFile(path))
                # Without a web browser to open it, the line said only that it was written (h25).
                view.show_message(
                    f"Report written to {path}"
                    + ("" if opened else ": no web browser could open it here; open the file in one")
                )

            thread.result_ready.connect(written)
            start("report", thread, f"Writing the report of {Path(run_dir).name}…")

        def export(run_dir: str, fmt: str, out: str) -> None:
            if running("export"):
                return
            thread = ExportThread(run_dir, fmt, out)

            def done(result: object) -> None:
                checked = (
                    f"; outputs match PyTorch within {result.max_abs_difference:.1e}"
                    if result.max_abs_difference is not None
                    else ""
                )
                # Loaded with the export already (the worker's): not at the window's start.
                from dmtl_studio.core.evaluation.export import export_targets

                beside = [path.name for path in export_targets(run_dir, result.format, result.path)[2:]]
                tokens = (
                    f" Its tokenizer files are beside it ({', '.join(beside)}): keep them with the model."
                    if beside
                    else ""
                )
                view.show_message(
                    f"Exported {Path(run_dir).name} as {result.format} to {result.path} (description in "
                    f"{result.sidecar.name}{checked}).{tokens} {result.note}".rstrip()
                )

            thread.result_ready.connect(done)
            start("export", thread, f"Exporting {Path(run_dir).name} as {fmt}…")

        def predict(run_dir: str, images: str, out: str, columns: dict, unsure: dict) -> None:
            if running("predict"):
                return
            thread = PredictThread(run_dir, images, out, columns, **unsure)

            def done(summary: object) -> None:
                # Here, not at the top: it loads torch, which the window does not load to start.
                from dmtl_studio.core.evaluation.text_predict import repeated_sources_note

                described = summary.describe(out, noun=self._items()[:-1])
                # A table's id column holding an id twice: its rows cannot be joined back (the CLI warns too).
                notes = [
                    n
                    for n in (
                        summary.describe_notes(),  # a 1 x 1 placeholder predicted like any image (h33)
                        thread.threshold_note,
                        summary.note,
                        repeated_sources_note(summary),
                    )
                    if n
                ]
                if notes:  # the summary is rich text: a line each, paths escaped
                    described = "<br>".join(
                        html.escape(line, False)
                        for line in (described, *(f"{n[:1].upper()}{n[1:]}." for n in notes))
                    )
                view.show_message(described, thread.threshold_detail)  # the tooltip: interval, caveat

            thread.result_ready.connect(done)
            start("predict", thread, f"Predicting the {self._items()} of {images} with {Path(run_dir).name}…")

        def explain(image_id: int, path: str) -> None:
            run_dir = view.selected_run()
            if run_dir is None:
                viewer.show_overlay_message(
                    "Grad-CAM needs a trained run: train one, then choose it under Evaluation."
                )
                return
            if running("gradcam"):
                self._waiting_cam = (image_id, path)  # the newest request wins
                return
            thread = GradCamThread(run_dir, image_id, path)
            thread.result_ready.connect(show_cam)
            thread.failed.connect(viewer.show_overlay_message)
            thread.finished.connect(next_cam)
            start("gradcam", thread)

        def show_cam(payload: tuple[int, object]) -> None:
            image_id, cam = payload
            confidence = cam.probabilities[cam.class_index]
            viewer.set_overlay(
                image_id,
                cam.heatmap,
                f"Grad-CAM of '{cam.class_name}' ({confidence:.0%}) by run {Path(view.selected_run() or '').name}: "
                + (f"{cam.note}." if cam.note else "red is where the evidence for this class came from."),
            )

        text_viewer = browser.text_viewer

        def explain_text(item_id: int, text: str) -> None:
            run_dir = view.selected_run()
            if run_dir is None:
                text_viewer.show_explain_message(
                    "Explaining needs a trained run: train one, then choose it under Evaluation."
                )
                return
            if running("explain"):
                self._waiting_text = (item_id, text)  # the newest request wins
                return
            thread = TextExplainThread(run_dir, item_id, text)
            thread.result_ready.connect(lambda payload, run=run_dir: show_words(payload, run))
            thread.failed.connect(text_viewer.show_explain_message)
            thread.finished.connect(next_text)
            start("explain", thread)

        def show_words(payload: tuple[int, tuple, str, float, int], run_dir: str) -> None:
            item_id, words, class_name, probability, unread = payload
            beyond = (
                f" The last {unread} word(s) lie past what the model reads (its maximum length) and were not scored."
                if unread
                else ""
            )
            text_viewer.set_attributions(
                item_id,
                words,
                f"Why '{class_name}' ({probability:.0%}) by run {Path(run_dir).name}: each word "
                "scored by how much the class's log-odds fall without it (0.69 halves the odds); green speaks for "
                "the class, red (wavy underline) against, faint where a word moves the odds less than e-fold; hover "
                "a word for its score." + beyond,
            )

        def next_text() -> None:
            if self._waiting_text is not None and not self.window.isHidden():
                waiting, self._waiting_text = self._waiting_text, None
                text_viewer.explain_requested.emit(*waiting)

        def next_cam() -> None:
            if self._waiting_cam is not None and not self.window.isHidden():
                waiting, self._waiting_cam = self._waiting_cam, None
                viewer.explain_requested.emit(*waiting)  # through the signal: no cycle between the closures

        def label_errors() -> None:
            if self.project_dir is None or running("label-errors"):
                return
            # The backbone and input size the next run would use: the features the user trains on.
            thread = LabelErrorsThread(self.project_dir, self.window.model_panel.config())
            thread.result_ready.connect(browser.set_label_errors)
            thread.result_ready.connect(lambda found: view.show_message(self._label_errors_said(found)))
            # A check that cannot run (e.g. too few labels per class) says so where one looks.
            thread.failed.connect(browser.status_message)
            start("label-errors", thread, "Looking for label errors (a feature pass, then k-fold)…")
            self.window.evaluation_dock.raise_()  # its progress and result show there: in front, not behind

        def duplicates() -> None:
            if self.project_dir is None or running("duplicates"):
                return
            thread = DuplicatesThread(self.project_dir)
            thread.result_ready.connect(browser.set_duplicates)
            thread.failed.connect(browser.status_message)

            def said(found: object) -> None:
                line = (
                    f"Duplicate check at {time.strftime('%H:%M')}: {len(found.groups)} group(s) of duplicates "
                    f"among {found.images} {self._items(True)}, "
                    f"{sum(1 for g in found.groups if g.warnings)} with a warning. The browser lists them group by "
                    f"group: Enter keeps the current {self._items()[:-1]}'s group in one split."
                )
                view.show_message(line)
                self._duplicate_line = (line, browser.usable_ids())

            thread.result_ready.connect(said)
            start("duplicates", thread, "Looking for duplicates…")
            self.window.evaluation_dock.raise_()

        def audit(run_dir: str, out: str) -> None:
            if self.project_dir is None or running("audit"):
                return
            # The save dialog already asked before replacing a file of that name.
            thread = AuditThread(self.project_dir, run_dir, out, overwrite=True)
            bar = self.window.statusBar()

            def done(path: str) -> None:
                text = f"Audit bundle of {Path(run_dir).name} written to {path}."
                view.show_message(text)
                bar.showMessage(text, 20000)

            thread.result_ready.connect(done)
            thread.failed.connect(
                lambda message: bar.showMessage(f"Audit bundle not written: {message}", 20000)
            )
            start("audit", thread, f"Writing the audit bundle of {Path(run_dir).name}…")
            bar.showMessage(f"Writing the audit bundle of {Path(run_dir).name}…")

        self.window.audit_requested.connect(audit)
        self.window.label_errors_requested.connect(label_errors)
        self.window.duplicates_requested.connect(duplicates)
        view.evaluate_requested.connect(evaluate)
        view.suggest_requested.connect(suggest)
        view.report_requested.connect(report)
        view.export_requested.connect(export)
        view.predict_requested.connect(predict)
        view.runs_wanted.connect(show_runs)
        self.runs_changed.connect(show_runs)
        view.cell_activated.connect(browser.show_confusion_cell)
        view.filter_requested.connect(browser.show_evaluation_filter)
        viewer.explain_requested.connect(explain)
        browser.text_viewer.explain_requested.connect(explain_text)
        browser.model.modelReset.connect(show_runs)

    def stop_model_tasks(self) -> None:
        """Stop and join the evaluation, suggestion, Grad-CAM and report threads."""
        self._waiting_cam = None
        self._waiting_text = None
        for thread in self.model_tasks.values():
            if thread.isRunning():
                thread.requestInterruption()
                thread.wait()
        self.model_tasks.clear()  # the threads have no Qt parent: dropping them deletes them

    def _connect_dataset_map(self) -> None:
        """Labels ▸ Dataset map…: the map is computed on its own thread (a model task, stopped on close); its
        selection selects those images in the browser, and its number keys label them through the browser."""
        view, browser = self.window.dataset_map, self.window.browser

        def compute(method: str = "pca") -> None:
            thread = self.model_tasks.get("map")
            if self.project_dir is None or (thread is not None and thread.isRunning()):
                return
            # The run chosen in the evaluation view colours the points by its verdicts.
            run = self.window.evaluation.selected_run()
            thread = DatasetMapThread(self.project_dir, self.window.model_panel.config(), method, run)
            layout = "t-SNE: seconds to minutes" if method == "tsne" else "PCA"
            # The run's predictions come between the features and the layout (h35: "Laying out" for a minute that
            # was the prediction pass).
            after = f"the verdicts of run {Path(run).name}, then " if run else ""
            thread.progress.connect(
                lambda done, total: view.set_busy(
                    True,
                    f"Features: {done} of {total}…"
                    if done < total
                    else f"Working out {after}the layout of the {total} points ({layout}; Cancel stops it)…",
                )
            )
            thread.result_ready.connect(view.set_map)
            thread.failed.connect(
                lambda message: view.set_busy(
                    False,
                    message if getattr(thread, "cancelled", False) else f"No map: {message}",
                )
            )
            thread.finished.connect(lambda: view.set_busy(False))
            self.model_tasks["map"] = thread
            view.set_class_colors(browser.model.colors)
            items = "texts" if self.store is not None and self.store.kind == "text" else "images"
            view.set_busy(True, f"Computing the map (a feature pass over the {items}, then the layout)…")
            thread.start()

        def cancel() -> None:
            thread = self.model_tasks.get("map")
            if thread is not None and thread.isRunning():
                thread.cancelled = True
                thread.requestInterruption()

        view.cancel_requested.connect(cancel)

        def label(digit: int) -> None:
            ids = view.selected_ids()
            browser.select_images(ids)
            browser.label_key(digit)
            view.update_labels(browser.labels_of(ids))

        self.window.dataset_map_requested.connect(compute)
        view.map_requested.connect(compute)
        view.selection_changed.connect(browser.select_images)
        view.label_key_pressed.connect(label)
        view.thumbnails_wanted.connect(self.thumbnails.request)
        self.thumbnails.ready.connect(view.set_thumbnail)

        def follow_project() -> None:
            """The map's colours and labels as the project's are now: after a label, a class change (its colour
            too), a label CSV, an import (the browser reads the store again); not on a filter or a search."""
            if len(view.image_ids):
                view.set_class_colors(browser.model.colors)
                view.update_labels(browser.labels_of([int(i) for i in view.image_ids]))
                view.check_current(item_ids=browser.usable_ids())  # an import, a removal: out of date

        def follow_duplicate_line() -> None:
            """The duplicate check's line in the Evaluation area, while shown, says when items were added or
            removed since (h30, h35: it still counted the groups of images removed)."""
            line, items = self._duplicate_line
            evaluation = self.window.evaluation
            if not line or evaluation.message.isHidden() or not evaluation.message.text().startswith(line):
                return
            now = browser.usable_ids()
            changes = [
                f"{count} {self._items(True)} {what}"
                for count, what in ((len(now - items), "added"), (len(items - now), "removed"))
                if count
            ]
            stale = (
                f" Out of date ({', '.join(changes)} since): run Labels ▸ Find duplicates and leaks again."
            )
            evaluation.show_message(line + stale if changes else line)

        browser.project_changed.connect(follow_duplicate_line)
        browser.reloaded.connect(follow_duplicate_line)

        def follow_run() -> None:
            run = self.window.evaluation.selected_run()
            view.check_current(run_name=Path(run).name if run else None)

        browser.project_changed.connect(follow_project)
        browser.reloaded.connect(follow_project)
        self.window.evaluation.run_choice.currentIndexChanged.connect(follow_run)

    # ----------------------------------------------------------------- closing
    def _threads(self) -> list[QThread]:
        """Every worker thread this controller started that may still run."""
        threads = [
            self.training_thread,
            self.import_thread,
            self.weights_thread,
            self.crossval_thread,
            self.lr_finder_thread,
            *self.model_tasks.values(),
        ]
        return [thread for thread in threads if thread is not None and thread.isRunning()]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event.type() == QEvent.Type.Close and not self._may_close():
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    def _may_close(self) -> bool:
        """Whether the window may close now; if not, what closing asked for is under way (or was cancelled).

        A running training asks first (stop and keep the last epoch, keep training and quit when it ends, or
        cancel). Threads that must stop are asked to, and the window closes once they have, the event loop
        running meanwhile: the window never freezes waiting for a batch to end.
        """
        training = self.training_thread
        if training is not None and training.isRunning() and not self._close_wait.isActive():
            choice = self.window.training.ask_quit_while_training()
            if choice == QUIT_CANCEL:
                return False
            if choice == QUIT_AFTER_RUN:
                if self.window.training.paused:  # "the run goes on": a paused run would never end
                    self.window.training.pause_button.click()
                if not self._quit_after_run:
                    self._quit_after_run = True
                    training.finished.connect(self.window.close)
                # The run may have ended while the question was open (h33: the window then waited for good).
                if training.isRunning():
                    self.window.statusBar().showMessage("The window closes when the run ends.")
                    return False
                # Closing now: not a second time when it ends.
                with contextlib.suppress(RuntimeError, TypeError):
                    training.finished.disconnect(self.window.close)
            elif training.isRunning():
                self.window.training.stop_button.click()  # the panel shows what stopping keeps
        running = self._threads()
        if not running:
            return True
        self._waiting_cam = None
        self._waiting_text = None
        for thread in running:
            thread.requestInterruption()
        self.window.statusBar().showMessage(
            "Stopping the running work; the window closes when it has stopped…"
        )
        self._close_wait.start()
        return False

    def _close_when_stopped(self) -> None:
        if not self._threads():
            self._close_wait.stop()
            self.window.close()

    def shutdown(self) -> None:
        """Stop and join every thread (called when the window closes)."""
        self.stop_crossval()
        self.stop_model_tasks()
        for thread in (self.training_thread, self.import_thread, self.weights_thread):
            if thread is not None and thread.isRunning():
                thread.requestInterruption()
                thread.wait()
        self.thumbnails.shutdown()
        self.outside.watch(None)
        if self.store is not None:
            self._keep_train_settings()
            self.store.close()
            self.store = None


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dmtl-studio",
        description="Open the DMTL Studio window.",
        epilog="dmtl-studio --self-test checks the installation; dmtl-studio --help lists the commands.",
    )
    parser.add_argument("project_dir", nargs="?", type=Path, help="a project folder to open")
    parser.add_argument("--demo", action="store_true", help="open the demo project (created on first use)")
    parser.add_argument(
        "--demo-text", action="store_true", help="open the text demo project (created on first use)"
    )
    parser.add_argument("--version", action="version", version=f"DMTL Studio {__version__}")
    return parser.parse_args(argv)


def build_window(project_dir: Path | None = None) -> tuple[MainWindow, StudioController]:
    window = MainWindow()
    controller = StudioController(window)
    if project_dir is not None:
        controller.open_project(str(project_dir))
    return window, controller


#: The Evaluation area's long work that stops on request (core polls ``should_stop``); an export does not.
CANCELLABLE_TASKS = frozenset(
    {"evaluate", "suggest", "report", "predict", "label-errors", "duplicates", "audit"}
)


def display_problem() -> str | None:
    """Why the window cannot be shown on this Linux session (no display named: over ssh, from cron), or ``None``.
    Qt itself aborts the process then, blaming a library and advising a reinstall. (A display named where no
    server listens is left to Qt: an X server may listen on an abstract socket alone, which no file shows.)"""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY"):
        return None
    return "there is no display to show the window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def run_app(argv: list[str]) -> int:
    args = _arguments(argv)
    force_offline()
    problem = display_problem()
    if problem is not None:
        print(
            f"dmtl-studio: {problem}: start it in a desktop session (or with ssh -X); the commands work without "
            "one (dmtl-studio --help), and dmtl-studio --self-test checks the installation",
            file=sys.stderr,
        )
        return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("DMTL Studio")
    app.setOrganizationName("DMTL Studio")
    try:
        app_data_dir()  # the settings, the demos, the weights: said once, in a dialog, not as a traceback
    except AppDataError as exc:
        print(f"dmtl-studio: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "DMTL Studio cannot start", str(exc)[:1].upper() + str(exc)[1:] + ".")
        return 2
    # Python's cyclic garbage collection runs in whichever thread allocates: in a worker it can delete a dead
    # window's Qt objects there, and deadlock against the GUI thread (seen: a text import's thread collecting a
    # closed window while the GUI thread deleted a menu). pyqtgraph's collector turns automatic collection off and
    # collects on a timer, in the GUI thread only.
    collector = GarbageCollector(interval=1.0)
    project = args.project_dir
    if args.demo and project is None:
        project = demo_project_dir()
        if create_demo_project(project) is not None:
            log.info("created the demo project in %s", project)
    if args.demo_text and project is None:
        project = demo_text_project_dir()
        if create_text_demo_project(project) is not None:
            log.info("created the text demo project in %s", project)
    if project is not None and not project.exists():
        print(f"dmtl-studio: {project} does not exist", file=sys.stderr)
        return 2
    window, _controller = build_window(project)
    if window.layout_restored:
        window.show()
    else:
        window.showMaximized()  # a first start fills the screen's available area, frame included
    if os.environ.get("DMTL_STUDIO_EXIT_WHEN_SHOWN") == "1":
        # Start-up timing (packaging/smoke_test.sh): close once the event loop has shown the window.
        QTimer.singleShot(0, lambda: (print("window shown", flush=True), window.close()))
    else:  # PyTorch and timm imported while the user looks at the window, not as the first run starts
        QTimer.singleShot(PRELOAD_DELAY_MS, preload_deep_learning)
    try:
        return app.exec()
    finally:
        collector.timer.stop()


def check_qt_platform() -> str:
    """The self-test's Qt check: the native platform plugin is present, and a widget shows on a platform.

    With no display on Linux (and no ``QT_QPA_PLATFORM`` chosen) the offscreen platform is used, so the
    check also runs on a build server; the native plugin must still be in the installation.
    """
    import PySide6
    from PySide6.QtCore import QLibraryInfo
    from PySide6.QtGui import QImageReader
    from PySide6.QtWidgets import QLabel

    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    plugins = sorted(path.stem.removeprefix("lib").removeprefix("q") for path in folder.glob("*q*"))
    native = {"win32": ("windows",), "darwin": ("cocoa",)}.get(sys.platform, ("xcb", "wayland"))
    if not any(name in plugins for name in native):
        raise RuntimeError(f"no {' or '.join(native)} platform plugin in {folder} (found: {plugins})")
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    app = QApplication.instance() or QApplication(
        [sys.argv[0], *(["-platform", "offscreen"] if headless else [])]
    )
    label = QLabel("DMTL Studio self-test")
    label.show()
    app.processEvents()
    shown = label.isVisible()
    label.close()
    label.deleteLater()
    if not shown:
        raise RuntimeError(f"a widget did not show on the '{app.platformName()}' platform")
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    return (
        f"PySide6 {PySide6.__version__}, platform '{app.platformName()}' "
        f"(plugins: {', '.join(plugins)}), image formats: {', '.join(sorted(formats & {'png', 'jpeg', 'bmp'}))}"
    )
