"""Training area: Start / Pause / Stop, progress with speed and ETA, live curves (loss, accuracy, learning
rate), the confusion matrix and per-class scores of the last epoch, and the project's run history with overlays.

Curves are created once and updated with ``setData`` from growing numpy buffers (pyqtgraph's fast path).
"""

from __future__ import annotations

import html
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.evaluation.metrics import format_score
from dmtl_studio.core.project.runs_table import EpochMetrics, RunRecord, best_accuracy, fitted_as_linear_probe
from dmtl_studio.core.training.events import (
    EpochResult,
    PhaseStarted,
    PreparationProgress,
    RunSummary,
    StepProgress,
)
from dmtl_studio.ui.column_scroll import ColumnScroll
from dmtl_studio.ui.confusion_view import PER_CLASS_COLUMNS, ConfusionTable, PerClassTable
from dmtl_studio.ui.muted import readable, tone
from dmtl_studio.ui.plot_theme import follow_theme, plot_font

REDRAW_MS = 200
TRAIN_COLOR = "#2e86de"
CONSISTENCY_COLOR = "#8e44ad"
VAL_COLOR = "#e67e22"
#: Overlaid runs: colours no live curve uses (the consistency term is purple).
OVERLAY_COLORS = ("#7f8c8d", "#1e8449")
#: Legend names of the curves only runs with the DMTL objective have.
CONSISTENCY_NAME, KEPT_NAME = "consistency (per step)", "views confident enough for consistency"
#: The run notes shown under the status line (the latest; the tooltip lists them all when there are more).
NOTES_SHOWN = 5
#: The notes take at most this many lines of text; longer notes scroll, so the curves keep their room.
NOTES_LINES = 3
#: Shown whole (the "all notes" button), they take at most this many lines, then scroll.
NOTES_LINES_WHOLE = 14


class _NotesArea(QScrollArea):
    """A frameless scrolling area for the run's notes: as tall as its word-wrapped label up to
    :data:`NOTES_LINES` lines, then scrolling (at 1280 x 720 five notes took the curves' whole height);
    ``whole``: up to :data:`NOTES_LINES_WHOLE` lines (the person asked to read them all)."""

    refitted = Signal()  # after each refit: whether some notes are out of view may have changed

    def __init__(self, label: QLabel) -> None:
        super().__init__()
        self.label = label
        self.setWidget(label)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._lines = QLabel()  # never shown: measures whole rich-text lines
        self.whole = False
        self.cut = False  # the notes are taller than the room they have: some are out of view
        self.hide()

    def refit(self) -> None:
        """Take the label's height at the present width, at most :data:`NOTES_LINES` lines (or
        :data:`NOTES_LINES_WHOLE`)."""
        width = max(self.viewport().width(), 100)
        wanted = max(self.label.heightForWidth(width), 0)
        self._lines.setFont(self.label.font())
        self._lines.setText("<br>".join("X" * (NOTES_LINES_WHOLE if self.whole else NOTES_LINES)))
        room = self._lines.heightForWidth(width)
        self.cut = wanted > room
        self.setFixedHeight(min(wanted, room))
        self.refitted.emit()

    def resizeEvent(self, event) -> None:  # noqa: ANN001 - Qt's signature
        super().resizeEvent(event)
        self.refit()


#: Pixels between the last tab and the run's buttons when they share the tab bar's row.
CORNER_GAP = 12


class _RunControls(QWidget):
    """Start, Pause, Stop and the progress bar, in a row above the tabs; on a panel wide enough, in the tab bar's
    right-hand corner instead (:meth:`TrainingPanel.place_run_controls`), where it takes the width the tabs leave (the
    progress bar stretching) and asks for no minimum width: the panel moves it back above before the tabs need that
    room, so the window's minimum never depends on where it is."""

    def __init__(self, tabs: QTabWidget) -> None:
        super().__init__()
        self._tabs = tabs
        self.in_corner = False
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        if self.in_corner:  # the tab widget reads it for the corner's size at each of its layouts
            hint.setWidth(max(0, self._tabs.width() - self._tabs.tabBar().sizeHint().width() - CORNER_GAP))
        return hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()
        return QSize(0, hint.height()) if self.in_corner else hint


class _Series:
    """A growing (x, y) series in preallocated numpy buffers, drawn by one curve updated with setData.

    Appending only records the point; :meth:`draw` (called by the panel's redraw timer) hands new points to
    the curve, so a burst of steps costs one repaint instead of one per step.
    """

    def __init__(self, curve: pg.PlotDataItem) -> None:
        self.curve = curve
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0
        self.drawn = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.resize(self.x, 2 * self.n)
            self.y = np.resize(self.y, 2 * self.n)
        self.x[self.n], self.y[self.n] = x, y
        self.n += 1

    def draw(self) -> None:
        if self.drawn != self.n:
            self.curve.setData(self.x[: self.n], self.y[: self.n])
            self.drawn = self.n

    def set(self, x: list[float], y: list[float]) -> None:
        self.n = 0
        for a, b in zip(x, y, strict=True):
            if self.n == len(self.x):
                self.x = np.resize(self.x, 2 * self.n)
                self.y = np.resize(self.y, 2 * self.n)
            self.x[self.n], self.y[self.n] = a, b
            self.n += 1
        self.draw()

    def clear(self) -> None:
        self.n = 0
        self.drawn = 0
        self.curve.setData([], [])


#: How far the accuracy axis may run past 0 and 1 (a fraction): room for a point's symbol at either end.
ACCURACY_MARGIN = 0.06


def _plot(title: str, y_label: str, x_label: str = "epoch") -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no keys to take: Tab passes it by
    # The title is the left axis's label rather than a row of its own (on a laptop screen every row taken from
    # the plot is taken from the curves); what is measured is in the tooltip.
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", title)
    plot.setToolTip(f"{title}: {y_label}, by {x_label}")
    plot.showGrid(x=True, y=True, alpha=0.25)
    for axis in ("bottom", "left"):
        # "epoch (x0.001)" or "head LR (x1e-06)" read as units of the data: the ticks carry their own scale.
        plot.getAxis(axis).enableAutoSIPrefix(False)
    # The legend sits in a row of its own under the plot, never over a curve.
    legend = pg.LegendItem(offset=None, colCount=3)  # its colour and size follow the theme (below)
    # Without this the style's default margins (9 px a side) take a fifth of a laptop screen's plot height.
    legend.layout.setContentsMargins(0, 0, 0, 0)
    item = plot.getPlotItem()
    item.layout.addItem(legend, 4, 1)
    item.legend = legend  # curves given a name join it
    plot.setClipToView(True)
    plot.setDownsampling(mode="peak")
    plot.installEventFilter(_LegendFit(plot))
    return follow_theme(plot, also=lambda: fit_legend(plot))


def fit_legend(plot: pg.PlotWidget) -> None:
    """Legend entries that fit the plot's width whole: at a large font or in a narrow plot a row of entries was cut
    ("validatio"). A row a little too wide takes a font up to a fifth smaller (not under 7 pt); one far too wide
    holds fewer entries, the others on more rows (each row takes height from the curves); an entry too wide alone
    takes a smaller font, down to 7 pt."""
    legend = plot.getPlotItem().legend
    if legend is None or not legend.items:
        return
    room = plot.width() - plot.getPlotItem().getAxis("left").width() - 8
    columns = min(3, len(legend.items))
    size = plot_font().pointSizeF()

    def widest(count: int) -> float:  # the widest ``count`` entries side by side
        widths = [
            s.boundingRect().width() + label.item.boundingRect().width() + 12 for s, label in legend.items
        ]
        return sum(sorted(widths, reverse=True)[:count])

    def set_size(points: float) -> None:
        legend.setLabelTextSize(f"{points:g}pt")
        for _sample, label in legend.items:
            label.setText(label.text)  # a label takes its new size only when its text is set again

    def shrink(floor: float) -> None:  # half a point at a time from the plot's size while the row is too wide
        smaller = size
        while widest(columns) > room and smaller - 0.5 >= floor:
            smaller -= 0.5
            set_size(smaller)

    if size > 0:
        set_size(size)
        if not plot.isVisible():  # no width to fit yet: fitted when it is shown (_LegendFit)
            return
        shrink(max(7.0, 0.8 * size))
        if widest(columns) > room:  # too wide even so: the entries wrap, at the plot's own size
            set_size(size)
    while columns > 1 and widest(columns) > room:
        columns -= 1
    if size > 0:
        shrink(7.0)  # one entry alone too wide even on a row of its own: smaller still
    legend.setColumnCount(columns)


class _LegendFit(QObject):
    """Fits the plot's legend to its width once the layout has settled after a resize or a show (:func:`fit_legend`;
    during the resize the axes still have their old widths; an entry added while its dock tab was behind another
    is fitted when the tab comes to the front, h36)."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        super().__init__(plot)
        self._later = QTimer(self, singleShot=True, interval=0, timeout=lambda: fit_legend(plot))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._later.start()
        return False


def _chosen_marker(plot: pg.PlotWidget) -> pg.InfiniteLine:
    """A hidden vertical dashed line with a label at its top, for the linear probe's chosen strength."""
    marker = pg.InfiniteLine(
        angle=90, movable=False, label="chosen C", labelOpts={"position": 0.9, "anchors": [(0, 0), (0, 0)]}
    )

    def colour() -> None:  # red that reads on the plot's ground, light or dark, in the plot's font
        red = readable("#c0392b")
        marker.setPen(pg.mkPen(red, width=1.5, style=Qt.PenStyle.DashLine))
        marker.label.setColor(red)
        marker.label.setFont(plot_font())

    colour()
    follow_theme(plot, also=colour)
    marker.hide()
    plot.addItem(marker, ignoreBounds=True)
    return marker


def _curve(plot: pg.PlotWidget, name: str | None, color: str, symbols: bool, dashed: bool = False) -> _Series:
    style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
    pen = pg.mkPen(color, width=2 if symbols else 1.5, style=style)
    if symbols:
        return _Series(plot.plot(name=name, pen=pen, symbol="o", symbolSize=6, symbolBrush=color))
    return _Series(plot.plot(name=name, pen=pen))


#: What the window's close question answers: stop the run and quit, quit once the run ends, or stay open.
QUIT_STOP, QUIT_AFTER_RUN, QUIT_CANCEL = "stop", "after-run", "cancel"


def stop_cost(epochs_done: int, epochs: int, phase: str) -> str:
    """What pressing Stop now keeps and loses, in the words the Stop button and the close question use.

    Parameters
    ----------
    epochs_done
        Epochs the run has completed (its last saved epoch; 0 before the first one ends).
    epochs
        Epochs the run was asked for (0 when not known yet).
    phase
        ``"preparing"`` (building the model), ``"contrastive"`` (a text encoder's contrastive fine-tuning),
        ``"features"`` (the frozen backbone's feature pass), ``"training"`` (steps of an epoch) or ``"probe"``
        (a linear probe's cross-validation).
    """
    if epochs_done > 0:
        of = f" of {epochs}" if epochs else ""
        return (
            f"Stop keeps the run at epoch {epochs_done}{of} (and its best model); "
            "the current epoch's progress is lost. Continue picks it up from there."
        )
    if phase == "features":
        return "No epoch has finished yet: Stop keeps only the features computed so far, no model."
    if phase == "contrastive":
        return "The encoder is being adapted to the labels: Stop keeps no model from this run."
    if phase == "probe":
        return "The linear probe is being fitted: Stop keeps the computed features, no model."
    return "No epoch has finished yet: Stop keeps no model from this run."


def _epochs_shown(config: dict, epochs: int) -> str:
    """The run history's Epochs cell: ``"probe"`` for a head fitted as a linear probe (no epochs), else the
    count."""
    return "probe" if fitted_as_linear_probe(config) else str(epochs)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainingPanel(QWidget):
    """Emits requests (start, pause, stop); is told about the run through its ``on_*`` slots."""

    start_requested = Signal()
    stop_requested = Signal()
    pause_requested = Signal(bool)  # True: pause, False: resume
    resume_run_requested = Signal(str)  # a stopped run's folder, to continue after its last epoch

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton("Start training")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.pause_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_requested)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.stop_button.clicked.connect(self._stop_clicked)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status = QLabel("Open a project with labelled images, then press Start training.")
        self.status.setWordWrap(True)
        #: What the statuses call the project's items and its model: ``set_kind`` changes them for a text project.
        self.item, self.model_part = "image", "backbone"
        self.paused = False
        self.clock = time.monotonic  # seconds; the ETA and elapsed times are read from it
        self._started_at = 0.0
        self._paused_seconds = 0.0
        self._paused_at = 0.0
        # The run as far as Stop is concerned: epochs completed, epochs asked for, and the current phase.
        self.epochs_done = 0
        self.epochs_planned = 0
        self.phase = "preparing"
        self._features_computed = 0
        self.auto_phase = ""  # "Auto, phase 1 of 2 (…)" during an Auto run
        self._probe_run = False  # the head of the run under way is fitted as a linear probe
        # The step phase's own clock: its ETA comes from its own rate, never from the feature pass before it.
        self._steps_origin: tuple[float, int, float] | None = None  # (time, steps done, paused seconds)
        self.stop_note = QLabel()
        self.stop_note.setWordWrap(True)
        tone(self.stop_note)
        self.stop_note.hide()

        self.loss_plot = _plot("Loss", "cross-entropy")
        self.accuracy_plot = _plot("Accuracy", "fraction correct")
        self.accuracy_plot.setYRange(0, 1)
        # A fraction: the axis never runs far past 0 or 1, whatever the auto-range's padding (it read 1.4, h28),
        # but far enough that a point at 0 or 1 is drawn whole (it sat half cut on the plot's edge, h33).
        self.accuracy_plot.getPlotItem().getViewBox().setLimits(
            yMin=-ACCURACY_MARGIN, yMax=1 + ACCURACY_MARGIN
        )
        self.lr_plot = _plot("Learning rate", "the new head's learning rate")
        self.train_loss = _curve(self.loss_plot, "train (per step)", TRAIN_COLOR, symbols=False)
        self.val_loss = _curve(self.loss_plot, "validation", VAL_COLOR, symbols=True)
        self.train_accuracy = _curve(self.accuracy_plot, "train", TRAIN_COLOR, symbols=True)
        self.val_accuracy = _curve(self.accuracy_plot, "validation", VAL_COLOR, symbols=True)
        self.learning_rate = _curve(self.lr_plot, "per step", "#16a085", symbols=False)
        # A linear probe's chosen strength: a dashed line through that C on the loss and strength plots.
        self.chosen_c = tuple(_chosen_marker(plot) for plot in (self.loss_plot, self.lr_plot))
        self._chosen_c_shown = False  # hidden while history runs are overlaid (their x axis is epochs)
        # The DMTL consistency term, per step; it joins the legend only in runs that have it.
        self.consistency_loss = _curve(self.loss_plot, None, CONSISTENCY_COLOR, symbols=False)
        # The share the consistency threshold kept per epoch (with the FixMatch rule: the unlabelled images that
        # got a pseudo-label), on the accuracy plot's 0..1 scale; also in the legend only in runs that have it.
        self.kept_share = _curve(self.accuracy_plot, None, CONSISTENCY_COLOR, symbols=True)
        # Overlays join the legends only while they show a run (under that run's name).
        self.overlays: list[tuple[_Series, _Series]] = [
            (
                _curve(self.loss_plot, None, color, symbols=False, dashed=True),
                _curve(self.accuracy_plot, None, color, symbols=False, dashed=True),
            )
            for color in OVERLAY_COLORS
        ]
        for loss, accuracy in self.overlays:
            for series in (loss, accuracy):
                series.curve.hide()
        # Curves are redrawn a few times a second at most: painting is Python work on the GUI thread, and it
        # competes with the training thread for the interpreter. Each tick of the timer draws one part (a plot
        # or the confusion table) in turn, so no single pass of the event loop paints them all.
        self._parts = (
            (self.train_loss, self.val_loss, self.consistency_loss),
            (self.train_accuracy, self.val_accuracy, self.kept_share),
            (self.learning_rate,),
        )
        self.live = tuple(series for part in self._parts for series in part)  # every curve a run draws
        self._next_part = 0
        self._pending_confusion: tuple[np.ndarray, list[str], str] | None = None
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setInterval(REDRAW_MS // (len(self._parts) + 1))
        self.redraw_timer.timeout.connect(self._redraw_next)

        self.confusion = ConfusionTable(
            "Rows: true class · columns: predicted class · last epoch, validation images"
        )
        self.per_class = PerClassTable()
        self.confusion_note = QLabel(
            "The confusion matrix appears after the first epoch with validation images."
        )
        self.confusion_note.setWordWrap(True)

        self.history = QTableWidget(0, 7)
        self.history.setHorizontalHeaderLabels(
            ["Run", "Status", "Backbone", "Strategy", "Epochs", "Best val. acc.", "Augmentation"]
        )
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.history.horizontalHeader().setStretchLastSection(True)
        self.history.itemSelectionChanged.connect(self._overlay_selected)
        self.history_note = QLabel("Select up to two runs to overlay their validation curves on the plots.")
        self.history_note.setWordWrap(True)  # one line of 410 px made the window wider than a 1024 px screen
        self.resume_button = QPushButton("Continue selected run")
        self.resume_button.setToolTip(
            "Goes on after the last completed epoch of a stopped, failed or interrupted run"
        )
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(self._resume_clicked)
        self.notices = QLabel()
        self.notices.setWordWrap(True)
        tone(self.notices, "#a04000")
        self.notices.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.notices.hide()
        self.notices_area = _NotesArea(self.notices)
        # Five notes in three lines hid the important ones behind a 10-px scroll bar (h32): say there are more.
        self.notes_toggle = QToolButton()
        self.notes_toggle.setObjectName("notes-toggle")
        self.notes_toggle.setAutoRaise(True)
        self.notes_toggle.clicked.connect(self._toggle_notes)
        self.notes_toggle.hide()
        self.notices_area.refitted.connect(self._update_notes_toggle)
        self._notes: list[str] = []  # the run's notes, all of them (the label shows the latest)
        self._history: list[RunRecord] = []
        self._history_metrics: dict[int, list[EpochMetrics]] = {}

        self.tabs = QTabWidget()
        self.run_controls = _RunControls(self.tabs)
        for button in (self.start_button, self.pause_button, self.stop_button):
            self.run_controls.row.addWidget(button)
        self.run_controls.row.addWidget(self.progress, 1)
        curves = QWidget()
        curves_layout = QHBoxLayout(curves)
        curves_layout.setContentsMargins(0, 0, 0, 0)
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            curves_layout.addWidget(plot)
        matrix = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.confusion_note)
        left_layout.addWidget(self.confusion, 1)
        matrix.addWidget(left)
        matrix.addWidget(self.per_class)
        history = QWidget()
        history_layout = QVBoxLayout(history)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_top = QHBoxLayout()
        history_top.addWidget(self.history_note, 1)
        history_top.addWidget(self.resume_button)
        history_layout.addLayout(history_top)
        history_layout.addWidget(self.history, 1)
        self.tabs.addTab(curves, "Curves")
        # The pages behind the curves ask no height of their own and scroll what they cannot squeeze: a tab
        # widget is as tall as its tallest page, and the run history's wrapped note, button and table (or the
        # confusion note over its table) held the window 33 px taller than the curves need in Noto Sans, past a
        # 1024 x 600 screen.
        self.tabs.addTab(ColumnScroll(matrix, min_height=0, squeeze=True), "Confusion matrix")
        self.tabs.addTab(ColumnScroll(history, min_height=0, squeeze=True), "Run history")
        layout = QVBoxLayout(self)
        # Tighter than the style's 9 px: on a 720 px screen each row of margin is taken from the curves.
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addWidget(self.run_controls)
        layout.addWidget(self.status)
        layout.addWidget(self.stop_note)
        notes_row = QHBoxLayout()
        notes_row.setSpacing(4)
        notes_row.addWidget(self.notices_area, 1)
        notes_row.addWidget(self.notes_toggle, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(notes_row)
        layout.addWidget(self.tabs, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.place_run_controls()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() in (
            QEvent.Type.FontChange,
            QEvent.Type.StyleChange,
        ):  # the row's width changed with it
            self.place_run_controls()

    def place_run_controls(self) -> None:
        """The run's buttons and progress bar beside the tabs where the panel is wide enough for both in one row
        (the tab bar's row is empty right of its tabs): the row above the tabs goes to the curves, which on a 720 px
        screen with a font taller than DejaVu Sans had too little height. Above the tabs where it is narrower."""
        margins = self.layout().contentsMargins()
        tabs = self.tabs.tabBar().sizeHint().width()
        room = self.width() - margins.left() - margins.right() - tabs - CORNER_GAP
        wide = room >= self.run_controls.row.sizeHint().width()  # the row's own width, wherever it is now
        controls = self.run_controls
        if wide == controls.in_corner:
            return
        controls.in_corner = wide
        if wide:
            self.layout().removeWidget(controls)
            self.tabs.setCornerWidget(controls, Qt.Corner.TopRightCorner)
        else:
            self.tabs.setCornerWidget(None, Qt.Corner.TopRightCorner)
            self.layout().insertWidget(0, controls)
        controls.show()

    # ----------------------------------------------------------------- state
    def set_can_start(self, can_start: bool, message: str) -> None:
        """Enable Start or not; ``message`` says why not, or what a run will use."""
        running = self.stop_button.isEnabled()
        self.start_button.setEnabled(can_start and not running)
        self.start_button.setToolTip("" if can_start else message)
        if not running:
            self.status.setText(message)

    def run_started(
        self, description: str, continues_after: int = 0, epochs: int = 0, probe: bool = False
    ) -> None:
        """A run starts; ``continues_after``: the last saved epoch of a run being continued (of ``epochs``), so that
        Stop and the close question say from the start that it is kept; ``probe``: its head is fitted as a linear
        probe (no epochs: the messages say so)."""
        self.auto_phase = ""
        self._probe_run = probe
        self._features_computed = 0  # views through the frozen backbone (cached): what a stopped run leaves
        self._clear_curves()
        if continues_after > 0:
            self.epochs_done, self.epochs_planned = continues_after, epochs
            self._show_stop_cost()
        self.start_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.pause_button.setEnabled(True)
        self._clear_notes()
        self.pause_button.setText("Pause")
        self.paused = False
        self._started_at = self.clock()
        self._paused_seconds = 0.0
        self.status.setText(f"Preparing: {description}")
        self.redraw_timer.start()

    def _clear_notes(self) -> None:
        """No notes shown, the next ones folded (h34: "Fewer notes" over no notes)."""
        self._notes.clear()
        self.notices_area.whole = False
        self.notices.clear()
        self.notices.setToolTip("")
        self.notices.hide()
        self.notices_area.hide()
        self.notes_toggle.hide()

    def clear_run(self) -> None:
        """Show no run (another project was opened: its runs are in its history, not in these plots and notes)."""
        if self.stop_button.isEnabled():  # a run in progress keeps its display
            return
        self._clear_curves()
        self.stop_note.hide()  # what Stop would cost is said while a run trains, not at rest
        self.stop_button.setToolTip("")
        self._clear_notes()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")

    def on_phase(self, event: PhaseStarted) -> None:
        """An Auto run's next phase: its own curves from epoch 1, and the status line says which phase."""
        self.auto_phase = f"Auto, phase {event.phase} of {event.phases} ({event.title})"
        self._clear_curves()
        self.status.setText(f"{self.auto_phase}: preparing…")

    def _say(self, text: str) -> None:
        """The status line while the run works, after the Auto phase when there is one."""
        self.status.setText(f"{self.auto_phase}: {text}" if self.auto_phase else text)

    def _clear_curves(self) -> None:
        """Empty the curves and tables, ready for a run's (or an Auto phase's) first epoch."""
        for series in self.live:
            series.clear()
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            # The last run's axes go with its curves: empty plots read 0 to 1 until the new points come.
            box = plot.getPlotItem().getViewBox()
            box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            box.enableAutoRange()
        self._chosen_c_shown = False
        self._show_chosen_c()
        self._in_legend(self.loss_plot, self.consistency_loss, CONSISTENCY_NAME, shown=False)
        self._in_legend(self.accuracy_plot, self.kept_share, KEPT_NAME, shown=False)
        self.kept_share.curve.hide()
        self._in_legend(self.accuracy_plot, self.val_accuracy, "validation", shown=True)
        self.confusion.setRowCount(0)
        self.per_class.setRowCount(0)
        self.confusion_note.setText(
            f"The confusion matrix appears after the first epoch with validation {self.item}s."
        )
        self.epochs_done, self.epochs_planned, self.phase = 0, 0, "preparing"
        self._steps_origin = None
        self._label_rate_plot(probe=False)
        self._show_stop_cost()
        self.progress.setRange(0, 0)  # busy until the first step reports
        self.progress.setFormat("preparing…")

    def redraw(self) -> None:
        """Draw everything that changed (at the end of a run, or on demand)."""
        for series in self.live:
            series.draw()
        self._draw_confusion()

    def _redraw_next(self) -> None:
        """One part per tick: the next plot with new points, or the confusion table."""
        parts = len(self._parts) + 1
        for _ in range(parts):
            part, self._next_part = self._next_part, (self._next_part + 1) % parts
            if part == len(self._parts):
                if self._draw_confusion():
                    return
            elif any(series.drawn != series.n for series in self._parts[part]):
                for series in self._parts[part]:
                    series.draw()
                return

    def _draw_confusion(self) -> bool:
        if self._pending_confusion is None:
            return False
        pending, self._pending_confusion = self._pending_confusion, None
        self.show_confusion(*pending)
        return True

    def _pause_clicked(self) -> None:
        self.paused = not self.paused
        self.pause_button.setText("Resume" if self.paused else "Pause")
        if self.paused:
            self._paused_at = self.clock()
            self.status.setText("Paused after the current batch. Resume goes on exactly where it stopped.")
        else:
            self._paused_seconds += self.clock() - self._paused_at
            self.status.setText("Resuming…")
        self.pause_requested.emit(self.paused)

    def _stop_clicked(self) -> None:
        self.stop_button.setEnabled(False)
        self.pause_button.setEnabled(False)
        during = "the current batch" if self.phase == "training" else "the current step"
        self.status.setText(f"Stopping after {during}… {self.stop_cost()}")
        self.stop_note.hide()
        self.stop_requested.emit()

    def stop_cost(self) -> str:
        """What Stop would keep and lose right now (see :func:`stop_cost`)."""
        return stop_cost(self.epochs_done, self.epochs_planned, self.phase)

    def _show_stop_cost(self) -> None:
        text = self.stop_cost()
        self.stop_button.setToolTip(text)
        self.stop_note.setText(text)
        self.stop_note.show()

    def ask_quit_while_training(self) -> str:
        """Ask what closing the window does to the running run: one of QUIT_STOP, QUIT_AFTER_RUN, QUIT_CANCEL."""
        clicked = self._ask_about_run(
            "A run is still training. Quit anyway?",
            f"Keep training: the run goes on{' (it is resumed)' if self.paused else ''} and the window closes by "
            "itself when it ends. Cancel: nothing changes.",
            ("Stop and quit", QMessageBox.ButtonRole.DestructiveRole),
            ("Keep training", QMessageBox.ButtonRole.AcceptRole),
        )
        return {0: QUIT_STOP, 1: QUIT_AFTER_RUN}.get(clicked, QUIT_CANCEL)

    def ask_switch_while_training(self, name: str) -> bool:
        """Ask whether to stop the running run to open the project ``name``: True to stop it and open."""
        clicked = self._ask_about_run(
            f"A run is still training in this project. Stop it and open {name}?",
            "The run belongs to the project open now: it cannot go on in another. Cancel: nothing changes (open "
            "the other project when the run has ended).",
            ("Stop the run and open", QMessageBox.ButtonRole.DestructiveRole),
        )
        return clicked == 0

    def _ask_about_run(
        self, question: str, choices: str, *buttons: tuple[str, QMessageBox.ButtonRole]
    ) -> int:
        """A question about the running run, what Stop costs now, ``buttons`` and Cancel (the default, and
        Escape); the index of the button pressed, -1 for Cancel."""
        box = QMessageBox(self.window())
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("A run is training")
        box.setText(question)
        box.setInformativeText(f"{self.stop_cost()}\n\n{choices}")
        added = [box.addButton(text, role) for text, role in buttons]
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        clicked = box.clickedButton()
        box.deleteLater()
        return next((k for k, button in enumerate(added) if button is clicked), -1)

    # ----------------------------------------------------------------- slots
    def on_progress(self, event: StepProgress) -> None:
        total = event.epochs * event.steps
        done = (event.epoch - 1) * event.steps + event.step
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        now = self.clock()
        elapsed = now - self._started_at - self._paused_seconds
        phase = "probe" if event.phase == "probe" else "training"
        if self.phase != phase:
            self.phase = phase
            self.epochs_planned = event.epochs
            if phase == "probe":
                self._label_rate_plot(probe=True)
            self._show_stop_cost()
        # The core's estimate, from the training steps' own rate; else the steps measured here.
        eta = event.eta_seconds if event.eta_seconds is not None else self._steps_eta(now, done, total)
        if event.phase == "probe":
            self._show_probe_step(event, eta)
            return
        self.progress.setFormat(
            f"epoch {event.epoch}/{event.epochs} · step {event.step}/{event.steps} · "
            f"ETA {format_duration(eta) if eta is not None else '…'}"
        )
        if not self.paused:
            self._say(
                f"Training — loss {event.loss:.3f}, learning rate {event.learning_rate:.2e}, "
                f"{event.images_per_second:.0f} {self.item}s/s, elapsed {format_duration(elapsed)}"
            )
        x = event.epoch - 1 + event.step / event.steps
        self.train_loss.append(x, event.loss)
        self.learning_rate.append(x, event.learning_rate)
        if event.consistency_loss is not None:
            self._in_legend(self.loss_plot, self.consistency_loss, CONSISTENCY_NAME, shown=True)
            self.consistency_loss.append(x, event.consistency_loss)

    def set_kind(self, kind: str) -> None:
        """Word the statuses for a project of ``kind``: ``"images"`` (images, backbone) or ``"text"`` (texts,
        encoder)."""
        self.item, self.model_part = ("text", "encoder") if kind == "text" else ("image", "backbone")
        self.confusion.setToolTip(
            f"Rows: true class · columns: predicted class · last epoch, validation {self.item}s"
        )
        self.confusion_note.setText(
            f"The confusion matrix appears after the first epoch with validation {self.item}s."
        )
        # The per-class table counts texts in a text project, as the Evaluation area's does.
        self.per_class.setHorizontalHeaderLabels([*PER_CLASS_COLUMNS[:-1], f"{self.item.capitalize()}s"])

    def _label_rate_plot(self, probe: bool) -> None:
        """The third plot shows the head's learning rate per step, or, while a linear probe is fitted, the L2
        strengths C it cross-validates (log scale), each with its held-out log-loss on the loss plot."""
        if probe:
            title, measured, x_label, legend = (
                "C (inverse L2 strength)",
                "the linear probe's C",
                "C tried, small to large (strong to weak L2)",
                "C",
            )
        else:
            title, measured, x_label, legend = (
                "Learning rate",
                "the new head's learning rate",
                "epoch",
                "per step",
            )
        for plot in (self.loss_plot, self.lr_plot):  # the accuracy plot shows the fitted head, by epoch
            plot.setLabel("bottom", x_label)
        self.lr_plot.setLabel("left", title)
        self.lr_plot.setToolTip(f"{title}: {measured}, by {x_label}")
        self.lr_plot.getPlotItem().setLogMode(y=probe)
        self._in_legend(self.lr_plot, self.learning_rate, legend, shown=True)
        loss_name = "cross-validated (per C)" if probe else "train (per step)"
        self._in_legend(self.loss_plot, self.train_loss, loss_name, shown=True)
        self._in_legend(self.loss_plot, self.val_loss, "validation", shown=not probe)

    def _in_legend(self, plot: pg.PlotWidget, series: _Series, name: str, shown: bool) -> None:
        """Show ``series`` in ``plot``'s legend under ``name`` (renamed when it is there already), or take it out
        (a curve that has nothing to draw in this run: a linear probe's loss plot has no validation loss, a run
        without a validation pass no validation accuracy)."""
        labels = plot.getPlotItem().legend
        if labels is None:
            return
        entry = labels.getLabel(series.curve)
        if shown and entry is not None:
            if entry.text != name:  # asked on every step by the consistency curve: no relayout when it stays
                entry.setText(name)
                fit_legend(plot)
        elif shown:
            labels.addItem(series.curve, name)
            fit_legend(plot)  # a long entry arriving mid-run cut the next one to "vali" (h33)
        elif entry is not None:
            labels.removeItem(series.curve)
            fit_legend(plot)

    def _show_probe_step(self, event: StepProgress, eta: float | None) -> None:
        """One cross-validated strength of a linear probe: its held-out log-loss and C, plotted by strength."""
        self.progress.setFormat(
            f"linear probe · strength {event.step}/{event.steps} · "
            f"ETA {format_duration(eta) if eta is not None else '…'}"
        )
        if not self.paused:
            self._say(
                f"Fitting the linear probe — C = {event.learning_rate:.3g}: held-out log-loss {event.loss:.3f}"
            )
        self.train_loss.append(event.step, event.loss)
        self.learning_rate.append(event.step, event.learning_rate)

    def _mark_chosen_c(self, c: float) -> None:
        """Mark the strength the probe's cross-validation chose (the plotted C nearest to it on a log scale);
        a probe fitted with a fixed C (too few images per class) plotted none and gets no mark."""
        tried = self.learning_rate.y[: self.learning_rate.n]
        if not len(tried) or c <= 0 or np.any(tried <= 0):
            return
        nearest = int(np.argmin(np.abs(np.log(tried) - np.log(c))))
        step = self.learning_rate.x[nearest]
        # The label reads away from the plot's edge: to the line's left in the right half of the strengths tried
        # (at the last one, the largest C, it was cut to "ch" by the frame).
        anchor = (1, 0) if nearest >= len(tried) / 2 else (0, 0)
        self._chosen_c_shown = True
        for marker in self.chosen_c:
            marker.show()  # first: a hidden line's label does not take a new text
            marker.label.anchors = [anchor, anchor]
            marker.setPos(step)
            marker.label.setFormat(f"chosen C = {c:.3g}")
            marker.label.updatePosition()
        self._show_chosen_c()

    def _show_chosen_c(self) -> None:
        """The chosen-C mark shows once a probe has chosen, and not over overlaid history runs (plotted by epoch)."""
        for marker in self.chosen_c:
            marker.setVisible(self._chosen_c_shown and not self.history.selectedIndexes())

    def _steps_eta(self, now: float, done: int, total: int) -> float | None:
        """Seconds left at the step phase's own rate (steps since its first report, over the time since)."""
        if self._steps_origin is None or done < self._steps_origin[1]:
            # The first step report (or a new stretch after a feature pass between epochs): the clock starts.
            self._steps_origin = (now, done, self._paused_seconds)
        started, first, paused = self._steps_origin
        seconds = now - started - (self._paused_seconds - paused)
        steps = done - first
        if steps <= 0 or seconds <= 0:
            return None  # not measured yet
        return seconds / steps * (total - done)

    def on_preparing(self, event: PreparationProgress) -> None:
        """The frozen backbone's one pass over the images, before (and between) the first steps; in a text run,
        the encoder's contrastive fine-tuning before that pass."""
        if event.phase == "features":  # views computed now (not read from the cache): what Stop would keep
            self._features_computed = max(self._features_computed, event.done - event.reused)
        if self.phase != event.phase:
            self.phase = event.phase
            self._steps_origin = None  # the steps after this pass measure their own rate again
            self._show_stop_cost()
        self.progress.setRange(0, max(1, event.total))
        self.progress.setValue(event.done)
        if event.phase == "contrastive":
            # At the rate measured here, pauses left out (the core's counts a pause as time spent on the steps).
            eta = self._steps_eta(self.clock(), event.done, event.total)
            eta = eta if eta is not None else event.eta_seconds  # the first report: the core's, no pause yet
            left = format_duration(eta) if eta is not None else "…"
            self.progress.setFormat(f"contrastive {event.done:,}/{event.total:,} · ETA {left}")
            if not self.paused:
                self._say(
                    f"Adapting the {self.model_part} to your labels (SetFit's contrastive fine-tuning): step "
                    f"{event.done:,} of {event.total:,}, {format_duration(event.seconds)}; its embeddings are "
                    "computed next, then the head is fitted."
                )
            return
        left_seconds = event.eta_seconds  # the core's, from the views computed (not read from the cache)
        if left_seconds is None and event.done and not event.reused:
            left_seconds = event.seconds * (event.total - event.done) / event.done
        left = format_duration(left_seconds) if left_seconds is not None else "…"
        self.progress.setFormat(f"features {event.done:,}/{event.total:,} · ETA {left}")
        if not self.paused:
            self._say(
                f"Computing features once with the frozen {self.model_part}: {event.done:,} of {event.total:,} "
                f"{self.item} views (a few augmented views of each training {self.item}), "
                f"{format_duration(event.seconds)}; "
                + (
                    "the linear probe is then fitted in seconds."
                    if self._probe_run
                    else "the head then trains in seconds per epoch."
                )
                + (f" Reused {event.reused:,} cached views." if event.reused else "")
            )

    def on_epoch(self, event: EpochResult) -> None:
        self.epochs_done, self.epochs_planned = event.epoch, event.epochs
        self._show_stop_cost()
        if event.probe_c is not None:
            self._mark_chosen_c(event.probe_c)
        self.train_accuracy.append(event.epoch, event.train_accuracy)
        if event.val_loss is not None:
            self.val_loss.append(event.epoch, event.val_loss)
        if event.val_accuracy is not None:
            self.val_accuracy.append(event.epoch, event.val_accuracy)
        if event.consistency_mask is not None:
            self.kept_share.append(event.epoch, event.consistency_mask)
            # Drawn once the confidence threshold left some views out: a line at 100 % (no threshold, or every
            # view confident) says nothing, and its legend entry read as jargon on every fine-tune.
            if event.consistency_mask < 0.999 and not self.kept_share.curve.isVisible():
                self.kept_share.curve.show()
                self._in_legend(self.accuracy_plot, self.kept_share, KEPT_NAME, shown=True)
        if event.confusion is not None and event.classes:
            # Shown by the redraw timer: fast epochs (a frozen backbone) rebuild the table a few times a second
            # at most, not once per epoch.
            self._pending_confusion = (
                np.asarray(event.confusion),
                list(event.classes),
                f"epoch {event.epoch}",
            )

    def show_confusion(self, confusion: np.ndarray, classes: list[str], when: str) -> None:
        """A heat map (cell colour: share of the true class's images) and precision/recall/F1 per class."""
        self.confusion.show_matrix(confusion, classes)
        metrics = self.per_class.show_matrix(confusion, classes)
        self.confusion_note.setText(
            f"Validation {self.item}s, {when}: accuracy {format_score(metrics.accuracy, '.1%', self.item)}, balanced accuracy "
            f"{format_score(metrics.balanced_accuracy, '.1%', self.item)}. Rows are the true class, columns the prediction."
        )

    def on_finished(self, summary: RunSummary) -> None:
        self._idle()
        accuracy, out_of_fold = best_accuracy(summary.metrics)
        # Out-of-fold: a probe's validation items joined its fit.
        what = "out-of-fold" if out_of_fold else "best"
        detail = f", {what} validation accuracy {accuracy:.1%}" if accuracy is not None else ""
        verb = "Finished" if summary.status == "completed" else "Stopped"
        choice = summary.metrics.get("auto")
        if choice is not None:  # an Auto run: what was kept and why
            self.status.setText(f"{verb}: {choice['note']}. Model saved in {summary.run_dir}")
        elif summary.epochs_completed and self.phase == "probe":
            self.status.setText(
                f"{verb}: the linear probe was fitted on {summary.device}{detail}. Model saved in {summary.run_dir}"
            )
        elif summary.epochs_completed:
            self.status.setText(
                f"{verb} after {summary.epochs_completed} epoch(s) on {summary.device}{detail}. "
                f"Model saved in {summary.run_dir}"
            )
        else:
            cached = (
                summary.removed and self._features_computed > 0
            )  # a fine-tune computes no cached features
            kept = "; the features computed so far are cached for the next run" if cached else ""
            before = "the linear probe was fitted" if self._probe_run else "the first epoch ended"
            gone = " No run was kept: Start trains a new one." if summary.removed else ""
            self.status.setText(f"{verb} before {before}{kept}.{gone}")
        self.progress.setFormat(verb.lower())
        # A full bar: Auto's skipped fine-tune left it at its first phase's share.
        if summary.status == "completed":
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
        if summary.epochs_completed and self.val_loss.n == 0:  # no validation loss: no key for it (h33)
            self._in_legend(self.loss_plot, self.val_loss, "validation", shown=False)
        # A probe whose validation items joined its fit: their out-of-fold accuracy beside its training accuracy
        # (h32: one "train" dot, and the accuracy the status line quoted nowhere on the plot).
        out_of_fold_shown = (
            (self._probe_run or self.phase == "probe")
            and out_of_fold
            and accuracy is not None
            and self.val_accuracy.n == 0
        )
        if out_of_fold_shown:
            self.val_accuracy.append(max(1, summary.epochs_completed), accuracy)
            self._in_legend(self.accuracy_plot, self.val_accuracy, "validation (out-of-fold)", shown=True)
            self.redraw()
        if summary.epochs_completed and self.confusion.rowCount() == 0:  # no validation pass was ever scored
            if not out_of_fold_shown:
                self._in_legend(self.accuracy_plot, self.val_accuracy, "validation", shown=False)
            self.confusion_note.setText(
                f"No validation {self.item}s were scored during this run (none were held out, or they joined the "
                f"linear probe's fit): see the run's figures on its test {self.item}s under Evaluation."
            )

    def on_notice(self, message: str) -> None:
        """Show the run's latest :data:`NOTES_SHOWN` notes; with more, the tooltip lists them all. A note the run
        already gave (Auto's two phases each say when there are too few validation images to calibrate on) is
        shown once."""
        if f"Note: {message}" in self._notes:
            return
        self._notes.append(f"Note: {message}")
        more = len(self._notes) > NOTES_SHOWN
        self.notices.setToolTip(
            f"All {len(self._notes)} notes of this run:\n" + "\n".join(self._notes) if more else ""
        )
        self._show_notes()

    def _show_notes(self) -> None:
        """The latest :data:`NOTES_SHOWN` notes in :data:`NOTES_LINES` lines, or all of them when asked."""
        shown = self._notes if self.notices_area.whole else self._notes[-NOTES_SHOWN:]
        # Rich text (one note a line); a note's own text is escaped (a file name may hold < or &).
        self.notices.setText("<br>".join(html.escape(note, quote=False) for note in shown))
        self.notices.show()
        self.notices_area.show()
        self.notices_area.refit()

    def _toggle_notes(self) -> None:
        self.notices_area.whole = not self.notices_area.whole
        self._show_notes()

    def _update_notes_toggle(self) -> None:
        """Offer the whole list while some notes are out of view (cut, or older than the latest five)."""
        area = self.notices_area
        hidden = area.cut or len(self._notes) > NOTES_SHOWN
        if area.whole:
            self.notes_toggle.setText("Fewer notes ▴")
            self.notes_toggle.setToolTip("Show the notes in three lines again")
        else:
            self.notes_toggle.setText(f"All {len(self._notes)} notes ▾")
            self.notes_toggle.setToolTip("Show every note of this run (some are out of view)")
        self.notes_toggle.setVisible(bool(self._notes) and not area.isHidden() and (hidden or area.whole))

    def on_failed(self, message: str) -> None:
        self._idle()
        self.status.setText(f"Training failed: {message}")
        self.progress.setFormat("failed")

    def _idle(self) -> None:
        self.stop_note.hide()
        self.stop_button.setToolTip("")
        self.redraw_timer.stop()
        self.redraw()
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.pause_button.setEnabled(False)
        self.pause_button.setText("Pause")
        self.paused = False
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def point_count(self) -> int:
        """How many points the live curves hold (for tests and status)."""
        return sum(s.n for s in (self.train_loss, self.val_loss, self.train_accuracy, self.val_accuracy))

    # ----------------------------------------------------------------- history
    def show_history(self, runs: list[RunRecord], metrics: dict[int, list[EpochMetrics]]) -> None:
        """The project's runs, newest first; selecting rows overlays their validation curves."""
        self._history = list(reversed(runs))
        self._history_metrics = metrics
        self.history.setRowCount(len(self._history))
        for row, run in enumerate(self._history):
            config = run.config
            best, out_of_fold = run.best_accuracy()
            if best is None:  # an interrupted run has no final figures: its saved epochs have theirs (h28)
                scored = [m.val_accuracy for m in metrics.get(run.id, []) if m.val_accuracy is not None]
                best = max(scored, default=None)
            recipe = config.get("recipe") or {}
            recipe_name = recipe.get("name", "default") if isinstance(recipe, dict) else "default"
            values = [
                run.name,
                run.status,
                # A size set for the run told from the backbone's own (h33).
                config.get("backbone", "?")
                + (f" · {config['input_size']} px" if config.get("input_size") else ""),
                config.get("transfer", "?"),
                _epochs_shown(config, len(metrics.get(run.id, []))),
                (f"{best:.1%}" + (" (out-of-fold)" if out_of_fold else "")) if best is not None else "—",
                recipe_name,
            ]
            for column, value in enumerate(values):
                self.history.setItem(row, column, QTableWidgetItem(value))
            if out_of_fold:
                self.history.item(row, 5).setToolTip(
                    f"A linear probe's validation {self.item}s joined its fit: this is their accuracy by the "
                    f"cross-validation models that each left them out, so it still compares runs"
                )

    def _overlay_selected(self) -> None:
        rows = sorted({index.row() for index in self.history.selectedIndexes()})[: len(self.overlays)]
        drawn: list[str] = []
        missing: list[str] = []  # runs with no validation curve: their validation images joined the fit
        slot = 0
        for row in rows:
            run = self._history[row]
            epochs = [m for m in self._history_metrics.get(run.id, []) if m.val_loss is not None]
            if not epochs:
                missing.append(run.name)
                continue
            loss, accuracy = self.overlays[slot]
            slot += 1
            loss.set([m.epoch for m in epochs], [m.val_loss for m in epochs])
            accuracy.set([m.epoch for m in epochs], [m.val_accuracy for m in epochs])
            for series, plot in ((loss, self.loss_plot), (accuracy, self.accuracy_plot)):
                legend = plot.getPlotItem().legend
                legend.removeItem(series.curve)
                legend.addItem(series.curve, f"{run.name} · {run.config.get('transfer', '?')}")
                series.curve.show()
            drawn.append(run.name)
        for loss, accuracy in self.overlays[slot:]:
            for series, plot in ((loss, self.loss_plot), (accuracy, self.accuracy_plot)):
                plot.getPlotItem().legend.removeItem(series.curve)
                series.clear()
                series.curve.hide()
        self._show_chosen_c()
        resumable = len(rows) == 1 and self._history[rows[0]].resumable  # stopped, failed or interrupted
        self.resume_button.setEnabled(resumable and not self.stop_button.isEnabled())
        notes = [f"Overlaid (dashed: their validation curves): {', '.join(drawn)}."] if drawn else []
        if missing:
            notes.append(
                f"{', '.join(missing)}: no validation curve to overlay (a linear probe, or a run whose validation "
                "items joined the training)."
            )
        self.history_note.setText(
            " ".join(notes)
            if rows
            else "Select up to two runs to overlay their validation curves on the plots."
        )

    def _resume_clicked(self) -> None:
        rows = sorted({index.row() for index in self.history.selectedIndexes()})
        if len(rows) == 1:
            self.resume_run_requested.emit(self._history[rows[0]].run_dir)

    def overlaid_runs(self) -> int:
        return sum(1 for loss, _ in self.overlays if loss.n)
