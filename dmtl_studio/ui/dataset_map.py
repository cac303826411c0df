"""The dataset map: every image as a point of a 2-D embedding of its features, coloured by label, split or the
model's verdict.

One pyqtgraph ``ScatterPlotItem`` holds all the points (``setData`` with numpy arrays, one brush per point from a
small colour table, pixel-sized symbols). Hovering a point shows its thumbnail; a drag with Shift selects the
points in a rectangle, a drag with Ctrl (or the *Lasso* mode) the points inside a freehand path; a plain drag pans.
The selected image ids are emitted (:attr:`DatasetMapView.selection_changed`) for the browser to select, and the
number keys ask for the selection to be labelled (:attr:`DatasetMapView.label_key_pressed`) through the browser's
own labelling. No torch here: the map arrives as plain numpy data (a ``DatasetMap``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QKeyEvent, QPainterPath, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.ui.flow_layout import FlowLayout
from dmtl_studio.ui.muted import on_retone, readable
from dmtl_studio.ui.plot_theme import follow_theme, plot_colors

COLOR_BY = (("Label", "label"), ("Split", "split"), ("Model verdict", "verdict"))
#: The legend's entry for points without a verdict (a map computed with no run chosen under Evaluation).
NO_VERDICT = "no verdict (Compute map with a run chosen under Evaluation)"
DRAG_MODES = (("Pan (Shift: rectangle, Ctrl: lasso)", "pan"), ("Rectangle", "rect"), ("Lasso", "lasso"))
METHODS = (("PCA (fast)", "pca"), ("t-SNE (slower)", "tsne"))
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}  #: as the status names them (it read "TSNE", h30)
SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
VERDICT_COLORS = {"right": "#2ca02c", "wrong": "#d62728", "predicted": "#1f77b4"}
VERDICT_NAMES = {"right": "right", "wrong": "wrong", "predicted": "predicted (unlabelled)"}
NONE_COLOR = "#9a9a9a"
STALE_COLOR = "#8a6d00"  #: the note's amber of :mod:`dmtl_studio.ui.muted`: a map out of date
FALLBACK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
POINT_SIZE = 6
HOVER_PIXELS = 8  # a point within this many pixels of the cursor is hovered


class _MapViewBox(pg.ViewBox):
    """Pans on a plain drag; a Shift-drag (or rectangle mode) draws a rectangle, a Ctrl-drag (or lasso mode) a
    freehand path, and hands the finished shape to ``on_shape(kind, points in view coordinates)``."""

    def __init__(self, on_shape, mode) -> None:  # noqa: ANN001 - two callables
        super().__init__()
        self._on_shape, self._mode = on_shape, mode
        self._trace: list[QPointF] = []
        self._kind = ""
        self.outline = QGraphicsPathItem()
        self.outline.setZValue(10)
        self.addItem(self.outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: ANN001, N802 - pyqtgraph's signature
        modifiers = ev.modifiers()
        kind = (
            "rect"
            if modifiers & Qt.KeyboardModifier.ShiftModifier
            else "lasso"
            if modifiers & Qt.KeyboardModifier.ControlModifier
            else self._mode()
        )
        if ev.button() != Qt.MouseButton.LeftButton or (kind == "pan" and not self._trace):
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart() or not self._trace:
            self._kind = kind
            self._trace = [self.mapSceneToView(ev.buttonDownScenePos())]
        self._trace.append(self.mapSceneToView(ev.scenePos()))
        self.outline.setPath(shape_path(self._kind, [(p.x(), p.y()) for p in self._trace]))
        if ev.isFinish():
            trace, self._trace = [(p.x(), p.y()) for p in self._trace], []
            self.outline.setPath(QPainterPath())
            self._on_shape(self._kind, trace)


def shape_path(kind: str, trace: Sequence[tuple[float, float]]) -> QPainterPath:
    """The closed path of a drag: the rectangle spanned by its first and last point, or the freehand lasso."""
    path = QPainterPath()
    if len(trace) < 2:
        return path
    if kind == "rect":
        (x0, y0), (x1, y1) = trace[0], trace[-1]
        path.addRect(QRectF(QPointF(min(x0, x1), min(y0, y1)), QPointF(max(x0, x1), max(y0, y1))))
        return path
    path.moveTo(*trace[0])
    for x, y in trace[1:]:
        path.lineTo(x, y)
    path.closeSubpath()
    return path


def oriented_like(
    points: np.ndarray, image_ids: Sequence[int], before: np.ndarray, before_ids: Sequence[int]
) -> np.ndarray:
    """``points`` ``(N, 2)``, each axis mirrored where that turns it the way the map ``before`` ``(M, 2)`` had it
    for the items both show (a positive covariance of their coordinates). PCA's and t-SNE's axes have no sign of
    their own, so a map computed again after an import came out mirrored and the user lost their bearings (h35)."""
    out = np.array(points, dtype=np.float32, copy=True).reshape(-1, 2)
    row_before = {int(i): row for row, i in enumerate(before_ids)}
    shared = [(row_before[int(i)], row) for row, i in enumerate(image_ids) if int(i) in row_before]
    if len(shared) < 3:
        return out
    old_rows, new_rows = (list(rows) for rows in zip(*shared, strict=True))
    for axis in (0, 1):
        old, new = before[old_rows, axis], out[new_rows, axis]
        if float(np.dot(old - old.mean(), new - new.mean())) < 0:
            out[:, axis] *= -1
    return out


class DatasetMapView(QWidget):
    """The map and its controls. Feed it with :meth:`set_map` (a ``DatasetMap``) or :meth:`show_points`."""

    map_requested = Signal(str)  # method ("pca" or "tsne")
    cancel_requested = Signal()  # stop the map being computed
    selection_changed = Signal(list)  # image ids
    label_key_pressed = Signal(int)  # 0 removes the label, 1-9 the class with that key
    thumbnails_wanted = Signal(list)  # [(image id, path, sha256)]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.color_by = QComboBox()
        for text, key in COLOR_BY:
            self.color_by.addItem(text, key)
        self.color_by.currentIndexChanged.connect(self.recolor)
        self.drag_mode = QComboBox()
        for text, key in DRAG_MODES:
            self.drag_mode.addItem(text, key)
        self.method = QComboBox()
        for text, key in METHODS:
            self.method.addItem(text, key)
        self.compute_button = QPushButton("Compute map")
        self.compute_button.clicked.connect(lambda: self.map_requested.emit(self.method.currentData()))
        self.noun = "image"  # what a point is: "text" in a text project (set_noun)
        self._map_text = ""  # what the status says of the map shown (set_map)
        self._map_run: str | None = None  # the run whose verdicts it shows
        self._items_now: set[int] | None = None  # the project's usable items now (check_current)
        self._run_now: str | None | bool = False  # the run chosen now (False: not told)
        self.status = QLabel(self._idle_text())
        self.status.setWordWrap(True)
        on_retone(
            self.status, self.check_current
        )  # an out-of-date note's amber, drawn again in a new palette
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        # The controls flow onto more lines on a narrow window (a 1024 px screen, a large font), each label
        # kept with its box, instead of widening the window past the screen.
        controls_widget = QWidget()
        controls = FlowLayout(controls_widget, spacing=8)
        for text, widget in (("Colour by", self.color_by), ("Drag", self.drag_mode), ("Layout", self.method)):
            pair = QWidget()
            pair_layout = QHBoxLayout(pair)
            pair_layout.setContentsMargins(0, 0, 0, 0)
            pair_layout.addWidget(QLabel(text))
            pair_layout.addWidget(widget)
            controls.addWidget(pair)
        controls.addWidget(self.compute_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop computing the map (the features computed so far stay cached)")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_requested)
        controls.addWidget(self.cancel_button)
        self.view_box = _MapViewBox(self._shape_drawn, lambda: self.drag_mode.currentData())
        self.plot = follow_theme(pg.PlotWidget(viewBox=self.view_box), also=self._theme_items)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.scatter = pg.ScatterPlotItem(pxMode=True, useCache=True, size=POINT_SIZE, pen=None)
        self.selected_item = pg.ScatterPlotItem(pxMode=True, size=POINT_SIZE + 4, brush=None)
        self.selected_item.setZValue(5)
        self._theme_items()
        self.plot.addItem(self.scatter)
        self.plot.addItem(self.selected_item)
        self.thumbnail = QLabel(self.plot)
        self.thumbnail.setStyleSheet("background: white; border: 1px solid #555; padding: 2px;")
        self.thumbnail.hide()
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.installEventFilter(self)  # the pointer leaving the plot takes its thumbnail away
        layout = QVBoxLayout(self)
        layout.addWidget(controls_widget)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        self.points = np.zeros((0, 2), dtype=np.float32)
        self.image_ids = np.zeros(0, dtype=np.int64)
        self.labels: list[str | None] = []
        self.splits: list[str | None] = []
        self.verdicts: list[str] = []
        self.paths: list[str] = []
        self.sha256: list[str | None] = []
        self.class_colors: dict[str, str] = {}
        self.selected = np.zeros(0, dtype=bool)
        self._row_of: dict[int, int] = {}
        self._thumbs: dict[int, QPixmap] = {}
        self._hovered: int | None = None
        self._hover_pos = QPoint()
        self._texts = False  # a text project's map: its points are texts, which have no thumbnail

    # ----------------------------------------------------------------- data
    def _theme_items(self) -> None:
        """The selected point's ring and the drawn shape's outline in the palette's text colour."""
        _background, text, _lines = plot_colors()
        self.selected_item.setPen(pg.mkPen(text, width=1.5))
        self.view_box.outline.setPen(pg.mkPen(text, width=1.5, style=Qt.PenStyle.DashLine))
        self.view_box.outline.setBrush(QBrush(QColor(text.red(), text.green(), text.blue(), 30)))

    def set_class_colors(self, colors: dict[str, str]) -> None:
        if dict(colors) != self.class_colors:  # (the map recolours its points: 40 ms for 10,000)
            self.class_colors = dict(colors)
            self.recolor()

    def set_map(self, result: object) -> None:
        """Show a ``DatasetMap`` (core): points, ids, labels, splits, verdicts, paths. A map computed again keeps
        the orientation of the one it replaces (:func:`oriented_like`)."""
        self.show_points(
            oriented_like(result.points, result.image_ids, self.points, self.image_ids),
            result.image_ids,
            labels=result.labels,
            splits=result.splits,
            verdicts=result.verdicts,
            paths=result.paths,
            sha256=result.sha256,
        )
        run = f", verdicts of {result.run_name}" if result.run_name else ""
        text = self._texts = result.kind == "text"
        items = "text(s), placed by their embeddings" if text else "image(s)"
        hover = "" if text else "Hover a point for its thumbnail. "
        self._map_text = (
            f"{len(result.image_ids)} {items}, {METHOD_NAMES.get(result.method, result.method)} layout{run}. {hover}"
            "Shift-drag selects a rectangle, Ctrl-drag a lasso; number keys label the selection."
        )
        self._map_run = result.run_name or None
        self._items_now, self._run_now = None, False  # as the map was computed, until told of a change
        self.status.setText(self._map_text)

    def check_current(self, item_ids: set[int] | None = None, run_name: str | None | bool = False) -> None:
        """Say on the map when it no longer shows the project as it is: items added or removed since it was
        computed (``item_ids``: the project's usable items now), or another run chosen than the one whose verdicts
        it shows (``run_name``: the run chosen now, ``None`` for none; ``False``: unchanged). h35: after an import
        and a new run the map still read "134 image(s), verdicts of" the old run with no sign of it."""
        if not len(self.image_ids) or not self._map_text:
            return
        if item_ids is not None:
            self._items_now = item_ids
        if run_name is not False:
            self._run_now = run_name
        shown = {int(i) for i in self.image_ids}
        reasons = []
        if self._items_now is not None:
            added, removed = len(self._items_now - shown), len(shown - self._items_now)
            noun = f"{self.noun}(s)"
            if added:
                reasons.append(f"{added} {noun} added")
            if removed:
                reasons.append(f"{removed} {noun} removed")
        if self._run_now is not False and self._map_run and self._run_now != self._map_run:
            chosen = f"run {self._run_now} is chosen" if self._run_now else "no run is chosen"
            reasons.append(f"{chosen}, the verdicts are of {self._map_run}")
        if reasons:
            self.status.setText(
                f"<span style='color:{readable(STALE_COLOR)}'><b>Out of date</b> ({'; '.join(reasons)}): press "
                f"Compute map again.</span> {html.escape(self._map_text)}"
            )
        else:
            self.status.setText(self._map_text)

    def show_points(
        self,
        points: np.ndarray,
        image_ids: Sequence[int] | np.ndarray,
        *,
        labels: Sequence[str | None] | None = None,
        splits: Sequence[str | None] | None = None,
        verdicts: Sequence[str] | None = None,
        paths: Sequence[str] | None = None,
        sha256: Sequence[str | None] | None = None,
    ) -> None:
        """Show ``points`` ``(N, 2)`` for ``image_ids`` ``(N,)``; the other sequences have ``N`` items each."""
        self.points = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 2)
        n = len(self.points)
        self.image_ids = np.asarray(image_ids, dtype=np.int64).reshape(n)
        self.labels = list(labels) if labels is not None else [None] * n
        self.splits = list(splits) if splits is not None else [None] * n
        self.verdicts = list(verdicts) if verdicts is not None else ["none"] * n
        self.paths = list(paths) if paths is not None else [""] * n
        self.sha256 = list(sha256) if sha256 is not None else [None] * n
        self._row_of = {int(i): row for row, i in enumerate(self.image_ids)}
        self.selected = np.zeros(n, dtype=bool)
        self._thumbs.clear()
        self.scatter.setData(
            x=self.points[:, 0], y=self.points[:, 1], data=self.image_ids, brush=self.brushes()
        )
        self.selected_item.setData(x=[], y=[])
        self.legend.setText(self._legend_html())
        self.plot.autoRange()

    def clear(self) -> None:
        """No map (another project was opened)."""
        self._map_text, self._map_run, self._items_now, self._run_now = "", None, None, False
        self.show_points(np.zeros((0, 2), dtype=np.float32), [])
        self.status.setText(self._idle_text())

    def _idle_text(self) -> str:
        return f"Compute the map to see the {self.noun}s laid out by their features."

    def set_noun(self, noun: str) -> None:
        """Name the points by ``noun`` (``"image"`` or ``"text"``: the open project's items)."""
        self.noun = noun
        if not len(self.points):
            self.status.setText(self._idle_text())

    def update_labels(self, labels: dict[int, str | None]) -> None:
        """New labels of some images (after the browser labelled them); recolours the map."""
        for image_id, label in labels.items():
            row = self._row_of.get(int(image_id))
            if row is not None:
                self.labels[row] = label
        self.recolor()

    # ----------------------------------------------------------------- colours
    def categories(self) -> list[str | None]:
        """The category of every point under the current *Colour by* choice."""
        key = self.color_by.currentData()
        return self.splits if key == "split" else self.verdicts if key == "verdict" else self.labels

    def _color_table(self) -> dict[str | None, str]:
        key = self.color_by.currentData()
        if key == "split":
            return dict(SPLIT_COLORS)
        if key == "verdict":
            return dict(VERDICT_COLORS)
        names = sorted({c for c in self.labels if c is not None} | set(self.class_colors))
        return {
            name: self.class_colors.get(name) or FALLBACK_COLORS[i % len(FALLBACK_COLORS)]
            for i, name in enumerate(names)
        }

    def brushes(self) -> np.ndarray:
        """``(N,)`` object array of QBrush: one shared brush per category, grey for none."""
        table = self._color_table()
        names = list(table)
        brushes = [pg.mkBrush(QColor(table[name])) for name in names] + [pg.mkBrush(QColor(NONE_COLOR))]
        position = {name: i for i, name in enumerate(names)}
        codes = np.fromiter(
            (position.get(c, len(names)) for c in self.categories()), dtype=np.int64, count=len(self.points)
        )
        return np.asarray(brushes, dtype=object)[codes] if len(codes) else np.zeros(0, dtype=object)

    def recolor(self) -> None:
        if len(self.points):
            self.scatter.setBrush(self.brushes())
        self.legend.setText(self._legend_html())

    def _legend_html(self) -> str:
        table = self._color_table()
        key = self.color_by.currentData()
        names = VERDICT_NAMES if key == "verdict" else {}
        # The verdicts are those of the run chosen when the map was computed: "no run chosen" read as wrong with
        # a run chosen since (h35).
        none = {"label": "unlabelled", "split": "unlabelled", "verdict": NO_VERDICT}[key]
        items = [(names.get(n, n), c) for n, c in table.items()] + [(none, NONE_COLOR)]
        return " &nbsp; ".join(f"<span style='color:{c}'>●</span> {n}" for n, c in items)

    # ----------------------------------------------------------------- selection
    def _shape_drawn(self, kind: str, trace: list[tuple[float, float]]) -> None:
        if kind == "rect":
            (x0, y0), (x1, y1) = trace[0], trace[-1]
            self.select_rect(x0, y0, x1, y1)
        else:
            self.select_lasso(trace)

    def select_rect(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Select the points inside the rectangle (map coordinates, corners in any order); emits their ids."""
        x, y = self.points[:, 0], self.points[:, 1]
        inside = (x >= min(x0, x1)) & (x <= max(x0, x1)) & (y >= min(y0, y1)) & (y <= max(y0, y1))
        return self._select(inside)

    def select_lasso(self, trace: Sequence[tuple[float, float]]) -> list[int]:
        """Select the points inside the closed freehand path ``trace`` (map coordinates); emits their ids."""
        path = shape_path("lasso", trace)
        inside = np.zeros(len(self.points), dtype=bool)
        if not path.isEmpty():
            box = path.boundingRect()
            x, y = self.points[:, 0], self.points[:, 1]
            near = np.flatnonzero(
                (x >= box.left()) & (x <= box.right()) & (y >= box.top()) & (y <= box.bottom())
            )
            for row in near:  # only the points in the path's bounding box are asked
                inside[row] = path.contains(QPointF(float(x[row]), float(y[row])))
        return self._select(inside)

    def _select(self, inside: np.ndarray) -> list[int]:
        self.selected = inside
        self.selected_item.setData(x=self.points[inside, 0], y=self.points[inside, 1])
        ids = [int(i) for i in self.image_ids[inside]]
        self.selection_changed.emit(ids)
        self.setFocus()
        return ids

    def selected_ids(self) -> list[int]:
        return [int(i) for i in self.image_ids[self.selected]]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        plain = (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier) == Qt.KeyboardModifier.NoModifier
        if plain and Qt.Key.Key_0 <= key <= Qt.Key.Key_9 and self.selected.any():
            self.label_key_pressed.emit(key - Qt.Key.Key_0)
        else:
            super().keyPressEvent(event)

    # ----------------------------------------------------------------- hover thumbnails
    def point_near(self, scene_pos: QPointF) -> int | None:
        """The row of the point nearest ``scene_pos`` within :data:`HOVER_PIXELS`, or ``None``."""
        if not len(self.points) or not self.view_box.sceneBoundingRect().contains(scene_pos):
            return None
        where = self.view_box.mapSceneToView(scene_pos)
        pixel = self.view_box.viewPixelSize()
        dx = (self.points[:, 0] - where.x()) / max(pixel[0], 1e-12)
        dy = (self.points[:, 1] - where.y()) / max(pixel[1], 1e-12)
        distance = dx * dx + dy * dy
        row = int(np.argmin(distance))
        return row if distance[row] <= HOVER_PIXELS**2 else None

    def _hover(self, scene_pos: QPointF) -> None:
        row = self.point_near(scene_pos)
        if row is None:
            self._hovered = None
            self.thumbnail.hide()
            return
        image_id = int(self.image_ids[row])
        self._hovered = image_id
        self._hover_pos = self.plot.mapFromScene(scene_pos)
        if image_id in self._thumbs:
            self._show_thumbnail(image_id)
        elif self.paths[row] and not self._texts:
            self.thumbnails_wanted.emit([(image_id, self.paths[row], self.sha256[row])])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """The hovered point's thumbnail goes with the pointer (it stayed on the map, over later views)."""
        if watched is self.plot and event.type() in (QEvent.Type.Leave, QEvent.Type.Hide):
            self._hovered = None
            self.thumbnail.hide()
        return super().eventFilter(watched, event)

    def set_thumbnail(self, image_id: int, image: QImage) -> None:
        """A thumbnail arrived (the product's thumbnail service); shown if its point is still hovered."""
        if image_id not in self._row_of:
            return
        self._thumbs[image_id] = QPixmap.fromImage(image)
        if image_id == self._hovered:
            self._show_thumbnail(image_id)

    def _show_thumbnail(self, image_id: int) -> None:
        row = self._row_of[image_id]
        label = self.labels[row] or "unlabelled"
        self.thumbnail.setPixmap(self._thumbs[image_id])
        self.thumbnail.setToolTip(f"{label}")
        self.thumbnail.adjustSize()
        # Beside the cursor, on the side where it fits inside the plot.
        size, where, gap = self.thumbnail.size(), self._hover_pos, 14
        x = (
            where.x() + gap
            if where.x() + gap + size.width() <= self.plot.width()
            else where.x() - gap - size.width()
        )
        y = (
            where.y() + gap
            if where.y() + gap + size.height() <= self.plot.height()
            else where.y() - gap - size.height()
        )
        self.thumbnail.move(max(0, x), max(0, y))
        self.thumbnail.raise_()
        self.thumbnail.show()

    def hovered_id(self) -> int | None:
        return self._hovered if self.thumbnail.isVisible() else None

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.compute_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        if message:
            self.status.setText(message)
