"""Text projects in the window: the kind in the New project form, the column dialog, the import and its cancel."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from dmtl_studio.app import build_window
from dmtl_studio.core.project.project_kind import create_project
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.new_project_dialog import NewProjectDialog
from dmtl_studio.ui.text_import_dialog import NO_COLUMN, PREVIEW_ROWS, TextImportDialog


def _table(path: Path, delimiter: str = ",") -> Path:
    rows = [["id", "review", "stars", "fold"]]
    rows += [
        [str(i), f"Review number {i}, quite long and wordy", "good" if i % 2 else "bad", "train"]
        for i in range(20)
    ]
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, delimiter=delimiter).writerows(rows)
    return path


def test_the_dialog_preselects_the_guessed_columns_and_shows_rows(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dialog = TextImportDialog(_table(tmp_path / "reviews.csv"))
    qtbot.addWidget(dialog)
    assert dialog.text_column.currentText() == "review"
    assert dialog.label_column.currentText() == "stars" and dialog.split_column.currentText() == "fold"
    assert dialog.table.rowCount() == PREVIEW_ROWS == 12 and dialog.table.columnCount() == 4
    assert dialog.table.verticalHeaderItem(1).text() == "row 2"  # the row number of its key
    assert dialog.table.item(1, 1).text() == "Review number 1, quite long and wordy"
    assert "[text]" in dialog.table.horizontalHeaderItem(1).text()
    assert "comma-separated, UTF-8" in dialog.how_read.text()
    assert dialog.columns() == {
        "text_column": "review",
        "label_column": "stars",
        "split_column": "fold",
        "id_column": None,  # an import keys rows by id only when asked, whatever the column's name
        "delimiter": None,
        "encoding": None,
        "header": True,
        "labels_from_file": False,
    }
    dialog.id_column.setCurrentText("id")
    assert dialog.columns()["id_column"] == "id" and "[id]" in dialog.table.horizontalHeaderItem(0).text()
    dialog.id_column.setCurrentText("review")  # the text column as the id is refused
    assert not dialog.import_button.isEnabled() and "different column" in dialog.problem.text()
    dialog.id_column.setCurrentText(NO_COLUMN)
    dialog.labels_from_file.setChecked(True)  # re-import: the file's labels win where they differ
    assert dialog.columns()["labels_from_file"] is True
    dialog.label_column.setCurrentText("review")  # one column for two roles is refused
    assert not dialog.import_button.isEnabled() and "different column" in dialog.problem.text()
    dialog.label_column.setCurrentText(NO_COLUMN)
    assert dialog.import_button.isEnabled() and dialog.columns()["label_column"] is None
    assert not dialog.labels_from_file.isEnabled() and dialog.columns()["labels_from_file"] is False
    assert "[label]" not in dialog.table.horizontalHeaderItem(2).text()


def test_the_preview_shows_texts_as_imported_and_names_the_rows_it_leaves_out(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    table = tmp_path / "m.tsv"
    table.write_text(
        "text\tlabel\nBell\x07 and ESC \x1b[31mred\x1b[0m\ta\nfine\tb\nragged\ta\textra\tmore\nlast\tb\n",
        encoding="utf-8",
    )
    dialog = TextImportDialog(table)
    qtbot.addWidget(dialog)
    assert dialog.table.item(0, 0).text() == "Bell and ESC red"  # what the import keeps
    assert [dialog.table.verticalHeaderItem(r).text() for r in range(3)] == ["row 1", "row 2", "row 4"]
    assert "Not shown, and a problem once imported: row 3:" in dialog.how_read.text()


def test_a_file_with_a_header_and_no_rows_cannot_be_imported_and_the_dialog_says_why(
    qtbot, tmp_path: Path
) -> None:  # noqa: ANN001
    path = tmp_path / "header_only.csv"
    path.write_text("text,label\n", encoding="utf-8")
    dialog = TextImportDialog(path)
    qtbot.addWidget(dialog)
    assert not dialog.import_button.isEnabled()
    assert dialog.problem.text() == "The file has no rows below its header: nothing to import."
    assert "The first" not in dialog.how_read.text()


def test_the_dialog_says_when_the_first_line_looks_like_data(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    headerless = tmp_path / "notes.csv"
    headerless.write_text(
        "Printer jams,hardware\nInvoice twice,billing\nScreen dark,hardware\n", encoding="utf-8"
    )
    for purpose, verb in (("import", "imported"), ("predict", "predicted")):
        dialog = TextImportDialog(headerless, purpose=purpose)
        qtbot.addWidget(dialog)
        assert not dialog.header_note.isHidden()
        assert dialog.header_note.text().startswith("The first line of notes.csv looks like a row of data")
        assert f"is not {verb}" in dialog.header_note.text()
    mixed = tmp_path / "Tickets.csv"  # names keep their case in the sentence
    mixed.write_text("Printer jams,Hardware\nInvoice twice,Billing\nScreen dark,Hardware\n", encoding="utf-8")
    dialog = TextImportDialog(mixed)
    qtbot.addWidget(dialog)
    assert (
        "The first line of Tickets.csv" in dialog.header_note.text()
        and "'Hardware'" in dialog.header_note.text()
    )
    dialog = TextImportDialog(_table(tmp_path / "reviews.csv"))
    qtbot.addWidget(dialog)
    assert dialog.header_note.isHidden()


def test_a_file_without_a_header_line_is_read_whole_when_the_box_is_ticked(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The warning gave no way out in the window: the user had to edit the file elsewhere (h25)."""
    headerless = tmp_path / "notes.csv"
    headerless.write_text(
        "Printer jams,hardware\nInvoice twice,billing\nScreen dark,hardware\n", encoding="utf-8"
    )
    for purpose in ("import", "predict"):
        dialog = TextImportDialog(headerless, purpose=purpose)
        qtbot.addWidget(dialog)
        assert "'The file has no header line'" in dialog.header_note.text()
        dialog.no_header.setChecked(True)
        assert dialog.preview.columns == ("column 1", "column 2") and dialog.header_note.isHidden()
        assert dialog.preview.rows[0] == ("Printer jams", "hardware")  # the first line is a row now
        assert dialog.columns()["header"] is False and dialog.columns()["text_column"] == "column 1"
        assert dialog.import_button.isEnabled()
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_text('{"text": "Printer jams"}\n', encoding="utf-8")
    dialog = TextImportDialog(jsonl)
    qtbot.addWidget(dialog)
    assert not dialog.no_header.isEnabled()  # JSON Lines has no header line


def test_a_chosen_delimiter_reads_the_file_again(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dialog = TextImportDialog(_table(tmp_path / "reviews.csv", ";"))
    qtbot.addWidget(dialog)
    assert dialog.preview.columns == ("id", "review", "stars", "fold")  # sniffed
    dialog.delimiter.setCurrentIndex(dialog.delimiter.findData(","))
    assert dialog.columns()["delimiter"] == ","
    assert len(dialog.preview.columns) == 1  # read with commas, the header is one column


def test_the_predict_form_asks_for_the_text_and_the_key_columns_only(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dialog = TextImportDialog(_table(tmp_path / "reviews.csv"), purpose="predict")
    qtbot.addWidget(dialog)
    dialog.show()
    assert (
        dialog.windowTitle() == "Predict texts from reviews.csv" and dialog.import_button.text() == "Predict"
    )
    assert dialog.id_column.isVisible() and dialog.text_column.isVisible()
    hidden = (dialog.label_column, dialog.split_column, dialog.delimiter, dialog.labels_from_file)
    assert not any(widget.isVisible() for widget in hidden)
    assert dialog.columns() == {
        "text_column": "review",
        "id_column": "id",
        "encoding": None,
        "header": True,
    }  # "id" taken as the key by its name
    assert "[id]" in dialog.table.horizontalHeaderItem(0).text()
    assert "[label]" not in dialog.table.horizontalHeaderItem(2).text()  # no label role when predicting
    dialog.id_column.setCurrentText("review")  # the text column as the key is refused
    assert not dialog.import_button.isEnabled() and "different column" in dialog.problem.text()
    dialog.id_column.setCurrentText(NO_COLUMN)
    assert dialog.import_button.isEnabled() and dialog.columns() == {
        "text_column": "review",
        "id_column": None,
        "encoding": None,
        "header": True,
    }
    with pytest.raises(ValueError, match="purpose"):
        TextImportDialog(tmp_path / "reviews.csv", purpose="train")


def test_a_new_text_project_imports_a_table_through_the_dialog(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    window, controller = build_window()
    qtbot.addWidget(window)

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, NewProjectDialog)
        dialog.location.setText(str(tmp_path))
        qtbot.keyClicks(dialog.name, "reviews")
        dialog.text_kind.setChecked(True)
        assert dialog.kind() == "text"
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(100, fill_in)
    window.new_action.trigger()
    project = tmp_path / "reviews"
    with ProjectStore.open(project) as store:
        assert store.kind == "text"
    assert window.import_action.text() == "&Import texts…" and window.import_text_folder_action.isVisible()
    assert "Import texts" in window.statusBar().currentMessage()

    def choose_columns() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, TextImportDialog)
        dialog.split_column.setCurrentText(NO_COLUMN)
        dialog.id_column.setCurrentText("id")
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(100, choose_columns)
    table = _table(tmp_path / "reviews.csv")
    window.ask_text_columns(str(table))
    qtbot.waitUntil(lambda: "Import: read 20 text(s)" in window.statusBar().currentMessage(), timeout=30_000)
    controller.import_thread.wait(10_000)
    # The whole summary stays in a box until closed (the status bar cut it at the window's edge, for seconds),
    # the window usable meanwhile; its split line is whole.
    box = window.summary_box
    assert box.isVisible() and not box.isModal() and box.windowTitle() == "Import finished"
    assert box.text().startswith("Read 20 text(s)") and "\n• Split: " in "\n" + box.informativeText()
    assert "seed 0" in box.informativeText()
    with ProjectStore.open(project) as store:
        assert sorted(store.class_names()) == ["bad", "good"] and len(store.texts()) == 20
        assert sorted(r.path for r in store.images()) == sorted(
            f"{table.absolute()}#id={i}" for i in range(20)
        )
    controller.shutdown()


def test_an_import_can_be_cancelled_and_keeps_what_it_read(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "texts" / "note"
    folder.mkdir(parents=True)
    for i in range(3000):
        (folder / f"{i}.txt").write_text(f"note number {i}")
    create_project(tmp_path / "p", kind="text").close()
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    window.import_texts_requested.emit(str(tmp_path / "texts"), {})
    assert window.import_cancel.isVisibleTo(window)
    window.import_cancel.click()
    qtbot.waitUntil(lambda: "Import: " in window.statusBar().currentMessage(), timeout=60_000)
    controller.import_thread.wait(10_000)
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.summary_box.windowTitle() == "Import stopped"
    assert not window.import_cancel.isVisibleTo(window)
    with ProjectStore.open(tmp_path / "p") as store:
        assert store.image_count() < 3000
    controller.shutdown()


def test_an_unreadable_table_is_said_before_any_dialog(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    window, controller = build_window()
    qtbot.addWidget(window)
    shown: list[str] = []
    monkeypatch.setattr(window, "show_error", lambda title, message: shown.append(message))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"text\n\x81\x8d\x8f\n")  # neither UTF-8 nor Windows-1252
    window.ask_text_columns(str(binary))
    assert len(shown) == 1 and "cannot be decoded" in shown[0] and "is not UTF-8" in shown[0]
    controller.shutdown()


def test_a_table_that_is_not_utf8_is_shown_read_as_windows_1252_and_imported_so(
    qtbot, tmp_path: Path
) -> None:  # noqa: ANN001
    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes("text,label\ncaf\u00e9 cr\u00e8me,a\nna\u00efve \u20ac price,b\n".encode("cp1252"))
    dialog = TextImportDialog(legacy)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.encoding_note.isVisible() and "not UTF-8" in dialog.encoding_note.text()
    assert dialog.table.item(0, 0).text() == "caf\u00e9 cr\u00e8me" and dialog.table.item(
        1, 0
    ).text().endswith("\u20ac price")
    assert "Windows-1252" in dialog.how_read.text() and dialog.import_button.isEnabled()
    assert dialog.columns()["encoding"] == "cp1252"
    dialog.encoding.setCurrentIndex(dialog.encoding.findData(None))  # UTF-8 by hand: refused, said why
    assert not dialog.import_button.isEnabled() and "cannot be decoded" in dialog.problem.text()
    assert not dialog.encoding_note.isVisible()
    dialog.encoding.setCurrentIndex(dialog.encoding.findData("cp1252"))
    assert dialog.import_button.isEnabled() and dialog.encoding_note.isVisible()
    with create_project(tmp_path / "p") as store:
        from dmtl_studio.core.project.text_import import import_texts

        import_texts(store, legacy, **dialog.columns())
        assert sorted(store.texts().values()) == ["caf\u00e9 cr\u00e8me", "na\u00efve \u20ac price"]
    utf8 = _table(tmp_path / "reviews.csv")
    plain = TextImportDialog(utf8)
    qtbot.addWidget(plain)
    assert not plain.encoding_note.text() and plain.columns()["encoding"] is None


def test_texts_imported_into_a_project_of_no_kind_yet_are_shown_as_texts(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """A project made without a kind (``dmtl-studio new P``) takes the kind of its first import; the window that
    opened it as images showed the 30 texts as 30 unreadable image files with "problem" tiles."""
    folder = tmp_path / "texts"
    for name in ("bug", "login"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            (folder / name / f"{i}.txt").write_text(f"{name} ticket number {i}")
    ProjectStore.create(tmp_path / "p").close()
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    assert window.project_kind == "images"
    # Its File menu offers both kinds' imports (it offered Import image folder… alone: texts only by the CLI).
    offered = {
        a.text() for a in window.menuBar().actions()[0].menu().actions() if a.isVisible() and a.isEnabled()
    }
    assert {
        "&Import image folder…",
        "Import &texts (CSV, TSV, JSON Lines)…",
        "Import a &folder of .txt files…",
    } <= offered
    window.import_texts_requested.emit(str(folder), {})
    qtbot.waitUntil(lambda: "Import: " in window.statusBar().currentMessage(), timeout=60_000)
    controller.import_thread.wait(10_000)
    assert (
        window.project_kind == "text" and window.browser.viewers.currentWidget() is window.browser.text_viewer
    )
    assert (
        "6 text(s)" in window.browser.summary.text() and "0 problem text(s)" in window.browser.summary.text()
    )
    # The recipe editor too: it kept the image recipe, which a run then refused for a text project (h34).
    assert window.recipe.kind == "text" and window.recipe.recipe().kind == "text"
    assert window.import_action.text() == "&Import texts…" and not window.import_texts_action.isVisible()
    controller.shutdown()


def test_an_image_project_decided_by_its_first_import_stops_offering_texts(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Images imported into a project of no kind yet decide it: the text imports leave the File menu."""
    folder = tmp_path / "imgs" / "cat"
    folder.mkdir(parents=True)
    for i in range(2):
        Image.new("RGB", (16, 16), (40 * i, 0, 0)).save(folder / f"{i}.png")
    ProjectStore.create(tmp_path / "p").close()
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    assert window.import_texts_action.isVisible() and window.import_text_folder_action.isVisible()
    window.import_requested.emit(str(tmp_path / "imgs"))
    qtbot.waitUntil(lambda: "Import: " in window.statusBar().currentMessage(), timeout=60_000)
    controller.import_thread.wait(10_000)
    assert not window.import_texts_action.isVisible() and not window.import_text_folder_action.isVisible()
    assert window.project_kind == "images" and window.import_action.text() == "&Import image folder…"
    controller.shutdown()
