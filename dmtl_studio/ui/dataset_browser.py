"""Dataset browser: a lazily filled thumbnail grid, labelling by keyboard with undo, filters, splits, problems.

Keys in the grid: 1–9 give the selected images the class shown beside that number, 0 (or Backspace) removes
their label, Enter accepts the model's suggested class, Space / Shift+Space move to the next / previous image,
arrows move, Ctrl+Z / Ctrl+Shift+Z undo and redo. Labelling one image moves on to the next unlabelled one.

After an evaluation the filter offers the misclassified and the low-confidence images and the images of one
confusion-matrix cell; after label suggestions, an "uncertain first" queue of the unlabelled images. Each
thumbnail then shows the model's class and confidence under its label. After Labels ▸ Find suspected label
errors, the *Suspected label errors* filter lists the labelled images whose label looks wrong, most suspect
first, each with the class it looks like and its score; Enter gives it that class. After Labels ▸ Find
duplicates and leaks, the *Duplicates* filter lists the groups of copies (those spanning splits or holding two
labels first); Enter keeps the current image's group in one split.

A text project shows a list of texts (:mod:`~dmtl_studio.ui.text_list`) instead of the grid and the whole current
text (:class:`~dmtl_studio.ui.text_viewer.TextViewer`) instead of the image, with the same keys, filters and
queues; its search finds words in the texts.
"""

from __future__ import annotations

import dataclasses
import html
import os
from collections import OrderedDict
from collections.abc import Iterable

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QImage, QKeyEvent, QKeySequence, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.augment.text_tokens import count_words
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.image_filter import (
    FIXED_FILTERS,
    SPLIT_TITLES,
    class_filter,
    class_warnings,
    matches,
    split_filter,
)
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.labels import (
    LabelEditor,
    can_label,
    existing_class,
    next_unlabelled,
    relabel_targets,
)
from dmtl_studio.core.project.removal import problem_ids, remove_items
from dmtl_studio.core.project.splits import assign_splits, label_conflicts, move_to_split
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.suggestions import Suggestion, accept_suggestions
from dmtl_studio.ui.class_name_dialog import ask_class_name
from dmtl_studio.ui.classes_panel import ClassesPanel, KeyStripScroll
from dmtl_studio.ui.image_viewer import ImageViewer
from dmtl_studio.ui.muted import muted_color, on_retone, readable
from dmtl_studio.ui.shortcuts import bind_shortcuts
from dmtl_studio.ui.text_list import TEXT_FILTER_TITLES, TextPreviews, TextRowDelegate
from dmtl_studio.ui.text_viewer import TextViewer, note_line, text_caption

FETCH_CHUNK = 500
ICON_SIZE = 112
PIXMAP_CACHE_SIZE = 2000  # thumbnails kept in memory; the rest are read again from the disk cache

Index = QModelIndex | QPersistentModelIndex


#: Said after a split change: Ctrl+Z (label changes only) did nothing after one, and said nothing (h30).
NOT_UNDONE = " (a split change: Undo label does not go back over it; move them back to undo it)"


class ImageListModel(QAbstractListModel):
    """The images of the current filter, shown in chunks as the view scrolls (``canFetchMore``/``fetchMore``).

    Thumbnails are not decoded here: missing ones are collected and asked for through
    :attr:`thumbnails_wanted`, and arrive through :meth:`set_thumbnail`.
    """

    thumbnails_wanted = Signal(list)  # [(image id, path, sha256)]
    #: A thumbnail failed for an item the project holds no problem for (its file gone or spoilt since import).
    unreadable_found = Signal()
    ImageIdRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._records: list[ImageRecord] = []
        self._shown = 0
        self._row_of: dict[int, int] = {}
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._asked: set[int] = set()
        self._failed: dict[int, str] = {}
        self._pending: list[tuple[int, str, str | None]] = []
        self.colors: dict[str, str] = {}
        # The model's word on an image, prepared in advance so that data() stays a dictionary lookup: a
        # suggestion ("→ square 84%") replaces "unlabelled"; an evaluation verdict ("✓ 97%", "✗ square 71%") follows
        # the label.
        self.suggested: dict[int, str] = {}
        self.verdicts: dict[int, str] = {}  # the model's word on an item ("✓ 97%", "→ circle 0.96")
        # A duplicate group's mark ("dup 2 leak"), kept apart from the model's word: under the thumbnail where the
        # item has no word of the model's, or first while the Duplicates filter is shown (``dups_first``).
        self.dup_marks: dict[int, str] = {}
        self.dups_first = False
        self.detailed = False  # one line per file with its problem, for the Problems view
        # In a text project: the texts' beginnings, which are the display text; no thumbnail is ever asked for.
        self.texts: TextPreviews | None = None
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(10)
        self._flush.timeout.connect(self._request_pending)
        # Every item shows a pixmap of the same size from the start, so the grid never re-lays itself out.
        self._placeholder = QPixmap(ICON_SIZE, ICON_SIZE)
        self._placeholder.fill(QColor("#e4e7eb"))
        self._broken = QPixmap(ICON_SIZE, ICON_SIZE)
        self._broken.fill(QColor("#f5c6c0"))

    def set_records(self, records: list[ImageRecord]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self._row_of = {record.id: row for row, record in enumerate(self._records)}
        self._shown = min(FETCH_CHUNK, len(self._records))
        self._asked = set(self._pixmaps)
        self._pending.clear()
        self.endResetModel()

    def update_records(self, records: list[ImageRecord]) -> None:
        """Replace changed records in place (their rows stay where they are)."""
        for record in records:
            row = self._row_of.get(record.id)
            if row is not None:
                self._records[row] = record
                if row < self._shown:
                    index = self.index(row)
                    self.dataChanged.emit(index, index)

    def record(self, row: int) -> ImageRecord:
        return self._records[row]

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def total(self) -> int:
        return len(self._records)

    def row_of(self, image_id: int) -> int | None:
        return self._row_of.get(image_id)

    def ensure_fetched(self, row: int) -> None:
        while row >= self._shown and self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())

    def fetch_all(self) -> None:
        """Every row shown at once (select all, the last row): rows are otherwise fetched as the grid scrolls."""
        if self._shown < len(self._records):
            self.beginInsertRows(QModelIndex(), self._shown, len(self._records) - 1)
            self._shown = len(self._records)
            self.endInsertRows()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else self._shown

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._shown < len(self._records)

    def fetchMore(self, parent: Index) -> None:
        if parent.isValid():
            return
        extra = min(FETCH_CHUNK, len(self._records) - self._shown)
        if extra <= 0:
            return
        self.beginInsertRows(QModelIndex(), self._shown, self._shown + extra - 1)
        self._shown += extra
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= self._shown:
            return None
        record = self._records[index.row()]
        problem = record.problem or self._failed.get(record.id)
        if self.texts is not None and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole):
            return (
                self.texts.preview(self._records, index.row())
                if role == Qt.ItemDataRole.DisplayRole
                else None
            )
        if role == Qt.ItemDataRole.DisplayRole:
            if self.detailed:
                return f"{os.path.basename(record.path)} — {problem or record.label or 'unlabelled'}"
            if problem:
                return "problem"
            if record.label is None:
                return self.suggested.get(record.id, "unlabelled")
            dup = self.dup_marks.get(record.id)
            verdict = (dup if self.dups_first else None) or self.verdicts.get(record.id) or dup
            return f"{record.label} {verdict}" if verdict else record.label
        if role == Qt.ItemDataRole.ToolTipRole:
            split = f" · {SPLIT_TITLES.get(record.split or '', 'no split')}" if record.label else ""
            reason = f"\n{problem}" if problem else ""
            note = f"\nnote: {record.note}" if record.note and not problem else ""
            return f"{record.path}\n{record.label or 'unlabelled'}{split}{reason}{note}"
        if role == Qt.ItemDataRole.DecorationRole:
            if self.detailed:
                return None
            pixmap = self._pixmaps.get(record.id)
            if pixmap is not None:
                self._pixmaps.move_to_end(record.id)
                return pixmap
            if problem:
                return self._broken
            if record.id not in self._asked:
                self._asked.add(record.id)
                self._pending.append((record.id, record.path, record.sha256))
                self._flush.start()
            return self._placeholder
        if role == Qt.ItemDataRole.ForegroundRole:
            if problem:
                return QColor(readable("#c0392b"))
            if record.label:  # the class colour, lightened on a dark theme until it reads there
                return QColor(readable(self.colors.get(record.label, "#222222")))
            return QColor(readable("#7f8c8d"))
        if role == self.ImageIdRole:
            return record.id
        return None

    def _request_pending(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.thumbnails_wanted.emit(batch)

    def forget_thumbnails(self) -> None:
        """Drop every thumbnail held (another project is shown: its ids name other images)."""
        self._pixmaps.clear()
        self._failed.clear()
        self._asked.clear()
        self._pending.clear()

    def forget_thumbnails_of(self, image_ids: set[int]) -> None:
        """Drop what is held of these items' thumbnails, failures included (their files are elsewhere now: an
        import found them at a new place), so they are asked for again when shown."""
        for image_id in image_ids:
            self._pixmaps.pop(image_id, None)
            self._failed.pop(image_id, None)
            self._asked.discard(image_id)

    def cached_thumbnail(self, image_id: int) -> QPixmap | None:
        """The thumbnail of ``image_id`` if it is in memory (the large view's placeholder while it decodes)."""
        return self._pixmaps.get(image_id)

    def set_thumbnail(self, image_id: int, image: QImage) -> None:
        self._pixmaps[image_id] = QPixmap.fromImage(image)
        self._pixmaps.move_to_end(image_id)
        while len(self._pixmaps) > PIXMAP_CACHE_SIZE:
            evicted, _ = self._pixmaps.popitem(last=False)
            self._asked.discard(evicted)
        self._changed(image_id, [Qt.ItemDataRole.DecorationRole])

    def set_thumbnail_failed(self, image_id: int, reason: str) -> None:
        known = image_id in self._failed
        self._failed[image_id] = reason
        self._changed(image_id, [])
        if not known:
            self.unreadable_found.emit()

    def failed_ids(self) -> set[int]:
        """The items whose thumbnail could not be made (shown as problems though the project may not say so)."""
        return set(self._failed)

    def _changed(self, image_id: int, roles: list[Qt.ItemDataRole]) -> None:
        row = self._row_of.get(image_id)
        if row is not None and row < self._shown:
            index = self.index(row)
            self.dataChanged.emit(index, index, roles)

    def thumbnail_count(self) -> int:
        return len(self._pixmaps)


class ThumbnailDelegate(QStyledItemDelegate):
    """Every grid item is a thumbnail with one line of text under it (Qt's own estimate drew the text over the
    thumbnail's bottom edge). Only the size is ours; painting is Qt's."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view
        self.item_size = QSize(ICON_SIZE + 10, ICON_SIZE + 34)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        if self.view.viewMode() == QListView.ViewMode.IconMode:
            return self.item_size
        return super().sizeHint(option, index)

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:  # noqa: N802 - Qt override
        """Every thumbnail in a box of the icon size (Qt's box is the picture's own size): a small picture or a
        wide one is centred in it, and every caption lies at the same height."""
        super().initStyleOption(option, index)
        if self.view.viewMode() == QListView.ViewMode.IconMode:
            option.decorationSize = QSize(ICON_SIZE, ICON_SIZE)


class ThumbnailView(QListView):
    """The grid; number keys and Space are turned into signals, everything else is Qt's own."""

    digit_pressed = Signal(int)
    step_requested = Signal(int)
    accept_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.handle_label_key(event):
            return
        if event.key() == Qt.Key.Key_End:
            self._fetch_all()
            if self.model().rowCount():
                self._go_to_last(bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
                return
        super().keyPressEvent(event)

    def _go_to_last(self, extend: bool) -> None:
        """End (Shift+End: select up to it): the last image the filter shows, every row fetched first."""
        last = self.model().index(self.model().rowCount() - 1, 0)
        current = self.currentIndex()
        if extend and current.isValid():
            self.selectionModel().select(
                QItemSelection(current, last), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            self.selectionModel().setCurrentIndex(last, QItemSelectionModel.SelectionFlag.NoUpdate)
        else:
            self.setCurrentIndex(last)
        self.scrollTo(last)

    def selectAll(self) -> None:  # noqa: N802 - Qt override (Ctrl+A, Edit ▸ Select all)
        """Every image the filter shows, not only the rows fetched so far."""
        self._fetch_all()
        super().selectAll()

    def _fetch_all(self) -> None:
        """Fetch every row not fetched yet."""
        model = self.model()
        if isinstance(model, ImageListModel):
            model.fetch_all()

    def handle_label_key(self, event: QKeyEvent) -> bool:
        """Turn a labelling key (digits, Backspace/Delete, Enter, Space) into its signal; ``False`` for others."""
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if modifiers == Qt.KeyboardModifier.NoModifier and Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
            self.digit_pressed.emit(key - Qt.Key.Key_0)
        elif modifiers == Qt.KeyboardModifier.NoModifier and key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            self.digit_pressed.emit(0)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and modifiers == Qt.KeyboardModifier.NoModifier:
            self.accept_pressed.emit()
        elif key == Qt.Key.Key_Space:
            self.step_requested.emit(-1 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1)
        else:
            return False
        return True


#: Filters whose images come in an order of their own (the model's), fed by an evaluation or suggestions.
QUEUE_KEY = "queue"
LABEL_ERRORS_KEY = "quality:label-errors"
DUPLICATES_KEY = "quality:duplicates"
#: Enter on a duplicate group asks first when it would move more than this many items between splits.
LARGE_GROUP_MOVE = 10
MAP_SELECTION_KEY = "map:selection"


#: Said before a class change that forgets the label history (its actions name the classes).
NO_UNDO = (
    "This cannot be undone with Undo label (Ctrl+Z): a class change clears the label history. To keep a copy of "
    "the labels first, use Labels ▸ Export labels as CSV…"
)


class DatasetBrowser(QWidget):
    """Thumbnails, the classes panel, filters and search, the large view of the current image.

    Label changes go through a :class:`~dmtl_studio.core.project.labels.LabelEditor` on the project store opened in
    the GUI thread (each action is one committed transaction, so nothing acknowledged is ever lost).
    """

    thumbnails_wanted = Signal(list)
    view_image_wanted = Signal(int, str)
    project_changed = Signal()  # labels, classes or splits changed
    reloaded = Signal()  # everything was read again from the store (an import, a label CSV, a class change)
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: ProjectStore | None = None
        self.editor: LabelEditor | None = None
        self._all: dict[int, ImageRecord] = {}
        self._split_warnings: list[str] = []
        self._conflicting: set[int] = set()  # images whose identical content carries another label too
        self._ordered: dict[str, tuple[str, list[int]]] = {}  # filter key -> (title, image ids in order)
        self.suggestions: dict[int, Suggestion] = {}
        self.relabel: dict[int, tuple[str, str]] = {}  # suspected label errors: id -> (given, suggested)
        # Every suspect of the last check, id -> (given, suggested, verdict, note): an undone relabel is one again.
        self._suspects: dict[int, tuple[str, str, str, str]] = {}
        self.duplicate_group: dict[int, list[int]] = {}  # image id -> the ids of its duplicate group
        #: The last duplicate report's groups: (kind, ids, ids of identical copies); their warnings follow the project.
        self._duplicate_groups: list[tuple[str, list[int], set[int]]] = []
        self.evaluation: object | None = None
        # The confusion-matrix cell shown: (true, predicted) class names.
        self._cell: tuple[str, str] = ("", "")
        self.notes: dict[int, str] = {}  # the model's word on an image, for the viewer's caption
        self.dup_notes: dict[int, str] = {}  # a duplicate group's note (see ImageListModel.dup_marks)

        self.summary = QLabel("No project open. Use File ▸ Open project… or File ▸ New project…")
        self.summary.setWordWrap(True)
        self.filter = QComboBox()
        self.filter.setMinimumContentsLength(22)  # "Duplicates: 12/24 warned" whole at 1280 px
        # As wide as that whatever its items: "Class: <a 98-letter name>" widened it and the search box became "S…".
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.filter.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # ...but narrower when the window must be (a 1024 px screen, a large font): the width it wants stays 22
        # characters, the least it takes 12 (the full title is the combo's tooltip).
        self.filter.setMinimumWidth(self.filter.fontMetrics().horizontalAdvance("x") * 12 + 40)
        self.filter.currentTextChanged.connect(self.filter.setToolTip)
        self.filter.setAccessibleName("Show")
        self.search = QLineEdit()
        self.search.setAccessibleName("Search file names")
        self.search.setPlaceholderText("Search file names…")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(lambda: self.apply_filter(keep_place=True))
        self.search.textChanged.connect(self._search_timer.start)
        self.filter.currentIndexChanged.connect(self.apply_filter)
        self.count_label = QLabel()
        self._stale: set[int] = set()  # ids shown that no longer match the filter (see _show_count)

        self.model = ImageListModel(self)
        self.model.thumbnails_wanted.connect(self.thumbnails_wanted)
        self._summary_start = ""
        self._gone_paths: frozenset[str] = (
            frozenset()
        )  # files found gone as the project opened (set_gone_paths)
        self._summary_timer = QTimer(
            self
        )  # unreadable files found by the thumbnails: one header update a burst
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(250)
        self._summary_timer.timeout.connect(self._show_summary)
        self.model.unreadable_found.connect(self._summary_timer.start)
        self.view = ThumbnailView()
        self.view.setAccessibleName("Images")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.view.setGridSize(QSize(128, 152))
        self.view.setWordWrap(True)  # lays the text out under the thumbnail instead of over its bottom edge
        # A caption too long for its line loses its middle, not its end: "retina → stained_tissue 1.00" kept the
        # classes and hid the score (h35).
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSpacing(4)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.view.setModel(self.model)
        self.thumbnail_delegate = ThumbnailDelegate(self.view)
        self.text_delegate = TextRowDelegate(self.view)
        self.view.setItemDelegate(self.thumbnail_delegate)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.digit_pressed.connect(self._digit)
        self.view.step_requested.connect(self._step)
        self.view.accept_pressed.connect(self.accept_suggestion)
        self.view.selectionModel().currentChanged.connect(self._current_changed)

        self.classes = ClassesPanel()
        self.classes.add_requested.connect(self._add_class)
        self.classes.rename_requested.connect(self._rename_class)
        self.classes.merge_requested.connect(self._merge_classes)
        self.classes.delete_requested.connect(self._delete_class)
        self.classes.color_requested.connect(self._color_class)
        self.classes.class_activated.connect(self._filter_class)
        self.viewer = ImageViewer()
        self.text_viewer = TextViewer()
        self.viewers = QStackedWidget()  # the image viewer, or the text viewer in a text project
        self.viewers.addWidget(self.viewer)
        self.viewers.addWidget(self.text_viewer)
        on_retone(self, self._show_current)  # the caption's grey, red and amber lines in a new palette

        self.undo_action = QAction("&Undo label", self)
        bind_shortcuts(self.undo_action, "Ctrl+Z", QKeySequence.StandardKey.Undo)
        self.redo_action = QAction("&Redo label", self)
        # Each sequence once: Linux's standard Redo is Ctrl+Shift+Z itself, and a repeat is ambiguous to Qt.
        bind_shortcuts(self.redo_action, "Ctrl+Shift+Z", "Ctrl+Y", QKeySequence.StandardKey.Redo)
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setEnabled(False)
            self.addAction(action)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)
        # Delete and Backspace remove a label (as 0 does); forgetting the item itself takes Shift+Delete.
        self.remove_action = QAction("&Remove from project…", self)
        self.remove_action.setShortcut("Shift+Del")
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.addAction(self.remove_action)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.filter)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.count_label)
        grid = QWidget()
        grid_layout = QVBoxLayout(grid)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addLayout(bar)
        grid_layout.addWidget(self.view, 1)
        side = QSplitter(Qt.Orientation.Vertical)
        side.setObjectName("browser-side")
        side.addWidget(self.classes)
        side.addWidget(self.viewers)
        side.setChildrenCollapsible(False)
        # The keys are in the strip above: on a short screen the class table may shrink to two rows of counts.
        side.setStretchFactor(0, 1)
        side.setStretchFactor(1, 2)
        side.setSizes([340, 660])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("browser")
        splitter.addWidget(grid)
        splitter.addWidget(side)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([640, 360])  # relative: the grid gets most of the width from the start
        self.splitters = [splitter, side]  # their sizes are part of the window layout the window remembers
        self._grid_side = grid
        self.classes.key_strip.class_clicked.connect(self.label_selected)
        layout = QVBoxLayout(self)
        # Tighter than the style's 9 px: on a 720 px screen each row of margin is taken from the images.
        layout.setContentsMargins(6, 4, 6, 2)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        self.key_scroll = KeyStripScroll(self.classes.key_strip)
        layout.addWidget(self.key_scroll)
        layout.addWidget(splitter, 1)
        self._rebuild_filters([])

    # ----------------------------------------------------------------- project

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Labelling keys pressed while the large view has the focus label the images as in the grid."""
        if self.view.handle_label_key(event):
            event.accept()
        else:
            super().keyPressEvent(event)

    def attach(self, store: ProjectStore | None) -> None:
        """Show ``store``'s images (``None`` shows nothing). The browser does not close the store."""
        self.store = store
        self._ordered.clear()
        self.suggestions = {}
        self.relabel, self._suspects = {}, {}
        self.duplicate_group = {}
        self._duplicate_groups = []
        self.evaluation = None
        self.model.suggested, self.model.verdicts, self.notes = {}, {}, {}
        self.model.dup_marks, self.dup_notes = {}, {}
        self.model.forget_thumbnails()  # ids are per project: a thumbnail held would show another's image
        self.editor = LabelEditor(store) if store is not None else None
        self._gone_paths = frozenset()
        self._show_kind(store.kind if store is not None else "images")
        self._update_undo_actions()
        # A search typed in the last project would show a new one as empty ("0 shown").
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.reload()

    def _noun(self) -> str:
        """ "text(s)" in a text project, else "image(s)": how messages count this project's items."""
        return "text(s)" if self.is_text else "image(s)"

    @property
    def is_text(self) -> bool:
        """Whether the project shown is a text project."""
        return self.model.texts is not None

    def _show_kind(self, kind: str) -> None:
        """The list and viewer of an image project (thumbnails) or of a text project (rows of text)."""
        text = kind == "text" and self.store is not None
        self.model.texts = TextPreviews(self.store) if text else None
        self.view.setItemDelegate(self.text_delegate if text else self.thumbnail_delegate)
        self.view.setSpacing(0 if text else 4)  # text rows are ruled off by a line of their own
        self.viewers.setCurrentWidget(self.text_viewer if text else self.viewer)
        # One G in the window: the explanation of what is shown (Grad-CAM, or the words of a text).
        self.text_viewer.explain_button.setShortcut("G" if text else "")
        self.viewer.explain_button.setShortcut("" if text else "G")
        self.text_viewer.clear()
        # Short enough for a narrow grid; the rule is in the tooltip.
        self.search.setPlaceholderText("Search words…" if text else "Search file names…")
        self.search.setToolTip(
            "Texts holding every word typed, in any order, any case"
            if text
            else "Images whose file name holds this text"
        )

    def set_split_warnings(self, warnings: tuple[str, ...] | list[str]) -> None:
        """Show the warnings of the latest split assignment (an import's) in the classes panel."""
        self._split_warnings = list(warnings)

    def reload(self) -> None:
        """Read everything again from the store (after an import, or a class change)."""
        if self.store is None:
            self._all = {}
            self.model.set_records([])
            return
        before = self._all
        self._all = {record.id: record for record in self.store.images()}
        # Items found at a new place by an import: their thumbnails (failed while the files were gone) anew.
        self.model.forget_thumbnails_of(
            {i for i, r in self._all.items() if i in before and before[i].path != r.path}
        )
        if self.model.texts is not None:
            self.model.texts.clear()  # an import may have changed bodies
        self._refresh_classes()
        self.apply_filter()
        self._update_undo_actions()  # a label import is an action of the editor too
        self.reloaded.emit()

    def shown_states(self) -> tuple[dict[int, tuple[str | None, str | None, bool]], dict[str, str]]:
        """What the browser shows of the project: ``({id: (label, split, has a problem)}, {class: colour})``, as
        :meth:`~dmtl_studio.core.project.images_table.ImagesTable.item_states` and ``class_colors`` read them."""
        states = {i: (r.label, r.split, r.problem is not None) for i, r in self._all.items()}
        return states, dict(self.model.colors)

    def reload_keeping_place(self) -> None:
        """:meth:`reload` (another window or a command changed the project), the current and selected items kept
        where they are still shown."""
        current = self.current_record()
        selected = [
            self.model.record(index.row()).id for index in self.view.selectionModel().selectedIndexes()
        ]
        self.reload()
        first = [current.id] if current is not None else []
        self._select_ids(first + [i for i in selected if i not in first])

    def _refresh_classes(self) -> None:
        assert self.store is not None
        counts = self.store.class_counts()
        colors = self.store.class_colors()
        self.model.colors = colors
        unlabelled = self.store.unlabelled_count()
        conflicts = label_conflicts(self.store)
        self._conflicting = {image_id for conflict in conflicts for image_id in conflict.image_ids}
        kind = "text" if self.is_text else "images"
        self.classes.key_strip.noun = "texts" if self.is_text else "images"
        self.classes.show_classes(
            counts, colors, class_warnings(counts, self._split_warnings, conflicts, kind)
        )
        labelled = sum(c["total"] for c in counts.values())
        items = "text(s)" if self.is_text else "image(s)"
        self._summary_start = (
            f"<b>{self.store.folder.name}</b> — {len(self._all)} {items}: {labelled} labelled in "
            f"{len(counts)} class(es), {unlabelled} unlabelled"
        )
        self._show_summary()
        self._refresh_duplicate_flags()
        self._rebuild_filters(list(counts))

    def _show_summary(self) -> None:
        """The header: the counts of :meth:`_refresh_classes` and the problems, those found unreadable since it
        (a file gone from disk shows as a problem tile before any run marks it) included."""
        if self.store is None or not self._summary_start:
            return
        marked = {image_id for image_id, record in self._all.items() if record.problem}
        unreadable = {image_id for image_id in self.model.failed_ids() if image_id in self._all}
        # Files found gone as the project opened count at once, not as their tiles fail one screen at a time.
        gone = (
            {i for i, record in self._all.items() if record.path in self._gone_paths}
            if self._gone_paths
            else set()
        )
        found = len((unreadable | gone) - marked)
        bad = "problem text(s)" if self.is_text else "problem file(s)"
        # Labels of files gone from disk are kept (not counted above): say so, or "0 labelled" reads as lost.
        kept = sum(1 for image_id in marked | gone if self._all[image_id].label is not None)
        kept_note = f" ({kept} of them labelled)" if kept else ""
        read_only = " · <b>read-only</b> (for viewing)" if self.store.read_only else ""
        self.summary.setText(f"{self._summary_start}, {len(marked) + found} {bad}{kept_note}{read_only}")

    def set_gone_paths(self, paths: frozenset[str]) -> None:
        """The files of the project found gone from disk as it opened (labels kept, nothing marked): the header
        counts them among the problem files; an image imported from its new place has another path and no longer
        counts."""
        self._gone_paths = paths
        self._show_summary()

    def _rebuild_filters(self, class_names: list[str]) -> None:
        current = self.filter.currentData()
        self.filter.blockSignals(True)
        self.filter.clear()
        for text, key in FIXED_FILTERS:
            text = TEXT_FILTER_TITLES.get(key, text) if self.is_text else text
            self.filter.addItem(f"{text} ({len(self._conflicting)})" if key == "conflicts" else text, key)
        for split, name in SPLIT_TITLES.items():
            self.filter.addItem(f"Split: {name}", split_filter(split))
        for name in class_names:
            self.filter.addItem(f"Class: {name}", class_filter(name))
        for key, (title, ids) in self._ordered.items():
            # The duplicates' title counts its groups already: an item count after it was cut off (h30).
            self.filter.addItem(title if key == DUPLICATES_KEY else f"{title} ({len(ids)})", key)
        position = self.filter.findData(current) if current else 0
        self.filter.setCurrentIndex(max(0, position))
        self.filter.blockSignals(False)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        QTimer.singleShot(0, self._fit_class_buttons)

    def _fit_class_buttons(self) -> None:
        """Where the grid can spare the width (a 1280 px screen and wider), widen the side column until the class
        buttons fit in one row; on a narrow window they wrap onto two. Only the splitter moves: the minimum
        widths stay as they are, so the window can still shrink in one step."""
        splitter = self.splitters[0]
        grid, side = splitter.sizes()
        wanted = self.classes.one_row_width() + 4
        spare = grid - self._grid_side.minimumSizeHint().width() - 150
        if side < wanted <= side + spare:  # only where the buttons then fit: else the grid keeps its width
            splitter.setSizes([grid - (wanted - side), wanted])

    # ----------------------------------------------------------------- filtering
    def matches(self, record: ImageRecord, key: str, text: str) -> bool:
        """Whether the filter ``key`` with search ``text`` shows ``record`` (core's rule)."""
        return matches(record, key, text, self._conflicting)

    def apply_filter(self, keep_place: bool = False) -> None:
        """Show the items the filter and the search leave. ``keep_place`` (a change of the search): the current
        item stays current when it is still shown, so that clearing a search does not move the next label key
        onto the first item; else the first item becomes current."""
        current = self.current_record() if keep_place else None
        key = self.filter.currentData() or "all"
        self.model.dups_first = key == DUPLICATES_KEY  # its marks first; elsewhere the model's word first
        text = self.search.text().strip().lower()
        found: set[int] | None = None
        if self.is_text and text:  # words in the bodies, found by the store (file names mean nothing here)
            assert self.store is not None
            found, text = set(self.store.search_texts(self.search.text())), ""
        if key in self._ordered:  # the model's order: most confidently wrong, least confident, most uncertain
            ids = self._ordered[key][1]
            records = [
                self._all[i] for i in ids if i in self._all and self.matches(self._all[i], "all", text)
            ]
        else:
            records = [record for record in self._all.values() if self.matches(record, key, text)]
        if found is not None:
            records = [record for record in records if record.id in found]
        if key == DUPLICATES_KEY and (text or found is not None):  # a group whole, or not at all (h35)
            kept = {i for record in records for i in self.duplicate_group.get(record.id, [record.id])}
            records = [self._all[i] for i in self._ordered[key][1] if i in kept and i in self._all]
        problems_view = key == "problems" and not self.is_text  # text rows show their problem anyway
        self.model.detailed = problems_view
        list_mode = problems_view or self.is_text
        self.view.setViewMode(QListView.ViewMode.ListMode if list_mode else QListView.ViewMode.IconMode)
        if list_mode:
            self.view.setGridSize(QSize())
        else:
            self.view.setGridSize(QSize(128, 152))
            self.view.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.model.set_records(records)
        self._stale = set()
        self._show_count()
        if current is not None and self.model.row_of(current.id) is not None:
            self._select_ids([current.id])
        elif records:
            self.view.setCurrentIndex(self.model.index(0))
        elif self.is_text:
            self.text_viewer.clear()  # no text is current: none of those the search left out stays in view
        else:
            self.viewer.clear("No image matches the filter and search")

    def _show_count(self) -> None:
        """The count beside the filter, and how many of the items shown no longer match it: labelled or relabelled
        since it was chosen, they stay where they are so that the grid does not jump under the keys."""
        shown = self.model.total()
        if not self._stale:
            self.count_label.setText(f"{shown} shown")
            self.count_label.setToolTip("")
            return
        # Short: at 1280 px the longer "· 1 no longer match" took the search box down to "S…" (h28).
        self.count_label.setText(f"{shown} shown ({len(self._stale)} done)")
        self.count_label.setToolTip(
            f"{len(self._stale)} of the {self._noun()} shown were labelled or moved since this filter was chosen and "
            "no longer match it. They stay in place so that the grid does not jump while you label; choose the "
            "filter again to leave them out."
        )

    def _note_stale(self, changed: list[ImageRecord]) -> None:
        """Keep count of the shown items that ``changed`` took out of (or back into) the current filter."""
        key = self.filter.currentData() or "all"
        if key in self._ordered:  # the model's queues keep their items by design: nothing goes stale there
            return
        text = "" if self.is_text else self.search.text().strip().lower()  # a text search matched bodies
        for record in changed:
            if self.model.row_of(record.id) is None:
                continue
            if self.matches(record, key, text):
                self._stale.discard(record.id)
            else:
                self._stale.add(record.id)
        self._show_count()

    def set_filter(self, key: str) -> None:
        """Show the filter ``key``; asked for again while it is shown, its items are looked up again."""
        position = self.filter.findData(key)
        if position == self.filter.currentIndex():
            self.apply_filter(keep_place=True)
        elif position >= 0:
            self.filter.setCurrentIndex(position)

    def _filter_class(self, name: str) -> None:
        self.set_filter(class_filter(name))

    # ----------------------------------------------------------------- labelling
    def selected_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return [self.model.record(row).id for row in rows if can_label(self.model.record(row))]

    def _digit(self, digit: int) -> None:
        names = self.classes.class_names()
        if digit == 0:
            self.label_selected(None)
        elif digit <= len(names):
            self.label_selected(names[digit - 1])
        else:
            self.status_message.emit(f"No class has the key {digit}: add a class first")

    def label_selected(self, class_name: str | None) -> None:
        """Label the selected images (or the current one); with a single image, move to the next unlabelled."""
        if self.editor is None:
            return
        ids = self.selected_ids()
        if not ids:
            if self.view.currentIndex().isValid():  # only problem items chosen: say why nothing happened
                self.status_message.emit(
                    f"A problem {self._noun()[:-3]} cannot be labelled (it cannot be read or used): fix its file "
                    f"and import it again, or remove it (Labels ▸ Remove problem {'texts' if self.is_text else 'files'} "
                    "from project…)"
                )
            return
        if self.store is not None and self.store.read_only:  # said where one looks, not a box per key (h30)
            self.status_message.emit(
                f"{self.store.folder.name} is open read-only (for viewing): labels cannot be changed"
            )
            return
        if class_name is not None and self._class_gone(class_name):
            return
        try:
            action = self.editor.assign(ids, class_name)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot label", str(exc))
            return
        if action is not None:
            self._apply(action.after)
            self.status_message.emit(action.description)
        # Labelling moves on to the next unlabelled item; unlabelling (0) stays on it: the item just unlabelled is
        # the one to label again, and the jump lost the person's place in the list (h25).
        if len(ids) == 1 and class_name is not None:
            self._advance_to_unlabelled()

    def _class_gone(self, class_name: str) -> bool:
        """Whether ``class_name``, a class this window shows, was merged, renamed or deleted elsewhere (a command,
        another window) since: then nothing is labelled, the person is told, and the classes are read again. A
        key pressed before the window noticed re-created a class just merged away (h30)."""
        try:
            gone = class_name not in self.store.class_names()  # type: ignore[union-attr]
        except ProjectError:
            return False  # the store's own error comes with the labelling
        if gone:
            QMessageBox.warning(
                self,
                "Cannot label",
                f"The class '{class_name}' no longer exists: another window or a command merged, renamed or "
                "deleted it. Nothing was labelled; the classes are shown as they are now.",
            )
            self.reload_keeping_place()
        return gone

    def accept_suggestion(self) -> None:
        """Record the model's suggested class for the selected (or current) images as their human label."""
        if self.editor is None:
            return
        ids = self.selected_ids()
        # The filter shown says what Enter does: in the Duplicates filter it keeps the group in one split, even
        # for an image that is also a suspected label error (it relabelled it there).
        if self.filter.currentData() == DUPLICATES_KEY and any(i in self.duplicate_group for i in ids):
            self.keep_duplicate_group_in_one_split()
            return
        if any(i in self.relabel for i in ids):
            self._accept_relabel(ids)
            return
        wanted = [self.suggestions[i] for i in ids if i in self.suggestions and self._all[i].label is None]
        if not wanted:
            if not self.suggestions:
                self.status_message.emit("No suggestions yet: press Suggest labels in the Evaluation area")
            else:
                self.status_message.emit("No suggestion to accept here (already labelled, or not suggested)")
            return
        try:
            actions = accept_suggestions(self.editor, wanted)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot label", str(exc))
            return
        for action in actions:
            self._apply(action.after)
        if actions:
            self.status_message.emit("Accepted: " + "; ".join(a.description for a in actions))
        if len(ids) == 1:
            self._advance_to_unlabelled()

    def _follow_suspects(self, ids: Iterable[int]) -> None:
        """Suspects of the last label-error check whose label an undo or redo changed: back to the doubted label,
        a suspect again, with its suggestion (Enter said "No suggestions yet" after an undone relabel, h35);
        given the suggested class again, relabelled."""
        changed = False
        for image_id in ids:
            if image_id not in self._suspects or image_id not in self._all:
                continue
            given, suggested, verdict, note = self._suspects[image_id]
            label = self._all[image_id].label
            if label == given and image_id not in self.relabel:
                self.relabel[image_id] = (given, suggested)
                self.model.verdicts[image_id], self.notes[image_id] = verdict, note
                changed = True
            elif label == suggested and image_id in self.relabel:
                del self.relabel[image_id]
                self.model.verdicts.pop(image_id, None)
                self.notes[image_id] = f"relabelled {suggested} (was {given})"
                changed = True
        if changed:
            self._notes_changed()

    def _accept_relabel(self, ids: list[int]) -> None:
        """Give suspected label errors their suggested class (those still carrying the doubted label)."""
        by_class = relabel_targets(ids, self.relabel, {i: self._all[i].label for i in ids if i in self._all})
        descriptions = []
        for class_name, chosen in by_class.items():
            try:
                action = self.editor.assign(chosen, class_name)
            except ProjectError as exc:
                QMessageBox.warning(self, "Cannot label", str(exc))
                return
            if action is not None:
                self._apply(action.after)
                descriptions.append(action.description)
            for i in chosen:
                self.model.verdicts.pop(i, None)
                self.notes[i] = f"relabelled {class_name} (was {self.relabel.pop(i)[0]})"
        self.status_message.emit("; ".join(descriptions) if descriptions else "Already relabelled")
        self._notes_changed()
        if len(ids) == 1:
            self._step(1)

    def set_duplicates(self, report: object) -> None:
        """Offer a ``DuplicateReport`` as the *Duplicates* filter: group by group, those with warnings first. The
        groups' warnings follow the project's labels, splits and removals from then on
        (:meth:`_refresh_duplicate_flags`)."""
        self._duplicate_groups = [
            (
                group.kind,
                [m.image_id for m in group.members],
                {m.image_id for m in group.members if group.identical(m)},
            )
            for group in report.groups
        ]
        groups, warned = self._refresh_duplicate_flags()
        self._rebuild_filters(self.classes.class_names())
        if self.filter.currentData() == DUPLICATES_KEY:
            self.apply_filter()
        else:
            self.set_filter(DUPLICATES_KEY)
        self.status_message.emit(
            f"{groups} duplicate group(s), {warned} with a warning: Enter keeps a group in one split"
        )

    def _refresh_duplicate_flags(self) -> tuple[int, int]:
        """The duplicate groups' marks, notes and filter title from the labels and splits shown now: a move,
        a relabel, a reassignment or a removal made an earlier report's warnings stale. A group left with one
        member in the project is no group."""
        from dmtl_studio.core.quality.groups import group_warnings

        if not self._duplicate_groups:
            return 0, 0
        marks: dict[int, tuple[str, str]] = {}  # image id -> (thumbnail mark, note)
        members: dict[int, list[int]] = {}
        order, groups, warned = [], 0, 0
        for kind, group_ids, identical in self._duplicate_groups:
            ids = [i for i in group_ids if i in self._all]
            if len(ids) < 2:
                continue
            groups += 1
            warnings = group_warnings([self._all[i] for i in ids])
            warned += bool(warnings)
            flags = " ".join("leak" if w.startswith("spans") else "labels" for w in warnings)
            said = "; ".join(warnings) or "same split, same label"
            order += ids
            for image_id in ids:
                members[image_id] = ids
                copy = (
                    "; an identical copy of another member"
                    if kind == "near" and image_id in identical
                    else ""
                )
                marks[image_id] = (
                    f"dup {groups} {flags}".rstrip(),
                    f"duplicate group {groups} ({kind}, {len(ids)} {self._noun()[:-3]}s): {said}{copy}",
                )
        # Short: the filter box is narrow at 1280 px ("Duplicates: 5 groups, 3 w…"); the status bar says it whole.
        entry = (f"Duplicates: {warned}/{groups} warned", order)  # no item count after it (_fill_filter)
        shown = {
            i: (self.model.dup_marks.get(i, ""), self.dup_notes.get(i, "")) for i in self.duplicate_group
        }
        if shown == marks and self._ordered.get(DUPLICATES_KEY) == entry:
            return groups, warned  # a label key that left every group as it was: no repaint of every row
        # Apart from the model's word on an item: a relabel elsewhere swapped a suspect's "→ circle 1.00" for its
        # group's mark in the Suspected label errors list.
        self.model.dup_marks = {i: mark for i, (mark, _note) in marks.items()}
        self.dup_notes = {i: note for i, (_mark, note) in marks.items()}
        self.duplicate_group = members
        self._ordered[DUPLICATES_KEY] = entry
        self._notes_changed()
        return groups, warned

    def keep_duplicate_group_in_one_split(self) -> None:
        """Put the current image's duplicate group in one split (the one holding most of it; train on a tie)."""
        from dmtl_studio.core.quality.groups import group_split, keep_group_in_one_split

        record = self.current_record()
        if self.store is None or record is None or record.id not in self.duplicate_group:
            self.status_message.emit(f"This {'text' if self.is_text else 'image'} is in no duplicate group")
            return
        ids = self.duplicate_group[record.id]
        before = {self._all[i].split or "train" for i in ids}  # no split: the training side
        target = group_split([self._all[i] for i in ids])
        moving = sum(self._all[i].split != target for i in ids)
        if moving > LARGE_GROUP_MOVE:  # a move of many cannot be undone: asked first
            answer = QMessageBox.question(
                self,
                "Keep the group in one split",
                f"Move {moving} {self._noun()} of this group of {len(ids)} into the {SPLIT_TITLES[target]} split? "
                "Splits are not undone with Ctrl+Z.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        try:
            split = keep_group_in_one_split(self.store, ids)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot move the group", str(exc))
            return
        for image_id in ids:
            self._all[image_id] = dataclasses.replace(self._all[image_id], split=split)
        self.model.update_records([self._all[i] for i in ids if i in self._all])
        self._refresh_classes()  # the groups' marks too
        labels = sorted({self._all[i].label for i in ids if self._all[i].label is not None})
        differ = (
            f"; their labels differ ({', '.join(labels)}): give them one label" if len(labels) > 1 else ""
        )
        if before == {split}:
            self.status_message.emit(
                f"These {len(ids)} duplicate {self._noun()} are already in one split ({SPLIT_TITLES[split]}){differ}"
            )
        else:
            self.status_message.emit(
                f"Kept {len(ids)} duplicate {self._noun()} in the {SPLIT_TITLES[split]} split{differ}{NOT_UNDONE}"
            )
        self.project_changed.emit()

    # ----------------------------------------------------------------- the model's view of the images
    def set_label_errors(self, report: object) -> None:
        """Offer a ``LabelErrorReport`` as the *Suspected label errors* filter, most suspect first."""
        self.relabel = {s.image_id: (s.given, s.suggested) for s in report.suspects}
        self._suspects = {
            s.image_id: (
                s.given,
                s.suggested,
                f"→ {s.suggested} {s.score:.2f}",
                f"labelled {s.given}, looks like {s.suggested} (score {s.score:.2f})",
            )
            for s in report.suspects
        }
        for image_id, (_given, _suggested, verdict, note) in self._suspects.items():
            self.model.verdicts[image_id] = verdict
            self.notes[image_id] = note
        self._ordered[LABEL_ERRORS_KEY] = ("Suspected label errors", [s.image_id for s in report.suspects])
        self._rebuild_filters(self.classes.class_names())
        self._notes_changed()
        if self.filter.currentData() == LABEL_ERRORS_KEY:
            self.apply_filter()
        else:
            self.set_filter(LABEL_ERRORS_KEY)
        caveat = report.caveat("text" if self.is_text else "image")
        self.status_message.emit(
            f"{len(report.suspects)} suspected label error(s), most suspect first: Enter takes the suggested "
            "class, a number key picks another" + (f". Note: {caveat}" if caveat else "")
        )

    def set_evaluation(self, result: object | None) -> None:
        """Offer the misclassified and low-confidence images of an ``EvaluationResult`` as filters and show its
        verdicts on the thumbnails, in place of the last evaluation's (``None``: no evaluation is shown, as when
        another run is chosen). A filter of the evaluation in use shows the new lists at once."""
        if (
            self.text_viewer.explaining and result is not None
        ):  # the words of the run shown now, not the last (h32)
            self.text_viewer.explain_again()
        previous = self.evaluation.per_image() if self.evaluation is not None else {}
        for image_id in previous:  # the last run's verdicts: none of them may stand beside this run's
            if self.model.verdicts.get(image_id, "")[:1] in ("✓", "✗"):
                del self.model.verdicts[image_id]
                self.notes.pop(image_id, None)
        self.evaluation = result
        current, title = self.filter.currentData(), self.filter.currentText()
        for key in [k for k in self._ordered if k.startswith(("eval:", "cell:"))]:
            del self._ordered[key]
        if result is not None:
            split = "test" if result.split == "test" else "validation"
            self._ordered["eval:misclassified"] = (f"Misclassified ({split})", result.misclassified_ids())
            self._ordered["eval:low-confidence"] = (f"Low confidence ({split})", result.low_confidence_ids())
            if current == "cell:current" and set(self._cell) <= set(result.classes):  # the same cell, anew
                true, predicted = (result.classes.index(name) for name in self._cell)
                self._ordered["cell:current"] = (
                    f"Cell: {self._cell[0]} → {self._cell[1]}",
                    result.cell_ids(true, predicted),
                )
            for image_id, (_true, predicted, confidence) in result.per_image().items():
                record = self._all.get(image_id)
                self._set_verdict(image_id, record.label if record else None, predicted, confidence)
        self._rebuild_filters(self.classes.class_names())
        if str(current).startswith(("eval:", "cell:")):  # its list changed (or is gone: all items then)
            self.apply_filter(keep_place=True)
            if self.filter.currentData() != current:
                self.status_message.emit(
                    f"The filter '{title.rsplit(' (', 1)[0]}' was of an evaluation no longer shown: all "
                    f"{'texts' if self.is_text else 'images'} are shown"
                )
        self._notes_changed()

    def _set_verdict(self, image_id: int, label: str | None, predicted: str, confidence: float) -> None:
        """The evaluation's verdict on an item labelled ``label``: under its thumbnail and in its caption."""
        right = label is not None and label == predicted
        # The confidence of a wrong verdict too: a near miss and a confident error read differently (h28).
        self.model.verdicts[image_id] = f"✓ {confidence:.0%}" if right else f"✗ {predicted} {confidence:.0%}"
        self.notes[image_id] = f"{'✓' if right else '✗'} {predicted} {confidence:.0%}"

    def _notes_changed(self) -> None:
        rows = self.model.rowCount()
        if rows:
            self.model.dataChanged.emit(
                self.model.index(0), self.model.index(rows - 1), [Qt.ItemDataRole.DisplayRole]
            )
        self._show_current()

    def show_evaluation_filter(self, which: str) -> None:
        """``which`` is ``"misclassified"`` or ``"low-confidence"``."""
        self.set_filter(f"eval:{which}")

    def show_confusion_cell(self, true_index: int, predicted_index: int) -> None:
        """Show the images of one cell of the last evaluation's confusion matrix."""
        result = self.evaluation
        if result is None:
            return
        key = "cell:current"
        self._cell = (result.classes[true_index], result.classes[predicted_index])
        title = f"Cell: {self._cell[0]} → {self._cell[1]}"
        self._ordered[key] = (title, result.cell_ids(true_index, predicted_index))
        self._rebuild_filters(self.classes.class_names())
        # The cell's images whole: a search typed before hid them ("0 shown" for a cell of 3, h28).
        self._clear_search()
        if self.filter.currentData() == key:
            self.apply_filter()
        else:
            self.set_filter(key)

    def set_suggestions(self, suggestions: object) -> None:
        """Show a ``SuggestionSet`` on the thumbnails and open its "uncertain first" queue."""
        self.suggestions = suggestions.by_id()
        for s in suggestions.suggestions:
            self.model.suggested[s.image_id] = f"→ {s.label} {s.confidence:.0%}"
            # Which run said it: suggestions stay while newer runs are trained (they read as the latest's, h25).
            self.notes[s.image_id] = f"suggests {s.label} {s.confidence:.0%} (run {suggestions.run_name})"
        title = f"Uncertain first · {suggestions.method}"
        self._ordered[QUEUE_KEY] = (title, suggestions.queue())
        self._clear_search()  # the queue whole: a search typed before showed it as "0 shown" (h32)
        self._rebuild_filters(self.classes.class_names())
        self._notes_changed()
        if self.filter.currentData() == QUEUE_KEY:
            self.apply_filter()
        else:
            self.set_filter(QUEUE_KEY)
        self.status_message.emit(
            f"{len(self.suggestions)} suggestion(s), most uncertain first: Enter accepts, a number corrects"
        )

    def _clear_search(self) -> None:
        """Empty the search box without a search of its own (the caller shows its list next); a search still
        being typed is dropped with it."""
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._search_timer.stop()

    def current_record(self) -> ImageRecord | None:
        current = self.view.currentIndex()
        return self.model.record(current.row()) if current.isValid() else None

    def undo(self) -> None:
        if self.editor is not None and (action := self.editor.undo()) is not None:
            self._replayed(action.before, "undo", action.description)

    def redo(self) -> None:
        if self.editor is not None and (action := self.editor.redo()) is not None:
            self._replayed(action.after, "redo", action.description)

    def _replayed(self, labels: dict[int, str | None], verb: str, description: str) -> None:
        """Show an undo or redo: the labels it set, and those changed elsewhere since, which it left (read anew)."""
        assert self.store is not None and self.editor is not None
        elsewhere = self.store.labels_of(list(self.editor.changed_elsewhere))
        gone = len(self.editor.changed_elsewhere) - len(elsewhere)  # removed by another window or a command
        self._apply({**labels, **elsewhere})
        self._follow_suspects(labels)
        # An item the filter had dropped (a reload after an outside change) may match it again (h30: an image
        # unlabelled again by Undo was missing from the Unlabelled queue the header counted it in).
        if any(self.model.row_of(i) is None for i in labels if i in self._all):
            self.apply_filter(keep_place=True)
        self._select_ids(list(labels) or list(elsewhere))
        items = "text(s)" if self.is_text else "image(s)"
        left = len(self.editor.changed_elsewhere)
        changed = f"changed since by another window or a command{f' ({gone} removed)' if gone else ''}"
        if not labels:
            self.status_message.emit(
                f"Nothing to {verb}: its {left} {items} were {changed}; left as they are"
            )
            return
        done = {"undo": "Undone", "redo": "Redone"}[verb]
        note = f"; {left} {items} {changed} were left as they are" if left else ""
        self.status_message.emit(f"{done}: {description}{note}")

    def _apply(self, labels: dict[int, str | None]) -> None:
        """Show new labels at once; the counts follow (a class may have been created)."""
        assert self.store is not None
        # The editor has stored the labels and given newly labelled images a split: show what is stored.
        changed = self.store.images_by_id([image_id for image_id in labels if image_id in self._all])
        self._all.update({record.id: record for record in changed})
        if self.editor is not None and self.editor.split_warnings is not None:
            self._split_warnings = list(self.editor.split_warnings)
        self.model.update_records(changed)
        self._note_stale(changed)
        self._refresh_model_notes(labels)
        self._refresh_classes()
        self._update_undo_actions()
        self._show_current()
        self.project_changed.emit()

    def _refresh_model_notes(self, labels: dict[int, str | None]) -> None:
        """Relabelled images: the evaluation's verdict is judged against the new label, a spent suggestion is
        dropped, and the large view's Grad-CAM overlay (made for the old verdict) is made again or cleared."""
        per_image = self.evaluation.per_image() if self.evaluation is not None else {}
        for image_id, label in labels.items():
            self.notes.pop(image_id, None)
            self.model.verdicts.pop(image_id, None)
            if image_id in per_image and label is not None:
                _true, predicted, confidence = per_image[image_id]
                self._set_verdict(image_id, label, predicted, confidence)
            elif label is None and image_id in self.suggestions:
                suggestion = self.suggestions[image_id]
                self.notes[image_id] = f"suggests {suggestion.label} {suggestion.confidence:.0%}"
        if self.viewer.image_id in labels:
            self.viewer.refresh_overlay()

    def _update_undo_actions(self) -> None:
        self.undo_action.setEnabled(self.editor is not None and self.editor.can_undo())
        self.redo_action.setEnabled(self.editor is not None and self.editor.can_redo())

    def _advance_to_unlabelled(self) -> None:
        row = next_unlabelled(self.model.records(), self.view.currentIndex().row())
        if row is not None:
            self._select_row(row)

    def _step(self, delta: int) -> None:
        row = self.view.currentIndex().row() + delta
        if 0 <= row < self.model.total():
            self._select_row(row)

    def _select_row(self, row: int) -> None:
        self.model.ensure_fetched(row)
        index = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)

    def select_images(self, image_ids: list[int]) -> None:
        """Show ``image_ids`` (a selection made on the dataset map) as the *Map selection* filter, all selected,
        so that the number keys and the context menu act on them."""
        if not image_ids:
            return
        self._ordered[MAP_SELECTION_KEY] = ("Map selection", list(image_ids))
        self._rebuild_filters(self.classes.class_names())
        if self.filter.currentData() == MAP_SELECTION_KEY:
            self.apply_filter()
        else:
            self.set_filter(MAP_SELECTION_KEY)
        last = self.model.total() - 1
        if last >= 0:
            self.model.ensure_fetched(last)
            every = QItemSelection(self.model.index(0), self.model.index(last))
            self.view.selectionModel().select(every, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def label_key(self, digit: int) -> None:
        """What a number key does in the grid (0 removes the label), for the selected images."""
        self._digit(digit)

    def usable_ids(self) -> set[int]:
        """The ids of the project's usable items (not problem files), as the browser read them last."""
        return {image_id for image_id, record in self._all.items() if record.problem is None}

    def labels_of(self, image_ids: list[int]) -> dict[int, str | None]:
        """The current label of each of ``image_ids`` (those the browser knows)."""
        return {i: self._all[i].label for i in image_ids if i in self._all}

    def _select_ids(self, image_ids: list[int]) -> None:
        """Select the items ``image_ids`` (the first one current) in one selection change: row by row, each
        change made every listener read the whole selection again (an undo of 10,000 labels froze the window for
        over a minute)."""
        rows = [r for r in (self.model.row_of(i) for i in image_ids) if r is not None]
        if not rows:
            return
        self._select_row(rows[0])
        if len(rows) == 1:
            return
        self.model.ensure_fetched(max(rows))
        selection = QItemSelection()
        ordered = sorted(set(rows))
        start = previous = ordered[0]
        for row in [*ordered[1:], None]:  # contiguous rows as one range
            if row is not None and row == previous + 1:
                previous = row
                continue
            selection.select(self.model.index(start), self.model.index(previous))
            if row is not None:
                start = previous = row
        self.view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.Select)

    # ----------------------------------------------------------------- current image
    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and self.is_text:
            record = self.model.record(current.row())
            body = self.store.texts([record.id]).get(record.id, "") if self.store is not None else ""
            self.text_viewer.show_text(record.id, self._text_caption(record, body), body)
        elif current.isValid():
            record = self.model.record(current.row())
            self.viewer.show_pending(
                record.id,
                self._caption(record),
                record.path if not record.problem else None,
                self.model.cached_thumbnail(record.id),
            )
            if record.problem is None:
                self.view_image_wanted.emit(record.id, record.path)
            else:
                self.viewer.show_problem(record.id)

    def _show_current(self) -> None:
        current = self.view.currentIndex()
        if current.isValid() and self.is_text:
            record = self.model.record(current.row())
            if self.text_viewer.item_id == record.id:
                self.text_viewer.set_caption(self._text_caption(record, self.text_viewer.body.toPlainText()))
        elif current.isValid():
            self.viewer.set_caption(self._caption(self.model.record(current.row())))

    def _note_of(self, image_id: int) -> str | None:
        """The note a caption shows: as the thumbnail, the duplicate group's first under the Duplicates filter,
        elsewhere the model's word first."""
        dup = self.dup_notes.get(image_id)
        return (dup if self.model.dups_first else None) or self.notes.get(image_id) or dup

    def _text_caption(self, record: ImageRecord, body: str) -> str:
        color = readable(self.model.colors.get(record.label or "", "#7f8c8d"))  # a dark blue on a dark theme
        return text_caption(record, color, self._note_of(record.id), count_words(body))

    def _caption(self, record: ImageRecord) -> str:
        split = f" · {SPLIT_TITLES.get(record.split or '', 'no split')}" if record.label else ""
        size = f" · {record.width}×{record.height}" if record.width else ""
        color = readable(self.model.colors.get(record.label or "", "#7f8c8d"))
        label = html.escape(record.label or "unlabelled")  # a class name may hold '<'
        note = self._note_of(record.id)
        model = (
            f"<br><span style='color:{muted_color()}'>{html.escape(note_line(note))}</span>" if note else ""
        )
        decoded = (
            f"<br><span style='color:{readable('#8a6d00')}'>note: {html.escape(record.note)}</span>"
            if record.note
            else ""
        )
        problem = (
            f"<br><span style='color:{readable('#c0392b')}'>{html.escape(record.problem)}</span>"
            if record.problem
            else ""
        )
        name = html.escape(os.path.basename(record.path))
        return f"{name}{size}<br><b style='color:{color}'>{label}</b>{split}{model}{decoded}{problem}"

    # ----------------------------------------------------------------- splits
    def _context_menu(self, position) -> None:  # noqa: ANN001 - Qt passes a QPoint
        if not self.selected_ids():
            return
        menu = QMenu(self)
        for key, name in self._class_key_names():
            menu.addAction(f"Label as {name}\t{key}", lambda n=name: self.label_selected(n))
        menu.addAction("Remove label\t0", lambda: self.label_selected(None))
        menu.addSeparator()
        moves = menu.addMenu("Move to split")
        for split, name in SPLIT_TITLES.items():
            moves.addAction(name.capitalize(), lambda s=split: self.move_selected_to_split(s))
        record = self.current_record()
        if record is not None and record.id in self.duplicate_group:
            menu.addAction("Keep this duplicate group in one split", self.keep_duplicate_group_in_one_split)
        menu.addSeparator()
        menu.addAction(self.remove_action)
        menu.exec(self.view.viewport().mapToGlobal(position))

    # ----------------------------------------------------------------- removal
    def remove_selected(self) -> None:
        """Remove the selected items from the project, after asking (their files stay on disk)."""
        self._remove_items(self.selected_ids(), "selected")

    def remove_problem_items(self) -> None:
        """Remove every problem item (gone from disk, unreadable, empty) from the project, after asking."""
        if self.store is not None:
            self._remove_items(problem_ids(self.store), "problem")

    def _remove_items(self, ids: list[int], which: str) -> None:
        if self.store is None:
            return
        noun = self._noun()
        records = self.store.images_by_id(ids)
        if not records:
            self.status_message.emit(f"No {which} {noun} to remove")
            return
        labelled = sum(record.label is not None for record in records)
        answer = QMessageBox.question(
            self,
            "Remove from project",
            f"Remove {len(records)} {which} {noun} from the project ({labelled} of them labelled)?\n\n"
            "No file is deleted from disk. The list of them, with their labels and splits, is written first to "
            "the project's 'removed' folder, from which they can be brought back.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            summary = remove_items(self.store, [record.id for record in records])
        except ProjectError as exc:
            QMessageBox.warning(self, "Remove from project", str(exc))
            return
        if self.editor is not None:
            self.editor.forget([record.id for record in records])  # the other label actions stay undoable
        self.reload()
        self.status_message.emit(
            f"Removed {summary.removed} {noun} from the project ({summary.labelled} labelled); "
            f"{summary.restore_hint(self.store.kind, window=True)}"
        )
        self.project_changed.emit()

    def _class_key_names(self) -> list[tuple[int, str]]:
        return [(i + 1, name) for i, name in enumerate(self.classes.class_names()[:9])]

    def move_selected_to_split(self, split: str) -> None:
        if self.store is None:
            return
        # Core leaves unlabelled images out (they have no split) and moves identical copies along.
        selected = self.selected_ids()
        ids = move_to_split(self.store, selected, split)
        if not ids:
            self.status_message.emit(f"Only labelled {'texts' if self.is_text else 'images'} have a split")
            return
        for image_id in ids:
            self._all[image_id] = dataclasses.replace(self._all[image_id], split=split)
        self.model.update_records([self._all[i] for i in ids])
        self._refresh_classes()
        self._show_current()
        copies = len(set(ids) - set(selected))  # identical copies share a split: they moved along
        along = (
            f" ({copies} of them identical copies of those selected, which share one split)" if copies else ""
        )
        self.status_message.emit(
            f"Moved {len(ids)} {self._noun()} to the {SPLIT_TITLES[split]} split{along}{NOT_UNDONE}"
        )
        self.project_changed.emit()

    def reassign_splits(self, val_fraction: float, test_fraction: float, seed: int) -> None:
        if self.store is None:
            return
        summary = assign_splits(
            self.store, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, reassign=True
        )
        self._split_warnings = list(summary.warnings)
        self.reload()
        self.project_changed.emit()
        self.status_message.emit(summary.describe().capitalize())  # what it did (h38: nothing was said)

    # ----------------------------------------------------------------- classes
    def _counts(self) -> dict[str, dict[str, int]]:
        assert self.store is not None
        return self.store.class_counts()

    def _class_change(self, change, done: str) -> None:  # noqa: ANN001 - a callable
        """Run a class change (the editor's, which decides whether the label history survives it)."""
        try:
            change()
        except ProjectError as exc:
            QMessageBox.warning(self, "Classes", str(exc))
            return
        self._update_undo_actions()
        self.reload()
        self.status_message.emit(done)
        self.project_changed.emit()

    def _add_class(self) -> None:
        if self.store is None:
            return
        name = ask_class_name(self, "Add class", "Name of the new class:")
        if name:
            self.add_class(name)

    def add_class(self, name: str) -> None:
        """Add a class, or say that it exists already (names compare without surrounding spaces)."""
        same = existing_class(self.store, name)
        if same is not None:
            self.status_message.emit(f"There is a class '{same}' already; nothing added")
            return
        self._class_change(lambda: self.store.add_class(name), f"Added class '{name.strip()}'")

    def _rename_class(self, old: str) -> None:
        # Said before, as Merge and Delete say it (the history went without a word, h30).
        undo_note = (
            "\n(Undo label cannot go back past a rename.)" if self.editor and self.editor.can_undo() else ""
        )
        name = ask_class_name(self, "Rename class", f"New name for '{old}':{undo_note}", text=old)
        if name and name != old:
            self._class_change(
                lambda: self.editor.rename_class(old, name),
                f"Renamed '{old}' to '{name.strip()}' (Undo label cannot go back past a class change)",
            )

    def _merge_classes(self, names: list[str]) -> None:
        if len(names) < 2:
            return
        counts = self._counts()
        target, ok = QInputDialog.getItem(
            self, "Merge classes", "Merge the selected classes into:", names, 0, False
        )
        if not ok:
            return
        moved = sum(counts[n]["total"] for n in names if n != target)
        others = ", ".join(f"'{n}'" for n in names if n != target)
        answer = QMessageBox.question(
            self,
            "Merge classes",
            f"Move {moved} {self._noun()} from {others} into '{target}' and remove {others}?\n\n{NO_UNDO}",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._class_change(lambda: self.editor.merge_classes(names, target), f"Merged into '{target}'")

    def _delete_class(self, name: str) -> None:
        count = self._counts().get(name, {}).get("total", 0)
        answer = QMessageBox.question(
            self,
            "Delete class",
            f"Delete the class '{name}'? Its {count} {self._noun()} become unlabelled; no file is deleted."
            f"\n\n{NO_UNDO}",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._class_change(lambda: self.editor.delete_class(name), f"Deleted class '{name}'")

    def _color_class(self, name: str) -> None:
        assert self.store is not None
        color = QColorDialog.getColor(QColor(self.store.class_colors().get(name, "#888888")), self, name)
        if color.isValid():
            self._class_change(
                lambda: self.store.set_class_color(name, color.name()), f"New colour for '{name}'"
            )
