"""Dataset browser: a lazily filled thumbnail grid with labels, class counts and the problem files."""

from __future__ import annotations

import os
from collections import OrderedDict

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QListView,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.store import ImageRecord

FETCH_CHUNK = 500
ICON_SIZE = 112
PIXMAP_CACHE_SIZE = 2000  # thumbnails kept in memory; the rest are decoded again when scrolled back to

Index = QModelIndex | QPersistentModelIndex


class ImageListModel(QAbstractListModel):
    """The project's images, shown in chunks as the view scrolls (``canFetchMore``/``fetchMore``).

    Thumbnails are not decoded here: missing ones are collected and asked for through
    :attr:`thumbnails_wanted`, and arrive through :meth:`set_thumbnail`.
    """

    thumbnails_wanted = Signal(list)  # [(image id, path)]
    ImageIdRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._records: list[ImageRecord] = []
        self._shown = 0
        self._row_of: dict[int, int] = {}
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._asked: set[int] = set()
        self._failed: dict[int, str] = {}
        self._pending: list[tuple[int, str]] = []
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(15)
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
        self._asked.clear()
        self._pending.clear()
        self.endResetModel()

    def record(self, row: int) -> ImageRecord:
        return self._records[row]

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
        if role == Qt.ItemDataRole.DisplayRole:
            if record.problem:
                return "problem"
            return record.label or "unlabelled"
        if role == Qt.ItemDataRole.ToolTipRole:
            reason = f"\n{record.problem}" if record.problem else ""
            split = f" · {record.split}" if record.split else ""
            return f"{record.path}\n{record.label or 'unlabelled'}{split}{reason}"
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._pixmaps.get(record.id)
            if pixmap is not None:
                self._pixmaps.move_to_end(record.id)
                return pixmap
            if record.problem is not None or record.id in self._failed:
                return self._broken
            if record.id not in self._asked:
                self._asked.add(record.id)
                self._pending.append((record.id, record.path))
                self._flush.start()
            return self._placeholder
        if role == Qt.ItemDataRole.ForegroundRole:
            if record.problem or record.id in self._failed:
                return QColor("#c0392b")
            return None if record.label else QColor("#7f8c8d")
        if role == self.ImageIdRole:
            return record.id
        return None

    def _request_pending(self) -> None:
        if self._pending:
            # The newest request wins: the most recently painted items are asked for last, and so run first.
            batch, self._pending = self._pending, []
            self.thumbnails_wanted.emit(batch)

    def set_thumbnail(self, image_id: int, image: QImage) -> None:
        self._pixmaps[image_id] = QPixmap.fromImage(image)
        self._pixmaps.move_to_end(image_id)
        while len(self._pixmaps) > PIXMAP_CACHE_SIZE:
            evicted, _ = self._pixmaps.popitem(last=False)
            self._asked.discard(evicted)
        row = self._row_of.get(image_id)
        if row is not None and row < self._shown:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def set_thumbnail_failed(self, image_id: int, reason: str) -> None:
        self._failed[image_id] = reason
        row = self._row_of.get(image_id)
        if row is not None and row < self._shown:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def thumbnail_count(self) -> int:
        return len(self._pixmaps)


class DatasetBrowser(QWidget):
    """Thumbnails with their labels, per-class counts per split, and the files that could not be read."""

    thumbnails_wanted = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No project open. Use File ▸ Open project… or File ▸ New project…")
        self.summary.setWordWrap(True)
        self.model = ImageListModel(self)
        self.model.thumbnails_wanted.connect(self.thumbnails_wanted)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.view.setGridSize(QSize(128, 152))
        self.view.setSpacing(4)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.view.setModel(self.model)

        self.counts = QTableWidget(0, 4)
        self.counts.setHorizontalHeaderLabels(["Class", "Total", "Train", "Validation"])
        self.counts.verticalHeader().setVisible(False)
        self.counts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.counts.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("<b>Classes</b>"))
        side_layout.addWidget(self.counts, 1)
        side_layout.addWidget(self.problems)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    def show_project(
        self,
        name: str,
        records: list[ImageRecord],
        counts: dict[str, dict[str, int]],
        unlabelled: int,
        problems: list[tuple[str, str]],
    ) -> None:
        self.model.set_records(records)
        labelled = sum(c["total"] for c in counts.values())
        self.summary.setText(
            f"<b>{name}</b> — {len(records)} image(s): {labelled} labelled in {len(counts)} class(es), "
            f"{unlabelled} unlabelled, {len(problems)} problem file(s)"
        )
        self.counts.setRowCount(len(counts) + 1)
        for row, (class_name, c) in enumerate(counts.items()):
            for column, value in enumerate([class_name, c["total"], c["train"], c["val"]]):
                item = QTableWidgetItem(str(value))
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.counts.setItem(row, column, item)
        unlabelled_item = QTableWidgetItem("(unlabelled)")
        unlabelled_item.setForeground(QColor("#7f8c8d"))
        self.counts.setItem(len(counts), 0, unlabelled_item)
        self.counts.setItem(len(counts), 1, QTableWidgetItem(str(unlabelled)))
        self.counts.setItem(len(counts), 2, QTableWidgetItem(""))
        self.counts.setItem(len(counts), 3, QTableWidgetItem(""))
        if problems:
            shown = "<br>".join(f"• {os.path.basename(path)}: {reason}" for path, reason in problems[:20])
            more = f"<br>… and {len(problems) - 20} more" if len(problems) > 20 else ""
            self.problems.setText(f"<b>Problem files ({len(problems)})</b> — not used:<br>{shown}{more}")
        else:
            self.problems.setText("<b>Problem files</b>: none")
