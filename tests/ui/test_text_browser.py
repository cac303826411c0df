"""The browser on a text project: rows of text, the full-text view, keys, search, problems, the model's word."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from dmtl_studio.app import build_window
from dmtl_studio.core.evaluation.results import EvaluationResult
from dmtl_studio.core.project.splits import assign_splits
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.suggestions import build_suggestions
from dmtl_studio.core.project.texts_table import TextItem
from dmtl_studio.ui.dataset_browser import QUEUE_KEY
from dmtl_studio.ui.text_list import BODY_CHUNK, row_parts

TEXTS = [
    ("reports/1.txt", "Pump 3 leaks oil near the valve.\nReplaced the gasket on Monday.", "fault"),
    ("reports/2.txt", "Valve V7 sticks when cold; freed it with penetrating oil.", "fault"),
    ("reports/3.txt", "Annual inspection of the boiler: all readings within limits.", "routine"),
    ("reports/4.txt", "Greased the conveyor bearings as scheduled.", "routine"),
    ("reports/5.txt", "Fire alarm test in hall B passed.", "safety"),
    ("reports/6.txt", "Emergency exit in hall C was blocked by pallets; cleared.", "safety"),
    ("reports/7.txt", "The compressor trips after ten minutes under load.", None),
    ("reports/8.txt", "Weekly walk-through, nothing to report.", None),
    ("reports/9.txt", "A forklift driver had no high-visibility vest.", None),
]


def _make_project(folder: Path, texts=TEXTS, problems: int = 1) -> Path:  # noqa: ANN001
    with ProjectStore.create(folder, kind="text") as store:
        items = [TextItem(source, body, label) for source, body, label in texts]
        items += [TextItem(f"bad/{k}.txt", "", None, problem="empty text") for k in range(problems)]
        store.add_texts(items)
        assign_splits(store, val_fraction=0.5, test_fraction=0.0, seed=1)
    return folder


def _labels(project: Path) -> dict[str, str | None]:
    with ProjectStore.open(project) as store:
        return {im.path: im.label for im in store.images()}


@pytest.fixture
def text_project(tmp_path: Path) -> Path:
    return _make_project(tmp_path / "texts")


@pytest.fixture
def text_window(qtbot, text_project: Path):  # noqa: ANN001, ANN201
    window, controller = build_window(text_project)
    qtbot.addWidget(window)
    window.show()
    asked: list[object] = []
    window.browser.thumbnails_wanted.connect(asked.append)
    window.browser.view_image_wanted.connect(lambda *a: asked.append(a))
    window.asked = asked
    yield window, window.browser
    assert asked == [], "a text project must never ask for thumbnails or decoded images"
    controller.shutdown()


def _rows(browser) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    model = browser.model
    out = []
    for row in range(model.rowCount()):
        parts = row_parts(model.record(row), model)
        out.append((model.data(model.index(row)), parts.name, parts.split, parts.verdict))
    return out


def test_rows_show_the_first_lines_label_and_split(qtbot, qtmodeltester, text_window) -> None:  # noqa: ANN001
    window, browser = text_window
    assert browser.is_text and browser.viewers.currentWidget() is browser.text_viewer
    assert "10 text(s)" in browser.summary.text() and "1 problem text(s)" in browser.summary.text()
    assert browser.filter.itemText(0) == "All texts"
    rows = {r[0]: r for r in _rows(browser)}
    first = rows["Pump 3 leaks oil near the valve. Replaced the gasket on Monday."]  # line breaks joined
    assert first[1] == "fault" and first[2] in ("training", "validation")
    assert rows["Weekly walk-through, nothing to report."][1:] == ("unlabelled", "", "")
    assert row_parts(browser.model.record(0), browser.model).fill == browser.model.colors["fault"]
    assert browser.model.data(browser.model.index(0), Qt.ItemDataRole.DecorationRole) is None
    assert not browser.view.grab().isNull()  # the rows paint
    browser.view.scrollToBottom()
    qtbot.wait(100)  # thumbnails are asked for shortly after their items are painted: none may be
    assert window.asked == []
    qtmodeltester.check(browser.model)


def test_a_text_projects_menus_and_calibration_speak_of_texts(text_window) -> None:  # noqa: ANN001
    window, _browser = text_window
    assert window.export_folders_action.text() == "Export labelled texts as &folders of .txt files…"
    # As the project opens and when the view is cleared (another run chosen): "no image was scored" (h32).
    assert window.evaluation.reliability.title.text() == "Calibration: no text was scored"
    window.evaluation.clear_result()
    assert window.evaluation.reliability.title.text() == "Calibration: no text was scored"


def test_the_full_text_view_shows_the_current_text_with_its_source_and_label(text_window) -> None:  # noqa: ANN001
    _window, browser = text_window
    browser.view.setCurrentIndex(browser.model.index(0))
    viewer = browser.text_viewer
    assert viewer.body.toPlainText() == TEXTS[0][1]  # the whole text, its line breaks kept
    assert viewer.body.isReadOnly()
    caption = viewer.caption.text()
    assert "reports/1.txt" in caption and "fault" in caption and "12&nbsp;words" in caption


def test_number_keys_label_and_move_on_then_undo_and_redo(qtbot, text_window, text_project: Path) -> None:  # noqa: ANN001
    _window, browser = text_window
    browser.set_filter("unlabelled")
    assert browser.model.rowCount() == 3
    first, second = browser.model.record(0), browser.model.record(1)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_1)  # fault, routine, safety: key 1 is fault
    assert _labels(text_project)[first.path] == "fault"
    assert browser.view.currentIndex().row() == 1 and browser.text_viewer.item_id == second.id
    assert row_parts(browser.model.record(0), browser.model).name == "fault"  # the row shows it at once

    # The keys work the same while the full text has the focus.
    browser.text_viewer.body.setFocus()
    qtbot.keyClick(browser.text_viewer.body, Qt.Key.Key_3)
    assert _labels(text_project)[second.path] == "safety"
    qtbot.keyClick(browser.text_viewer.body, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(text_project)[second.path] is None
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(text_project)[first.path] is None
    qtbot.keyClick(
        browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert _labels(text_project)[first.path] == "fault"
    browser.view.setCurrentIndex(browser.model.index(0))
    qtbot.keyClick(browser.view, Qt.Key.Key_0)
    assert _labels(text_project)[first.path] is None
    # Unlabelling stays on the text (the jump to the next unlabelled one lost the person's place, h25).
    assert browser.view.currentIndex().row() == 0
    qtbot.keyClick(browser.view, Qt.Key.Key_Space)  # Space moves on, Shift+Space back, as in the grid
    assert browser.view.currentIndex().row() == 1
    qtbot.keyClick(browser.view, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert browser.view.currentIndex().row() == 0


def test_search_finds_words_in_the_texts_within_the_filter(qtbot, text_window) -> None:  # noqa: ANN001
    _window, browser = text_window
    qtbot.keyClicks(browser.search, "VALVE oil")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 2, timeout=2_000)
    assert {browser.model.record(r).path for r in range(2)} == {"reports/1.txt", "reports/2.txt"}
    browser.search.setText("hall")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 2, timeout=2_000)
    browser.set_filter("class:safety")
    assert browser.model.rowCount() == 2
    browser.search.setText("pallets")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=2_000)
    browser.set_filter("class:fault")
    assert browser.model.rowCount() == 0
    assert browser.text_viewer.item_id is None and browser.text_viewer.body.toPlainText() == ""
    browser.search.setText("")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 2, timeout=2_000)


def test_problem_texts_are_marked_and_listed(text_window) -> None:  # noqa: ANN001
    _window, browser = text_window
    browser.set_filter("problems")
    assert browser.model.rowCount() == 1
    record = browser.model.record(0)
    assert row_parts(record, browser.model).name == "problem"
    assert "empty text" in browser.text_viewer.caption.text()
    browser.view.setFocus()
    browser.label_key(1)  # a problem text cannot be labelled
    assert browser.store.labels_of([record.id]) == {record.id: None}


def test_suggestions_show_on_rows_queue_uncertain_first_and_enter_accepts(
    qtbot, text_window, text_project
) -> None:  # noqa: ANN001
    _window, browser = text_window
    unlabelled = [r for r in browser._all.values() if r.label is None and r.problem is None]
    ids = [r.id for r in unlabelled]
    # fault, routine, safety: the second text is the model's least certain.
    probabilities = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    suggestions = build_suggestions("/p/runs/r1", "r1", ("fault", "routine", "safety"), ids, probabilities)
    browser.search.setText("no such words")  # a search typed before showed the queue as "0 shown" (h32)
    browser.set_suggestions(suggestions)
    assert browser.filter.currentData() == QUEUE_KEY and browser.search.text() == ""
    assert [browser.model.record(r).id for r in range(3)] == [ids[1], ids[2], ids[0]]
    assert _rows(browser)[0][3] == "→ fault 40%"
    assert (
        "suggests fault 40% (run r1)" in browser.text_viewer.caption.text()
    )  # whose word, once runs are newer
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    assert _labels(text_project)[unlabelled[1].path] == "fault"
    assert row_parts(browser.model.record(0), browser.model).name == "fault"
    qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(text_project)[unlabelled[1].path] is None


def test_an_evaluation_shows_verdicts_and_the_confusion_cell_lists_its_texts(text_window) -> None:  # noqa: ANN001
    _window, browser = text_window
    labelled = [r for r in browser._all.values() if r.label in ("fault", "safety")]
    classes = ("fault", "routine", "safety")
    targets = np.array([classes.index(r.label) for r in labelled])
    probabilities = np.tile([0.1, 0.1, 0.8], (len(labelled), 1))  # every text called safety, 80 %
    result = EvaluationResult(
        run_dir="run",
        run_name="run",
        split="val",
        note="",
        classes=classes,
        image_ids=np.array([r.id for r in labelled]),
        paths=tuple(r.path for r in labelled),
        targets=targets,
        probabilities=probabilities,
    )
    browser.set_evaluation(result)
    browser.set_filter("eval:misclassified")
    assert {r[1] for r in _rows(browser)} == {"fault"}
    assert {r[3] for r in _rows(browser)} == {"✗ safety 80%"}
    browser.search.setText("no such words")  # a search typed before hid the cell's texts ("0 shown", h28)
    browser.show_confusion_cell(2, 2)
    assert browser.search.text() == "" and {r[3] for r in _rows(browser)} == {"✓ 80%"}
    selection = browser.view.selectionModel()
    selection.setCurrentIndex(browser.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    assert "model: ✓ safety 80%" in browser.text_viewer.caption.text()


def test_a_large_project_attaches_without_reading_every_text(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    texts = [
        (f"big.csv#{k}", f"Row {k}: " + " ".join(words[(k + j) % 10] for j in range(30)), None)
        for k in range(20_000)
    ]
    project = _make_project(tmp_path / "big", texts, problems=0)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    window.show()
    qtbot.waitUntil(lambda: browser.model.texts.bodies_read > 0, timeout=5_000)
    assert browser.model.rowCount() < len(texts)  # rows are fetched lazily, a chunk at a time
    assert browser.model.texts.bodies_read <= 2 * BODY_CHUNK  # bodies only for the rows painted
    browser._select_row(15_000)  # far down: that row's chunk is read, not the rows between
    qtbot.wait(50)
    read = browser.model.texts.bodies_read
    assert read <= 4 * BODY_CHUNK
    assert browser.text_viewer.body.toPlainText().startswith("Row 15000:")
    browser.search.setText("ROW 1999")  # found by the store: rows 1999, 11999 and 19990–19999
    qtbot.waitUntil(lambda: browser.model.total() == 12, timeout=5_000)
    assert browser.model.texts.bodies_read <= read + BODY_CHUNK
    controller.shutdown()


def test_opening_an_image_project_after_a_text_project_brings_the_grid_back(
    qtbot, text_project: Path, project: Path
) -> None:  # noqa: ANN001
    window, controller = build_window(text_project)
    qtbot.addWidget(window)
    window.resize(1280, 720)  # a laptop's window: the grid shows a few rows of thumbnails
    window.show()
    browser = window.browser
    assert browser.view.itemDelegate() is browser.text_delegate
    assert browser.view.viewMode() == browser.view.ViewMode.ListMode
    controller.open_project(str(project))
    assert not browser.is_text and browser.viewers.currentWidget() is browser.viewer
    assert browser.view.itemDelegate() is browser.thumbnail_delegate
    assert browser.view.viewMode() == browser.view.ViewMode.IconMode
    assert browser.filter.itemText(0) == "All images"
    qtbot.waitUntil(lambda: browser.model.thumbnail_count() >= 5, timeout=15_000)
    controller.shutdown()


def test_rows_of_a_closed_project_paint_without_text(qtbot, text_project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(text_project)
    qtbot.addWidget(window)
    window.show()
    browser = window.browser
    browser.model.texts.clear()
    controller.shutdown()  # closes the store while the list is still on screen
    assert browser.model.data(browser.model.index(0)) == ""
    assert not browser.view.grab().isNull()


def test_equal_texts_under_two_labels_are_warned_of_as_texts(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    texts = [*TEXTS, ("reports/10.txt", TEXTS[0][1], "routine")]  # the same report under another label
    window, controller = build_window(_make_project(tmp_path / "twice", texts))
    qtbot.addWidget(window)
    window.show()
    warning = window.browser.classes.warnings.text() + window.browser.classes.warnings.toolTip()
    assert "1 text(s) carry two or more labels (equal texts)" in warning
    assert "picture" not in warning and "files" not in warning
    controller.shutdown()


def test_a_text_gone_from_its_file_says_so_above_its_body() -> None:
    from dmtl_studio.core.project.images_table import ImageRecord
    from dmtl_studio.ui.text_viewer import text_caption

    def record(path: str) -> ImageRecord:
        return ImageRecord(7, path, "0" * 64, 10, None, None, None, "ok", "train")

    assert "no longer in its file" in text_caption(record("/d/t.csv#removed-7"), "#000", None, 2)
    assert "no longer in its file" not in text_caption(record("/d/t.csv#7"), "#000", None, 2)
    assert "no longer in the file" not in text_caption(
        record("/d/t.csv#removed-7"), "#000", None, 2
    )  # said once


def test_a_rows_caption_names_it_as_people_read_it() -> None:
    from dmtl_studio.core.project.images_table import ImageRecord
    from dmtl_studio.ui.text_viewer import text_caption

    keyed = ImageRecord(7, "/d/tickets.csv#id=T-1", "0" * 64, 10, None, None, None, "ok", "train")
    caption = text_caption(keyed, "#000", None, 9)
    # It showed the raw key "/d/tickets.csv#id=T-1" (docs promise "tickets.csv id T-1") and wrapped "9 word(s)".
    assert "tickets.csv id T-1" in caption and "#id=" not in caption and "9&nbsp;words" in caption
    one = text_caption(keyed, "#000", None, 1)
    assert "1&nbsp;word" in one and "1&nbsp;words" not in one


def test_only_what_a_model_said_is_called_the_model_s() -> None:
    from dmtl_studio.ui.text_viewer import note_line

    assert note_line("✓ safety 80%") == "model: ✓ safety 80%"
    assert note_line("suggests outage 71%") == "model: suggests outage 71%"
    duplicate = "duplicate group 2 (near, 2 images): spans splits"  # from file hashes, not a model
    assert note_line(duplicate) == duplicate
    assert note_line("relabelled square (was circle)") == "relabelled square (was circle)"
