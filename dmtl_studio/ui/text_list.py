"""The list of a text project: one row per text with its label, split, the model's word and its first lines.

The browser's list model serves text rows too (a text item is a row of the images table): this module adds what
differs. :class:`TextPreviews` reads bodies from the store a chunk of rows at a time, only for the rows a view
paints, and keeps their beginnings; :class:`TextRowDelegate` paints a row. Nothing here decodes a picture: a
text's ``path`` is a source key (``notes.txt`` or ``tickets.csv#12``), never a file to open as an image.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QTextLayout
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from dmtl_studio.core.project.image_filter import SPLIT_TITLES
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.muted import muted_color, readable

logger = logging.getLogger(__name__)

#: Rows whose bodies are read together when one of them is first painted.
BODY_CHUNK = 200
#: Characters of each body kept for its row (two lines of the widest list hold far fewer).
PREVIEW_CHARS = 600
#: Previews kept in memory; the oldest are read again from the store when scrolled back to.
PREVIEW_CACHE_SIZE = 20_000
#: Text lines of a row's preview.
PREVIEW_LINES = 2
#: Width of the column holding the label, split and verdict, in pixels.
LABEL_COLUMN = 190
#: Filter titles of a text project, where they differ from an image project's.
TEXT_FILTER_TITLES = {"all": "All texts", "problems": "Problem texts"}


def preview_of(body: str) -> str:
    """The beginning of ``body`` as shown in its row: whitespace runs (line breaks too) become one space."""
    return " ".join(body[: PREVIEW_CHARS * 2].split())[:PREVIEW_CHARS]


class TextPreviews:
    """The beginnings of text bodies, read from ``store`` in chunks of :data:`BODY_CHUNK` rows.

    Asking for one row's preview reads the bodies of its whole chunk (those not kept already) with one query, so
    scrolling reads a few hundred bodies at a time and a project of 100,000 texts is never read at once.
    ``bodies_read`` counts the bodies read so far.
    """

    def __init__(self, store: ProjectStore, cache_size: int = PREVIEW_CACHE_SIZE) -> None:
        self.store = store
        self.cache_size = cache_size
        self.bodies_read = 0
        self._previews: OrderedDict[int, str] = OrderedDict()

    def preview(self, records: Sequence[ImageRecord], row: int) -> str:
        """The preview of ``records[row]``, reading its chunk of ``records`` first if needed."""
        item_id = records[row].id
        text = self._previews.get(item_id)
        if text is not None:
            self._previews.move_to_end(item_id)
            return text
        start = row - row % BODY_CHUNK
        wanted = [r.id for r in records[start : start + BODY_CHUNK] if r.id not in self._previews]
        try:
            bodies = self.store.texts(wanted)
        except sqlite3.Error as exc:  # the project was closed under a view still painting: show no text
            logger.debug("text previews not read: %s", exc)
            return ""
        self.bodies_read += len(bodies)
        for i in wanted:
            self._previews[i] = preview_of(bodies.get(i, ""))
        while len(self._previews) > self.cache_size:
            self._previews.popitem(last=False)
        self._previews.move_to_end(item_id)
        return self._previews[item_id]

    def clear(self) -> None:
        """Forget every preview (the bodies changed: a re-import)."""
        self._previews.clear()


class TextRows(Protocol):
    """What the delegate reads from the browser's list model."""

    colors: dict[str, str]
    suggested: dict[int, str]
    verdicts: dict[int, str]

    def record(self, row: int) -> ImageRecord: ...


@dataclass(frozen=True)
class RowParts:
    """What a text row shows besides the text: the label chip's name and colour (None: no chip), the split's
    name ("" when the text has none) and the model's word on it ("" when it has none)."""

    name: str
    fill: str | None
    split: str
    verdict: str


def row_parts(record: ImageRecord, rows: TextRows) -> RowParts:
    """The label, split and verdict shown for ``record``: a labelled text shows the evaluation's verdict or a
    doubt about its label, an unlabelled one the model's suggestion."""
    if record.problem:
        return RowParts("problem", "#c0392b", "", rows.verdicts.get(record.id, ""))
    if record.label:
        split = SPLIT_TITLES.get(record.split or "", "")
        fill = rows.colors.get(record.label, "#888888")
        return RowParts(record.label, fill, split, rows.verdicts.get(record.id, ""))
    return RowParts("unlabelled", None, "", rows.suggested.get(record.id, ""))


def verdict_color(verdict: str) -> QColor:
    """Green for a confirmed label, red for a contradicted one or a doubted label, blue for a suggestion."""
    if verdict.startswith("✓"):
        return QColor(readable("#1e7e34"))
    if verdict.startswith("✗"):
        return QColor(readable("#c0392b"))
    if verdict.startswith("→"):
        return QColor(readable("#1f5fa8"))
    return QColor(muted_color())


def readable_on(color: QColor) -> QColor:
    """Black or white, whichever reads better on ``color`` (relative luminance, ITU-R BT.709 weights)."""
    luminance = 0.2126 * color.redF() + 0.7152 * color.greenF() + 0.0722 * color.blueF()
    return QColor("#000000") if luminance > 0.55 else QColor("#ffffff")


class TextRowDelegate(QStyledItemDelegate):
    """Paints a text row: on the left the label as a chip in its class colour (or "unlabelled" / "problem"),
    the split and the model's verdict under it; on the right the text's first lines, elided to the width.

    The model must be the browser's list model (see :class:`TextRows`); the preview is its display text.
    """

    def row_height(self, option: QStyleOptionViewItem) -> int:
        return max(2, PREVIEW_LINES) * QFontMetrics(option.font).lineSpacing() + 14

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(LABEL_COLUMN + 200, self.row_height(option))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        model: TextRows = index.model()  # type: ignore[assignment]
        record = model.record(index.row())
        # The panel only (selection, hover): initStyleOption would ask the model for roles this row never shows.
        widget = option.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[operator]
        group = QPalette.ColorGroup.Active if selected else QPalette.ColorGroup.Normal
        text_color = option.palette.color(  # type: ignore[attr-defined]
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        rect: QRect = option.rect  # type: ignore[attr-defined]
        metrics = QFontMetrics(option.font)  # type: ignore[attr-defined]
        line = metrics.lineSpacing()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        left = rect.adjusted(8, 6, 0, 0)
        left.setWidth(LABEL_COLUMN - 16)
        self._paint_label(painter, option, record, model, left, line, selected)
        body_rect = rect.adjusted(LABEL_COLUMN, 6, -8, -6)
        body = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        if record.problem:
            body = f"{record.problem}. {body}" if body else record.problem
        painter.setPen(QColor(readable("#c0392b")) if record.problem and not selected else text_color)
        painter.setFont(option.font)  # type: ignore[attr-defined]
        self._paint_lines(painter, body, body_rect, option.font)  # type: ignore[attr-defined]
        rule = QColor(option.palette.color(QPalette.ColorRole.Text))  # type: ignore[attr-defined]
        rule.setAlpha(30)  # a faint line between rows, on a light list or a dark one
        painter.setPen(rule)
        painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())
        painter.restore()

    def _paint_label(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        record: ImageRecord,
        model: TextRows,
        area: QRect,
        line: int,
        selected: bool,
    ) -> None:
        font = QFont(option.font)  # type: ignore[attr-defined]
        bold = QFont(font)
        bold.setBold(True)
        parts = row_parts(record, model)
        name, fill = parts.name, QColor(parts.fill) if parts.fill else None
        split, verdict = parts.split, parts.verdict
        chip_metrics = QFontMetrics(bold)
        shown = chip_metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, area.width() - 12)
        chip = QRect(area.left(), area.top(), chip_metrics.horizontalAdvance(shown) + 12, line)
        if fill is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(chip, 4, 4)
            painter.setPen(readable_on(fill))
        else:
            painter.setPen(QColor("#dddddd") if selected else QColor("#7f8c8d"))
        painter.setFont(bold if fill is not None else font)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, shown)
        # Second line: the split (only labelled texts have one) and the model's word on the text.
        under = QRect(area.left(), area.top() + line + 2, area.width(), line)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        x = under.left()
        if split:
            painter.setPen(QColor("#dddddd") if selected else QColor(muted_color()))
            painter.drawText(under, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, split)
            x += metrics.horizontalAdvance(split) + metrics.horizontalAdvance("  ")
        if verdict:
            rest = QRect(x, under.top(), max(0, under.right() - x), line)
            painter.setPen(QColor("#ffffff") if selected else verdict_color(verdict))
            painter.drawText(
                rest,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(verdict, Qt.TextElideMode.ElideRight, rest.width()),
            )

    @staticmethod
    def _paint_lines(painter: QPainter, text: str, area: QRect, font: QFont) -> None:
        """``text`` word-wrapped to ``area``'s width, at most :data:`PREVIEW_LINES` lines, the last elided."""
        metrics = QFontMetrics(font)
        layout = QTextLayout(text, font)
        layout.beginLayout()
        y = 0
        lines: list[tuple[int, int]] = []
        while len(lines) < PREVIEW_LINES:
            text_line = layout.createLine()
            if not text_line.isValid():
                break
            text_line.setLineWidth(area.width())
            lines.append((text_line.textStart(), text_line.textLength()))
        layout.endLayout()
        for number, (start, length) in enumerate(lines):
            last = number == len(lines) - 1
            piece = text[start:] if last else text[start : start + length]
            if last:
                piece = metrics.elidedText(piece, Qt.TextElideMode.ElideRight, area.width())
            painter.drawText(
                QRect(area.left(), area.top() + y, area.width(), metrics.lineSpacing()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                piece.rstrip(),
            )
            y += metrics.lineSpacing()
