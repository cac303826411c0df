"""The New project form: a name, a location and the kind (images or texts); the project's folder is made from
the name and the location.

The rules (what name is usable, which folder is refused, when to ask) are
:func:`~dmtl_studio.core.project.location.check_new_project_folder`'s; the form shows its verdict as the user
types and asks before a project is made in a folder that already holds files.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.project.location import NewProjectFolder, check_new_project_folder
from dmtl_studio.ui.file_dialogs import remember_folder
from dmtl_studio.ui.muted import tone


class NewProjectDialog(QDialog):
    """Asks for a project name, the folder it goes in and what it holds; :meth:`folder` is the project folder
    once accepted, :meth:`kind` ``"images"`` or ``"text"``."""

    def __init__(self, parent: QWidget | None = None, location: str | Path = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(520)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. leaf-spots")
        self.location = QLineEdit(str(location or Path.home()))
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(self.browse_button)
        self.images_kind = QRadioButton("&Images")
        self.text_kind = QRadioButton("&Texts (.txt files, CSV, TSV or JSON Lines)")
        self.images_kind.setChecked(True)
        self.kinds = QButtonGroup(self)
        self.kinds.addButton(self.images_kind)
        self.kinds.addButton(self.text_kind)
        holds = QHBoxLayout()
        holds.addWidget(self.images_kind)
        holds.addWidget(self.text_kind)
        holds.addStretch(1)
        self.target = QLabel()
        self.target.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        tone(self.problem, "#c0392b")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create project")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        # Alt+N and Alt+L reach the fields, Alt+B browses, Alt+I and Alt+T choose what the project holds.
        form.addRow("Project &name", self.name)
        location_label = QLabel("&Location")
        location_label.setBuddy(self.location)
        form.addRow(location_label, where)
        holds_label = QLabel("It holds")
        form.addRow(holds_label, holds)
        layout = QVBoxLayout(self)
        intro = QLabel("A project is a folder of its own; images or texts are imported into it afterwards.")
        intro.setWordWrap(True)  # a large font cut its end
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.target)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self._update)
        self.location.textChanged.connect(self._update)
        self._folder: Path | None = None
        self._update()

    def check(self) -> NewProjectFolder:
        """The verdict on the folder the form names now."""
        return check_new_project_folder(self.location.text(), self.name.text())

    def kind(self) -> str:
        """``"images"`` or ``"text"``: what the new project holds (one kind, kept for its life)."""
        return "text" if self.text_kind.isChecked() else "images"

    def folder(self) -> Path | None:
        """The project folder, once the form was accepted (``None`` before, or when cancelled)."""
        return self._folder

    def _update(self) -> None:
        check = self.check()
        self.create_button.setEnabled(check.problem is None)
        if check.problem is None:
            extra = (
                f" It already holds {check.existing_entries} file(s) or folder(s): you will be asked first."
                if check.existing_entries
                else ""
                if check.folder.exists()
                else " The folder will be made."
            )
            self.target.setText(f"The project goes in <b>{html.escape(str(check.folder))}</b>.{extra}")
        else:
            self.target.clear()
        # An empty name is the starting state, not a mistake yet: the disabled button says enough then.
        self.problem.setText(check.problem if check.problem and self.name.text() else "")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "The folder the new project goes in", self.location.text()
        )
        remember_folder(folder)
        if folder:
            self.location.setText(folder)

    def accept(self) -> None:
        check = self.check()
        if check.problem is not None:
            self.problem.setText(check.problem)
            return
        if check.needs_confirmation and not self.confirm_non_empty(check):
            return
        self._folder = check.folder
        super().accept()

    def confirm_non_empty(self, check: NewProjectFolder) -> bool:
        """Ask before making a project in a folder that is not empty (its files stay as they are)."""
        answer = QMessageBox.question(
            self,
            "The folder is not empty",
            f"{check.folder} already holds {check.existing_entries} file(s) or folder(s).\n\n"
            "Make the project in it anyway? Nothing there is changed or deleted; the project adds its own "
            "database and folders beside them.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes
