"""The whole of the current text, read-only and word-wrapped, under its source, label, split and notes.

It takes the image viewer's place in a text project. Labelling keys pressed while it has the focus go on to the
browser around it (it labels the current text as the list does); Ctrl+C copies a selection.

The Explain button (or the G key), where images have Grad-CAM, asks for the chosen run's word attributions
(:attr:`TextViewer.explain_requested`) and highlights each word by its score (:meth:`TextViewer.set_attributions`):
green where the word speaks for the predicted class, red and underlined with a wave where it speaks against it
(the wave tells them apart without colour), stronger for larger scores; hovering a word shows its score.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QKeyEvent, QKeySequence, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.project.image_filter import SPLIT_TITLES
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.text_rows import is_removed_key, unremoved_key
from dmtl_studio.core.project.text_summary import describe_source
from dmtl_studio.ui.muted import muted_color, readable, tone
from dmtl_studio.ui.shortcuts import set_text_keeping_shortcut

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


#: Notes the browser writes that are not the model's word: a duplicate group's (file hashes) and a relabel's.
_NOT_THE_MODEL = ("duplicate group ", "relabelled ")


def note_line(note: str) -> str:
    """A browser note as a caption says it: ``model: …`` for what a model said, the others as they are (every
    note said "model:", a duplicate group's from file hashes too)."""
    return note if note.startswith(_NOT_THE_MODEL) else f"model: {note}"


def text_caption(record: ImageRecord, color: str, model_note: str | None, words: int) -> str:
    """The rich-text caption above a text: its source, size, label, split, the model's word and notes."""
    label = html.escape(record.label or "unlabelled")
    split = f" · {SPLIT_TITLES.get(record.split or '', 'no split')}" if record.label else ""
    lines = [
        # A row as people read it ("tickets.csv id T-7", not its key "/data/tickets.csv#id=T-7"); the count in
        # one piece (it wrapped inside "9 word(s)").
        f"<span style='color:{muted_color()}'>{html.escape(describe_source(unremoved_key(record.path)))}</span> · "
        f"{words:,}&nbsp;{'word' if words == 1 else 'words'}",
        f"<b style='color:{color}'>{label}</b>{split}",
    ]
    if model_note:
        lines.append(f"<span style='color:{muted_color()}'>{html.escape(note_line(model_note))}</span>")
    if record.problem:
        lines.append(f"<span style='color:{readable('#c0392b')}'>{html.escape(record.problem)}</span>")
    if record.note:
        lines.append(f"<span style='color:{readable('#8a6d00')}'>note: {html.escape(record.note)}</span>")
    if is_removed_key(record.path):
        lines.append(
            f"<span style='color:{readable('#8a6d00')}'>no longer in its file (gone when the file was imported again); "
            "kept with its label</span>"
        )
    return "<br>".join(lines)


class TextBody(QPlainTextEdit):
    """A read-only, word-wrapped text that leaves the labelling keys and undo/redo to the browser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: ``(start, end, word, score)`` of the highlighted words, in the document's positions: hovering one shows
        #: its score (a highlight's own tooltip is never shown by a text edit).
        self.scores: list[tuple[int, int, str, float]] = []
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

    def score_at(self, point: QPoint) -> str:
        """The tooltip for the word under ``point`` (viewport coordinates): its score, or ``""``."""
        cursor = self.cursorForPosition(point)  # the nearest place between two characters
        at = cursor.position()
        if at > 0 and self.cursorRect(cursor).left() > point.x():
            at -= 1  # the point is over the character before that place
        for start, end, word, score in self.scores:
            if start <= at < end:
                side = "for the class" if score > 0 else "against the class"
                return f"{word}: {score:+.3f} log-odds ({side})"
        return ""

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.score_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

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


#: The attribution (log-odds) from which a word takes the full colour, if no word scores more.
FULL_SCORE = 1.0


def highlight_color(score: float, scale: float) -> QColor:
    """Green for a positive score, red for a negative one; opacity grows with ``|score| / scale`` (max 0.75)."""
    strength = 0.0 if scale <= 0 else min(1.0, abs(score) / scale)
    color = QColor(46, 160, 67) if score > 0 else QColor(214, 39, 40)
    color.setAlphaF(0.75 * strength)
    return color


class TextViewer(QWidget):
    """The current text in full, with a caption; shown instead of the image viewer in a text project."""

    explain_requested = Signal(int, str)  # item id, the text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Select a text")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explain_button = QPushButton("Explain")
        self.explain_button.setCheckable(True)  # G is given to it by the browser while texts are shown
        self.explain_button.setToolTip(
            "Highlight the words the chosen run's prediction rests on (G): green for, red with a wavy underline "
            "against; hover a word for its score. "
            "Choose the run in the Evaluation area."
        )
        self.explain_button.toggled.connect(self._explain_toggled)
        self.explain_note = QLabel()
        self.explain_note.setWordWrap(True)
        tone(self.explain_note)
        self.explain_note.hide()
        self.body = TextBody()
        self.item_id: int | None = None
        self.highlighted = 0  # words highlighted now
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.explain_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.explain_note)
        layout.addWidget(self.body, 1)

    @property
    def explaining(self) -> bool:
        return self.explain_button.isChecked()

    def show_text(self, item_id: int, caption: str, body: str) -> None:
        """Show the whole ``body`` of the text ``item_id`` from its start."""
        self.item_id = item_id
        self.caption.setText(caption)
        self.body.setPlainText(body)
        self.body.moveCursor(self.body.textCursor().MoveOperation.Start)
        self._clear_highlight()
        self._ask_for_explanation()

    def set_caption(self, caption: str) -> None:
        self.caption.setText(caption)

    def clear(self) -> None:
        self.item_id = None
        self.caption.setText("Select a text")
        self.body.clear()
        self._clear_highlight()
        self.explain_note.hide()

    # ----------------------------------------------------------------- explanation
    def _explain_toggled(self, on: bool) -> None:
        # The checked look is faint in some styles: the label says the state too (G toggled it unseen, h25).
        set_text_keeping_shortcut(self.explain_button, "Explain: on" if on else "Explain")
        if on:
            self._ask_for_explanation()
        else:
            self._clear_highlight()
            self.explain_note.hide()

    def _ask_for_explanation(self) -> None:
        if self.explaining and self.item_id is not None and self.body.toPlainText().strip():
            self.explain_note.setText("Scoring each word (the text without it)…")
            self.explain_note.show()
            self.explain_requested.emit(self.item_id, self.body.toPlainText())

    def explain_again(self) -> None:
        """Score the text shown again (another run is chosen): its highlights were the last run's."""
        self._clear_highlight()
        self._ask_for_explanation()

    def _clear_highlight(self) -> None:
        self.body.setExtraSelections([])
        self.body.scores = []
        self.highlighted = 0

    def set_attributions(self, item_id: int, words: Sequence[tuple[int, int, str, float]], text: str) -> None:
        """Highlight ``(start, end, word, score)`` spans of the text ``item_id`` (ignored if another is shown)."""
        if item_id != self.item_id or not self.explaining:
            return
        # Scores are log-odds: a word that moves the class's odds e-fold (1.0) or more takes the full colour, one that
        # barely moves them stays faint even when no word does more (noise was painted as a reason, h25).
        scale = max(FULL_SCORE, max((abs(w[3]) for w in words), default=0.0))
        selections = []
        spans: list[tuple[int, int, str, float]] = []
        shown = self.body.toPlainText()

        def position(index: int) -> int:  # the document counts UTF-16 units, Python code points
            return len(shown[:index].encode("utf-16-le")) // 2

        for start, end, word, score in words:
            if score == 0 or shown[start:end] != word:
                continue
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.body.document())
            cursor.setPosition(position(start))
            cursor.setPosition(position(end), QTextCursor.MoveMode.KeepAnchor)
            char_format = QTextCharFormat()
            char_format.setBackground(highlight_color(score, scale))
            if score < 0:  # a second cue besides red and green, which many people cannot tell apart
                char_format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                char_format.setUnderlineColor(QColor("#7b1010"))
            selection.cursor, selection.format = cursor, char_format
            selections.append(selection)
            spans.append((position(start), position(end), word, score))
        self.body.setExtraSelections(selections)
        self.body.scores = spans
        self.highlighted = len(selections)
        self.explain_note.setText(text)
        self.explain_note.show()

    def show_explain_message(self, text: str) -> None:
        """Why there is no highlight (no run chosen, an image run, an error)."""
        self._clear_highlight()
        self.explain_note.setText(text)
        self.explain_note.show()
