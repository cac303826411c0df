"""The window's side of label safety: conflicting labels, class names, split defaults, evaluations of nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

from dmtl_studio.app import build_window
from dmtl_studio.core.evaluation.results import EvaluationResult
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.imaging import inspect_image
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.ui.split_dialog import SplitDialog


def test_conflicting_labels_have_a_filter_and_a_notice(qtbot, project: Path, tmp_path: Path) -> None:  # noqa: ANN001
    with ProjectStore.open(project) as store:
        original = next(im for im in store.images() if im.label == "circle")
        copy = tmp_path / "same_picture.png"
        shutil.copy(original.path, copy)
        store.add_images([(str(copy), "square", inspect_image(copy), None)])
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    browser.set_filter("conflicts")
    shown = {browser.model.record(row).path for row in range(browser.model.rowCount())}
    assert shown == {original.path, str(copy)}
    assert browser.filter.currentText() == "Conflicting labels (2)"  # images
    warnings = browser.classes.warnings
    assert (
        "carry two or more labels" in warnings.text() + warnings.toolTip()
    )  # shown, or listed in its tooltip
    controller.shutdown()


def test_the_window_refuses_class_names_that_are_not_folder_names(qtbot, project: Path, monkeypatch) -> None:  # noqa: ANN001
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: warned.append(args[2]))
    window, controller = build_window(project)
    qtbot.addWidget(window)
    before = window.browser.store.class_names()
    for name in ("..", "../up", "bell\x07", "x" * 101):
        window.browser.add_class(name)
    assert window.browser.store.class_names() == before and len(warned) == 4
    controller.shutdown()


def test_window_import_applies_and_shows_the_default_split(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.splits import DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION

    images = write_shapes_folder(tmp_path / "images", 10, unlabelled=0, seed=3, size=32)
    project = tmp_path / "project"
    ProjectStore.create(project).close()
    window, controller = build_window(project)
    qtbot.addWidget(window)
    controller.import_images(str(images))
    qtbot.waitUntil(lambda: "Import: " in window.statusBar().currentMessage(), timeout=60_000)
    controller.import_thread.wait(10_000)
    assert "test 10%" in window.statusBar().currentMessage()
    with ProjectStore.open(project) as store:
        assert all(c["test"] == round(10 * DEFAULT_TEST_FRACTION) for c in store.class_counts().values())
    dialog = SplitDialog(window)  # Reassign splits offers the same default
    assert dialog.values()[:2] == (DEFAULT_VAL_FRACTION, DEFAULT_TEST_FRACTION)
    controller.shutdown()


def test_the_import_summary_box_fits_the_screen_and_lists_the_rest_behind_its_details(
    qtbot, tmp_path: Path
) -> None:  # noqa: ANN001
    """Every class too small to split added a line to the box: 300 of them made it 8,554 px tall, its Close
    button off the screen."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "images"
    for index in range(60):  # 60 classes of one image each: each too small to split
        (folder / f"c{index:02d}").mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), index * 4, np.uint8)).save(folder / f"c{index:02d}" / "0.png")
    (folder / "c00" / "broken.png").write_bytes(b"not an image")
    project = tmp_path / "project"
    ProjectStore.create(project).close()
    window, controller = build_window(project)
    qtbot.addWidget(window)
    controller.import_images(str(folder))
    qtbot.waitUntil(lambda: window.summary_box is not None and window.summary_box.isVisible(), timeout=60_000)
    controller.import_thread.wait(10_000)
    box = window.summary_box
    screen = window.screen().availableGeometry()
    assert box.sizeHint().height() <= screen.height(), (box.sizeHint(), screen)
    assert (
        box.informativeText().count("• Note: class") == 3 and "… and 57 more note(s)" in box.informativeText()
    )
    details = box.detailedText().splitlines()
    assert sum(line.startswith("note: class") for line in details) == 57
    problems = [line for line in details if line.startswith("problem: ")]
    assert len(problems) == 1 and str(folder / "c00" / "broken.png") in problems[0], problems
    controller.shutdown()


def test_evaluation_view_of_nothing_shows_no_number(qtbot, project: Path) -> None:  # noqa: ANN001
    window, controller = build_window(project)
    qtbot.addWidget(window)
    empty = EvaluationResult(
        run_dir="r",
        run_name="r",
        split="none",
        note="This project has no test or validation images.",
        classes=("circle", "square"),
        image_ids=np.zeros(0, dtype=np.int64),
        paths=(),
        targets=np.zeros(0, dtype=np.int64),
        probabilities=np.zeros((0, 2)),
    )
    window.evaluation.show_result(empty)
    text = window.evaluation.summary.text()
    assert "no images to score" in text and "%" not in text
    assert not window.evaluation.misclassified_button.isEnabled()
    controller.shutdown()


def test_many_class_warnings_show_one_line_and_list_the_rest_in_a_tooltip(qtbot) -> None:  # noqa: ANN001
    from dmtl_studio.ui.classes_panel import ClassesPanel

    panel = ClassesPanel()
    qtbot.addWidget(panel)
    counts = {"a": {"total": 1, "train": 1, "val": 0, "test": 0}}
    panel.show_classes(counts, {}, ["first <one>", "second", "third"])
    assert panel.warnings.text().startswith("first &lt;one&gt;<br>")  # escaped: a class name may hold <
    assert "and 2 more warning(s)" in panel.warnings.text() and "second" not in panel.warnings.text()
    assert panel.warnings.toolTip() == "first <one>\nsecond\nthird"
    panel.show_classes(counts, {}, ["only one"])
    assert panel.warnings.text() == "only one" and panel.warnings.toolTip() == ""


def test_window_asks_whether_split_named_folders_are_classes(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Vehicles with a class ``train``: the window asks rather than refuse; No imports nothing."""
    folder = tmp_path / "vehicles"
    for seed, name in enumerate(("car", "train")):
        write_shapes_folder(tmp_path / "shapes", 3, unlabelled=0, seed=seed, size=32)
        shutil.copytree(tmp_path / "shapes" / "circle", folder / name)
        shutil.rmtree(tmp_path / "shapes")
    project = tmp_path / "project"
    ProjectStore.create(project).close()
    window, controller = build_window(project)
    qtbot.addWidget(window)
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: (asked.append(args[2]), answer[0])[1])
    controller.import_images(str(folder))
    assert (
        len(asked) == 1 and "train/" in asked[0] and controller.import_thread is None
    )  # No: nothing started
    answer[0] = QMessageBox.StandardButton.Yes
    controller.import_images(str(folder))
    qtbot.waitUntil(lambda: "Import: " in window.statusBar().currentMessage(), timeout=60_000)
    controller.import_thread.wait(10_000)
    with ProjectStore.open(project) as store:
        assert store.class_names() == ["car", "train"]
    controller.shutdown()


def test_file_import_again_lists_the_imported_folder_and_adds_what_was_put_in_it(
    qtbot, tmp_path: Path
) -> None:  # noqa: ANN001
    """A file put in an imported folder was not seen until the folder was found and imported again by hand."""
    images = write_shapes_folder(tmp_path / "images", 4, unlabelled=0, seed=3, size=32)
    project = tmp_path / "project"
    ProjectStore.create(project).close()
    window, controller = build_window(project)
    qtbot.addWidget(window)
    assert not window.again_menu.menuAction().isEnabled()  # nothing imported yet
    controller.import_images(str(images))
    qtbot.waitUntil(lambda: window.again_menu.menuAction().isEnabled(), timeout=60_000)
    controller.import_thread.wait(10_000)
    window._fill_again_menu()
    assert [a.text() for a in window.again_menu.actions()] == [str(images.absolute())]
    before = window.browser.model.rowCount()
    extra = write_shapes_folder(tmp_path / "more", 1, unlabelled=0, seed=8, size=32)
    next((extra / "square").iterdir()).rename(images / "square" / "late.png")
    window.again_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == before + 1, timeout=60_000)
    controller.import_thread.wait(10_000)
    images.rename(tmp_path / "moved")
    window._fill_again_menu()
    [gone] = window.again_menu.actions()
    assert gone.text().endswith("(gone)") and not gone.isEnabled()
    controller.shutdown()


def test_opening_another_project_shows_no_run_of_the_last_one_in_the_training_panel(
    qtbot,  # noqa: ANN001
    project: Path,
    tmp_path: Path,
) -> None:
    """The Training panel kept the last project's curves, notes and "finished" beside the new one's empty history."""
    from dmtl_studio.core.training.events import EpochResult, RunSummary

    other = tmp_path / "other"
    shutil.copytree(project, other)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    panel = window.training
    panel.run_started("a run of the first project")
    for epoch in (1, 2, 3):
        panel.on_epoch(EpochResult(epoch, 20, 2.5, 0.4, 2.6, 0.35, 1e-3))
    panel.on_notice("no calibration: too few validation images")
    panel.on_finished(RunSummary(1, str(project / "runs" / "r"), "completed", 3, ("a", "b"), "cpu", {}))
    panel.redraw()
    assert panel.point_count() > 0 and panel.progress.format() == "finished"
    assert controller.open_project(str(other))
    assert panel.point_count() == 0 and panel.progress.format() == "idle"
    assert not panel.notices_area.isVisibleTo(window) and panel.notices.text() == ""
    # The empty plots read 0 to 1, not the last run's 20 epochs.
    x_range, _ = panel.loss_plot.getPlotItem().getViewBox().viewRange()
    assert x_range[1] <= 1.0 + 1e-6, x_range
    controller.shutdown()


def test_a_search_typed_in_one_project_is_not_applied_to_the_next(
    qtbot, project: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    """A new project opened under the last one's search read "0 shown", as if its import had failed (h25)."""
    other = tmp_path / "other"
    shutil.copytree(project, other)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    browser.search.setText("no-such-name")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 0, timeout=5_000)
    assert controller.open_project(str(other))
    assert browser.search.text() == ""
    with ProjectStore.open(other) as store:
        assert browser.model.rowCount() == len(store.images())
    controller.shutdown()


def test_a_key_for_a_class_merged_elsewhere_labels_nothing_and_says_so(
    qtbot, project: Path, monkeypatch
) -> None:  # noqa: ANN001
    """A command merged 'circle' into 'square' and a key pressed before the window noticed re-created 'circle'
    with one image (h30)."""
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: warned.append(args[2]))
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    browser.set_filter("unlabelled")
    browser.view.setCurrentIndex(browser.model.index(0))
    target = browser.model.record(0).id
    with ProjectStore.open(project) as other:  # another process, before the window's next look
        other.merge_classes(["circle"], "square")
    browser.label_selected("circle")
    with ProjectStore.open(project) as store:
        assert "circle" not in store.class_names() and store.labels_of([target]) == {target: None}
    assert len(warned) == 1 and "The class 'circle' no longer exists" in warned[0]
    assert "circle" not in browser.classes.class_names()  # the classes as they are now
    browser.label_selected("square")  # a class that exists labels as before
    with ProjectStore.open(project) as store:
        assert store.labels_of([target]) == {target: "square"}
    controller.shutdown()


def test_a_long_class_name_does_not_widen_the_side_column_or_the_filter(qtbot, project: Path) -> None:  # noqa: ANN001
    """A 98-letter class name in a warning and in the Show list squeezed the grid to two columns and the search
    box to "S…" (h30)."""
    window, controller = build_window(project)
    qtbot.addWidget(window)
    browser = window.browser
    wide = browser.filter.sizeHint().width()
    name = (
        "Mitochondrial_fragmentation_phenotype_after_treatment_with_compound_XYZ_at_high_concentration_day3"
    )
    browser.add_class(name)
    browser.set_filter("unlabelled")
    browser.view.setCurrentIndex(browser.model.index(0))
    browser.label_selected(name)
    assert browser.filter.findData(f"class:{name}") >= 0 or any(
        name in browser.filter.itemText(i) for i in range(browser.filter.count())
    )
    assert browser.filter.sizeHint().width() == wide
    warnings = browser.classes.warnings
    assert name not in warnings.text() and "Mitochondrial_f…" in warnings.text()
    assert name in warnings.toolTip()  # whole where one points
    controller.shutdown()
