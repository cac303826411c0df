"""Training area: Start/Stop, progress, and live loss and accuracy curves (pyqtgraph)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from dmtl_studio.core.events import EpochResult, RunSummary, StepProgress


class _Series:
    """A growing (x, y) series in preallocated numpy buffers, drawn by one curve updated with setData."""

    def __init__(self, curve: pg.PlotDataItem) -> None:
        self.curve = curve
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.resize(self.x, 2 * self.n)
            self.y = np.resize(self.y, 2 * self.n)
        self.x[self.n], self.y[self.n] = x, y
        self.n += 1
        self.curve.setData(self.x[: self.n], self.y[: self.n])

    def clear(self) -> None:
        self.n = 0
        self.curve.setData([], [])


def _plot(title: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="#222", size="10pt")
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.addLegend(offset=(-10, 10))
    plot.setClipToView(True)
    plot.setDownsampling(mode="peak")
    return plot


class TrainingPanel(QWidget):
    """Emits :attr:`start_requested` / :attr:`stop_requested`; is told about the run through its slots."""

    start_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton("Start training")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self._stop_clicked)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status = QLabel("Open a project with labelled images, then press Start training.")
        self.status.setWordWrap(True)

        self.loss_plot = _plot("Loss", "cross-entropy")
        self.accuracy_plot = _plot("Accuracy", "fraction correct")
        self.accuracy_plot.setYRange(0, 1)
        self.train_loss = _Series(
            self.loss_plot.plot(name="train (per step)", pen=pg.mkPen("#2e86de", width=1.5))
        )
        self.val_loss = _Series(
            self.loss_plot.plot(
                name="validation",
                pen=pg.mkPen("#e67e22", width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush="#e67e22",
            )
        )
        self.train_accuracy = _Series(
            self.accuracy_plot.plot(
                name="train",
                pen=pg.mkPen("#2e86de", width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush="#2e86de",
            )
        )
        self.val_accuracy = _Series(
            self.accuracy_plot.plot(
                name="validation",
                pen=pg.mkPen("#e67e22", width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush="#e67e22",
            )
        )

        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.progress, 1)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addLayout(plots, 1)

    # ----------------------------------------------------------------- state
    def set_can_start(self, can_start: bool, message: str) -> None:
        """Enable Start or not; ``message`` says why not, or what a run will use."""
        running = self.stop_button.isEnabled()
        self.start_button.setEnabled(can_start and not running)
        self.start_button.setToolTip("" if can_start else message)
        if not running:
            self.status.setText(message)

    def run_started(self, description: str) -> None:
        for series in (self.train_loss, self.val_loss, self.train_accuracy, self.val_accuracy):
            series.clear()
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the first step reports
        self.progress.setFormat("preparing…")
        self.status.setText(f"Preparing: {description}")

    def _stop_clicked(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping after the current batch…")
        self.stop_requested.emit()

    # ----------------------------------------------------------------- slots
    def on_progress(self, event: StepProgress) -> None:
        total = event.epochs * event.steps
        done = (event.epoch - 1) * event.steps + event.step
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"epoch {event.epoch}/{event.epochs} · step {event.step}/{event.steps}")
        self.status.setText(
            f"Training — loss {event.loss:.3f}, learning rate {event.learning_rate:.2e}, "
            f"{event.images_per_second:.0f} images/s"
        )
        self.train_loss.append(event.epoch - 1 + event.step / event.steps, event.loss)

    def on_epoch(self, event: EpochResult) -> None:
        self.train_accuracy.append(event.epoch, event.train_accuracy)
        if event.val_loss is not None:
            self.val_loss.append(event.epoch, event.val_loss)
        if event.val_accuracy is not None:
            self.val_accuracy.append(event.epoch, event.val_accuracy)

    def on_finished(self, summary: RunSummary) -> None:
        self._idle()
        best = summary.metrics.get("best", {})
        accuracy = best.get("val_accuracy")
        detail = f", best validation accuracy {accuracy:.1%}" if accuracy is not None else ""
        verb = "Finished" if summary.status == "completed" else "Stopped"
        self.status.setText(
            f"{verb} after {summary.epochs_completed} epoch(s) on {summary.device}{detail}. "
            f"Model saved in {summary.run_dir}"
            if summary.epochs_completed
            else f"{verb} before the first epoch ended; nothing was saved."
        )
        self.progress.setFormat(verb.lower())

    def on_failed(self, message: str) -> None:
        self._idle()
        self.status.setText(f"Training failed: {message}")
        self.progress.setFormat("failed")

    def _idle(self) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def point_count(self) -> int:
        """How many points the curves hold (for tests and status)."""
        return sum(s.n for s in (self.train_loss, self.val_loss, self.train_accuracy, self.val_accuracy))
