"""The Import texts form for a table: which column holds the text, the label and the split, over a preview.

The columns are preselected from :func:`~dmtl_studio.core.project.text_tables.preview_table`'s guesses; the
preview shows the first rows with the chosen columns marked, and how the file was read (delimiter, encoding).
Choosing the delimiter or the encoding by hand reads the file again; a file that is not UTF-8 (nor marked as
UTF-16) is shown read as Windows-1252, what Excel on Windows saves a CSV in, with a note saying so, and the user
sees the preview before importing (``--encoding`` on the command line). The same form, with ``purpose="predict"``, asks which column
holds the texts to predict and, optionally, which holds each row's key (``predict``'s ``--text-column`` and
``--id-column``).
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.table_options import header_advice
from dmtl_studio.core.project.text_decoding import describe_encoding
from dmtl_studio.core.project.text_tables import (
    TablePreview,
    UndecodableTable,
    describe_delimiter,
    guess_id_column,
    preview_table,
)
from dmtl_studio.ui.muted import tone

#: Shown in the label and split choices for "no such column".
NO_COLUMN = "(none)"
#: Rows of the file shown in the preview.
PREVIEW_ROWS = 12
#: Delimiters offered besides the sniffed one.
DELIMITER_CHOICES = (
    (None, "sniffed from the file"),
    (",", "comma"),
    ("\t", "tab"),
    (";", "semicolon"),
    ("|", "vertical bar"),
)

#: Encodings offered for a file without a byte-order mark: (codec name, what it is), automatic first.
ENCODING_CHOICES = (
    (None, "UTF-8 (or as its byte-order mark says)"),
    ("cp1252", "Windows-1252: Excel on Windows, Western Europe"),
    ("iso8859-1", "Latin-1 (ISO-8859-1)"),
    ("cp1250", "Windows-1250: Central Europe"),
    ("cp1251", "Windows-1251: Cyrillic"),
    ("mac-roman", "Mac Roman"),
    ("shift_jis", "Shift JIS: Japanese"),
    ("gb18030", "GB 18030: Chinese"),
)
#: What a file that is not UTF-8 is first shown read as.
FALLBACK_ENCODING = "cp1252"

_MARKED = {
    "text": QColor("#dbeafe"),
    "label": QColor("#dcfce7"),
    "split": QColor("#fef3c7"),
    "id": QColor("#ede9fe"),
}


class TextImportDialog(QDialog):
    """Asks which columns of the table at ``path`` hold the text, the label and the split (``purpose="import"``),
    or the text to predict and each row's key (``purpose="predict"``: no label, split nor delimiter, as
    ``predict`` reads a table with its sniffed delimiter).

    Raises
    ------
    ProjectError
        From the constructor, when the file cannot be previewed (undecodable, no header): nothing to ask then.
    """

    def __init__(self, path: str | Path, parent: QWidget | None = None, purpose: str = "import") -> None:
        super().__init__(parent)
        if purpose not in ("import", "predict"):
            raise ValueError(f"purpose must be 'import' or 'predict', not {purpose!r}")
        self.path = Path(path)
        self.predicting = purpose == "predict"
        self.setWindowTitle(f"{'Predict' if self.predicting else 'Import'} texts from {self.path.name}")
        self.setMinimumSize(720, 440)
        # Roomy where the screen allows, never taller or wider than its free area (a 1024 x 600 screen left the
        # Import and Cancel buttons at its bottom edge).
        screen = self.screen() or QGuiApplication.primaryScreen()
        free = screen.availableGeometry() if screen is not None else None
        width, height = 980, 620
        if free is not None:
            width, height = min(width, free.width() - 40), min(height, free.height() - 60)
        self.resize(max(width, self.minimumSizeHint().width()), max(height, self.minimumSizeHint().height()))
        self.encoding_note = QLabel()  # the file is not UTF-8: said with the encoding it is shown in
        self.encoding_note.setWordWrap(True)
        tone(self.encoding_note, "#a04000")
        self.encoding_note.setVisible(False)
        try:
            self.preview = preview_table(self.path, rows=PREVIEW_ROWS)
            fallback = None
        except UndecodableTable as exc:
            try:  # shown read as what Excel on Windows writes; the user sees it before importing
                self.preview = preview_table(self.path, rows=PREVIEW_ROWS, encoding=FALLBACK_ENCODING)
            except ProjectError:
                raise exc from None
            fallback = FALLBACK_ENCODING
            self.encoding_note.setText(
                f"{self.path.name} is not UTF-8: it is shown read as Windows-1252, the encoding Excel on Windows "
                "saves a CSV in. If accents or other letters look wrong below, choose its encoding."
            )
            self.encoding_note.setVisible(True)
        self.text_column = QComboBox()
        self.label_column = QComboBox()
        self.split_column = QComboBox()
        self.id_column = QComboBox()
        self.id_column.setToolTip(
            "A column that names each row (a ticket number, say): the predictions' path column gives it as "
            "FILE#ID, so they join back to your table. Without one, rows are named by their row number."
            if self.predicting
            else "A column that names each row (a ticket number, say): each text is kept under its id, so its "
            "label stays with it when the file is edited and imported again. Without one, texts are followed "
            "by their words and row numbers. Ids must be unique: a row without one, or repeating one, is listed "
            "as a problem."
        )
        self.delimiter = QComboBox()
        for value, name in DELIMITER_CHOICES:
            self.delimiter.addItem(name, value)
        self.delimiter.setEnabled(self.preview.delimiter is not None)  # JSON Lines has none
        self.encoding = QComboBox()
        for value, name in ENCODING_CHOICES:
            self.encoding.addItem(name, value)
        self.encoding.setCurrentIndex(self.encoding.findData(fallback) if fallback else 0)
        self.encoding.setToolTip(
            "How the file's bytes become letters when it has no byte-order mark. UTF-8 unless you choose: "
            "a file that is not UTF-8 is refused rather than read with wrong letters."
        )
        self.no_header = QCheckBox("The file has no header line (its first line is a row)")
        self.no_header.setToolTip(
            "Read the first line as a row, not as the columns' names: the columns are then named column 1, "
            "column 2… A file written without a header otherwise loses its first row."
        )
        self.no_header.setEnabled(self.preview.delimiter is not None)  # JSON Lines has no header line
        self.labels_from_file = QCheckBox("Take the file's labels where they differ from the project's")
        self.labels_from_file.setToolTip(
            "For a file imported before: a text the file labels differently keeps the project's label unless "
            "this is ticked (the differences are listed after the import either way)."
        )
        self.how_read = QLabel()
        self.how_read.setWordWrap(True)
        self.header_note = QLabel()  # the first line looks like a row of data: said before it is lost
        self.header_note.setWordWrap(True)
        tone(self.header_note, "#a04000")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        tone(self.problem, "#c0392b")
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.import_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Predict" if self.predicting else "Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Text column", self.text_column)
        form.addRow("Label column", self.label_column)
        form.addRow("Split column", self.split_column)
        form.addRow("Id column", self.id_column)
        form.addRow("Delimiter", self.delimiter)
        form.addRow("Encoding", self.encoding)
        form.addRow("", self.no_header)
        form.addRow("", self.labels_from_file)
        for widget in (self.label_column, self.split_column, self.delimiter, self.labels_from_file):
            form.setRowVisible(widget, not self.predicting)
        intro = QLabel(
            "Each row is one text to predict. Rows that cannot be used (empty, ragged, malformed) get a row with "
            "the reason in the predictions' error column; nothing stops the prediction."
            if self.predicting
            else "Each row becomes one text. Rows that cannot be used (empty, ragged, malformed) are imported as "
            "problems and listed after the import; nothing stops it."
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.encoding_note)
        layout.addWidget(self.how_read)
        layout.addWidget(self.header_note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._show(self.preview)
        for box in (self.text_column, self.label_column, self.split_column, self.id_column):
            box.currentIndexChanged.connect(self._update)
        self.delimiter.currentIndexChanged.connect(self._reread)
        self.encoding.currentIndexChanged.connect(self._reread)
        self.no_header.toggled.connect(self._reread)

    def columns(self) -> dict[str, str | bool | None]:
        """The choice as keyword arguments of :func:`~dmtl_studio.core.project.text_import.import_texts`, or,
        when predicting, of :func:`~dmtl_studio.core.evaluation.text_predict.predict_text_inputs`
        (``text_column``, ``id_column``)."""
        if self.predicting:
            return {
                "text_column": self.text_column.currentText() or None,
                "id_column": self._chosen(self.id_column),
                "encoding": self.encoding.currentData(),
                "header": not self.no_header.isChecked(),
            }
        label = self._chosen(self.label_column)
        return {
            "text_column": self.text_column.currentText() or None,
            "label_column": label,
            "split_column": self._chosen(self.split_column),
            "id_column": self._chosen(self.id_column),
            "delimiter": self.delimiter.currentData(),
            "encoding": self.encoding.currentData(),
            "header": not self.no_header.isChecked(),
            "labels_from_file": label is not None and self.labels_from_file.isChecked(),
        }

    @staticmethod
    def _chosen(box: QComboBox) -> str | None:
        return None if box.currentIndex() <= 0 else box.currentText()

    def _show(self, preview: TablePreview) -> None:
        self.preview = preview
        boxes = (self.text_column, self.label_column, self.split_column, self.id_column)
        for box in boxes:
            box.blockSignals(True)
            box.clear()
        self.text_column.addItems(list(preview.columns))
        for box in boxes[1:]:
            box.addItem(NO_COLUMN)
            box.addItems(list(preview.columns))
        if preview.text_column is not None:
            self.text_column.setCurrentText(preview.text_column)
        self.label_column.setCurrentText(preview.label_column or NO_COLUMN)
        self.split_column.setCurrentText(preview.split_column or NO_COLUMN)
        # As predict guesses it; an import keys by id only when asked.
        key = guess_id_column(preview.columns, preview.text_column) if self.predicting else None
        self.id_column.setCurrentText(key or NO_COLUMN)
        for box in boxes:
            box.blockSignals(False)
        encoding = describe_encoding(preview.encoding)
        kind = (
            "JSON Lines"
            if preview.delimiter is None
            else f"{describe_delimiter(preview.delimiter)}-separated"
        )
        left_out = "; ".join(f"row {n}: {html.escape(problem)}" for n, problem in preview.problem_rows[:3])
        more = len(preview.problem_rows) - 3
        left_out += f"; and {more} more" if more > 0 else ""
        self.how_read.setText(
            f"<b>{html.escape(self.path.name)}</b>: {kind}, {encoding}, {len(preview.columns)} column(s). "
            + (
                f"Not shown, and {'a problem' if len(preview.problem_rows) == 1 else 'problems'} once imported: "
                f"{left_out}. "
                if left_out
                else ""
            )
            + (f"The first {len(preview.rows)} usable row(s):" if preview.rows else "")
        )
        advice = header_advice(preview.header_warning, self.predicting) if preview.header_warning else ""
        # Only the first letter raised: str.capitalize would lower the file and column names in it.
        self.header_note.setText(f"{advice[:1].upper()}{advice[1:]}." if advice else "")
        self.header_note.setVisible(bool(advice))
        self.table.clear()
        self.table.setColumnCount(len(preview.columns))
        self.table.setRowCount(len(preview.rows))
        self.table.setHorizontalHeaderLabels(list(preview.columns))
        self.table.setVerticalHeaderLabels([f"row {n}" for n in preview.row_numbers])
        for row, values in enumerate(preview.rows):
            for column, value in enumerate(values):
                shown = value if len(value) <= 300 else value[:300] + "…"
                item = QTableWidgetItem(" ".join(shown.split()))
                item.setToolTip(value[:2000])
                self.table.setItem(row, column, item)
        self._update()

    def _update(self) -> None:
        """Mark the chosen columns in the preview; refuse a choice that uses one column twice."""
        roles: dict[str, str | None] = {"text": self.text_column.currentText()}
        if not self.predicting:
            roles["label"] = self._chosen(self.label_column)
            roles["split"] = self._chosen(self.split_column)
        roles["id"] = self._chosen(self.id_column)
        header = self.table.horizontalHeader()
        for index, name in enumerate(self.preview.columns):
            role = next((r for r, column in roles.items() if column == name), None)
            brush = QBrush(_MARKED[role]) if role else QBrush()
            for row in range(self.table.rowCount()):
                item = self.table.item(row, index)
                if item is not None:
                    item.setBackground(brush)
            label = QTableWidgetItem(f"{name}  [{role}]" if role else name)
            font = QFont(label.font())
            font.setBold(role is not None)
            label.setFont(font)
            self.table.setHorizontalHeaderItem(index, label)
        # The text column takes the room left; the others are as wide as their values, up to a limit.
        for index, name in enumerate(self.preview.columns):
            if name == roles["text"]:
                header.setSectionResizeMode(index, QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(index, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(index, min(self.table.sizeHintForColumn(index) + 24, 260))
                header.resizeSection(index, max(header.sectionSize(index), header.sectionSizeHint(index)))
        chosen = [column for column in roles.values() if column]
        problem = ""
        if not self.preview.columns:
            problem = f"The file has no columns to {'predict' if self.predicting else 'import'}."
        elif self.preview.delimiter is not None and not self.preview.rows_read:
            problem = "The file has no rows below its header: nothing to " + (
                "predict." if self.predicting else "import."
            )
        elif len(set(chosen)) < len(chosen):
            problem = "Choose a different column for each role."
        self.problem.setText(problem)
        self.import_button.setEnabled(not problem)
        self.labels_from_file.setEnabled(roles.get("label") is not None)

    def _reread(self) -> None:
        # The note on the fallback stays only while the file is shown read that way.
        self.encoding_note.setVisible(
            bool(self.encoding_note.text()) and self.encoding.currentData() == FALLBACK_ENCODING
        )
        try:
            preview = preview_table(
                self.path,
                rows=PREVIEW_ROWS,
                delimiter=self.delimiter.currentData(),
                encoding=self.encoding.currentData(),
                header=not self.no_header.isChecked(),
            )
        except ProjectError as exc:
            self.problem.setText(str(exc))
            self.import_button.setEnabled(False)
            return
        self._show(preview)


__all__ = ["NO_COLUMN", "TextImportDialog"]
