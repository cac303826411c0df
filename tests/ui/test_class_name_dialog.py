"""A class name that cannot be one is asked again with why, the typed name kept or mended (h32: "billing/refunds"
was refused in a message box and the name typed was lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui import class_name_dialog
from dmtl_studio.ui.class_name_dialog import ask_class_name, mended_class_name
from dmtl_studio.ui.dataset_browser import DatasetBrowser


class Answers:
    """Stands for the person at the form: gives the answers in turn and keeps what the form showed."""

    def __init__(self, *answers: tuple[str, bool]) -> None:
        self.answers = list(answers)
        self.shown: list[tuple[str, str]] = []  # (prompt, text in the field)

    def __call__(self, _parent, _title: str, prompt: str, text: str = "") -> tuple[str, bool]:  # noqa: ANN001
        self.shown.append((prompt, text))
        return self.answers.pop(0)


def test_a_slash_is_mended_and_other_refusals_keep_the_typed_name() -> None:
    assert mended_class_name("billing/refunds") == "billing-refunds"
    assert mended_class_name(" a\\b ") == "a-b"
    assert mended_class_name("..") == ".."  # nothing plain to mend: kept for the person to change
    assert mended_class_name("C:drive") == "C:drive"


def test_a_refused_name_is_asked_again_with_the_reason_and_the_mended_name(monkeypatch) -> None:  # noqa: ANN001
    person = Answers(("billing/refunds", True), ("billing-refunds", True))
    monkeypatch.setattr(class_name_dialog.QInputDialog, "getText", person)
    assert ask_class_name(None, "Add class", "Name of the new class:") == "billing-refunds"
    (first_prompt, first_text), (second_prompt, second_text) = person.shown
    assert first_text == "" and second_text == "billing-refunds"
    assert "'billing/refunds' cannot be a class name" in second_prompt
    assert "The form now holds 'billing-refunds'" in second_prompt and second_prompt.endswith(first_prompt)


def test_a_name_with_no_plain_mend_comes_back_as_typed_and_cancel_gives_none(monkeypatch) -> None:  # noqa: ANN001
    person = Answers(("C:stuff", True), ("C:stuff", False))
    monkeypatch.setattr(class_name_dialog.QInputDialog, "getText", person)
    assert ask_class_name(None, "Add class", "Name:") is None
    assert person.shown[1][1] == "C:stuff" and "reads as a drive on Windows" in person.shown[1][0]


@pytest.fixture
def browser(qtbot, tmp_path: Path) -> DatasetBrowser:  # noqa: ANN001
    from dmtl_studio.core.project.demo import create_demo_project

    create_demo_project(tmp_path / "p", per_class=2, unlabelled=0)
    widget = DatasetBrowser()
    qtbot.addWidget(widget)
    widget.attach(ProjectStore.open(tmp_path / "p"))
    return widget


def test_add_class_adds_the_mended_name_after_ok(browser: DatasetBrowser, monkeypatch) -> None:  # noqa: ANN001
    person = Answers(("billing/refunds", True), ("billing-refunds", True))
    monkeypatch.setattr(class_name_dialog.QInputDialog, "getText", person)
    browser._add_class()
    assert "billing-refunds" in browser.store.class_counts()
    browser.store.close()
