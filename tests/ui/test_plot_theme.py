"""Plots take the palette's colours and the application's font, and follow a change of either."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QApplication

from dmtl_studio.ui.dataset_map import DatasetMapView
from dmtl_studio.ui.evaluation_view import ReliabilityDiagram
from dmtl_studio.ui.training_panel import TrainingPanel


def _dark() -> QPalette:
    """A dark palette: window #2b2b2b, base #1e1e1e, text #eeeeee."""
    light, grey = QColor("#eeeeee"), QColor("#3a3a3a")
    # QPalette(windowText, button, light, dark, mid, text, bright_text, base, window)
    roles = (
        light,
        grey,
        grey.lighter(),
        grey.darker(),
        grey,
        light,
        light,
        QColor("#1e1e1e"),
        QColor("#2b2b2b"),
    )
    return QPalette(*map(QBrush, roles))


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
    marker = panel.chosen_c[0]  # the probe's chosen C: red that reads on the dark plot, in its font
    red = marker.pen.color()
    assert red.name() != "#c0392b" and red.hslHue() == pytest.approx(QColor("#c0392b").hslHue(), abs=2)
    assert marker.label.textItem.font().pointSizeF() == 13

    font = QApplication.font()  # a font sized in pixels has no point size: the plots take pixels too
    font.setPixelSize(20)
    QApplication.setFont(font)
    qtbot.waitUntil(lambda: axis.labelStyle["font-size"] == "19px")
    assert axis.style["tickFont"].pixelSize() == 19 and legend.opts["labelTextSize"] == "19px"


def test_the_reliability_diagram_and_the_map_colour_their_own_items(qtbot, restored_theme) -> None:  # noqa: ANN001
    QApplication.setPalette(_dark())
    diagram = ReliabilityDiagram()
    qtbot.addWidget(diagram)
    assert _background(diagram.plot) == "#1e1e1e"
    assert diagram.bars.opts["pen"].color().name() == "#1e1e1e"  # bar outlines in the background colour
    grey = diagram.diagonal.opts["pen"].color()
    assert grey.lightness() > 128  # the ideal diagonal reads on the dark ground
    red = diagram.before.opts[
        "pen"
    ].color()  # the uncalibrated bars, and their key, in a red that reads there
    assert red.name() != "#c0392b" and red.name() in diagram.key.text()

    view = DatasetMapView()
    qtbot.addWidget(view)
    assert _background(view.plot) == "#1e1e1e"
    assert view.selected_item.opts["pen"].color().name() == "#eeeeee"

    QApplication.setPalette(QPalette(QColor("#f0f0f0")))  # back to a light theme while shown
    qtbot.waitUntil(lambda: _background(view.plot) != "#1e1e1e")
    assert view.selected_item.opts["pen"].color().lightness() < 128
    assert diagram.diagonal.opts["pen"].color().lightness() < grey.lightness()
    assert diagram.before.opts["pen"].color().name() == "#c0392b" and "#c0392b" in diagram.key.text()


@pytest.mark.parametrize("window", ["#2b2b2b", "#3c3f41", "#5a5a5a"])
def test_error_and_note_colours_read_on_a_dark_window(qapp, restored_theme, window: str) -> None:  # noqa: ANN001
    from dmtl_studio.ui.muted import contrast_ratio, readable

    QApplication.setPalette(QPalette(QColor("#f0f0f0")))
    assert (
        readable("#c0392b") == "#c0392b" and readable("#8a6d00") == "#8a6d00"
    )  # as chosen, on a light window
    dark = _dark()
    dark.setColor(QPalette.ColorRole.Window, QColor(window))
    QApplication.setPalette(dark)
    for fixed in ("#c0392b", "#a04000", "#8a6d00", "#1e7e34", "#1f5fa8", "#b03a2e"):
        assert contrast_ratio(QColor(fixed), QColor(window)) < 4.5  # unreadable as chosen
        shown = QColor(readable(fixed))
        for ground in (window, "#1e1e1e"):  # the window, and the base colour of lists and plots
            assert contrast_ratio(shown, QColor(ground)) >= 4.5, (fixed, shown.name(), ground)
        assert abs(shown.hslHue() - QColor(fixed).hslHue()) <= 2  # the same hue: red stays red


def test_greys_and_warnings_follow_a_palette_switched_while_the_window_is_open(
    qtbot,  # noqa: ANN001
    restored_theme,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    from dmtl_studio.app import build_window
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.ui.muted import TONE_PROPERTY, muted_color, readable

    ProjectStore.create(tmp_path / "p").close()
    QApplication.setPalette(QPalette(QColor("#f0f0f0")))
    window, controller = build_window(tmp_path / "p")
    qtbot.addWidget(window)
    hint, notices = window.browser.classes.key_strip.hint, window.training.notices
    light_grey = muted_color()
    assert light_grey in hint.styleSheet() and "#a04000" in notices.styleSheet()
    assert hint.property(TONE_PROPERTY) == "" and notices.property(TONE_PROPERTY) == "#a04000"

    QApplication.setPalette(_dark())  # the desktop turns dark while the window is open
    qtbot.waitUntil(lambda: muted_color() in hint.styleSheet())
    assert muted_color() != light_grey
    assert readable("#a04000") in notices.styleSheet() and readable("#a04000") != "#a04000"
    controller.shutdown()


def test_rich_captions_and_details_are_built_again_in_a_new_palette(
    qtbot,  # noqa: ANN001
    restored_theme,  # noqa: ANN001
    project: Path,
) -> None:
    """Captions that spell their colours out (a bad file's red reason, the backbone's grey name) follow a palette
    switched while the window is open, as style sheets do."""
    from dmtl_studio.app import build_window
    from dmtl_studio.ui.muted import muted_color, readable

    QApplication.setPalette(QPalette(QColor("#f0f0f0")))
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser, details = window.browser, window.model_panel.details
    browser.set_filter("problems")
    browser.view.setCurrentIndex(browser.model.index(0))
    reason = browser.model.record(0).problem
    caption = browser.viewer.caption.text()
    assert caption.count(reason) == 1 and readable("#c0392b") in caption  # the reason, once, in red
    light_grey = muted_color()
    assert light_grey in details.text()

    QApplication.setPalette(_dark())
    qtbot.waitUntil(lambda: muted_color() in details.text())
    assert light_grey not in details.text()
    caption = browser.viewer.caption.text()
    assert readable("#c0392b") in caption and readable("#c0392b") != "#c0392b" and caption.count(reason) == 1
    controller.shutdown()


def test_the_text_preview_marks_are_built_again_in_a_new_palette(qtbot, restored_theme) -> None:  # noqa: ANN001
    from dmtl_studio.core.augment.text_preview import TextPreviewResult, TextSample
    from dmtl_studio.ui.muted import muted_color, retone
    from dmtl_studio.ui.text_preview_panel import TextPreviewPanel

    QApplication.setPalette(QPalette(QColor("#f0f0f0")))
    panel = TextPreviewPanel()
    qtbot.addWidget(panel)
    panel.show()
    sample = TextSample(text="a cat sat", changes=(), weights=(("pets", 1.0),))
    result = TextPreviewResult(request_id=1, original="a cat sat", label="pets", samples=(sample,))
    panel.show_result(result, "1 sample")
    light_grey = muted_color()
    assert light_grey in panel.sample_html()  # "(unchanged)" in grey
    QApplication.setPalette(_dark())
    retone(panel)  # what the main window does on a palette change
    assert (
        muted_color() != light_grey and muted_color() in panel.sample_html() and "cat" in panel.sample_html()
    )
    panel.show_empty()
    QApplication.setPalette(QPalette(QColor("#f0f0f0")))
    retone(panel)
    assert "cat" not in panel.sample_html()  # a cleared preview is not brought back


def test_class_colours_under_thumbnails_and_above_the_image_read_on_a_dark_theme(
    qtbot,  # noqa: ANN001
    restored_theme,  # noqa: ANN001
    project: Path,
) -> None:
    """A dark blue class colour, drawn as it is, was hard to read on a dark window: under every thumbnail and in the
    caption above the large image."""
    from PySide6.QtCore import Qt

    from dmtl_studio.app import build_window
    from dmtl_studio.ui.muted import contrast_ratio

    QApplication.setPalette(_dark())
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    record = next(r for r in browser._all.values() if r.label)
    browser.model.colors[record.label] = "#1f3a93"  # a dark blue the user chose
    row = browser.model.row_of(record.id)
    shown = browser.model.data(browser.model.index(row), Qt.ItemDataRole.ForegroundRole)
    for ground in ("#2b2b2b", "#1e1e1e"):
        assert contrast_ratio(QColor("#1f3a93"), QColor(ground)) < 4.5  # unreadable as chosen
        assert contrast_ratio(shown, QColor(ground)) >= 4.5, shown.name()
    browser.view.setCurrentIndex(
        browser.model.index(row + 1)
    )  # (the caption is drawn when it becomes current)
    browser.view.setCurrentIndex(browser.model.index(row))
    assert shown.name() in browser.viewer.caption.text()  # the caption's class name in the same colour
    controller.shutdown()
