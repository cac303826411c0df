"""The recipe editor's preview for text recipes: the user's text, and augmented versions of it with each change
marked (a synonym, an inserted word, a swapped word, a typo, and where words were deleted)."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.augment.text_preview import TextPreviewResult
from dmtl_studio.core.augment.text_tokens import TextChange, is_cjk_word
from dmtl_studio.ui.muted import muted_color, on_retone, readable, tone

#: How each kind of change is marked: (background, text colour, legend).
CHANGE_STYLES = {
    "synonym": ("#cfe5ff", "#0b3d91", "synonym"),
    "inserted": ("#c9f2c9", "#145214", "inserted"),
    "swapped": ("#ffeaa0", "#5c4500", "swapped"),
    "typo": ("#ffd3c2", "#8a2a00", "typo"),
    "deleted": ("", "#c0392b", "deleted"),
}
OWN_TEXT = "Your own text"
PLACEHOLDER = "Type or paste a text to try the recipe on it, or pick one of the project's texts above."


def _spaced(neighbour: str, cjk: bool) -> bool:
    """Whether a deleted word shown beside ``neighbour`` needs a space between them."""
    return neighbour.isalnum() and not cjk and not is_cjk_word(neighbour)


def marked_html(text: str, changes: tuple[TextChange, ...]) -> str:
    """``text`` as rich text with each change highlighted; deleted words are shown struck through where they were.

    The text's own spacing and line breaks are kept (``white-space: pre-wrap``).
    """
    out: list[str] = []
    at = 0
    for change in changes:
        out.append(html.escape(text[at : change.start]))
        background, colour, _ = CHANGE_STYLES.get(change.kind, ("#eeeeee", "#000000", ""))
        if change.kind == "deleted":
            # Shown (not in the text) where the words were, a space apart from the words around it (none beside
            # punctuation, and none in Chinese or Japanese, which puts no spaces between words).
            cjk = is_cjk_word(change.before[:1])
            before = " " if change.start and _spaced(text[change.start - 1], cjk) else ""
            after = " " if change.start < len(text) and _spaced(text[change.start], cjk) else ""
            out.append(
                f'{before}<span style="color:{readable(colour)}; text-decoration:line-through;">'
                f"{html.escape(change.before)}</span>{after}"
            )
        else:
            out.append(
                f'<span style="background-color:{background}; color:{colour};">'
                f"{html.escape(text[change.start : change.end])}</span>"
            )
        at = change.end
    out.append(html.escape(text[at:]))
    return "".join(out)


def legend_html() -> str:
    """The colours of the marks, one chip per kind of change."""
    chips = []
    for background, colour, label in CHANGE_STYLES.values():
        style = f"background-color:{background};" if background else "text-decoration:line-through;"
        shown = colour if background else readable(colour)  # without a ground of its own: on the window
        chips.append(f'<span style="{style} color:{shown};">&nbsp;{label}&nbsp;</span>')
    return "Marked: " + " ".join(chips)


class TextPreviewPanel(QWidget):
    """A text to preview (one of the project's, or the user's own) and the augmented samples below it."""

    text_changed = Signal()  # the text to preview changed (another sample chosen, or edited)
    reseed_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: tuple[tuple[str, str], ...] = ()
        self.text_choice = QComboBox()
        self.text_choice.setToolTip("One of the project's texts (the selected ones first), or your own text")
        self.text_choice.setMinimumContentsLength(16)
        self.reseed_button = QPushButton("Re-seed")
        self.reseed_button.setToolTip("Draw new random versions")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b>Preview</b>"))
        bar.addWidget(self.text_choice, 1)
        bar.addWidget(self.reseed_button)

        self.source = QPlainTextEdit()
        self.source.setPlaceholderText(PLACEHOLDER)
        self.source.setToolTip("The text the recipe is tried on: edit it, or paste your own")
        self.source.setFixedHeight(84)
        self.samples = QTextBrowser()
        self.samples.setOpenLinks(False)
        self.samples.setMinimumHeight(260)
        self.samples.setToolTip("Augmented versions of the text, as training makes them; changes are marked")
        self.legend = QLabel(legend_html())
        self.legend.setStyleSheet("font-size: 11px;")
        self.status = QLabel("Select texts in the browser, or type a text above, to preview the recipe.")
        tone(self.status)
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.source)
        layout.addWidget(self.legend)
        layout.addWidget(self.samples, 1)
        layout.addWidget(self.status)

        #: Whether the text in the box was typed or pasted by the user (kept across new selections), not one of the
        #: project's texts put there (replaced by the next selection, and gone with its project).
        self._typed = False
        self.text_choice.currentIndexChanged.connect(self._choice_changed)
        self.source.textChanged.connect(self._edited)
        self.source.textChanged.connect(self.text_changed)
        self.reseed_button.clicked.connect(self.reseed_requested)
        self._fill_choice()

    # ------------------------------------------------------------------ the texts
    def set_texts(self, items: list[tuple[str, str | None]]) -> None:
        """The project's texts to offer as ``(text, label)``; the first is shown unless the user typed their own."""
        items = tuple((text, label) for text, label in items if text.strip())[:20]
        if items == self._items:
            return
        self._items = items
        # Text the user typed stays in front; otherwise the first of the new texts is shown (a project's text left
        # in the box by an empty selection, or by another project, is not the user's: it kept the preview stuck).
        own = (
            self.text_choice.currentData() is None and self._typed and bool(self.source.toPlainText().strip())
        )
        self._fill_choice(keep_own=own)

    def _edited(self) -> None:
        self._typed = True  # only the user's edits reach here: the panel's own changes block the signal

    def _fill_choice(self, keep_own: bool = False) -> None:
        self.text_choice.blockSignals(True)
        self.text_choice.clear()
        for k, (text, label) in enumerate(self._items):
            first = " ".join(text.split())
            self.text_choice.addItem(
                f"{label or 'unlabelled'}: {first[:60]}{'…' if len(first) > 60 else ''}", k
            )
        self.text_choice.addItem(OWN_TEXT, None)
        self.text_choice.setCurrentIndex(self.text_choice.count() - 1 if keep_own or not self._items else 0)
        self.text_choice.blockSignals(False)
        if not keep_own:
            self._choice_changed(self.text_choice.currentIndex())

    def _choice_changed(self, index: int) -> None:
        chosen = self.text_choice.itemData(index)
        if chosen is not None:
            self.source.blockSignals(True)
            self.source.setPlainText(self._items[chosen][0])
            self.source.blockSignals(False)
            self._typed = False
        elif not self.source.toPlainText() or not self._typed or self._is_a_project_text():
            self.source.blockSignals(True)
            self.source.clear()
            self.source.blockSignals(False)
            self.source.setFocus()
        self.text_changed.emit()

    def _is_a_project_text(self) -> bool:
        return any(self.source.toPlainText() == text for text, _ in self._items)

    def request_items(self) -> tuple[tuple[str, str | None], ...]:
        """``(text, label)`` to preview: the text shown (as edited) first, the project's others as mixing partners."""
        text = self.source.toPlainText()
        if not text.strip():
            return ()
        chosen = self.text_choice.currentData()
        label = self._items[chosen][1] if chosen is not None else "your text"
        others = tuple(item for k, item in enumerate(self._items) if k != chosen)
        return ((text, label), *others)

    # ------------------------------------------------------------------ the samples
    def show_result(self, result: TextPreviewResult, status: str) -> None:
        """Show the samples of a preview, each with its changes marked, and ``status`` below them."""
        blocks = []
        for k, sample in enumerate(result.samples, start=1):
            caption = (
                f' <span style="color:{muted_color()};">({html.escape(sample.caption)})</span>'
                if sample.mixed
                else ""
            )
            unchanged = "" if sample.changes else f' <span style="color:{muted_color()};">(unchanged)</span>'
            blocks.append(
                f'<p style="white-space:pre-wrap; margin-bottom:8px;"><b>{k}.</b> '
                f"{marked_html(sample.text, sample.changes)}{unchanged}{caption}</p>"
            )
        self.samples.setHtml("".join(blocks))
        self.status.setText(status)
        on_retone(
            self.samples, lambda: self.show_result(result, status)
        )  # its marks and greys in a new palette

    def show_empty(self) -> None:
        """No text to preview (the text box emptied): no samples of a text no longer shown."""
        self.samples.clear()
        on_retone(self.samples, None)
        self.status.setText("Type a text above, or select texts in the browser, to preview the recipe.")

    def show_problem(self, message: str) -> None:
        """Say why no preview could be made (no WordNet, say); the old samples are cleared."""
        self.samples.clear()
        on_retone(self.samples, None)
        self.status.setText(f"No preview: {message}")

    def sample_html(self) -> str:
        """The samples as shown (for tests)."""
        return self.samples.toHtml()
