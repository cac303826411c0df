"""Evaluation view: a run's metrics on the test split (or, said plainly, the validation split), its confusion
matrix as a heat map whose cells open their images in the browser, per-class scores, label suggestions for the
unlabelled images and the run's HTML report. It only emits requests; the composition root runs the work.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.base.fileio import is_inside
from dmtl_studio.core.evaluation.metrics import nothing_scored
from dmtl_studio.core.evaluation.results import LOW_CONFIDENCE
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.project_kind import TABLE_SUFFIXES, is_table_file
from dmtl_studio.core.project.runs_table import CROSSVAL_PREFIX, RunRecord
from dmtl_studio.ui.confusion_view import PER_CLASS_COLUMNS, ConfusionTable, PerClassTable
from dmtl_studio.ui.file_dialogs import ask_folder, ask_open_file, ask_save_file, ask_save_file_and_filter
from dmtl_studio.ui.flow_layout import FlowLayout
from dmtl_studio.ui.muted import readable
from dmtl_studio.ui.plot_theme import follow_theme, plot_colors
from dmtl_studio.ui.text_import_dialog import TextImportDialog

NO_RUN = "No trained run yet"
#: The end of the summary that names a run not evaluated yet (it follows the run chosen).
NOT_EVALUATED_END = ": press Evaluate to score it."
#: The uncertainty measures, in plain words.
UNCERTAINTY_HELP = {
    "entropy": "how spread out the model's answer is over all classes (high when it cannot decide among many)",
    "margin": "how close its two best guesses are (high when it hesitates between two classes)",
}
#: Export formats: name -> (format id, file pattern, short purpose, what it is for in plain words).
EXPORT_FORMATS = {
    "ONNX": (
        "onnx",
        "*.onnx",
        "any program",
        "runs in other programs and languages (ONNX Runtime, C#, Java…); the most portable",
    ),
    "TorchScript": (
        "torchscript",
        "*.pt",
        "PyTorch",
        "runs with PyTorch (Python or C++) without DMTL Studio",
    ),
    "safetensors": (
        "safetensors",
        "*",
        "weights only, a folder",
        "the weights alone, in a file that cannot hide code, to load into the same network",
    ),
}
#: Predict's choice for predictions the run is not sure of: ``(title, how)``, ``how`` being ``{}`` (keep them
#: all), ``{"target_accuracy": A}`` (a threshold chosen on the run's validation split, as ``predict
#: --target-accuracy A``) or ``{"reject_below": P}`` (a fixed confidence, as ``predict --reject-below P``: for a
#: run that has no held-out validation images to choose on).
UNSURE_TARGETS = (
    ("No 'unsure'", {}),
    ("'Unsure' to reach 90 % accuracy", {"target_accuracy": 0.90}),
    ("'Unsure' to reach 95 % accuracy", {"target_accuracy": 0.95}),
    ("'Unsure' to reach 99 % accuracy", {"target_accuracy": 0.99}),
    ("'Unsure' below 60 % confidence", {"reject_below": 0.60}),
    ("'Unsure' below 80 % confidence", {"reject_below": 0.80}),
    ("'Unsure' below 95 % confidence", {"reject_below": 0.95}),
)
NOTE_STYLE = "background:#fff4e0;border-left:4px solid #e67e22;padding:6px;color:#222"
#: The note over an evaluation made before the project's labels, classes or splits changed.
#: One line: in two, with the summary's two, it pushed the confusion matrix's last row out of view (h32).
OUT_OF_DATE = "Labels, classes or splits have changed since this evaluation: press Evaluate again."
#: The note's tooltip: what the figures shown are of.
OUT_OF_DATE_TIP = (
    "Its figures are of the project as it was when it was evaluated (a relabelled test item still counts under "
    "its old label). Press Evaluate again for the project as it is now."
)


class RunChoice(QComboBox):
    """The run chooser; asks for a fresh list of runs each time it opens."""

    about_to_show = Signal()

    def showPopup(self) -> None:
        self.about_to_show.emit()
        super().showPopup()


class ReliabilityDiagram(QWidget):
    """Reliability diagram: per confidence bin, the accuracy (bars) against the diagonal of perfect calibration,
    and the uncalibrated accuracy (outlined) when the run has a temperature. Plain numpy data in, no torch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Calibration: evaluate a run to see how far its confidence can be trusted")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setToolTip(
            "ECE, expected calibration error: the mean gap between confidence and accuracy over 15 confidence "
            "bins, weighted by the images in each (0 is perfect). The temperature divides the model's logits."
        )
        self.plot = pg.PlotWidget()
        self.plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no keys to take: Tab passes it by
        self.plot.setLabel("bottom", "confidence")
        self.plot.setLabel("left", "accuracy")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(
            70
        )  # the words go beside it and scroll in a short dock; the plot keeps this
        self.plot.setToolTip(
            "Each bar: the images whose top probability falls in that bin; its height is how many of them were "
            "right. On the dashed diagonal, confidence means what it says."
        )
        # The key is a line of text, not a legend: in the evaluation dock every row of the plot counts.
        self.key = QLabel()
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.key.setWordWrap(True)
        self.diagonal = self.plot.plot([0, 1], [0, 1], name="ideal")
        self.bars = pg.BarGraphItem(
            x=[], height=[], width=1 / 15, brush=QColor(46, 134, 222, 170), name="accuracy"
        )
        self.before = pg.BarGraphItem(x=[], height=[], width=1 / 15, brush=None, name="without calibration")
        self.plot.addItem(self.bars)
        self.plot.addItem(self.before)
        self._theme_items()
        follow_theme(self.plot, also=self._theme_items)
        # The words beside the plot, not above it: in the short evaluation dock the plot kept ~30 px of height
        # under three lines of text (h35); side by side it has the tab's whole height.
        # They scroll when the dock is shorter than they are (the window fits a 1024 x 600 screen).
        column = QWidget()
        words = QVBoxLayout(column)
        words.setContentsMargins(0, 0, 0, 0)
        words.addWidget(self.title)
        words.addWidget(self.key)
        words.addStretch(1)
        self.words = QScrollArea()
        self.words.setWidget(column)
        self.words.setWidgetResizable(True)
        self.words.setFrameShape(QFrame.Shape.NoFrame)
        self.words.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.words, 2)
        layout.addWidget(self.plot, 3)

    def _theme_items(self) -> None:
        """The ideal diagonal in the muted grey, the bars' outlines in the plot's background colour, the
        uncalibrated bars (and their key) in a red that reads on the plot's ground."""
        background, _text, lines = plot_colors()
        red = readable("#c0392b")
        self.diagonal.setPen(pg.mkPen(lines, width=1.5, style=Qt.PenStyle.DashLine))
        self.bars.setOpts(pen=pg.mkPen(background))
        self.before.setOpts(pen=pg.mkPen(red, width=1.5))
        self.key.setText(
            f"<span style='color:#2e86de'>■</span> calibrated &nbsp; "
            f"<span style='color:{red}'>□</span> uncalibrated &nbsp; \u2011&nbsp;\u2011&nbsp;ideal"  # non-breaking hyphens
        )

    @staticmethod
    def _bars(bins: dict) -> tuple[np.ndarray, np.ndarray]:
        edges = np.asarray(bins["edges"], dtype=float)
        centres = (edges[:-1] + edges[1:]) / 2
        accuracy = np.array([np.nan if a is None else a for a in bins["accuracy"]], dtype=float)
        used = np.isfinite(accuracy)
        return centres[used], accuracy[used]

    def show_summary(
        self, summary: dict | None, uncalibrated: dict | None = None, noun: str = "image"
    ) -> None:
        """Show ``EvaluationResult.calibration_summary()`` (and the uncalibrated bins); ``None`` clears it.
        ``noun`` names the items (image, text)."""
        if summary is None:
            self.bars.setOpts(x=[], height=[])
            self.before.setOpts(x=[], height=[])
            self.title.setText(f"Calibration: no {noun} was scored")
            return
        x, height = self._bars(summary["bins"])
        self.bars.setOpts(x=x, height=height, width=1 / len(summary["bins"]["counts"]))
        if summary["calibrated"] and uncalibrated is not None:
            bx, bh = self._bars(uncalibrated)
            self.before.setOpts(x=bx, height=bh, width=1 / len(uncalibrated["counts"]))
            fitted = summary.get("fitted") or {}
            # As evaluate says it on the command line (h33: the window did not).
            worse = (
                f"<br><span style='color:#a04000'>The temperature makes these {noun}s' confidences worse: more "
                f"validation {noun}s would fit it better.</span>"
                if summary.get("worse")
                else ""
            )
            self.title.setText(
                f"ECE <b>{summary['ece']:.3f}</b> with temperature {summary['temperature']:.2f}; "
                f"{summary['ece_uncalibrated']:.3f} without (fitted on {fitted.get('images', '?')} "
                f"{fitted.get('fitted_on', 'validation')} {noun}s){worse}"
            )
        else:
            self.before.setOpts(x=[], height=[])
            self.title.setText(
                f"ECE <b>{summary['ece']:.3f}</b>; this run is not calibrated (too few validation {noun}s held "
                "out to fit it on, or they joined the training; or trained before calibration)"
            )


def _beside(folder: str) -> Path:
    """The predictions file suggested for a folder: next to it, never inside (where it would be an input)."""
    return Path(folder).with_name(f"{Path(folder).name}-predictions.csv")


class EvaluationView(QWidget):
    runs_wanted = Signal()  # the project's runs may have changed: call set_runs
    evaluate_requested = Signal(str)  # run folder
    suggest_requested = Signal(str, str)  # run folder, uncertainty method
    report_requested = Signal(str)  # run folder
    export_requested = Signal(str, str, str)  # run folder, format, destination
    # run folder, what to predict (a folder of images; in a text project a .txt file, folder or table), CSV to
    # write, the table's columns ({"text_column": ..., "id_column": ...}; empty otherwise), and what is written
    # as "unsure" (one of UNSURE_TARGETS' choices: {}, {"target_accuracy": A} or {"reject_below": P})
    predict_requested = Signal(str, str, str, dict, dict)
    cell_activated = Signal(int, int)  # true class index, predicted class index
    filter_requested = Signal(str)  # "misclassified" or "low-confidence"
    cancel_requested = (
        Signal()
    )  # the Cancel button of long work (evaluation, duplicates, label errors, audit…)
    #: The evaluation now shown (an ``EvaluationResult``), or ``None`` when none is: the browser's verdicts and
    #: filters follow it, so they never show another run's than the matrix does.
    result_shown = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: object | None = None
        #: The evaluations made of each run since the project's labels last changed: choosing a run again shows
        #: its own, without evaluating it again.
        self.evaluated: dict[str, object] = {}
        # Changes of labels, classes or splits so far, the count when each run's Evaluate was pressed, and the
        # runs whose evaluation kept is of the project as it was before a change (shown with OUT_OF_DATE).
        self._changes = 0
        self._asked: dict[str, int] = {}
        self._stale: set[str] = set()
        self.run_choice = RunChoice()
        self.run_choice.currentIndexChanged.connect(self._run_chosen)
        # A run the person picks is theirs: set_runs no longer moves away from it (h34).
        self.run_choice.activated.connect(lambda _index: setattr(self, "_chosen_for_user", None))
        #: The run a training that just ended chose as its result (an Auto run keeps one of its two): the choice
        #: when it arrives in the next :meth:`set_runs`.
        self.kept_run: str | None = None
        self._chosen_for_user: str | None = None  # the run set_runs chose itself (not the person)
        self.run_choice.about_to_show.connect(self.runs_wanted)
        self.run_choice.setMinimumContentsLength(28)
        self.run_choice.setMinimumWidth(self.run_choice.fontMetrics().horizontalAdvance("x") * 16 + 40)
        self.run_choice.setToolTip("The trained run to evaluate, explain and suggest labels with")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Predict the test images (the validation images if there are none)")
        self.suggest_button = QPushButton("Suggest labels")
        self.suggest_button.setToolTip(
            "Predict every unlabelled image; the browser shows the suggestions and an 'uncertain first' queue"
        )
        self.method = QComboBox()
        self.method.setAccessibleName("Uncertainty measure")
        for name, help_text in UNCERTAINTY_HELP.items():
            self.method.addItem(name, name)
            self.method.setItemData(self.method.count() - 1, help_text, Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip(
            "How 'unsure' the model is about an image, for the 'uncertain first' order:\n"
            + "\n".join(f"• {name}: {text}" for name, text in UNCERTAINTY_HELP.items())
        )
        self.report_button = QPushButton("Open report")
        self.report_button.setToolTip("Write the run's self-contained HTML report and open it")
        self.export_button = QPushButton("Export model…")
        self.export_button.setToolTip(
            "Save the run's model to use outside DMTL Studio, with a JSON file describing its classes and how "
            "to prepare images (checked against the original):\n"
            + "\n".join(f"• {name}: {text}" for name, (*_, text) in EXPORT_FORMATS.items())
        )
        self.predict_button = QPushButton("Predict folder…")
        self.predict_button.setToolTip("Predict every image of a folder with this run and write a CSV file")
        self.unsure_target = QComboBox()
        self.unsure_target.setAccessibleName("Predictions written as unsure")
        self.unsure_target.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for title, target in UNSURE_TARGETS:
            self.unsure_target.addItem(title, target)
        self.unsure_target.setToolTip(
            "What Predict writes for predictions the run is not sure of. With a target accuracy, a confidence "
            "threshold is chosen on the run's validation split so that the predictions kept reach that accuracy "
            "there; the others are written as 'unsure' (their probabilities stay in the CSV). The message says how "
            "many validation images backed the choice (dmtl-studio predict --target-accuracy does the same). A "
            "run with no held-out validation images cannot choose one: give it a fixed confidence instead "
            "('Unsure' below … confidence, as predict --reject-below)."
        )
        self.export_button.clicked.connect(self._ask_export)
        self.predict_button.clicked.connect(self._ask_predict)
        # In a text project the button opens this menu: texts come as a file, a table or a folder of .txt files.
        self.predict_texts_menu = QMenu(self.predict_button)
        self.predict_file_action = self.predict_texts_menu.addAction(
            "A text file or table (.txt, CSV, TSV, JSON Lines)…",
            lambda: self._ask_predict_texts(folder=False),
        )
        self.predict_folder_action = self.predict_texts_menu.addAction(
            "A folder of .txt files…", lambda: self._ask_predict_texts(folder=True)
        )
        self.is_text = False
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop this work; what it made so far is not kept (the project is unchanged)"
        )
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel)
        self._cancel_shown_at = 0.0  # time.monotonic() when Cancel last appeared
        self._focus_after: QWidget | None = None  # the button that had the focus when work began
        self.evaluate_button.clicked.connect(self._evaluate)
        self.report_button.clicked.connect(lambda: self._emit_for_run(self.report_requested))
        self.suggest_button.clicked.connect(self._suggest)

        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # it names classes and files, which may hold '<'
        self.note.setWordWrap(True)
        self.note.setStyleSheet(NOTE_STYLE)
        self.note.hide()
        self.summary = QLabel("Choose a run and press Evaluate.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        # What the buttons did (exported, predicted, stopped…) and the work going on: a line of its own, so the
        # summary above the matrix always says which run and split the figures are of.
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.hide()

        self.confusion = ConfusionTable(
            "Rows: true class · columns: predicted class · click a cell to see its images", cell_tooltips=True
        )
        self.confusion.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.confusion.cellClicked.connect(self.cell_activated)
        self.per_class = PerClassTable()
        self.per_class.setAccessibleName("Scores per class")
        self.misclassified_button = QPushButton("Show misclassified")
        self.low_confidence_button = QPushButton(f"Show low confidence (< {LOW_CONFIDENCE:.0%})")
        self.misclassified_button.clicked.connect(lambda: self.filter_requested.emit("misclassified"))
        self.low_confidence_button.clicked.connect(lambda: self.filter_requested.emit("low-confidence"))
        for button in (self.misclassified_button, self.low_confidence_button):
            button.setEnabled(False)

        # Two rows: in one the buttons alone were 900 px wide, more than a 1280 px screen leaves this view. The
        # tools flow onto a second line where even their row is too wide (a 1024 px screen, a large font), so
        # this view never makes the window wider than the screen.
        bar = QVBoxLayout()
        run_row = QHBoxLayout()
        tools = QWidget()
        tools_row = FlowLayout(tools, spacing=6)
        run_row.addWidget(QLabel("Run"))
        run_row.addWidget(self.run_choice, 1)
        run_row.addWidget(self.evaluate_button)
        run_row.addWidget(self.progress)
        run_row.addWidget(self.cancel_button)
        for widget in (
            self.suggest_button,
            self.method,
            self.report_button,
            self.export_button,
            self.predict_button,
            self.unsure_target,
        ):
            tools_row.addWidget(widget)
        bar.addLayout(run_row)
        bar.addWidget(tools)
        matrix = QWidget()
        matrix_layout = QVBoxLayout(matrix)
        matrix_layout.setContentsMargins(0, 0, 0, 0)
        matrix_layout.addWidget(self.confusion, 1)
        shows = QHBoxLayout()
        shows.addWidget(self.misclassified_button)
        shows.addWidget(self.low_confidence_button)
        shows.addStretch(1)
        matrix_layout.addLayout(shows)
        self.reliability = ReliabilityDiagram()
        # Tabs, not a stack: the dock stays as short as a laptop screen needs (the taller of the two, not both).
        right = QTabWidget()
        right.addTab(self.per_class, "Per class")
        right.addTab(self.reliability, "Calibration")
        self.side_tabs = right
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(matrix)
        split.addWidget(right)
        split.setSizes([500, 400])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(self.note)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.set_runs([])

    def showEvent(self, event) -> None:  # noqa: ANN001 - Qt override
        super().showEvent(event)
        self.runs_wanted.emit()

    # ----------------------------------------------------------------- runs
    def set_runs(self, runs: list[RunRecord]) -> None:
        """The project's runs with a saved model, newest first.

        A run that was not listed before (one just finished) becomes the choice (:attr:`kept_run` when it is one
        of them); otherwise the current choice is kept if still there; with none, the newest completed run (a
        stopped run may have barely learnt).
        """
        current = self.selected_run()
        listed = {self.run_choice.itemData(i) for i in range(self.run_choice.count())}
        # A cross-validation fold trained on part of the test split: never the choice made for the user.
        models = [run for run in runs if not run.name.startswith(CROSSVAL_PREFIX)]
        arrived = [run.run_dir for run in models if run.run_dir not in listed]
        kept, self.kept_run = self.kept_run, None
        # An Auto run's fine-tune that lost to its probe is newer than the probe, and not the model kept. By folder
        # name: the stored path is where the project was when Auto ran (it may have moved since).
        autos = [(run.final_metrics or {}).get("auto") or {} for run in models]
        lost = {  # a lost fine-tune's folder name -> its kept probe's
            Path(a["finetune_run"]).name: Path(a.get("probe_run") or "").name
            for a in autos
            if a.get("kept") == "probe" and a.get("finetune_run")
        }
        if listed and arrived:
            # The newest new run, or the one an Auto run kept (its fine-tune, newer, may have lost to its probe).
            current = kept if kept in arrived else arrived[-1]
            self._chosen_for_user = current
        elif current is None and models:  # a project opened: its newest completed run, else its newest
            completed = [
                run for run in models if run.status == "completed" and Path(run.run_dir).name not in lost
            ]
            current = (completed or models)[-1].run_dir
            self._chosen_for_user = current
        if current is not None and current == self._chosen_for_user and Path(current).name in lost:
            # Chosen here, not by the person, and Auto has since kept its probe (an Auto run of the command line
            # ends after its fine-tune was listed, h33): the probe kept instead.
            probe = next(
                (r.run_dir for r in models if Path(r.run_dir).name == lost[Path(current).name]), None
            )
            current = self._chosen_for_user = probe or current
        self.run_choice.blockSignals(True)  # the choice is made once, below, not at each item added
        self.run_choice.clear()
        for run in reversed(runs):
            accuracy, out_of_fold = run.best_accuracy()
            what = "out-of-fold acc." if out_of_fold else "val. acc."
            score = f", {what} {accuracy:.1%}" if accuracy is not None else ""
            backbone = run.config.get("backbone", "?")
            fold = (
                " (a cross-validation fold: trained on part of the test split)"
                if run.name.startswith(CROSSVAL_PREFIX)
                else ""
            )
            # Frozen, partial…: the probe told from the fine-tunes (h28).
            transfer = run.config.get("transfer", "?")
            # A size set for the run told from the backbone's own (h33: 64 px and 224 px runs read the same).
            size = f", {run.config['input_size']} px" if run.config.get("input_size") else ""
            self.run_choice.addItem(
                f"{run.name} — {backbone}{size}, {transfer}, {run.status}{score}{fold}", run.run_dir
            )
        if current:
            position = self.run_choice.findData(current)
            if position >= 0:
                self.run_choice.setCurrentIndex(position)
        self.run_choice.blockSignals(False)
        self._run_chosen()
        has_runs = self.run_choice.count() > 0
        busy = not self.progress.isHidden()
        for button in self._run_buttons():  # every action that needs a run, Export and Predict included
            button.setEnabled(has_runs and not busy)
            button.setStatusTip("" if has_runs else "Needs a trained run: train one first.")
        if not has_runs:
            self.summary.setText(NO_RUN + ": train a model, then evaluate it here.")
        elif self.summary.text().startswith(NO_RUN):
            self.summary.setText("Choose a run and press Evaluate.")

    def _run_chosen(self) -> None:
        """Another run chosen: its own evaluation is shown if it has one, else none (the figures of the run shown
        before must not stand under this one's name)."""
        run = self.selected_run()
        shown = self.result.run_dir if self.result is not None else None
        if run == shown:
            return
        if run in self.evaluated:
            self._display(self.evaluated[run])
            return
        if shown is None and not self.summary.text().endswith(NOT_EVALUATED_END):
            return  # nothing shown, and no other run named (an evaluation under way, a message…)
        self._clear_display()
        self.summary.setText(
            f"<b>{html.escape(Path(run).name)}</b> is not evaluated yet{NOT_EVALUATED_END}"
            if run
            else "Choose a run and press Evaluate."
        )
        self.result_shown.emit(None)

    def selected_run(self) -> str | None:
        data = self.run_choice.currentData()
        return str(data) if data else None

    def _evaluate(self) -> None:
        run = self.selected_run()
        if run:
            self._asked[run] = self._changes  # a change made while it runs leaves its figures out of date
            self.evaluate_requested.emit(run)

    def _emit_for_run(self, signal: Signal) -> None:  # type: ignore[type-arg]
        run = self.selected_run()
        if run:
            signal.emit(run)

    def _run_buttons(self) -> tuple[QWidget, ...]:
        return (
            self.evaluate_button,
            self.suggest_button,
            self.report_button,
            self.export_button,
            self.predict_button,
            self.unsure_target,
        )

    def _ask_export(self) -> None:
        run = self.selected_run()
        if not run:
            return
        formats = {
            f"{name}, {purpose} ({pattern})": fmt
            for name, (fmt, pattern, purpose, _text) in EXPORT_FORMATS.items()
        }
        path, chosen = ask_save_file_and_filter(self, "Export the model", Path(run).name, ";;".join(formats))
        if path:
            self.request_export(run, formats.get(chosen, "onnx"), path)

    def request_export(self, run: str, fmt: str, path: str) -> None:
        self.export_requested.emit(run, fmt, path)

    def set_project_kind(self, kind: str) -> None:
        """Word the view for the open project's items (``"images"`` or ``"text"``), and offer what a prediction
        takes in it: a folder of images, or a .txt file, a folder of .txt files or a table of texts."""
        self.is_text = kind == "text"
        noun = "text" if self.is_text else "image"
        self.confusion.noun = noun
        if self.result is None:
            self.reliability.show_summary(None, noun=noun)
        self.per_class.setHorizontalHeaderLabels([*PER_CLASS_COLUMNS[:-1], f"{noun.capitalize()}s"])
        self.confusion.setToolTip(
            f"Rows: true class · columns: predicted class · click a cell to see its {noun}s"
        )
        self.evaluate_button.setToolTip(
            f"Predict the test {noun}s (the validation {noun}s if there are none)"
        )
        self.suggest_button.setToolTip(
            f"Predict every unlabelled {noun}; the browser shows the suggestions and an 'uncertain first' queue"
        )
        self.method.setToolTip(
            f"How 'unsure' the model is about {'a text' if self.is_text else 'an image'}, for the "
            "'uncertain first' order:\n"
            + "\n".join(f"• {name}: {text}" for name, text in UNCERTAINTY_HELP.items())
        )
        if self.is_text:
            self.predict_button.setText("Predict texts…")
            self.predict_button.setToolTip(
                "Predict the texts of a .txt file, a folder of .txt files or a CSV/TSV/JSON Lines table with "
                "this run and write a CSV file (a table's text column is guessed from its names)"
            )
            self.predict_button.setMenu(self.predict_texts_menu)
        else:
            self.predict_button.setText("Predict folder…")
            self.predict_button.setToolTip(
                "Predict every image of a folder with this run and write a CSV file"
            )
            self.predict_button.setMenu(None)

    def _ask_predict(self) -> None:
        run = self.selected_run()
        if not run or self.is_text:  # a text project's button opens its menu instead
            return
        images = ask_folder(self, "Folder of images to predict")
        if images:
            self._ask_predictions_file(run, images, _beside(images))

    def _ask_predict_texts(self, folder: bool) -> None:
        """Ask for the texts to predict (a folder of .txt files, or a .txt file or table), then the CSV to write."""
        run = self.selected_run()
        if not run:
            return
        if folder:
            source = ask_folder(self, "Folder of .txt files to predict")
            if source:
                self._ask_predictions_file(run, source, _beside(source))
            return
        patterns = " ".join(f"*{suffix}" for suffix in (".txt", *TABLE_SUFFIXES))
        source = ask_open_file(
            self, "Text file or table to predict", f"Texts and tables ({patterns});;All files (*)"
        )
        if not source:
            return
        columns: dict = {}
        if is_table_file(source):
            try:
                dialog = TextImportDialog(source, self, purpose="predict")
            except ProjectError as exc:
                self.show_message(f"Cannot predict the texts of {Path(source).name}: {exc}")
                return
            if not dialog.exec():
                return
            columns = dialog.columns()
        self._ask_predictions_file(
            run, source, Path(source).with_name(f"{Path(source).stem}-predictions.csv"), columns
        )

    def _ask_predictions_file(
        self, run: str, source: str, suggested: Path, columns: dict | None = None
    ) -> None:
        out = ask_save_file(self, "Write the predictions to", str(suggested), "CSV files (*.csv)")
        if out and is_inside(
            out, source
        ):  # the dialog's "replace?" would let the predictions overwrite an input
            what = "inside the folder being predicted" if Path(source).is_dir() else "what is being predicted"
            self.show_message(f"{out} is {what}: choose a file outside it for the predictions.")
        elif out:
            self.predict_requested.emit(
                run, source, out, columns or {}, dict(self.unsure_target.currentData() or {})
            )

    def _suggest(self) -> None:
        run = self.selected_run()
        if run:
            self.suggest_requested.emit(run, self.method.currentData())

    # ----------------------------------------------------------------- state
    def set_busy(self, busy: bool, text: str = "", cancellable: bool = False) -> None:
        """Show long work going on (``text``), with a Cancel button when it can be stopped; or its end."""
        self.progress.setVisible(busy)
        self.progress.setRange(0, 0)
        focused = QApplication.focusWidget()
        # A button disabled while busy loses the focus: it comes back after (h30).
        if busy and focused in self._run_buttons():
            self._focus_after = focused
        if busy and cancellable and self.cancel_button.isHidden():
            self._cancel_shown_at = time.monotonic()
        self.cancel_button.setVisible(busy and cancellable)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        for button in self._run_buttons():
            button.setEnabled(not busy and self.run_choice.count() > 0)
        if not busy and self._focus_after is not None:
            back, self._focus_after = self._focus_after, None
            if back.isEnabled() and back.isVisible():
                # Where Qt moved it inside this area, it goes back; a person who went elsewhere keeps it there.
                focused = QApplication.focusWidget()
                if focused is None or self.isAncestorOf(focused):
                    back.setFocus(Qt.FocusReason.OtherFocusReason)
        if text:
            self._say(text)

    def _cancel(self) -> None:
        # Cancel appears where the row's buttons were pushed from: the second click of a double-click on Evaluate
        # landed on it and stopped the evaluation just asked for (h33). A click that soon after is not a Cancel.
        if time.monotonic() - self._cancel_shown_at < QApplication.doubleClickInterval() / 1000:
            return
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Stopping…")
        self.cancel_requested.emit()

    def show_progress(self, done: int, total: int) -> None:
        if total <= 0:  # nothing counted yet (every feature cached, say): busy, not "0 of 0"
            self.progress.setRange(0, 0)
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def show_message(self, text: str, detail: str = "") -> None:
        """The end of some work: what it did or why it failed (rich text), ``detail`` as its tooltip."""
        self.set_busy(False)
        self._say(text, detail)

    def _say(self, text: str, detail: str = "") -> None:
        self.message.setText(text)
        self.message.setToolTip(detail)
        self.message.setVisible(bool(text))

    # ----------------------------------------------------------------- result
    def clear_result(self) -> None:
        """Show no evaluation (another project was opened: its runs and classes are other ones)."""
        self.evaluated.clear()
        self._asked.clear()
        self._stale.clear()
        self._clear_display()
        self._say("")
        self.summary.setText("Choose a run and press Evaluate.")
        # The next project's runs are listed afresh, not as runs just finished.
        self.run_choice.blockSignals(True)
        self.run_choice.clear()
        self.run_choice.blockSignals(False)

    def _clear_display(self) -> None:
        self.result = None
        self.note.hide()
        self._clear_tables()

    def _clear_tables(self) -> None:
        self.confusion.clear_matrix()
        self.per_class.setRowCount(0)
        self.reliability.show_summary(
            None, noun="text" if self.is_text else "image"
        )  # h32: "no image" of texts
        for button in (self.misclassified_button, self.low_confidence_button):
            button.setEnabled(False)

    def mark_out_of_date(self) -> None:
        """Labels, classes or splits changed after the evaluation shown: say that its figures are of the project
        as it was (a relabelled test image still counts under its old label) until Evaluate is pressed again.
        The other runs' evaluations kept are dropped: choosing one of them asks for Evaluate again."""
        self._changes += 1
        self.evaluated = {run: result for run, result in self.evaluated.items() if result is self.result}
        if self.result is None or self.note.text().startswith(OUT_OF_DATE):
            return
        self._stale.add(self.result.run_dir)  # shown again after another run was chosen: still marked
        earlier = self.note.text() if not self.note.isHidden() else ""  # (the panel may be closed)
        self.note.setText(OUT_OF_DATE + (f"\n{earlier}" if earlier else ""))
        self.note.setToolTip(OUT_OF_DATE_TIP)
        self.note.show()

    def _show_nothing_scored(self, result: object, extra: list[str]) -> None:
        """An evaluation of no image: say so, with no number and no tables."""
        self.summary.setText(
            f"<b>{result.run_name}</b>: {nothing_scored(result.noun)} in the <b>{result.split_title}</b>, so no accuracy."
            + (" " + "; ".join(extra) + "." if extra else "")
        )
        self._clear_tables()

    def show_result(self, result: object) -> None:
        """Show an ``EvaluationResult`` just made: note, summary, heat map and per-class table (and, through
        :attr:`result_shown`, the browser's verdicts); kept for the run, and its run chosen."""
        self.set_busy(False)
        if self.run_choice.count() and self.run_choice.findData(result.run_dir) < 0:
            return  # a run of the project open before: its figures are not this one's (h29)
        self._say("")
        self.evaluated[result.run_dir] = result
        if self._asked.pop(result.run_dir, self._changes) == self._changes:
            self._stale.discard(result.run_dir)
        else:  # labels changed while it was being evaluated: its figures are of the project as it was
            self._stale.add(result.run_dir)
        position = self.run_choice.findData(result.run_dir)
        if position >= 0 and position != self.run_choice.currentIndex():
            self.run_choice.blockSignals(True)
            self.run_choice.setCurrentIndex(position)
            self.run_choice.blockSignals(False)
        self._display(result)

    def _display(self, result: object) -> None:
        self.result = result
        self.result_shown.emit(result)
        classes = list(result.classes)
        matrix = np.asarray(result.confusion)
        metrics = result.metrics
        note = result.note
        if result.run_dir in self._stale:
            note = OUT_OF_DATE + (f"\n{note}" if note else "")
        self.note.setText(note)
        self.note.setToolTip(OUT_OF_DATE_TIP if result.run_dir in self._stale else "")
        self.note.setVisible(bool(note))
        noun = getattr(result, "noun", "image")
        extra = []
        if result.skipped:
            extra.append(f"{result.skipped} {noun}(s) of classes unknown to the run left out")
        if result.unreadable:
            extra.append(f"{len(result.unreadable)} unreadable {noun}(s)")
        if result.reused_features:
            extra.append(f"reused {result.reused_features} cached feature vector(s)")
        if not result.scored:
            self._show_nothing_scored(result, extra)
            return
        self.summary.setText(
            f"<b>{result.run_name}</b> on {len(result.image_ids)} {noun}(s) of the <b>{result.split_title}</b>: "
            f"accuracy <b>{metrics.accuracy:.1%}</b>, balanced accuracy <b>{metrics.balanced_accuracy:.1%}</b>"
            f"{html.escape(result.balanced_scope())}, "
            f"{len(result.misclassified_ids())} misclassified. Rows are the true class, columns the prediction; "
            f"click a cell to see its {noun}s." + (" " + "; ".join(extra) + "." if extra else "")
        )
        self.confusion.show_matrix(matrix, classes)
        self.per_class.show_metrics(metrics, classes)
        self.per_class.setHorizontalHeaderLabels([*PER_CLASS_COLUMNS[:-1], f"{noun.capitalize()}s"])
        self.reliability.show_summary(
            result.calibration_summary(), result.reliability(calibrated=False).to_dict(), noun
        )
        for button in (self.misclassified_button, self.low_confidence_button):
            button.setEnabled(True)
