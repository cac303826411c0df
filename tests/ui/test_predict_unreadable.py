"""The window's prediction result names the files it could not read."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.app import build_window
from dmtl_studio.core.project.demo import write_shapes_folder
from tests.core.trained_run import copy_project


def test_the_window_names_unreadable_files_after_predicting(qtbot, tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 1, seed=4, size=64)
    (images / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    window, controller = build_window(project)
    qtbot.addWidget(window)
    view = window.evaluation
    out = tmp_path / "predictions.csv"
    view.predict_requested.emit(str(run_dir), str(images), str(out), {}, {})
    qtbot.waitUntil(lambda: view.message.text().startswith("Predicted"), timeout=120_000)
    text = view.message.text()
    assert "1 file(s) could not be read: broken.png (" in text and "error column" in text
    assert out.is_file()
    controller.shutdown()


def test_predict_can_write_unsure_below_a_threshold_chosen_for_a_target_accuracy(
    qtbot, tmp_path_factory, tmp_path: Path
) -> None:  # noqa: ANN001
    import csv

    from dmtl_studio.core.quality.reject import (
        describe_threshold,
        describe_threshold_briefly,
        validation_threshold,
    )

    project, run_dir = copy_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 3, seed=5, size=64)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    view = window.evaluation
    assert [view.unsure_target.itemData(i) for i in range(view.unsure_target.count())][:4] == [
        {},
        {"target_accuracy": 0.9},
        {"target_accuracy": 0.95},
        {"target_accuracy": 0.99},
    ]
    out = tmp_path / "predictions.csv"
    view.predict_requested.emit(str(run_dir), str(images), str(out), {}, {"target_accuracy": 0.99})
    qtbot.waitUntil(lambda: view.message.text().startswith("Predicted"), timeout=120_000)
    chosen = validation_threshold(run_dir, 0.99)  # what the command line would choose
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    unsure = sum(row["predicted_label"] == "unsure" for row in rows)
    assert all(
        (float(r["confidence"]) < chosen.threshold) == (r["predicted_label"] == "unsure") for r in rows
    )
    text = view.message.text()
    brief = describe_threshold_briefly(chosen, 0.99)
    assert brief[0].upper() + brief[1:] in text  # one line under the count: the tables keep their room
    assert f"here {unsure} of {len(rows)} were written as 'unsure'" in text
    detail = describe_threshold(chosen, 0.99)
    assert view.message.toolTip() == detail[0].upper() + detail[1:] + "."  # the whole paragraph
    controller.shutdown()


def test_predict_can_write_unsure_below_a_fixed_confidence(qtbot, tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    import csv

    project, run_dir = copy_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 3, seed=5, size=64)
    window, controller = build_window(project)
    qtbot.addWidget(window)
    view = window.evaluation
    choices = [view.unsure_target.itemData(i) for i in range(view.unsure_target.count())]
    assert {"reject_below": 0.95} in choices
    view.unsure_target.setCurrentIndex(choices.index({"reject_below": 0.95}))
    out = tmp_path / "predictions.csv"
    view.predict_requested.emit(str(run_dir), str(images), str(out), {}, view.unsure_target.currentData())
    qtbot.waitUntil(lambda: view.message.text().startswith("Predicted"), timeout=120_000)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all((float(r["confidence"]) < 0.95) == (r["predicted_label"] == "unsure") for r in rows)
    unsure = sum(r["predicted_label"] == "unsure" for r in rows)
    assert f"'Unsure' below 95% confidence; here {unsure} of {len(rows)} were written as 'unsure'" in (
        view.message.text()
    )
    controller.shutdown()


def test_a_target_accuracy_that_cannot_be_chosen_is_refused_in_the_window_s_words(
    tmp_path_factory, tmp_path: Path
) -> None:
    import shutil

    import pytest

    from dmtl_studio.core.quality.reject import RejectError
    from dmtl_studio.workers.evaluation import PredictThread

    _project, run_dir = copy_project(tmp_path_factory)
    outside = shutil.copytree(run_dir, tmp_path / "a-run-outside-its-project")  # no validation images to use
    images = write_shapes_folder(tmp_path / "images", 1, seed=5, size=64)
    thread = PredictThread(str(outside), str(images), str(tmp_path / "p.csv"), target_accuracy=0.95)
    with pytest.raises(RejectError) as caught:
        thread.work()
    message = str(caught.value)
    assert "not inside a project" in message and "--" not in message, message
    assert "'Unsure' below … confidence" in message
