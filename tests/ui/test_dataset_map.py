"""The dataset map view: points shown, rectangle and lasso selection, colouring, label keys."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from dmtl_studio.core.quality.embedding_map import DatasetMap
from dmtl_studio.ui.dataset_map import DatasetMapView


def _grid_map(qtbot):  # noqa: ANN001, ANN202
    view = DatasetMapView()
    qtbot.addWidget(view)
    xs, ys = np.meshgrid(np.arange(10, dtype=np.float32), np.arange(10, dtype=np.float32))
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    ids = np.arange(100, 200)
    labels = ["cat" if x < 5 else "dog" for x in points[:, 0]]
    splits = ["train" if y < 7 else "val" for y in points[:, 1]]
    view.show_points(points, ids, labels=labels, splits=splits)
    view.resize(500, 400)
    view.show()
    return view, points, ids


def _brush_colors(view: DatasetMapView) -> list[str]:
    return [spot.brush().color().name() for spot in view.scatter.points()]


def test_the_points_are_drawn_where_they_lie(qtbot) -> None:  # noqa: ANN001
    view, points, ids = _grid_map(qtbot)
    x, y = view.scatter.getData()
    assert np.array_equal(x, points[:, 0]) and np.array_equal(y, points[:, 1])
    assert [int(d) for d in view.scatter.data["data"]] == list(ids)
    box = view.view_box.viewRange()
    assert box[0][0] <= 0 and box[0][1] >= 9 and box[1][0] <= 0 and box[1][1] >= 9


def test_a_rectangle_selects_exactly_the_points_inside_and_emits_their_ids(qtbot) -> None:  # noqa: ANN001
    view, points, ids = _grid_map(qtbot)
    with qtbot.waitSignal(view.selection_changed) as signal:
        view.select_rect(6.5, 1.5, 2.5, 3.5)  # corners in any order
    expected = [int(i) for i, (x, y) in zip(ids, points, strict=True) if 2.5 <= x <= 6.5 and 1.5 <= y <= 3.5]
    assert sorted(signal.args[0]) == expected and len(expected) == 8
    assert view.selected_ids() == expected
    assert len(view.selected_item.getData()[0]) == 8


def test_a_lasso_selects_the_points_inside_its_path(qtbot) -> None:  # noqa: ANN001
    view, points, ids = _grid_map(qtbot)
    triangle = [(-0.5, -0.5), (9.5, -0.5), (-0.5, 9.5)]  # the points with x + y < 9
    with qtbot.waitSignal(view.selection_changed) as signal:
        view.select_lasso(triangle)
    expected = [int(i) for i, (x, y) in zip(ids, points, strict=True) if x + y < 9]
    assert sorted(signal.args[0]) == expected and len(expected) == 45


def test_a_shift_drag_on_the_plot_selects_a_rectangle(qtbot) -> None:  # noqa: ANN001
    view, points, ids = _grid_map(qtbot)
    qtbot.waitExposed(view)
    vb = view.view_box
    # Drag through pyqtgraph's own event path: the view box decides what the drag does.
    from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent

    class _Press:
        def __init__(self, pos, down=None):  # noqa: ANN001
            self._pos, self._down = pos, down if down is not None else pos

        def buttonDownScenePos(self, _button):  # noqa: ANN001, ANN202, N802
            return self._down

        def buttonDownScreenPos(self, _button):  # noqa: ANN001, ANN202, N802
            return self._down

        def scenePos(self):  # noqa: ANN202, N802
            return self._pos

        def screenPos(self):  # noqa: ANN202, N802
            return self._pos

        def button(self):  # noqa: ANN202
            return Qt.MouseButton.LeftButton

        def buttons(self):  # noqa: ANN202
            return Qt.MouseButton.LeftButton

        def modifiers(self):  # noqa: ANN202
            return Qt.KeyboardModifier.ShiftModifier

        def lastScenePos(self):  # noqa: ANN202, N802
            return self._pos

        def lastScreenPos(self):  # noqa: ANN202, N802
            return self._pos

    start, end = vb.mapViewToScene(pg_point(1.5, 1.5)), vb.mapViewToScene(pg_point(3.5, 4.5))
    press = _Press(start)
    with qtbot.waitSignal(view.selection_changed) as signal:
        for pos, first, finish in ((start, True, False), (end, False, True)):
            move = _Press(pos, start)
            event = MouseDragEvent(move, press, move, start=first, finish=finish)
            event.currentItem = vb
            vb.mouseDragEvent(event)
    expected = [int(i) for i, (x, y) in zip(ids, points, strict=True) if 1.5 <= x <= 3.5 and 1.5 <= y <= 4.5]
    assert sorted(signal.args[0]) == expected and len(expected) == 6


def pg_point(x: float, y: float):  # noqa: ANN201
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_colouring_by_split_or_label_changes_the_brushes(qtbot) -> None:  # noqa: ANN001
    view, points, _ids = _grid_map(qtbot)
    view.set_class_colors({"cat": "#ff0000", "dog": "#0000ff"})
    by_label = _brush_colors(view)
    assert by_label == ["#ff0000" if x < 5 else "#0000ff" for x in points[:, 0]]
    view.color_by.setCurrentIndex(view.color_by.findData("split"))
    by_split = _brush_colors(view)
    assert by_split != by_label
    assert len({c for c, y in zip(by_split, points[:, 1], strict=True) if y < 7}) == 1
    assert by_split[0] != by_split[-1]  # train and validation differ
    view.update_labels({100: None})
    view.color_by.setCurrentIndex(view.color_by.findData("label"))
    assert _brush_colors(view)[0] not in ("#ff0000", "#0000ff")  # unlabelled now: grey


def test_number_keys_ask_to_label_the_selection(qtbot) -> None:  # noqa: ANN001
    view, _points, _ids = _grid_map(qtbot)
    with qtbot.assertNotEmitted(view.label_key_pressed):
        qtbot.keyClick(view, Qt.Key.Key_2)  # nothing selected: nothing to label
    view.select_rect(0, 0, 1, 1)
    with qtbot.waitSignal(view.label_key_pressed) as signal:
        qtbot.keyClick(view, Qt.Key.Key_2)
    assert signal.args == [2]


def test_hovering_a_point_asks_for_its_thumbnail_and_shows_it(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtGui import QImage

    view, _points, _ids = _grid_map(qtbot)
    view.paths = [f"/images/{i}.png" for i in range(100)]
    qtbot.waitExposed(view)
    scene_pos = view.view_box.mapViewToScene(pg_point(4, 4))
    with qtbot.waitSignal(view.thumbnails_wanted) as signal:
        view._hover(scene_pos)
    assert signal.args[0][0][:2] == (144, "/images/44.png")
    image = QImage(32, 32, QImage.Format.Format_RGB32)
    image.fill(0xFF00FF)
    view.set_thumbnail(144, image)
    assert view.hovered_id() == 144 and view.thumbnail.pixmap().width() == 32
    assert view.thumbnail.isVisible()
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(view.plot, QEvent(QEvent.Type.Leave))  # the pointer leaves the map: so does it
    assert not view.thumbnail.isVisible() and view.hovered_id() is None


def test_the_thumbnail_of_a_point_at_the_edge_stays_inside_the_plot(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtGui import QImage

    view, _points, _ids = _grid_map(qtbot)
    view.paths = [f"/images/{i}.png" for i in range(100)]
    qtbot.waitExposed(view)
    image = QImage(96, 96, QImage.Format.Format_RGB32)
    image.fill(0x00FF00)
    view.set_thumbnail(199, image)  # the top right point (9, 9)
    view._hover(view.view_box.mapViewToScene(pg_point(9, 9)))
    assert view.hovered_id() == 199
    assert view.plot.rect().contains(view.thumbnail.geometry())


def test_the_status_of_a_text_project_map_speaks_of_texts(qtbot) -> None:  # noqa: ANN001
    view = DatasetMapView()
    qtbot.addWidget(view)
    fields = {
        "points": np.zeros((3, 2), dtype=np.float32),
        "image_ids": np.arange(3),
        "paths": ("a.csv#1", "a.csv#2", "a.csv#3"),
        "sha256": (None,) * 3,
        "labels": ("billing", "billing", None),
        "splits": ("train", "train", None),
        "verdicts": ("none",) * 3,
        "predicted": (None,) * 3,
        "method": "pca",
        "seconds": 0.0,
    }
    view.set_map(DatasetMap(**fields, kind="text"))
    assert view.status.text().startswith("3 text(s)") and "image" not in view.status.text()
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    wanted: list[object] = []
    view.thumbnails_wanted.connect(wanted.append)
    view._hover(view.view_box.mapViewToScene(pg_point(0, 0)))  # a text has no thumbnail to ask for
    assert view._hovered == 0 and wanted == []
    view.set_map(DatasetMap(**fields))
    assert view.status.text().startswith("3 image(s), PCA layout")
    view.set_map(DatasetMap(**{**fields, "method": "tsne"}))
    assert view.status.text().startswith("3 image(s), t-SNE layout")  # as the choice names it ("TSNE", h30)


def test_the_map_says_when_it_is_out_of_date(qtbot) -> None:  # noqa: ANN001
    """After an import and a new run the map still read "134 image(s)" and the old run's verdicts, with no sign
    of it (h35): items added or removed since, and another run chosen, are said until the map is computed again."""
    view = DatasetMapView()
    qtbot.addWidget(view)
    fields = {
        "points": np.zeros((3, 2), dtype=np.float32),
        "image_ids": np.arange(3),
        "paths": ("a.png", "b.png", "c.png"),
        "sha256": (None,) * 3,
        "labels": ("cat", "cat", None),
        "splits": ("train", "train", None),
        "verdicts": ("none",) * 3,
        "predicted": (None,) * 3,
        "method": "pca",
        "seconds": 0.0,
    }
    view.set_map(DatasetMap(**fields, run_name="run-1"))
    fresh = view.status.text()
    view.check_current(item_ids={0, 1, 2}, run_name="run-1")
    assert view.status.text() == fresh  # as computed: nothing said
    view.check_current(item_ids={0, 1, 2, 7, 8})
    assert "Out of date" in view.status.text() and "2 image(s) added" in view.status.text()
    view.check_current(item_ids={1, 2, 7, 8}, run_name="run-2")
    text = view.status.text()
    assert (
        "2 image(s) added; 1 image(s) removed" in text
        and "run run-2 is chosen, the verdicts are of run-1" in text
    )
    view.check_current(run_name=None)
    assert "no run is chosen" in view.status.text()
    view.set_map(DatasetMap(**fields, run_name="run-2"))  # computed again
    assert "Out of date" not in view.status.text()
    view.clear()
    view.check_current(item_ids={5})  # no map: nothing to be out of date
    assert "Out of date" not in view.status.text()


def test_a_map_computed_again_keeps_its_orientation(qtbot) -> None:  # noqa: ANN001
    """Computing the PCA map again (after an import) came out mirrored (h35): each axis keeps the way it had."""
    view = DatasetMapView()
    qtbot.addWidget(view)
    rng = np.random.default_rng(0)
    first = rng.normal(size=(20, 2)).astype(np.float32)
    fields = {
        "paths": tuple(f"{i}.png" for i in range(20)),
        "sha256": (None,) * 20,
        "labels": (None,) * 20,
        "splits": (None,) * 20,
        "verdicts": ("none",) * 20,
        "predicted": (None,) * 20,
        "method": "pca",
        "seconds": 0.0,
    }
    view.set_map(DatasetMap(points=first, image_ids=np.arange(20), **fields))
    assert np.allclose(view.points, first)
    mirrored = first * np.array([-1.0, 1.0], dtype=np.float32) + 0.01  # x mirrored, nearly the same otherwise
    view.set_map(DatasetMap(points=mirrored[::-1].copy(), image_ids=np.arange(20)[::-1].copy(), **fields))
    shown = {int(i): view.points[row] for row, i in enumerate(view.image_ids)}
    assert all(np.allclose(shown[i], first[i] * [1, 1] + [-0.01, 0.01], atol=1e-5) for i in range(20))
