"""Plots take the palette's colours and the application's font, and follow a change of either."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from dmtl_studio.ui.dataset_map import DatasetMapView
from dmtl_studio.ui.evaluation_view import ReliabilityDiagram
from dmtl_studio.ui.training_panel import TrainingPanel


def _dark() -> QPalette:
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#2b2b2b"),
        (QPalette.ColorRole.WindowText, "#eeeeee"),
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.Text, "#eeeeee"),
    ):
        palette.setColor(role, QColor(color))
    return palette


@pytest.fixture
def restored_theme(qapp):  # noqa: ANN001, ANN201 - pytest-qt's fixture
    palette, font = QApplication.palette(), QApplication.font()
    yield
    QApplication.setPalette(palette)
    QApplication.setFont(font)


def _background(plot: pg.PlotWidget) -> str:
    return plot.backgroundBrush().color().name()


def test_plots_follow_a_dark_palette_and_a_larger_font(qtbot, restored_theme) -> None:  # noqa: ANN001
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    plot = panel.loss_plot
    light_base = QApplication.palette().color(QPalette.ColorRole.Base).name()
    assert _background(plot) == light_base
    axis = plot.getPlotItem().getAxis("left")
    assert axis.style["tickFont"].pointSizeF() == max(7.0, QApplication.font().pointSizeF() - 1)

    QApplication.setPalette(_dark())
    font = QApplication.font()
    font.setPointSizeF(14)
    QApplication.setFont(font)
    qtbot.waitUntil(lambda: _background(plot) == "#1e1e1e")
    assert axis.textPen().color().name() == "#eeeeee"
    assert axis.style["tickFont"].pointSizeF() == 13  # one point under the application's, as the legend
    assert axis.labelStyle["font-size"] == "13pt"
    assert axis.labelStyle["color"] == "#eeeeee" and "Loss" in axis.label.toHtml()
    legend = plot.getPlotItem().legend
    assert legend.items and QColor(legend.opts["labelTextColor"]).name() == "#eeeeee"
    assert legend.opts["labelTextSize"] == "13pt"
    assert all(QColor(label.opts["color"]).name() == "#eeeeee" for _sample, label in legend.items)


def test_the_reliability_diagram_and_the_map_colour_their_own_items(qtbot, restored_theme) -> None:  # noqa: ANN001
    QApplication.setPalette(_dark())
    diagram = ReliabilityDiagram()
    qtbot.addWidget(diagram)
    assert _background(diagram.plot) == "#1e1e1e"
    assert diagram.bars.opts["pen"].color().name() == "#1e1e1e"  # bar outlines in the background colour
    grey = diagram.diagonal.opts["pen"].color()
    assert grey.lightness() > 128  # the ideal diagonal reads on the dark ground

    view = DatasetMapView()
    qtbot.addWidget(view)
    assert _background(view.plot) == "#1e1e1e"
    assert view.selected_item.opts["pen"].color().name() == "#eeeeee"

    QApplication.setPalette(QPalette(QColor("#f0f0f0")))  # back to a light theme while shown
    qtbot.waitUntil(lambda: _background(view.plot) != "#1e1e1e")
    assert view.selected_item.opts["pen"].color().lightness() < 128
    assert diagram.diagonal.opts["pen"].color().lightness() < grey.lightness()


def _contrast(a: QColor, b: QColor) -> float:
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_error_and_note_colours_read_on_a_dark_window(qapp, restored_theme) -> None:  # noqa: ANN001
    from dmtl_studio.ui.muted import readable

    QApplication.setPalette(QPalette(QColor("#f0f0f0")))
    assert (
        readable("#c0392b") == "#c0392b" and readable("#8a6d00") == "#8a6d00"
    )  # as chosen, on a light window
    QApplication.setPalette(_dark())
    window = QColor("#2b2b2b")
    for fixed in ("#c0392b", "#a04000", "#8a6d00", "#1e7e34", "#1f5fa8", "#b03a2e"):
        assert _contrast(QColor(fixed), window) < 4.5  # unreadable as chosen
        shown = QColor(readable(fixed))
        assert _contrast(shown, window) >= 4.5, (fixed, shown.name())
        assert abs(shown.hslHue() - QColor(fixed).hslHue()) <= 2  # the same hue: red stays red
