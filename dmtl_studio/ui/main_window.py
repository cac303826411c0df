"""The main window: lays out the four areas as docks, and the menus. No logic of its own.

While no project is open the window shows the start page instead of the (then empty) panels. The window opens
at the screen's available size and remembers its layout (geometry, docks, splitters) in the settings file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from dmtl_studio import __version__
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.project_kind import is_table_file
from dmtl_studio.ui.column_scroll import BOTTOM_MIN_HEIGHT, BROWSER_MIN_HEIGHT, ColumnScroll
from dmtl_studio.ui.dataset_browser import DatasetBrowser
from dmtl_studio.ui.dataset_map import DatasetMapView
from dmtl_studio.ui.evaluation_view import EvaluationView
from dmtl_studio.ui.file_dialogs import ask_folder, ask_open_file, ask_save_file
from dmtl_studio.ui.model_panel import ModelPanel
from dmtl_studio.ui.muted import retone
from dmtl_studio.ui.new_project_dialog import NewProjectDialog
from dmtl_studio.ui.recipe_editor import RecipeEditor
from dmtl_studio.ui.settings import forget_project, recent_projects, studio_settings
from dmtl_studio.ui.shortcuts import bind_shortcuts
from dmtl_studio.ui.split_dialog import SplitDialog
from dmtl_studio.ui.start_page import StartPage
from dmtl_studio.ui.text_import_dialog import TextImportDialog
from dmtl_studio.ui.training_panel import TrainingPanel
from dmtl_studio.ui.wheel_guard import WheelGuard

#: Bumped when the docks change, so that a layout saved by an older version is not applied to a newer one.
LAYOUT_VERSION = 2


#: Help ▸ Keyboard shortcuts (the menus show their own keys beside their items).
KEYBOARD_HELP = """<b>Labelling</b> (the image grid or text list, or the large view)<br>
1–9 label the selected items with the class of that key · 0 unlabels · Space skips to the next item<br>
Enter accepts the suggestion shown (or the duplicate group's split) · Ctrl+Z / Ctrl+Shift+Z undo and redo<br>
Delete or Backspace unlabels · Shift+Delete removes the selected items from the project (their files stay) · Ctrl+A
selects all shown<br>
G shows Grad-CAM (images) or the words for and against (texts) on the item shown<br><br>
<b>Training</b><br>F5 starts training · Shift+F5 stops (the run keeps its best epoch)<br><br>
<b>Projects</b><br>Ctrl+N new project · Ctrl+O open · Ctrl+I import · Ctrl+Q quit<br><br>
<b>Moving around</b><br>Tab and Shift+Tab go from control to control (the classes table too: arrow keys choose a
class) · Alt with the underlined letter opens a menu · F1 shows this list"""


class MainWindow(QMainWindow):
    #: (project folder, kind: "images" or "text")
    new_project_requested = Signal(str, str)
    open_project_requested = Signal(str)
    demo_requested = Signal()
    text_demo_requested = Signal()
    import_requested = Signal(str)
    #: (a folder of .txt files, a .txt file or a table; the columns chosen, as keyword arguments of import_texts)
    import_texts_requested = Signal(str, object)
    import_cancel_requested = Signal()
    close_requested = Signal()
    export_csv_requested = Signal(str)
    export_folder_requested = Signal(str)
    import_csv_requested = Signal(str)
    backup_requested = Signal(str)
    reassign_splits_requested = Signal(float, float, int)
    label_errors_requested = Signal()
    duplicates_requested = Signal()
    #: (run folder, zip file) from File ▸ Audit bundle…; the file may be replaced (the save dialog asked).
    audit_requested = Signal(str, str)
    dataset_map_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DMTL Studio")
        self.browser = DatasetBrowser()
        self.recipe = RecipeEditor()
        self.model_panel = ModelPanel()
        self.model_panel.mixing_note_changed.connect(self.recipe.set_mixing_note)
        self.recipe.set_mixing_note(self.model_panel.mixing_note())
        self.model_panel.input_size_changed.connect(self.recipe.set_preview_size)
        self.recipe.set_preview_size(self.model_panel.input_size())
        self.training = TrainingPanel()
        self.evaluation = EvaluationView()
        self.dataset_map = DatasetMapView()
        self.start_page = StartPage()
        self.start_page.new_requested.connect(self._ask_new)
        self.start_page.open_requested.connect(self._ask_open)
        self.start_page.demo_requested.connect(self.demo_requested)
        self.start_page.text_demo_requested.connect(self.text_demo_requested)
        self.start_page.recent_chosen.connect(self.open_project_requested)
        self.start_page.forget_requested.connect(lambda path: (forget_project(path), self.refresh_recent()))
        self.pages = QStackedWidget()
        self.pages.addWidget(self.start_page)
        # On a screen too short for the font (1280 x 720 at 14 pt) the browser scrolls its height rather than
        # draw its side widgets over each other; it asks for no more than the bottom panels do.
        self.browser_page = ColumnScroll(self.browser, min_height=BROWSER_MIN_HEIGHT, squeeze=True)
        self.pages.addWidget(self.browser_page)
        self.setCentralWidget(self.pages)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # The settings column runs the full height (the recipe preview needs it on a short screen); the
        # training plots take the width left of it.
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        backbone_dock = self._dock(
            "Backbone and head", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        # The editor scrolls its own height (one scroll bar, beside its buttons, never over them) and asks for the
        # width its preview grid and buttons need.
        recipe_dock = self._dock("Augmentation recipe", self.recipe, Qt.DockWidgetArea.RightDockWidgetArea)
        # The recipe editor's live preview needs the column's full height: the two areas share it as tabs.
        self.tabifyDockWidget(backbone_dock, recipe_dock)
        backbone_dock.raise_()
        training_dock = self._dock("Training", self.training, Qt.DockWidgetArea.BottomDockWidgetArea)
        # The evaluation scrolls its height on a small screen rather than push the window off it (the training
        # panel's plots shrink instead, down to the height asked here).
        self.evaluation_dock = self._dock(
            "Evaluation",
            ColumnScroll(self.evaluation, min_height=BOTTOM_MIN_HEIGHT, squeeze=True),
            Qt.DockWidgetArea.BottomDockWidgetArea,
        )
        self.tabifyDockWidget(training_dock, self.evaluation_dock)
        # Shown by Labels ▸ Dataset map…, beside the evaluation; not one of the docks a project shows by itself.
        self.map_dock = self._dock("Dataset map", self.dataset_map, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.evaluation_dock, self.map_dock)
        self.map_dock.hide()
        training_dock.raise_()
        self._side_dock, self._bottom_dock = backbone_dock, training_dock
        self.docks = [backbone_dock, recipe_dock, training_dock, self.evaluation_dock]
        self._sized = False
        # The default dock sizes follow the first few sizes the window takes after it shows (a window manager
        # maximising it, a test or a script setting its geometry), never a remembered layout. Bounded, so that
        # no resize can start an endless round of layouts, and the person's own dock sizes are kept after that.
        self._docks_follow_window = 3
        self._dock_sizer = QTimer(self, singleShot=True, interval=0, timeout=self._size_docks)
        self._docks_sized_for = None  # the window size the docks were last given their defaults for
        self._dock_shares: tuple[float, ...] | None = None  # a remembered layout's shares of the window
        self.import_progress = QProgressBar()
        self.import_progress.setMaximumWidth(260)
        self.import_progress.hide()
        self.statusBar().addPermanentWidget(self.import_progress)
        self.import_cancel = QToolButton()
        self.import_cancel.setText("Cancel import")
        self.import_cancel.setToolTip("Stop the import; what was read so far is kept")
        self.import_cancel.clicked.connect(self.import_cancel_requested)
        self.import_cancel.hide()
        self.statusBar().addPermanentWidget(self.import_cancel)
        self.project_kind = "images"
        self.kind_undecided = False
        # The keyboard's focus brings the dock tab it enters to the front: Tab walks into the tabs behind too,
        # and a button there would be pressed unseen.
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._raise_focused_dock)
            # The wheel scrolls settings panels, and changes only a field the user is in.
            self._wheel_guard = WheelGuard(self)
            app.installEventFilter(self._wheel_guard)
            self._wheel_guard.adopt(self)
        self._build_menus()
        self._allow_close = False
        self.summary_box: QMessageBox | None = None  # the last import's summary, kept open until closed
        self.layout_restored = self.restore_layout()
        self.set_project_open(False)  # the restored state may show docks: the start page comes first
        self.fit_to_screen()
        self.refresh_recent()

    # ----------------------------------------------------------------- size and layout
    def fit_to_screen(self, available: QRect | None = None) -> None:
        """Fit the window into ``available`` (the screen's available geometry when ``None``).

        A first start takes the whole available area; a remembered geometry is kept when it fits, and is
        shrunk and moved onto the screen when it does not (a layout saved on a larger screen).
        """
        if available is None:
            screen = self.screen()
            if screen is None:
                return
            available = screen.availableGeometry()
        if not self.layout_restored:
            self.setGeometry(available)
            return
        geometry = self.geometry()
        size = geometry.size().boundedTo(available.size())
        left = min(max(geometry.x(), available.left()), available.right() + 1 - size.width())
        top = min(max(geometry.y(), available.top()), available.bottom() + 1 - size.height())
        self.setGeometry(QRect(left, top, size.width(), size.height()))

    def restore_layout(self) -> bool:
        """Apply the geometry, docks and splitter sizes saved by :meth:`save_layout`; ``True`` if there were some."""
        settings = studio_settings()
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        restored = bool(geometry) and self.restoreGeometry(geometry)
        if state and self.restoreState(state, LAYOUT_VERSION):
            self._sized = True  # the remembered dock sizes, not the defaults
            # ... as shares of the window, so that a layout left in a small window does not squash the plots of a
            # large one (Qt restores the docks' pixels, and a window grown later gives the growth to the grid).
            shares = settings.value("window/dock_shares")
            try:  # (the bottom dock's share of the height, the window's width and height then)
                self._dock_shares = tuple(float(share) for share in shares) if shares else None
            except (TypeError, ValueError):
                self._dock_shares = None
            if self._dock_shares is not None and len(self._dock_shares) != 3:
                self._dock_shares = None
            self._docks_follow_window = 3 if self._dock_shares else 0
        for splitter in self.browser.splitters:
            sizes = settings.value(f"splitters/{splitter.objectName()}")
            if sizes:
                splitter.restoreState(sizes)
        return restored

    def save_layout(self) -> None:
        """Remember the window's geometry, its docks and the browser's splitter sizes for the next start."""
        settings = studio_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        # Not while the bottom dock is hidden (the start page): its size then is stale.
        if self._bottom_dock.isVisible() and self.height() > 0:
            share = self._bottom_dock.height() / self.height()
            settings.setValue("window/dock_shares", [f"{share:.4f}", str(self.width()), str(self.height())])
        for splitter in self.browser.splitters:
            settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:
            # Docks take their sizes only once the window is laid out (the next turn of the event loop).
            self._sized = True
            self._dock_sizer.start()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._sized and self._docks_follow_window > 0 and event.size() != self._docks_sized_for:
            self._docks_follow_window -= 1
            self._dock_sizer.start()  # the default proportions for the size the window has now

    def _size_docks(self) -> None:
        """The thumbnail grid gets most of the width (the side dock a third); the training plots a usable height
        (39 %, or the share a remembered layout gave them)."""
        width, height = self.width(), self.height()
        # Once per window size: resizing the docks can make Qt lay the window out again at the same size.
        self._docks_sized_for = self.size()
        if self._dock_shares is None:
            self.resizeDocks([self._side_dock], [max(440, width // 3)], Qt.Orientation.Horizontal)
            self.resizeDocks([self._bottom_dock], [max(230, int(height * 0.39))], Qt.Orientation.Vertical)
            return
        # A remembered layout at another size: the plots' share of the height is kept, once (a dock moved later
        # in the session stays where it was put); the side dock keeps its pixels (its forms need no more width,
        # and a small window's share was its minimum, not a choice).
        bottom, *saved_size = self._dock_shares
        if saved_size != [width, height]:  # at the size it was left at, its own pixels, as restored
            self.resizeDocks([self._bottom_dock], [int(height * bottom)], Qt.Orientation.Vertical)
            self._docks_follow_window = 0

    def _raise_focused_dock(self, old: QWidget | None, new: QWidget | None) -> None:
        """Bring to the front the dock tab that holds the widget just given the focus, when it is behind another.
        Not when the focus left a button that was just disabled (Cross-validate pressed, say): Qt hands it to the
        next widget, maybe in a dock behind, and raising that hid the work's own progress and Cancel."""
        if old is not None and not old.isEnabled():
            hidden = new is not None and new.visibleRegion().isEmpty()
            if hidden and (panel := self._dock_of(old)) is not None and panel.widget() is not None:
                # Keys go on acting where the user is.
                panel.widget().setFocus(Qt.FocusReason.OtherFocusReason)
            return
        widget = self._dock_of(new)
        if widget is None or widget.window() is not self or not self.tabifiedDockWidgets(widget):
            return
        if widget.widget() is not None and widget.widget().visibleRegion().isEmpty():
            widget.raise_()

    @staticmethod
    def _dock_of(widget: QWidget | None) -> QDockWidget | None:
        """The dock holding ``widget``, else ``None``."""
        while widget is not None and not isinstance(widget, QDockWidget):
            widget = widget.parentWidget()
        return widget

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_action = QAction("&New project…", self)
        self.open_action = QAction("&Open project…", self)
        self.import_action = QAction("&Import image folder…", self)
        self.import_action.setEnabled(False)
        # A project whose kind is not decided yet (made by `dmtl-studio new` without --kind) offers both kinds.
        self.import_texts_action = QAction("Import &texts (CSV, TSV, JSON Lines)…", self)
        self.import_texts_action.setVisible(False)
        self.import_texts_action.triggered.connect(self._ask_import_texts)
        self.import_text_folder_action = QAction("Import a &folder of .txt files…", self)
        self.import_text_folder_action.setVisible(False)
        self.import_text_folder_action.triggered.connect(self._ask_import_text_folder)
        quit_action = QAction("&Quit", self)
        # The documented keys on every platform (a standard key alone is empty on some: Quit on Windows).
        bind_shortcuts(self.new_action, "Ctrl+N", QKeySequence.StandardKey.New)
        bind_shortcuts(self.open_action, "Ctrl+O", QKeySequence.StandardKey.Open)
        bind_shortcuts(self.import_action, "Ctrl+I")
        bind_shortcuts(quit_action, "Ctrl+Q", QKeySequence.StandardKey.Quit)
        self.new_action.triggered.connect(self._ask_new)
        self.open_action.triggered.connect(self._ask_open)
        self.import_action.triggered.connect(self._ask_import)
        quit_action.triggered.connect(self.close)
        imports = (self.import_action, self.import_texts_action, self.import_text_folder_action)
        for action in (self.new_action, self.open_action, *imports):
            file_menu.addAction(action)
        # The folders this project was imported from: importing one again adds the files put in it since.
        self.again_menu = file_menu.addMenu("Import a&gain")
        self.again_menu.aboutToShow.connect(self._fill_again_menu)
        self._import_sources: list[str] = []
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction("Open the image &demo project", self.demo_requested.emit)
        file_menu.addAction("Open the &text demo project", self.text_demo_requested.emit)
        file_menu.addSeparator()
        self.audit_action = file_menu.addAction("&Audit bundle of the selected run…", self._ask_audit)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.browser.undo_action)
        edit_menu.addAction(self.browser.redo_action)
        labels_menu = self.menuBar().addMenu("&Labels")
        self.project_actions = [
            labels_menu.addAction("Export labels as &CSV…", self._ask_export_csv),
            self._export_folders_action(labels_menu),
            labels_menu.addAction("&Import labels from CSV…", self._ask_import_csv),
            labels_menu.addSeparator(),
            labels_menu.addAction("Reassign &splits…", self._ask_splits),
            labels_menu.addAction("Find suspected label &errors", self.label_errors_requested.emit),
            labels_menu.addAction("Find &duplicates and leaks", self.duplicates_requested.emit),
            labels_menu.addAction("Dataset &map…", self.show_dataset_map),
            labels_menu.addSeparator(),
        ]
        labels_menu.addAction(self.browser.remove_action)  # the browser's own (Shift+Delete there)
        self.remove_problems_action = labels_menu.addAction(
            "Remove &problem files from project…", self.browser.remove_problem_items
        )
        self.project_actions += [
            self.browser.remove_action,
            self.remove_problems_action,
            labels_menu.addSeparator(),
            labels_menu.addAction("&Back up project database…", self._ask_backup),
        ]
        self.project_actions = [a for a in self.project_actions if not a.isSeparator()] + [
            self.import_action,
            self.import_texts_action,
            self.import_text_folder_action,
            self.audit_action,
        ]
        self.set_project_open(False)
        # The run from the keyboard (Start training was 28 Tab presses from the grid, h30), as an editor runs: F5.
        self.start_action = QAction("Start training", self)
        bind_shortcuts(self.start_action, "F5")
        self.start_action.triggered.connect(
            lambda: self._press(self._bottom_dock, self.training.start_button)
        )
        self.stop_action = QAction("Stop training", self)
        bind_shortcuts(self.stop_action, "Shift+F5")
        self.stop_action.triggered.connect(lambda: self._press(self._bottom_dock, self.training.stop_button))
        self.addActions([self.start_action, self.stop_action])
        help_menu = self.menuBar().addMenu("&Help")
        keys = QAction("&Keyboard shortcuts", self)
        bind_shortcuts(keys, "F1")
        keys.triggered.connect(lambda: QMessageBox.information(self, "Keyboard shortcuts", KEYBOARD_HELP))
        help_menu.addAction(keys)
        about = QAction("&About DMTL Studio", self)
        about.triggered.connect(
            lambda: QMessageBox.about(
                self,
                "About DMTL Studio",
                f"DMTL Studio {__version__}<br>Data-augmented transfer learning for image and text "
                "classification, offline.",
            )
        )
        help_menu.addAction(about)

    def _press(self, dock: QDockWidget, button: QAbstractButton) -> None:
        """A shortcut's button pressed where it is: its dock brought to the front, nothing when it is disabled."""
        if button.isEnabled():
            dock.raise_()
            button.click()

    def _ask_new(self) -> None:
        recent = recent_projects()
        dialog = NewProjectDialog(self, Path(recent[0]).parent if recent else Path.home())
        if dialog.exec() and dialog.folder() is not None:
            self.new_project_requested.emit(str(dialog.folder()), dialog.kind())

    def _ask_open(self) -> None:
        folder = ask_folder(self, "Open a project folder")
        if folder:
            self.open_project_requested.emit(folder)

    def _ask_audit(self) -> None:
        """Ask where to save the audit bundle of the run chosen under Evaluation."""
        run = self.evaluation.selected_run()
        if run is None:
            self.statusBar().showMessage(
                "An audit bundle needs a trained run: train one, then choose it under Evaluation.", 10000
            )
            return
        suggested = Path(run).parent.parent / f"{Path(run).name}-audit.zip"
        out = ask_save_file(self, "Save the audit bundle", str(suggested), "Zip files (*.zip)")
        if out:
            self.audit_requested.emit(run, out if out.lower().endswith(".zip") else out + ".zip")

    def _ask_import(self) -> None:
        if self.project_kind == "text":
            self._ask_import_texts()
            return
        self.ask_import_folder()

    def _ask_import_texts(self) -> None:
        path = ask_open_file(
            self,
            "Import texts: a CSV, TSV or JSON Lines file, or one .txt file",
            "Texts (*.csv *.tsv *.tab *.jsonl *.ndjson *.txt);;All files (*)",
        )
        if path:
            self.ask_text_columns(path)

    def ask_import_folder(self, near: str | None = None, title: str = "") -> None:
        """Ask for a folder of images to import (opening at ``near`` when given: the place of a folder gone from
        disk) and import it."""
        folder = ask_folder(self, title or "Import images (sub-folders are classes)", near)
        if folder:
            self.import_requested.emit(folder)

    def set_import_sources(self, folders: list[str]) -> None:
        """The folders the open project was imported from, newest first (File ▸ Import again)."""
        self._import_sources = list(folders)
        self.again_menu.menuAction().setEnabled(
            self.pages.currentWidget() is not self.start_page and bool(folders)
        )
        self.again_menu.menuAction().setToolTip("" if folders else "Nothing imported from a folder yet")

    def _fill_again_menu(self) -> None:
        self.again_menu.clear()
        for folder in self._import_sources:
            gone = not Path(folder).is_dir()
            action = self.again_menu.addAction(f"{folder} (gone)" if gone else folder)
            action.setEnabled(not gone)
            action.triggered.connect(lambda _=False, path=folder: self.import_again(path))

    def import_again(self, folder: str) -> None:
        """Import ``folder`` again: the files added to it since are imported, labels and splits stay."""
        if self.project_kind == "text":
            self.import_texts_requested.emit(folder, {})
        else:
            self.import_requested.emit(folder)

    def _ask_import_text_folder(self) -> None:
        folder = ask_folder(self, "Import a folder of .txt files (sub-folders are classes)")
        if folder:
            self.import_texts_requested.emit(folder, {})

    def ask_text_columns(self, path: str) -> None:
        """Import the texts of ``path``; a table first asks which columns hold the text, label and split."""
        if not is_table_file(path):
            self.import_texts_requested.emit(path, {})
            return
        try:
            dialog = TextImportDialog(path, self)
        except ProjectError as exc:
            self.show_error("Cannot import the texts", str(exc))
            return
        if dialog.exec():
            self.import_texts_requested.emit(path, dialog.columns())

    def _export_folders_action(self, menu: QMenu) -> QAction:
        """Labels ▸ Export labelled images (or texts) as folders: its text follows the project's kind."""
        self.export_folders_action = menu.addAction(
            "Export labelled images as &folders…", self._ask_export_folder
        )
        return self.export_folders_action

    def set_project_kind(self, kind: str, undecided: bool = False) -> None:
        """Offer the imports, and the backbones or text encoders, of the open project's kind (``"images"`` or
        ``"text"``); an ``undecided`` project (empty, its kind never chosen) is offered the imports of both."""
        self.project_kind = kind
        self.kind_undecided = undecided
        self.model_panel.set_project_kind(kind)
        self.training.set_kind(kind)
        self.evaluation.set_project_kind(kind)
        self.dataset_map.set_noun("text" if kind == "text" else "image")
        self._side_dock.setWindowTitle("Text encoder and head" if kind == "text" else "Backbone and head")
        self.import_action.setText("&Import texts…" if kind == "text" else "&Import image folder…")
        self.remove_problems_action.setText(
            f"Remove &problem {'texts' if kind == 'text' else 'files'} from project…"
        )
        self.import_texts_action.setVisible(undecided and kind != "text")
        self.import_text_folder_action.setVisible(kind == "text" or undecided)
        self.export_folders_action.setText(
            "Export labelled texts as &folders of .txt files…"
            if kind == "text"
            else "Export labelled images as &folders…"
        )

    def set_import_running(self, running: bool) -> None:
        """Show the import's progress bar and its Cancel button while an import runs."""
        self.import_progress.setVisible(running)
        self.import_cancel.setVisible(running)
        self.import_cancel.setEnabled(running)
        if running:
            self.import_progress.setRange(0, 0)

    def set_project_open(self, is_open: bool) -> None:
        """With a project: the browser and the docks; without one: the start page alone."""
        for action in self.project_actions:
            action.setEnabled(is_open)
        self.pages.setCurrentWidget(self.browser_page if is_open else self.start_page)
        self.set_import_sources(self._import_sources if is_open else [])
        for dock in self.docks:
            dock.setVisible(is_open)
        self.dataset_map.clear()  # a map belongs to one project
        if not is_open:
            self.map_dock.hide()

    def show_dataset_map(self) -> None:
        """Show the dataset map's dock in front; asks for a map when none is drawn yet."""
        self.map_dock.show()
        self.map_dock.raise_()
        if not len(self.dataset_map.points):
            self.dataset_map_requested.emit()

    def _fill_recent_menu(self) -> None:
        """The recent projects, newest first; one that is gone is listed, disabled, as gone."""
        self.recent_menu.clear()
        projects = recent_projects()
        for path in projects:
            gone = self.start_page.is_gone(path)
            action = self.recent_menu.addAction(f"{path} (gone)" if gone else path)
            action.setEnabled(not gone)
            action.triggered.connect(lambda _checked=False, p=path: self.open_project_requested.emit(p))
        if not projects:
            self.recent_menu.addAction("No recent project").setEnabled(False)

    def refresh_recent(self) -> None:
        self.start_page.show_recent(recent_projects())

    def _ask_export_csv(self) -> None:
        path = ask_save_file(self, "Export labels", "labels.csv", "CSV files (*.csv)")
        if path:
            self.export_csv_requested.emit(path)

    def _ask_export_folder(self) -> None:
        folder = ask_folder(self, "Export into an empty folder (one sub-folder per class)")
        if folder:
            self.export_folder_requested.emit(folder)

    def _ask_import_csv(self) -> None:
        path = ask_open_file(self, "Import labels (path,label)", "CSV files (*.csv)")
        if path:
            self.import_csv_requested.emit(path)

    def _ask_backup(self) -> None:
        path = ask_save_file(self, "Back up the project database", "backup.dmtl.sqlite")
        if path:
            self.backup_requested.emit(path)

    def _ask_splits(self) -> None:
        dialog = SplitDialog(self, noun="texts" if self.browser.is_text else "images")
        if dialog.exec():
            self.reassign_splits_requested.emit(*dialog.values())

    def show_error(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def show_summary(self, title: str, lines: list[str], details: list[str] | None = None) -> None:
        """What some finished work found, one line per fact (``details`` behind *Show Details…*), in a box that
        stays until it is closed and leaves the window usable meanwhile; the next summary replaces it. The status
        bar's line is cut at the window's edge and goes after seconds: an import's class too small to split was
        lost there."""
        box = self.summary_box
        if box is None:
            box = self.summary_box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Information)
            box.setStandardButtons(QMessageBox.StandardButton.Close)
            box.setTextFormat(Qt.TextFormat.PlainText)  # paths and class names may hold '<'
            box.setModal(False)
        box.setWindowTitle(title)
        box.setText(lines[0] if lines else title)
        box.setInformativeText("\n".join(f"• {line}" for line in lines[1:]))
        box.setDetailedText("\n".join(details or []))
        box.show()

    def allow_close(self) -> None:
        self._allow_close = True

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """A new palette (the desktop's dark theme switched on): greys and warning colours are drawn again in it."""
        if event.type() == QEvent.Type.PaletteChange:  # (after ApplicationPaletteChange too: once is enough)
            retone(self)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        # The composition root stops and joins the workers first, then closes for real.
        if not self._allow_close:
            self.close_requested.emit()
        super().closeEvent(event)
