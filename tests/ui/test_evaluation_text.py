"""A text project's evaluation in the window: the view shows the text run's results, a confusion cell lists its
texts in the browser, and Explain highlights the words of the current text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from dmtl_studio.core.evaluation.results import EvaluationResult
from dmtl_studio.core.project.store import ProjectStore

TIMEOUT = 120_000


def test_the_evaluation_view_shows_a_text_run_and_its_cells_list_texts(qtbot, text_studio) -> None:  # noqa: ANN001
    window, _controller, project, run_dir = text_studio
    view, browser = window.evaluation, window.browser
    assert Path(view.selected_run()).name == run_dir.name
    qtbot.mouseClick(view.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None and browser.evaluation is not None, timeout=TIMEOUT)
    result = view.result
    assert result.kind == "text" and "6 text(s) of the" in view.summary.text()
    cells = [[int(view.confusion.item(i, j).text()) for j in range(3)] for i in range(3)]
    assert cells == result.confusion.tolist() and sum(map(sum, cells)) == 6
    assert view.per_class.item(0, 0).text() == "cats"
    view.confusion.cellClicked.emit(0, 0)
    shown = [browser.model.record(r).id for r in range(browser.model.rowCount())]
    assert shown == result.cell_ids(0, 0) and shown
    browser.view.setCurrentIndex(browser.model.index(0))
    with ProjectStore.open(project) as store:
        body = store.text(shown[0])
    qtbot.waitUntil(lambda: browser.text_viewer.item_id == shown[0], timeout=5_000)
    assert browser.text_viewer.body.toPlainText() == body


def test_explain_highlights_the_words_of_the_current_text(qtbot, text_studio) -> None:  # noqa: ANN001
    window, _controller, _project, _run = text_studio
    browser = window.browser
    browser.set_filter("all")
    browser.view.setCurrentIndex(browser.model.index(0))
    viewer = browser.text_viewer
    qtbot.waitUntil(lambda: viewer.item_id is not None, timeout=5_000)
    assert viewer.explain_button.text() == "Explain" and viewer.explain_button.isVisibleTo(window)
    viewer.explain_button.setChecked(True)
    assert viewer.explain_button.text() == "Explain: on"  # the state in words, not only a faint checked look
    qtbot.waitUntil(lambda: viewer.highlighted > 0, timeout=TIMEOUT)
    assert "Why '" in viewer.explain_note.text()
    selections = viewer.body.extraSelections()
    words = viewer.body.toPlainText().split()
    assert 0 < len(selections) <= len(words)
    assert all(s.cursor.selectedText() in words for s in selections)
    # Another run's figures shown: the words are scored again, by it (they stayed the last run's, h32).
    asked: list[int] = []
    viewer.explain_requested.connect(lambda item_id, _text: asked.append(item_id))
    record = browser._all[viewer.item_id]
    browser.set_evaluation(
        EvaluationResult(
            run_dir="other",
            run_name="other",
            split="val",
            note="",
            classes=(record.label or "x", "y"),
            image_ids=np.array([record.id]),
            paths=(record.path,),
            targets=np.array([0]),
            probabilities=np.array([[0.7, 0.3]]),
        )
    )
    assert asked == [viewer.item_id] and viewer.highlighted == 0
    qtbot.waitUntil(lambda: viewer.highlighted > 0, timeout=TIMEOUT)
    viewer.explain_button.setChecked(False)
    assert viewer.highlighted == 0 and not viewer.body.extraSelections()
    assert viewer.explain_button.text() == "Explain"
