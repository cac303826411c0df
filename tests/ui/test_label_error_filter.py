"""Labels ▸ Find suspected label errors: the browser's filter, most suspect first, and Enter relabels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.dataset_browser import LABEL_ERRORS_KEY


@pytest.fixture
def flipped_project(project: Path) -> tuple[Path, dict[str, str]]:
    """The shapes project with one image of each class given a wrong label; returns name -> true class."""
    truth = {}
    with ProjectStore.open(project) as store:
        images = [im for im in store.images(usable_only=True) if im.label is not None]
        classes = sorted({im.label for im in images})
        for position, label in enumerate(classes):
            victim = next(im for im in images if im.label == label)
            store.set_label([victim.id], classes[(position + 1) % len(classes)])
            truth[Path(victim.path).name] = label
    return project, truth


def _labels(project: Path) -> dict[str, str | None]:
    with ProjectStore.open(project) as store:
        return {Path(im.path).name: im.label for im in store.images()}


def test_suspected_label_errors_filter_and_enter_relabels(
    qtbot, flipped_project, small_backbone_config
) -> None:  # noqa: ANN001
    project, truth = flipped_project
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    browser = window.browser
    try:
        window.label_errors_requested.emit()  # the Labels menu's action
        qtbot.waitUntil(lambda: browser.filter.currentData() == LABEL_ERRORS_KEY, timeout=180_000)
        assert browser.filter.currentText().startswith("Suspected label errors")
        # The Evaluation area's line is a record of one check: it says when, and on which labels (a slot of its
        # own on the thread's signal: one queued call each, so it may come a turn of the event loop later).
        qtbot.waitUntil(
            lambda: (
                re.match(
                    r"Label-error check at \d\d:\d\d \(on the labels of then\): \d+ of \d+ labelled",
                    window.evaluation.message.text(),
                )
                is not None
            ),
            timeout=10_000,
        )
        shown = [browser.model.record(r) for r in range(browser.model.rowCount())]
        assert shown and all(r.label is not None for r in shown)
        top = [Path(r.path).name for r in shown[: len(truth) + 1]]
        caught = [name for name in truth if name in top]
        assert len(caught) >= 2, (truth, top)
        first = shown[0]
        given, suggested = browser.relabel[first.id]
        text = browser.model.data(browser.model.index(0))
        assert text.startswith(f"{given} → {suggested} ")  # the thumbnail names the class it looks like

        browser.view.setFocus()
        browser._select_row(0)
        qtbot.keyClick(browser.view, Qt.Key.Key_Return)
        assert _labels(project)[Path(first.path).name] == suggested
        if Path(first.path).name in truth:
            assert suggested == truth[Path(first.path).name]
        assert browser.view.currentIndex().row() == 1  # on to the next suspect
        assert browser.notes[first.id] == f"relabelled {suggested} (was {given})"
        qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert _labels(project)[Path(first.path).name] == given  # one undo step
        # ... and it is a suspect again, with its suggestion: Enter takes it once more (it said "No suggestions
        # yet: press Suggest labels", h35).
        assert browser.relabel[first.id] == (given, suggested)
        assert browser.model.data(browser.model.index(browser.model.row_of(first.id))).startswith(
            f"{given} → {suggested} "
        )
        browser._select_row(browser.model.row_of(first.id))
        qtbot.keyClick(browser.view, Qt.Key.Key_Return)
        assert _labels(project)[Path(first.path).name] == suggested
        qtbot.keyClick(browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(
            browser.view,
            Qt.Key.Key_Z,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        assert _labels(project)[Path(first.path).name] == suggested  # redone: relabelled again
        assert first.id not in browser.relabel and browser.notes[first.id].startswith(
            f"relabelled {suggested}"
        )
    finally:
        controller.shutdown()


def test_too_few_labels_per_class_is_said_in_the_status_bar(qtbot, project: Path) -> None:  # noqa: ANN001
    with ProjectStore.open(project) as store:
        circles = [im.id for im in store.images(usable_only=True) if im.label == "circle"]
        # One circle left: no number of folds can check it (3 would run with 3 folds: the window has no folds box)
        store.set_label(circles[1:], None)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.show()
    try:
        window.label_errors_requested.emit()
        qtbot.waitUntil(
            lambda: "too few in: circle (1)" in window.statusBar().currentMessage(), timeout=30_000
        )
        assert "label at least one more image of it" in window.statusBar().currentMessage()
        assert window.browser.filter.findData(LABEL_ERRORS_KEY) == -1
    finally:
        controller.shutdown()


def test_the_check_s_line_says_when_nothing_was_found_and_how_many_folds_ran(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """ "0 of 126 … may carry a wrong label. The browser shows them most suspect first" was said of an empty list,
    and a check run with fewer folds (its smallest class) did not say so (h35)."""
    from dmtl_studio.core.quality.label_errors import LabelErrorReport, SuspectedLabel

    ProjectStore.create(tmp_path / "p").close()
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    clean = LabelErrorReport((), ("a", "b"), 126, 5)
    said = controller._label_errors_said(clean)
    assert said.endswith("(on the labels of then): none of the 126 labelled image(s) looks mislabelled.")
    suspect = SuspectedLabel(1, "/x/1.png", "a", "b", 0.9, "train")
    said = controller._label_errors_said(LabelErrorReport((suspect,), ("a", "b"), 9, 2))
    assert (
        "(on the labels of then; 2 folds, as the smallest class has 2 labelled image(s)): 1 of 9 labelled"
        in said
    )
    controller.shutdown()
