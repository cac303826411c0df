"""The start page shown while no project is open: new, open, recent projects, the demo, the order of work."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.project.store import is_project
from dmtl_studio.ui.muted import tone

#: The order of work, step by step: (title, where in the window, what it does).
STEPS = [
    (
        "Import",
        "File ▸ Import…",
        "A folder with one sub-folder per class, or a CSV/TSV/JSON Lines file of texts with a label column; "
        "what has no class comes in unlabelled.",
    ),
    (
        "Label",
        "the image grid or the text list",
        "Select items and press a class's number key (0 unlabels, Space next).",
    ),
    (
        "Recipe",
        "Augmentation recipe tab",
        "Choose the variations training sees; preview them on your own images or texts.",
    ),
    (
        "Train",
        "Backbone (or text encoder) and head tab, then Training",
        "Press Start training, watch the curves.",
    ),
    (
        "Evaluate",
        "Evaluation tab",
        "Accuracy, confusion matrix, what a prediction rests on; export the model, predict new items.",
    ),
]

PathRole = Qt.ItemDataRole.UserRole + 1


class StartPage(QWidget):
    """Buttons emit requests; the recent list shows projects that are gone as such, with a way to remove them."""

    new_requested = Signal()
    open_requested = Signal()
    demo_requested = Signal()
    text_demo_requested = Signal()
    recent_chosen = Signal(str)
    forget_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel(
            "<h1>DMTL Studio</h1><p>Turn a folder of images, or a file of texts, into a trained classifier, on "
            "this computer.</p>"
        )
        title.setWordWrap(True)
        self.new_button = QPushButton("New project…")
        self.open_button = QPushButton("Open project…")
        self.demo_button = QPushButton("Image demo")
        self.demo_button.setToolTip("A small project of generated shapes (3 classes), made on first use")
        self.text_demo_button = QPushButton("Text demo")
        self.text_demo_button.setToolTip(
            "A small project of short support tickets (3 classes), made on first use"
        )
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.demo_button.clicked.connect(self.demo_requested)
        self.text_demo_button.clicked.connect(self.text_demo_requested)
        actions = QHBoxLayout()
        for button in (self.new_button, self.open_button, self.demo_button, self.text_demo_button):
            button.setMinimumHeight(32)
            actions.addWidget(button)
        actions.addStretch(1)

        self.recent = QListWidget()
        self.recent.setMinimumHeight(120)
        self.recent.setSpacing(3)
        self.recent.itemActivated.connect(self._open_item)
        self.recent.itemDoubleClicked.connect(self._open_item)
        self.recent.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.open_recent_button = QPushButton("Open")
        self.forget_button = QPushButton("Remove from list")
        self.open_recent_button.clicked.connect(lambda: self._open_item(self.recent.currentItem()))
        self.forget_button.clicked.connect(self._forget_current)
        self.recent_note = QLabel()
        self.recent_note.setWordWrap(True)
        tone(self.recent_note, "#a04000")
        recent_buttons = QHBoxLayout()
        recent_buttons.addWidget(self.open_recent_button)
        recent_buttons.addWidget(self.forget_button)
        recent_buttons.addStretch(1)

        left = QVBoxLayout()
        left.addWidget(title)
        left.addLayout(actions)
        left.addSpacing(12)
        left.addWidget(QLabel("<b>Recent projects</b>"))
        left.addWidget(self.recent, 1)
        left.addLayout(recent_buttons)
        left.addWidget(self.recent_note)

        steps = QGridLayout()
        steps.setHorizontalSpacing(10)
        steps.addWidget(QLabel("<b>The order of work</b>"), 0, 0, 1, 2)
        self.step_labels: list[QLabel] = []
        for number, (name, where, what) in enumerate(STEPS, start=1):
            badge = QLabel(str(number))
            badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
            badge.setFixedSize(28, 28)
            badge.setStyleSheet("background: #2e86c1; color: white; border-radius: 14px; font-weight: bold;")
            text = QLabel(f"<b>{name}</b> — <i>{where}</i><br>{what}")
            text.setWordWrap(True)
            self.step_labels.append(text)
            steps.addWidget(badge, number, 0, Qt.AlignmentFlag.AlignTop)
            steps.addWidget(text, number, 1)
        steps_frame = QFrame()
        steps_frame.setFrameShape(QFrame.Shape.StyledPanel)
        steps_frame.setLayout(steps)

        right = QVBoxLayout()
        right.addWidget(steps_frame)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addSpacing(16)
        columns.addLayout(right, 2)
        body = QWidget()
        body.setMaximumWidth(1100)
        body.setLayout(columns)
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(body, 20)
        centred.addStretch(1)
        page = QWidget()
        page.setLayout(centred)
        scroll = QScrollArea()
        scroll.setWidget(page)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 16)
        outer.addWidget(scroll)
        self.show_recent([])

    def show_recent(self, projects: list[str]) -> None:
        """List ``projects`` (newest first); one that is no longer a project is shown as gone."""
        self.recent.clear()
        for path in projects:
            gone = not is_project(path)
            name = Path(path).name or path
            item = QListWidgetItem(f"{name} — gone (no project at {path})" if gone else f"{name}    {path}")
            item.setData(PathRole, path)
            item.setToolTip(
                f"{path} is no longer a project (moved or deleted): remove it from the list" if gone else path
            )
            if gone:
                item.setForeground(QColor("#95a5a6"))
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
            self.recent.addItem(item)
        if not projects:
            placeholder = QListWidgetItem(
                "No project opened yet: make a new one, or open the demo to look around."
            )
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(placeholder)
        self.recent_note.clear()
        self._update_buttons()

    def is_gone(self, path: str) -> bool:
        return not is_project(path)

    def _open_item(self, item: QListWidgetItem | None) -> None:
        path = item.data(PathRole) if item is not None else None
        if not path:
            return
        if self.is_gone(path):
            self.recent_note.setText(
                f"{path} is no longer a project (moved or deleted). Remove it from the list."
            )
            return
        self.recent_chosen.emit(path)

    def _forget_current(self) -> None:
        item = self.recent.currentItem()
        path = item.data(PathRole) if item is not None else None
        if path:
            self.forget_requested.emit(path)

    def _update_buttons(self) -> None:
        item = self.recent.currentItem()
        path = item.data(PathRole) if item is not None else None
        self.open_recent_button.setEnabled(bool(path) and not self.is_gone(path))
        self.forget_button.setEnabled(bool(path))
