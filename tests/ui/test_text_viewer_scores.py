"""Word attributions are readable without colour: words against the class are underlined with a wave, and
hovering any highlighted word shows its score (a highlight's own tooltip is never shown by a text edit)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextCharFormat

from dmtl_studio.ui.text_viewer import TextViewer


def test_words_against_are_underlined_and_every_highlighted_word_shows_its_score(qtbot) -> None:  # noqa: ANN001
    viewer = TextViewer()
    qtbot.addWidget(viewer)
    viewer.resize(500, 300)
    viewer.show()
    qtbot.waitExposed(viewer)
    text = "pump leak 🙂 near valve"
    viewer.show_text(7, "caption", text)
    viewer.explain_button.blockSignals(True)
    viewer.explain_button.setChecked(True)
    viewer.explain_button.blockSignals(False)
    words = [(0, 4, "pump", 0.30), (5, 9, "leak", 0.62), (12, 16, "near", -0.2), (17, 22, "valve", 0.0)]
    viewer.set_attributions(7, words, "Why 'leaks'")
    styles = {s.cursor.selectedText(): s.format.underlineStyle() for s in viewer.body.extraSelections()}
    wave, none = QTextCharFormat.UnderlineStyle.WaveUnderline, QTextCharFormat.UnderlineStyle.NoUnderline
    assert styles == {"pump": none, "leak": none, "near": wave}  # a score of 0 is not highlighted

    body = viewer.body

    def middle_of(word: str) -> object:
        """A point between the word's second and third letters (the document counts the emoji as two)."""
        cursor = body.textCursor()
        cursor.setPosition(len(text[: text.index(word) + 2].encode("utf-16-le")) // 2)
        return body.cursorRect(cursor).center()

    assert body.score_at(middle_of("leak")) == "leak: +0.620 log-odds (for the class)"
    assert body.score_at(middle_of("near")) == "near: -0.200 log-odds (against the class)"
    # The strongest word here moves the odds less than e-fold: it is not painted as a sure reason.
    alphas = {s.cursor.selectedText(): s.format.background().color().alphaF() for s in body.extraSelections()}
    assert alphas["leak"] == pytest.approx(0.75 * 0.62, abs=0.01) and alphas["pump"] < alphas["leak"]
    assert body.score_at(middle_of("valve")) == ""
    viewer.clear()
    assert body.scores == []
