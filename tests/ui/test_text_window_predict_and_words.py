"""A text project's window speaks of texts, not images (the CSV label import's status, the confusion cells), and
its evaluation view predicts a table, a .txt file or a folder of .txt files into a predictions CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from dmtl_studio.core.project.interop import export_csv
from dmtl_studio.ui.text_import_dialog import NO_COLUMN

TIMEOUT = 120_000


def test_the_csv_label_import_and_the_confusion_cells_count_texts(qtbot, text_studio, tmp_path: Path) -> None:  # noqa: ANN001
    window, controller, _project, _run_dir = text_studio
    labels = tmp_path / "labels.csv"
    written = export_csv(controller.store, labels)
    window.import_csv_requested.emit(str(labels))
    status = window.statusBar().currentMessage()
    assert status.startswith(f"Labelled {written} text(s), added 0, 0 problem(s)"), status
    assert "image" not in status
    window.export_folder_requested.emit(str(tmp_path / "by-class"))
    assert window.statusBar().currentMessage() == f"Copied {written} labelled text(s)"
    assert window.dataset_map.status.text() == "Compute the map to see the texts laid out by their features."

    strip = window.browser.classes.key_strip
    for tip in [strip.title.toolTip()] + [chip.toolTip() for chip in strip.chips]:
        assert "selected texts" in tip and "image" not in tip, tip
    from dmtl_studio.ui.split_dialog import SplitDialog

    dialog = SplitDialog(window, noun="texts")
    qtbot.addWidget(dialog)
    dialog.val.setValue(0.5)
    dialog.test.setValue(0.5)
    dialog._accept()
    assert dialog.error.text() == "Leave at least 5 % of the texts for training."

    view = window.evaluation
    view.confusion.show_matrix(np.array([[2, 1], [0, 3]]), ["cats", "money"])
    assert view.confusion.item(0, 1).toolTip() == "true cats, predicted money: 1 text(s)"
    for tip in (view.confusion.toolTip(), view.evaluate_button.toolTip(), view.suggest_button.toolTip()):
        assert "text" in tip and "image" not in tip, tip


def test_the_evaluation_view_predicts_a_table_a_file_and_a_folder_of_texts(
    qtbot, text_studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QFileDialog

    window, _controller, _project, _run_dir = text_studio
    view = window.evaluation
    assert (
        view.predict_button.text() == "Predict texts…"
        and view.predict_button.menu() is view.predict_texts_menu
    )
    assert "table" in view.predict_button.toolTip()

    table = tmp_path / "news.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows(
            [
                ["a", "the kitten purred on my lap"],
                ["b", "stocks fell and bonds rose"],
                ["c", "rain and wind"],
            ]
        )
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "one.txt").write_text("a storm with thunder and hail", encoding="utf-8")
    (notes / "two.txt").write_text("the cat chased a mouse", encoding="utf-8")
    picked: list[str] = []

    def save_to(out: Path):  # noqa: ANN202
        def answer(_parent, _title, suggested, _filter):  # noqa: ANN001, ANN202
            picked.append(suggested)
            return str(out), "CSV files (*.csv)"

        return answer

    asked: list[dict] = []

    def choose_columns(id_column: str) -> None:
        """Answer the column form that a table opens: its text column guessed, the chosen id column."""

        def answer() -> None:
            from dmtl_studio.ui.text_import_dialog import TextImportDialog

            dialog = QApplication.activeModalWidget()
            assert isinstance(dialog, TextImportDialog) and dialog.predicting
            assert dialog.windowTitle() == "Predict texts from news.csv"
            assert not dialog.label_column.isVisible() and not dialog.split_column.isVisible()
            assert dialog.id_column.isVisible() and dialog.id_column.currentText() == "id"  # guessed by name
            dialog.id_column.setCurrentText(id_column)
            asked.append(dialog.columns())
            qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

        QTimer.singleShot(100, answer)

    def predicted(action, out: Path) -> list[dict[str, str]]:  # noqa: ANN001
        view.message.setText("")
        action.trigger()
        qtbot.waitUntil(lambda: view.message.text().startswith("Predicted"), timeout=TIMEOUT)
        with out.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), "Texts and tables"))
    out = tmp_path / "table-predictions.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_to(out))
    choose_columns("id")
    rows = predicted(view.predict_file_action, out)
    assert asked[-1] == {"text_column": "text", "id_column": "id", "encoding": None, "header": True}
    assert picked[-1] == str(tmp_path / "news-predictions.csv")
    assert [row["path"] for row in rows] == [f"{table}#{key}" for key in "abc"]  # keyed by the id column
    assert {row["predicted_label"] for row in rows} <= {"cats", "money", "weather"}
    assert view.message.text() == f"Predicted 3 text(s) into {out}."

    before = table.read_bytes()  # the table itself as the CSV to write: refused, the table kept
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(table), "CSV files (*.csv)"))
    choose_columns(NO_COLUMN)
    view.predict_file_action.trigger()
    assert asked[-1] == {"text_column": "text", "id_column": None, "encoding": None, "header": True}
    assert view.message.text().startswith(f"{table} is what is being predicted")
    assert table.read_bytes() == before

    out = tmp_path / "folder-predictions.csv"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(notes))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_to(out))
    rows = predicted(view.predict_folder_action, out)
    assert picked[-1] == str(notes.with_name(f"{notes.name}-predictions.csv"))  # beside the folder, not in it
    assert sorted(Path(row["path"]).name for row in rows) == ["one.txt", "two.txt"]
    assert view.message.text() == f"Predicted 2 text(s) into {out}."

    # An id column holding an id twice: its rows cannot be joined back to the table, as the CLI warns (h25).
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("id,text\na,the kitten purred\na,stocks fell\nb,rain and wind\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(repeated), "Texts and tables"))
    out = tmp_path / "repeated-predictions.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_to(out))
    QTimer.singleShot(
        100,
        lambda: qtbot.mouseClick(QApplication.activeModalWidget().import_button, Qt.MouseButton.LeftButton),
    )
    predicted(view.predict_file_action, out)
    assert f"1 key(s) name more than one row ({repeated}#a: 2 rows)" in view.message.text()
