"""The recipe editor for a text project: text operations and presets, and the live preview of the user's own texts
with the changed words marked, through the real preview worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QTextCursor

from dmtl_studio.core.augment.choice import ONE_OF
from dmtl_studio.core.augment.presets import TEXT_PRESETS, preset
from dmtl_studio.core.augment.recipe import Recipe, Step, save_recipe
from dmtl_studio.core.augment.registry import operations
from dmtl_studio.core.augment.text_preview import TextPreviewResult
from dmtl_studio.core.augment.wordnet import SYSTEM_WORDNET, WORDNET_ENV
from dmtl_studio.ui.recipe_editor import RecipeEditor, _FloatControl
from dmtl_studio.ui.text_preview_panel import OWN_TEXT, TextPreviewPanel
from dmtl_studio.workers.preview import PreviewService

needs_wordnet = pytest.mark.skipif(
    not (SYSTEM_WORDNET / "data.noun").is_file(), reason="Debian's wordnet-base is not installed"
)

TEXTS = [
    ("The customer reported that the invoice total was wrong twice this month.", "billing"),
    ("Nobody can log in since the morning; the whole office is waiting.", "outage"),
    ("Please change the delivery address on my last order.", "orders"),
]


@pytest.fixture
def editor(qtbot) -> Iterator[tuple[RecipeEditor, PreviewService]]:  # noqa: ANN001
    editor = RecipeEditor(kind="text")
    qtbot.addWidget(editor)
    service = PreviewService()
    editor.preview_requested.connect(service.request)
    service.ready.connect(editor.show_preview)
    service.failed.connect(editor.show_preview_failed)
    yield editor, service
    service.shutdown()


def marked_fragments(panel: TextPreviewPanel) -> list[tuple[str, str]]:
    """``(text, how)`` of each run of characters shown highlighted or struck through, in order."""
    document = panel.samples.document()
    cursor = QTextCursor(document)
    runs: list[tuple[str, str, int]] = []
    for position in range(1, document.characterCount()):
        cursor.setPosition(position)
        fmt = cursor.charFormat()
        how = (
            "struck"
            if fmt.fontStrikeOut()
            else fmt.background().color().name()
            if fmt.background().style().value
            else ""
        )
        char = document.characterAt(position - 1)
        if how and runs and runs[-1][1] == how and runs[-1][2] == position - 1:
            runs[-1] = (runs[-1][0] + char, how, position)
        elif how:
            runs.append((char, how, position))
    return [(text.strip(), how) for text, how, _ in runs if text.strip()]


def test_a_text_editor_offers_text_operations_and_presets(editor) -> None:  # noqa: ANN001
    widget, _ = editor
    offered = {widget.add_choice.itemData(i) for i in range(widget.add_choice.count())}
    assert offered == {op.name for op in operations("text")}
    names = [widget.presets.itemData(i) for i in range(1, widget.presets.count())]
    assert names == list(TEXT_PRESETS)
    assert widget.recipe() == preset("eda_light", "text") and widget.recipe().kind == "text"
    assert widget.text_preview.isVisibleTo(widget) and not widget.image_preview.isVisibleTo(widget)
    widget.set_kind("images")
    assert widget.recipe() == preset("light") and widget.image_preview.isVisibleTo(widget)
    # An image recipe also offers the one_of step (one operation per image, drawn from a list).
    assert {widget.add_choice.itemData(i) for i in range(widget.add_choice.count())} == {
        op.name for op in operations()
    } | {ONE_OF}


@needs_wordnet
def test_preview_marks_exactly_the_changed_words(qtbot, editor) -> None:  # noqa: ANN001
    widget, _ = editor
    widget.set_recipe(
        Recipe(
            (Step.of("synonym_replacement", 1.0, rate=0.3), Step.of("random_deletion", 1.0, rate=0.2)),
            kind="text",
        )
    )
    with qtbot.waitSignal(widget.preview_shown, timeout=20_000) as shown:
        widget.set_texts(TEXTS)
    result = shown.args[0]
    assert isinstance(result, TextPreviewResult) and len(result.samples) == 6
    assert result.original == TEXTS[0][0] and result.label == "billing"
    expected = []
    for sample in result.samples:
        for change in sample.changes:
            if change.kind == "deleted":
                expected.append((change.before, "struck"))
            else:
                expected.append((sample.text[change.start : change.end], "#cfe5ff"))
    assert expected and any(how == "struck" for _, how in expected)
    assert marked_fragments(widget.text_preview) == expected
    assert "6 training samples of 'billing'" in widget.text_preview.status.text()


@needs_wordnet
def test_own_text_and_rate_changes_update_the_preview(qtbot, editor) -> None:  # noqa: ANN001
    widget, _ = editor
    widget.set_recipe(Recipe((Step.of("random_swap", 1.0, rate=0.1),), kind="text"))
    with qtbot.waitSignal(widget.preview_shown, timeout=20_000):
        widget.set_texts(TEXTS)
    panel = widget.text_preview
    with qtbot.waitSignal(widget.preview_shown, timeout=10_000) as shown:
        panel.text_choice.setCurrentIndex(panel.text_choice.findText(OWN_TEXT))
        panel.source.setPlainText("alpha beta gamma delta epsilon zeta eta theta")
    own = shown.args[0]
    assert own.original == "alpha beta gamma delta epsilon zeta eta theta" and own.label == "your text"
    assert all(sorted(s.text.split()) == sorted(own.original.split()) for s in own.samples)
    before = sum(len(s.changes) for s in own.samples)
    control = widget.form_host.findChild(_FloatControl, "param_rate")
    with qtbot.waitSignal(widget.preview_shown, timeout=10_000) as shown:
        control.spin.setValue(0.5)
    assert widget.recipe().steps[0].values["rate"] == pytest.approx(0.5)
    assert sum(len(s.changes) for s in shown.args[0].samples) > before
    with qtbot.waitSignal(widget.preview_shown, timeout=10_000) as shown:
        control.spin.setValue(0.0)
    assert all(s.text == own.original and not s.changes for s in shown.args[0].samples)
    assert "(unchanged)" in panel.samples.toPlainText()
    panel.source.setPlainText("   ")  # the text emptied: no samples of the text no longer there
    qtbot.waitUntil(lambda: not panel.samples.toPlainText().strip(), timeout=5_000)
    assert panel.status.text().startswith("Type a text above")


def test_missing_wordnet_is_said_in_the_preview(qtbot, editor, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    widget, _ = editor
    monkeypatch.setenv(WORDNET_ENV, str(tmp_path))
    with qtbot.waitSignal(widget.preview_requested, timeout=5_000):
        widget.set_texts(TEXTS)
    # The default recipe's other steps are previewed, as a run uses them; the synonym steps are said to be out.
    qtbot.waitUntil(
        lambda: "left out here and in training" in widget.text_preview.status.text(), timeout=10_000
    )
    assert "apt-get install wordnet-base" in widget.text_preview.status.text()
    assert widget.text_preview.samples.toPlainText().strip()
    with qtbot.waitSignal(widget.preview_requested, timeout=5_000):
        widget.set_recipe(Recipe((Step.of("synonym_replacement"),), kind="text"))
    qtbot.waitUntil(lambda: "No preview" in widget.text_preview.status.text(), timeout=10_000)
    # Without synonym steps the preview works.
    with qtbot.waitSignal(widget.preview_shown, timeout=10_000):
        widget.set_recipe(preset("typos", "text"))
    assert "No preview" not in widget.text_preview.status.text()


def test_an_image_recipe_is_not_loaded_into_a_text_project(editor, tmp_path: Path) -> None:  # noqa: ANN001
    widget, _ = editor
    save_recipe(preset("medium"), tmp_path / "medium.json")
    assert not widget.import_file(tmp_path / "medium.json")
    assert "is an image recipe, and this project needs a text recipe" in widget.message.text()
    assert widget.recipe() == preset("eda_light", "text")
    save_recipe(preset("typos", "text"), tmp_path / "typos.json")
    assert widget.import_file(tmp_path / "typos.json") and widget.recipe() == preset("typos", "text")


def test_importing_a_recipe_of_the_other_kind_refuses_before_it_asks(
    editor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """It asked "Replace it with the recipe in medium.json?" and then refused the file anyway (h25)."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    widget, _ = editor
    own = Recipe((Step.of("random_swap", 1.0, rate=0.3),), kind="text")
    widget.set_recipe(own)
    assert widget.is_custom()
    save_recipe(preset("medium"), tmp_path / "medium.json")
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "medium.json"), ""))
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes
    )
    widget._ask_import()
    assert asked == [] and widget.recipe() == own and "is an image recipe" in widget.message.text()
    save_recipe(preset("typos", "text"), tmp_path / "typos.json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "typos.json"), ""))
    widget._ask_import()
    assert len(asked) == 1 and widget.recipe() == preset("typos", "text")  # a loadable file asks first


@needs_wordnet
def test_a_text_project_opens_with_a_text_recipe_previewed_on_its_texts(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from dmtl_studio.app import build_window
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.project.texts_table import TextItem

    with ProjectStore.create(tmp_path / "p", kind="text") as store:
        store.add_texts(TextItem(f"tickets.csv#{k}", text, label) for k, (text, label) in enumerate(TEXTS))
        store.set_meta("recipe", preset("typos", "text").to_json())
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    editor = window.recipe
    try:
        assert editor.kind == "text" and editor.recipe() == preset("typos", "text")
        qtbot.waitUntil(lambda: "training samples" in editor.text_preview.status.text(), timeout=20_000)
        assert editor.text_preview.source.toPlainText() == TEXTS[0][0]
        # An edit is stored in the project as a text recipe.
        editor.add_step("random_swap")

        def stored() -> Recipe:
            with ProjectStore.open(tmp_path / "p") as store:
                return Recipe.from_json(store.get_meta("recipe"))

        qtbot.waitUntil(lambda: len(stored().steps) == 2)
        assert stored().kind == "text" and stored().steps[1].operation == "random_swap"
    finally:
        controller.shutdown()


@pytest.mark.parametrize(
    ("text", "deleted", "shown"),
    [
        ("Nobody was hurt, but", [2], "Nobody was ~~hurt~~, but"),  # was drawn after the comma
        ("the loading dock; next", [2], "the loading ~~dock~~; next"),
        ("it was replaced.", [2], "it was ~~replaced~~."),  # not "~~replaced~~ ." with a space
        ("big, red and blue", [1], "big, ~~red~~ and blue"),
        ("big, red and blue", [1, 2], "big, ~~red and~~ blue"),
        ("作業員が負傷した", [0, 1], "~~作業~~員が負傷した"),  # no space between Japanese characters
    ],
)
def test_a_deletion_is_shown_on_its_side_of_the_punctuation(
    text: str, deleted: list[int], shown: str
) -> None:
    import re

    from dmtl_studio.core.augment.text_tokens import Tokens
    from dmtl_studio.ui.text_preview_panel import marked_html

    tokens = Tokens(text)
    for index in sorted(deleted, reverse=True):
        tokens.delete(index)
    html = marked_html(*tokens.render_changes())
    assert re.sub(r"<span[^>]*>(.*?)</span>", r"~~\1~~", html) == shown


def test_the_preview_follows_the_selection_after_an_empty_one_or_another_project(qtbot) -> None:  # noqa: ANN001
    """A project's text left in the box (by an empty selection, or a project switch) was taken for one the user
    typed: the preview stayed on it as "Your own text" and no longer followed the browser (h25)."""
    panel = TextPreviewPanel()
    qtbot.addWidget(panel)
    panel.set_texts([("Credit note missing for the cancelled order", "billing")])
    assert panel.source.toPlainText().startswith("Credit note")
    panel.set_texts([])  # nothing selected, or another project opened
    panel.set_texts([("The pump leaks oil", "leak"), ("The valve is stuck", "stuck")])
    assert panel.source.toPlainText() == "The pump leaks oil" and panel.text_choice.currentData() == 0
    # A text the user typed does stay in front of a new selection.
    panel.text_choice.setCurrentIndex(panel.text_choice.findText(OWN_TEXT))
    panel.source.setPlainText("my own words about a broken pump")
    panel.set_texts([("Another ticket", "billing")])
    assert panel.source.toPlainText() == "my own words about a broken pump"
