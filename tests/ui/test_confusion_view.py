"""One confusion-matrix heat map and per-class table, shared by the training and evaluation views."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from dmtl_studio.ui.confusion_view import RIGHT_RGB, WRONG_RGB, ConfusionTable, PerClassTable
from dmtl_studio.ui.evaluation_view import EvaluationView
from dmtl_studio.ui.training_panel import TrainingPanel

MATRIX = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]])
CLASSES = ["circle", "square", "star"]


def test_both_views_use_the_shared_widgets(qtbot) -> None:  # noqa: ANN001
    training, evaluation = TrainingPanel(), EvaluationView()
    qtbot.addWidget(training)
    qtbot.addWidget(evaluation)
    for view in (training, evaluation):
        assert isinstance(view.confusion, ConfusionTable) and isinstance(view.per_class, PerClassTable)


def test_the_heat_map_shows_counts_coloured_by_share_of_the_true_class(qtbot) -> None:  # noqa: ANN001
    table = ConfusionTable("tip", cell_tooltips=True)
    qtbot.addWidget(table)
    table.show_matrix(MATRIX, CLASSES)
    assert (table.rowCount(), table.columnCount()) == (3, 3)
    assert [[table.item(i, j).text() for j in range(3)] for i in range(3)] == MATRIX.astype(str).tolist()
    assert (
        table.horizontalHeaderItem(1).text() == "→ square" and table.verticalHeaderItem(1).text() == "square"
    )

    def expected(share: float, rgb: tuple[int, int, int]) -> tuple[int, ...]:
        return tuple(round(255 - (255 - c) * share) for c in rgb)

    def rgb(i: int, j: int) -> tuple[int, ...]:
        return table.item(i, j).background().color().getRgb()[:3]

    assert rgb(1, 1) == expected(0.9, RIGHT_RGB)  # 9 of the 10 squares: nearly the full blue
    assert rgb(0, 1) == expected(0.2, WRONG_RGB)  # 2 of the 10 circles called squares: a light red
    assert table.item(2, 2).foreground().color().name() == "#000000"  # a white cell, a black number
    assert table.item(2, 2).background().color().name() == "#ffffff"  # an empty class: no division by zero
    assert "true circle, predicted square: 2" in table.item(0, 1).toolTip()
    table.clear_matrix()
    assert (table.rowCount(), table.columnCount()) == (0, 0)


def test_the_heat_map_blends_from_a_dark_ground_and_its_numbers_read(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.muted import contrast_ratio

    table = ConfusionTable("tip")
    qtbot.addWidget(table)
    table.show_matrix(MATRIX, CLASSES)
    dark = QPalette(table.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    table.setPalette(dark)  # the theme turns dark while the matrix is shown: it is drawn again
    assert table.item(2, 2).background().color().name() == "#1e1e1e"  # nothing there: the dark ground
    assert (
        table.item(1, 0).background().color().name() != "#ffffff"
    )  # one wrong of ten: a dark red, not white
    for i in range(3):
        for j in range(3):
            cell, number = table.item(i, j).background().color(), table.item(i, j).foreground().color()
            assert contrast_ratio(cell, number) >= 4.5, (i, j, cell.name(), number.name())
    assert table.item(2, 2).foreground().color().name() == "#ffffff"  # a white number on the dark ground
    assert table.item(0, 0).text() == "8"


@pytest.mark.parametrize("ground", ["#ffffff", "#1e1e1e", "#7f7f7f"])
def test_every_share_of_either_colour_keeps_its_number_readable(ground: str) -> None:
    from dmtl_studio.ui.confusion_view import cell_color, text_color
    from dmtl_studio.ui.muted import contrast_ratio

    for share in np.linspace(0, 1, 101):
        for diagonal in (True, False):
            cell = cell_color(float(share), diagonal, QColor(ground))
            assert contrast_ratio(cell, text_color(cell)) >= 4.5, (share, diagonal, cell.name())


def test_the_per_class_table_scores_each_class(qtbot) -> None:  # noqa: ANN001
    table = PerClassTable()
    qtbot.addWidget(table)
    metrics = table.show_matrix(MATRIX, CLASSES)
    assert table.rowCount() == 3 and table.item(0, 0).text() == "circle"
    assert float(table.item(0, 1).text()) == pytest.approx(8 / 9, abs=1e-3)  # precision: 8 of 9 called circle
    assert float(table.item(0, 2).text()) == pytest.approx(0.8, abs=1e-3)  # recall: 8 of 10 circles
    assert table.item(1, 4).text() == "10"
    assert metrics.accuracy == pytest.approx(17 / 20)


def test_a_class_with_nothing_scored_shows_no_score_rather_than_zero(qtbot) -> None:  # noqa: ANN001
    table = PerClassTable()
    qtbot.addWidget(table)
    table.show_matrix(
        np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]]), CLASSES
    )  # the third class: none, never predicted
    assert [table.item(2, column).text() for column in range(1, 5)] == ["n/a", "n/a", "n/a", "0"]
    assert table.item(0, 2).text() == "0.750"


def test_a_run_that_scored_no_validation_pass_says_where_its_figures_are(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.core.training.events import RunSummary

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    done = RunSummary(
        run_id=1,
        run_dir="/r",
        status="completed",
        epochs_completed=1,
        classes=("a", "b"),
        device="cpu",
        metrics={},
    )
    panel.on_finished(done)  # a linear probe whose validation images joined its fit: no matrix was shown
    assert panel.confusion_note.text().startswith("No validation images were scored during this run")
    panel.show_confusion(MATRIX, CLASSES, "epoch 1")
    panel.on_finished(done)  # one that scored them keeps its figures
    assert panel.confusion_note.text().startswith("Validation images, epoch 1: accuracy")


def test_a_class_names_header_is_shown_whole_or_ends_in_an_ellipsis(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.confusion_view import MAX_COLUMN_WIDTH, ConfusionTable

    table = ConfusionTable("")
    qtbot.addWidget(table)
    classes = ["bug", "feature request", "a very long class name " * 4]
    table.show_matrix(np.eye(3, dtype=int), classes)
    table.show()
    metrics = table.horizontalHeader().fontMetrics()
    # "→ feature reques" was cut at the style's default width, without a sign.
    assert table.columnWidth(1) >= metrics.horizontalAdvance("→ feature request")
    assert table.columnWidth(2) == MAX_COLUMN_WIDTH
    assert table.horizontalHeader().textElideMode() == Qt.TextElideMode.ElideRight
    assert table.horizontalHeaderItem(2).toolTip() == f"predicted {classes[2]}"
    assert table.verticalHeaderItem(1).toolTip() == "true feature request"
    assert table.verticalHeader().width() <= MAX_COLUMN_WIDTH  # a long true class took the table's width
    assert table.verticalHeader().textElideMode() == Qt.TextElideMode.ElideRight
