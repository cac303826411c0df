"""The window on a laptop screen: it fits, remembers its layout, and keeps every class key in sight."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QLabel,
    QScrollArea,
    QTabBar,
    QTableWidget,
    QWidget,
)

from dmtl_studio.app import build_window
from dmtl_studio.core.base.paths import app_data_dir
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.settings import studio_settings

LAPTOP = QRect(0, 0, 1280, 720)
LARGE = QRect(0, 0, 1600, 1000)
CLASS_COUNT = 12


@pytest.fixture(scope="module")
def _twelve_class_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("twelve")
    rng = np.random.default_rng(0)
    for k in range(CLASS_COUNT):
        folder = root / "images" / f"species-{k + 1:02d}"
        folder.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    with ProjectStore.create(root / "project") as store:
        import_folder(store, root / "images", val_fraction=0.5, seed=0)
    return root / "project"


@pytest.fixture
def twelve_classes(tmp_path: Path, _twelve_class_template: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(_twelve_class_template, target)
    return target


def _settle(qtbot, window: QWidget) -> None:  # noqa: ANN001
    """Wait until the layout stops moving: docks take their sizes a turn of the event loop after a show or a
    resize, and on a busy machine the layout passes that follow take longer than any fixed wait."""

    def snapshot() -> tuple:
        widgets = window.findChildren(QDockWidget) + [window.browser.view, window.browser.viewer]
        return tuple(w.geometry().getRect() for w in widgets) + tuple(
            tuple(s.sizes()) for s in window.browser.splitters
        )

    last, stable = None, 0
    for _ in range(100):  # at most about 10 s
        qtbot.wait(100)
        now = snapshot()
        stable = stable + 1 if now == last else 0
        if stable >= 2:
            return
        last = now
    raise AssertionError("the window's layout never settled")


def _show_at(qtbot, window: QWidget, area: QRect) -> None:  # noqa: ANN001
    window.setGeometry(area)
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot, window)


def _recipe_dock(window: QWidget) -> QDockWidget:
    return next(d for d in window.findChildren(QDockWidget) if d.objectName() == "Augmentation recipe")


def _front_tabs(window: QWidget) -> set[str]:
    return {bar.tabText(bar.currentIndex()) for bar in window.findChildren(QTabBar) if bar.isVisible()}


def _fully_visible(widget: QWidget, window: QWidget) -> bool:
    """Shown, not clipped by a scroll area or a splitter, and inside the window."""
    if not widget.isVisibleTo(window) or widget.width() <= 0 or widget.height() <= 0:
        return False
    region = widget.visibleRegion().boundingRect()
    top_left = widget.mapTo(window, widget.rect().topLeft())
    inside = window.rect().contains(QRect(top_left, widget.size()))
    return inside and region.size() == widget.size()


def _visible_key_texts(window: QWidget) -> set[str]:
    """Every "key name" pair the user can read now: table rows in view, buttons and labels fully shown."""
    texts: set[str] = set()
    for table in window.findChildren(QTableWidget):
        if not table.isVisibleTo(window) or table.columnCount() < 2:
            continue
        viewport = table.viewport().rect()
        for row in range(table.rowCount()):
            rect = table.visualRect(table.model().index(row, 1))
            if viewport.contains(rect) and table.item(row, 0) and table.item(row, 1):
                texts.add(" ".join(f"{table.item(row, 0).text()} {table.item(row, 1).text()}".split()))
    for widget in [*window.findChildren(QAbstractButton), *window.findChildren(QLabel)]:
        if _fully_visible(widget, window):
            texts.add(" ".join(widget.text().split()))
    return texts


def test_the_window_fits_the_screen_and_remembers_its_layout(qtbot, project: Path) -> None:  # noqa: ANN001
    settings_file = Path(studio_settings().fileName())
    assert settings_file.parent == app_data_dir()  # the test's own settings, never the user's
    window, controller = build_window(project)
    qtbot.addWidget(window)
    window.fit_to_screen(LAPTOP)  # a first start: the whole available area, never more
    assert LAPTOP.contains(window.geometry()), window.geometry()
    assert window.geometry() == LAPTOP
    _show_at(qtbot, window, LAPTOP)
    _recipe_dock(window).raise_()
    window.resize(790, 650)  # within the 800 px offscreen screen, so the restored window is as wide
    _settle(qtbot, window)
    splitter = window.browser.splitters[1]  # the class table above the large view: heights survive the screen
    splitter.setSizes([260, 200])
    sizes, saved = splitter.sizes(), window.geometry()
    assert saved.size().toTuple() != LAPTOP.size().toTuple()
    window.close()
    controller.shutdown()

    again, controller = build_window(project)
    qtbot.addWidget(again)
    assert again.layout_restored
    again.fit_to_screen(LAPTOP)
    # Qt keeps a restored window on the (800 px wide offscreen) screen it opens on: the height tells.
    assert again.height() == saved.height() and again.height() != LAPTOP.height()
    again.show()
    qtbot.waitExposed(again)
    _settle(qtbot, again)
    assert again.browser.splitters[1].sizes() == sizes, (saved, again.geometry())
    assert "Augmentation recipe" in _front_tabs(again)  # the dock tab that was in front still is
    # A layout remembered on a larger screen is shrunk onto a smaller one.
    again.setGeometry(QRect(200, 100, 1500, 940))
    again.fit_to_screen(LAPTOP)
    assert LAPTOP.contains(again.geometry()), again.geometry()
    controller.shutdown()


def test_a_layout_left_in_a_small_window_keeps_its_shares_in_a_large_one(qtbot, project: Path) -> None:  # noqa: ANN001
    """Qt restores the docks' pixels: closed at 1000 x 620, the next start at full screen kept a bottom dock about
    100 px high, where the training plots had 20-60 px to draw in (axis numbers overlapping, titles cut)."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    _show_at(qtbot, window, QRect(0, 0, 790, 560))
    bottom = next(d for d in window.findChildren(QDockWidget) if d.objectName() == "Training")
    share = bottom.height() / window.height()
    window.close()
    controller.shutdown()

    again, controller = build_window(project)
    qtbot.addWidget(again)
    assert again.layout_restored
    _show_at(qtbot, again, QRect(0, 0, 1280, 1000))  # maximised on a larger screen
    bottom = next(d for d in again.findChildren(QDockWidget) if d.objectName() == "Training")
    assert abs(bottom.height() / again.height() - share) < 0.05, (bottom.height(), again.height(), share)
    controller.shutdown()


@pytest.fixture(params=[1.0, 1.1], ids=["system-font", "font-10pc-larger"])
def font_scale(request: pytest.FixtureRequest, qapp) -> Iterator[float]:  # noqa: ANN001
    """The system font as it is, and 10 % larger: many desktops' default fonts have taller lines than this
    machine's DejaVu Sans (Noto Sans: 17 px a line at 9 pt against 14), and every row of the window grows
    with them."""
    original = QApplication.font()
    font = QFont(original)
    font.setPointSizeF(original.pointSizeF() * request.param)
    QApplication.setFont(font)
    yield request.param
    QApplication.setFont(original)


def test_1280x720_leaves_every_area_usable(qtbot, twelve_classes: Path, font_scale: float) -> None:  # noqa: ANN001
    window, controller = build_window(twelve_classes)
    qtbot.addWidget(window)
    hint = window.minimumSizeHint()
    assert hint.width() <= LAPTOP.width() and hint.height() <= LAPTOP.height(), hint
    _show_at(qtbot, window, LAPTOP)
    assert window.size().toTuple() == (1280, 720)
    browser = window.browser
    assert browser.view.height() >= 200 and browser.view.width() >= 300  # the grid
    assert browser.viewer.height() >= 150  # the large view of the current image
    table = browser.classes.table
    rows_in_view = sum(
        table.viewport().rect().contains(table.visualRect(table.model().index(row, 0)))
        for row in range(table.rowCount())
    )
    assert rows_in_view >= 3  # VISIBLE_ROWS of the twelve; the rest scroll (the key strip shows all)
    assert window.training.height() >= 180
    for plot in (window.training.loss_plot, window.training.accuracy_plot, window.training.lr_plot):
        # The curves themselves get room, not only the plot's title, axes and legend.
        assert plot.getPlotItem().getViewBox().sceneBoundingRect().height() >= 80, plot
    _recipe_dock(window).raise_()
    qtbot.wait(100)
    # The preview's original and the first augmented samples are on screen, not scrolled or squeezed away.
    editor = window.recipe
    for tile in (editor.original, *editor.tiles[:4]):
        assert _fully_visible(tile, window), tile.geometry()
    # One scroll bar, beside the editor's buttons, never over them: its content is no wider than its viewport
    # (the backbone panel's too: no sideways scrolling in the side column).
    panel = window.model_panel
    [settings] = [
        area
        for area in window.findChildren(QScrollArea)
        if area.widget()
        and panel.isAncestorOf(area)
        and area.parentWidget() is not None
        and area.widget().isAncestorOf(panel.backbones)
    ]
    assert settings.widget().minimumSizeHint().width() <= settings.viewport().width()
    [scroll] = [area for area in window.findChildren(QScrollArea) if editor.isAncestorOf(area)]
    assert not any(area.isAncestorOf(editor) for area in window.findChildren(QScrollArea))
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
    for button in (editor.export_button, editor.remove_button, editor.reseed_button):
        assert _fully_visible(button, window), button.text()
    window.evaluation_dock.raise_()
    qtbot.wait(100)
    view = window.evaluation
    for button in (
        view.evaluate_button,
        view.suggest_button,
        view.report_button,
        view.export_button,
        view.predict_button,
    ):
        assert _fully_visible(button, window), button.text()
    # Every score column of the per-class table in sight: no sideways scrolling for recall and F1.
    view.per_class.show_matrix(np.eye(CLASS_COUNT, dtype=int) * 3, browser.classes.class_names())
    qtbot.wait(100)
    assert view.per_class.horizontalScrollBar().maximum() == 0
    controller.shutdown()


@pytest.mark.parametrize("area", [LAPTOP, LARGE], ids=["1280x720", "1600x1000"])
def test_every_class_key_is_in_sight_with_twelve_classes(qtbot, twelve_classes: Path, area: QRect) -> None:  # noqa: ANN001
    window, controller = build_window(twelve_classes)
    qtbot.addWidget(window)
    _show_at(qtbot, window, area)
    names = window.browser.classes.class_names()
    assert len(names) == CLASS_COUNT
    shown = _visible_key_texts(window)
    for row, name in enumerate(names):
        wanted = f"{row + 1} {name}" if row < 9 else name  # only 1-9 have a number key
        assert wanted in shown, f"{wanted!r} is not in sight"
    controller.shutdown()


def test_a_class_chip_labels_the_selected_images(qtbot, twelve_classes: Path) -> None:  # noqa: ANN001
    window, controller = build_window(twelve_classes)
    qtbot.addWidget(window)
    browser = window.browser
    browser.view.setCurrentIndex(browser.model.index(0))
    chip = browser.classes.key_strip.chips[11]  # the twelfth class has no number key
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    record = browser.model.record(0)
    assert browser._all[record.id].label == browser.classes.class_names()[11]
    controller.shutdown()


def test_long_class_names_are_cut_on_the_key_chips_and_whole_in_their_tooltips(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.classes_panel import ClassKeyStrip

    strip = ClassKeyStrip()
    qtbot.addWidget(strip)
    names = [f"category_with_a_rather_long_name_{k:02d}" for k in range(CLASS_COUNT)]
    strip.show_classes(names, {})
    strip.resize(1000, strip.flow.heightForWidth(1000))
    strip.show()
    qtbot.waitExposed(strip)
    texts = [chip.text() for chip in strip.chips]
    assert all("…" in text and text.endswith(name[-2:]) for text, name in zip(texts, names, strict=True))
    assert len(set(texts)) == CLASS_COUNT  # the cut keeps the ends that tell them apart
    assert all(name in chip.toolTip() for chip, name in zip(strip.chips, names, strict=True))
    lines = {chip.geometry().y() for chip in strip.chips}
    assert len(lines) <= 3, f"{len(lines)} lines of chips at 1000 px"  # whole names took 5
    strip.show_classes(["cat", "dog"], {})
    assert [chip.text() for chip in strip.chips] == ["1  cat", "2  dog"]  # short names whole


@pytest.mark.parametrize(
    ("point_size", "screen_width", "screen_height"),
    [(None, 1024, 600), (13, 1366, 768)],
    ids=["1024x600", "1366x768-13pt"],
)
def test_the_window_is_never_larger_than_a_small_screen(
    qtbot,  # noqa: ANN001
    twelve_classes: Path,
    point_size: int | None,
    screen_width: int,
    screen_height: int,
) -> None:
    """A 1024 x 600 netbook at the system font, and a 1366 x 768 laptop with a large font (13 pt, a 125 % desktop):
    the rows of buttons wrap, so no area makes the window wider than the screen (the window manager cannot shrink a
    window below its minimum, and its right-hand column went off the screen); the bottom panels scroll their
    height, so the window fits under a title bar (30 px) even with the class buttons on two rows."""
    original = QApplication.font()
    if point_size is not None:
        font = QFont(original)
        font.setPointSize(point_size)
        QApplication.setFont(font)
    try:
        window, controller = build_window(twelve_classes)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        _settle(qtbot, window)
        assert window.minimumSizeHint().width() <= screen_width - 24, window.minimumSizeHint()
        # The minimum does not follow the window's size: from a wide window, one step reaches it (a half-screen
        # snap, leaving full screen), and the class buttons wrap there.
        narrowest = window.minimumSizeHint().width()
        window.resize(1400, 760)
        _settle(qtbot, window)
        assert window.minimumSizeHint().width() == narrowest
        window.resize(narrowest, 700)
        _settle(qtbot, window)
        assert window.width() == narrowest
        assert window.minimumSizeHint().height() <= screen_height - 30, window.minimumSizeHint()
        for dock in window.findChildren(QDockWidget):  # the hidden ones too (the dataset map), once shown
            assert dock.widget().minimumSizeHint().width() <= screen_width // 2, dock.windowTitle()
        controller.shutdown()
    finally:
        QApplication.setFont(original)


def test_the_evaluation_scrolls_only_when_its_least_height_does_not_fit(qtbot, twelve_classes: Path) -> None:  # noqa: ANN001
    """On a large screen the evaluation fills its panel; it scrolled there when its rows that wrap made the scroll
    area keep its preferred height (the panel scrolls so that the window fits a 1024 x 600 screen)."""
    from dmtl_studio.ui.column_scroll import ColumnScroll

    window, controller = build_window(twelve_classes)
    qtbot.addWidget(window)
    _show_at(qtbot, window, LARGE)
    window.evaluation_dock.raise_()
    _settle(qtbot, window)
    scroll = window.evaluation.parentWidget().parentWidget()
    assert isinstance(scroll, ColumnScroll)
    assert scroll.verticalScrollBar().maximum() == 0
    assert window.evaluation.height() == scroll.viewport().height()
    window.resize(1024, 560)  # below the window's minimum: the panel scrolls what it cannot squeeze
    _settle(qtbot, window)
    assert window.evaluation.height() >= window.evaluation.minimumSizeHint().height()
    controller.shutdown()


def test_a_large_font_on_a_short_screen_scrolls_the_browser_instead_of_overlapping_it(
    qtbot,  # noqa: ANN001
    project: Path,
) -> None:
    """1280 x 720 at 14 pt: the browser's least height no longer fits, so its page scrolls; the class table, its
    buttons and the image view keep their least sizes (they were drawn over each other)."""
    original = QApplication.font()
    font = QFont(original)
    font.setPointSize(14)
    QApplication.setFont(font)
    try:
        window, controller = build_window(project)
        qtbot.addWidget(window)
        _show_at(qtbot, window, LAPTOP)
        browser = window.browser
        [side] = [s for s in browser.splitters if s.objectName() == "browser-side"]
        for widget in (side, browser.classes):
            assert widget.height() >= widget.minimumSizeHint().height(), (widget, widget.height())
        [page] = [area for area in window.findChildren(QScrollArea) if area.widget() is browser]
        assert page.verticalScrollBar().maximum() > 0  # the rest of the browser is a scroll away
        page.verticalScrollBar().setValue(page.verticalScrollBar().maximum())
        qtbot.wait(50)
        assert (
            browser.viewer.visibleRegion().boundingRect().height()
            >= browser.viewer.minimumSizeHint().height()
        )
        controller.shutdown()
    finally:
        QApplication.setFont(original)


def test_a_hundred_and_fifty_classes_scroll_in_the_key_strip_and_leave_the_grid_its_room(
    qtbot, tmp_path: Path
) -> None:  # noqa: ANN001
    """With 150 classes the strip wrapped over 12 lines, cut off after about 95 classes, and squeezed the list to
    150 px (h25): it shows at most MAX_KEY_LINES lines and scrolls to every chip."""
    from dmtl_studio.ui.classes_panel import MAX_KEY_LINES

    rng = np.random.default_rng(1)
    for k in range(150):
        folder = tmp_path / "images" / f"component-{k:03d}"
        folder.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / "0.png")
    with ProjectStore.create(tmp_path / "project") as store:
        import_folder(store, tmp_path / "images", seed=0)
    window, controller = build_window(tmp_path / "project")
    qtbot.addWidget(window)
    _show_at(qtbot, window, LARGE)
    browser = window.browser
    strip = browser.classes.key_strip
    line, gap = strip.chips[0].height(), strip.flow.spacing()
    # Four whole lines, no sliver of a fifth (the cap once took the style's spacing, not the strip's 4 px, h27).
    assert gap == 4 and browser.key_scroll.height() <= MAX_KEY_LINES * line + (MAX_KEY_LINES - 1) * gap
    assert browser.key_scroll.verticalScrollBar().maximum() > 0
    assert browser.view.height() >= 300  # the grid keeps its room
    last = strip.chips[-1]
    browser.key_scroll.ensureWidgetVisible(last)
    qtbot.wait(50)
    assert not last.visibleRegion().isEmpty()  # every class is a scroll away
    controller.shutdown()
