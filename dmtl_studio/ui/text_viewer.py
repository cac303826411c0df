"""The whole of the current text, read-only and word-wrapped, under its source, label, split and notes.

It takes the image viewer's place in a text project. Labelling keys pressed while it has the focus go on to the
browser around it (it labels the current text as the list does); Ctrl+C copies a selection.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from dmtl_studio.core.project.image_filter import SPLIT_TITLES
from dmtl_studio.core.project.images_table import ImageRecord

#: Keys the browser labels with; undo and redo are the browser's too (a read-only text has nothing to undo).
_LABEL_KEYS = {
    Qt.Key.Key_Space,
    Qt.Key.Key_Return,
    Qt.Key.Key_Enter,
    Qt.Key.Key_Backspace,
    Qt.Key.Key_Delete,
    *(Qt.Key(Qt.Key.Key_0 + digit) for digit in range(10)),
}
_BROWSER_SHORTCUTS = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo)


def text_caption(record: ImageRecord, color: str, model_note: str | None, words: int) -> str:
    """The rich-text caption above a text: its source, size, label, split, the model's word and notes."""
    label = html.escape(record.label or "unlabelled")
    split = f" · {SPLIT_TITLES.get(record.split or '', 'no split')}" if record.label else ""
    lines = [
        f"<span style='color:#555'>{html.escape(record.path)}</span> · {words} word(s)",
        f"<b style='color:{color}'>{label}</b>{split}",
    ]
    if model_note:
        lines.append(f"<span style='color:#555'>model: {html.escape(model_note)}</span>")
    if record.problem:
        lines.append(f"<span style='color:#c0392b'>{html.escape(record.problem)}</span>")
    if record.note:
        lines.append(f"<span style='color:#8a6d00'>note: {html.escape(record.note)}</span>")
    return "<br>".join(lines)


class TextBody(QPlainTextEdit):
    """A read-only, word-wrapped text that leaves the labelling keys and undo/redo to the browser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )

    @staticmethod
    def _is_label_key(event: QKeyEvent) -> bool:
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        return plain and event.key() in _LABEL_KEYS

    def event(self, event: QEvent) -> bool:
        # A text edit claims Ctrl+Z before the window's shortcuts see it: let the browser's undo have it.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and (any(event.matches(key) for key in _BROWSER_SHORTCUTS) or self._is_label_key(event))
        ):
            event.ignore()
            return False
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._is_label_key(event):
            event.ignore()  # the browser around this view labels
        else:
            super().keyPressEvent(event)


class TextViewer(QWidget):
    """The current text in full, with a caption; shown instead of the image viewer in a text project."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Select a text")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body = TextBody()
        self.item_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.body, 1)

    def show_text(self, item_id: int, caption: str, body: str) -> None:
        """Show the whole ``body`` of the text ``item_id`` from its start."""
        self.item_id = item_id
        self.caption.setText(caption)
        self.body.setPlainText(body)
        self.body.moveCursor(self.body.textCursor().MoveOperation.Start)

    def set_caption(self, caption: str) -> None:
        self.caption.setText(caption)

    def clear(self) -> None:
        self.item_id = None
        self.caption.setText("Select a text")
        self.body.clear()
