"""Evaluation of a run: the split used (and the fallback it announces), metrics and the browser's id lists."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmtl_studio.core.evaluation.inference import evaluate_run, project_of_run
from dmtl_studio.core.evaluation.results import FALLBACK_NOTE, EvaluationResult
from dmtl_studio.core.project.store import ProjectStore
from tests.core.trained_run import copy_project, trained_project


def _result(
    targets: list[int],
    probabilities: list[list[float]],
    classes: tuple[str, ...] = ("a", "b", "c"),
    **more: object,
) -> EvaluationResult:
    return EvaluationResult(
        run_dir="r",
        run_name="r",
        split="test",
        classes=classes,
        image_ids=np.arange(10, 10 + len(targets)),
        paths=tuple(f"{i}.png" for i in range(len(targets))),
        targets=np.asarray(targets),
        probabilities=np.asarray(probabilities),
        **{"note": "", **more},
    )


def test_a_split_of_classes_the_run_does_not_know_says_so_before_the_split_s_note() -> None:
    """Evaluated on another project whose classes the run does not know, the reason nothing is scored is told first
    (it came last, after the fallback note about best-epoch picks that had nothing to do with it)."""
    empty = _result([], np.zeros((0, 2)).tolist(), classes=("ok", "defect"), skipped=45, note=FALLBACK_NOTE)
    lines = empty.describe().splitlines()
    assert lines[0].startswith("run r: 0 image(s)")
    assert (
        lines[1] == "45 image(s) of classes the run does not know were left out: the run knows 'ok', 'defect'"
    )
    assert lines[2] == "no images to score: no accuracy to report"
    assert lines[-1] == f"note: {FALLBACK_NOTE}"


def test_metrics_and_id_lists_follow_the_predictions() -> None:
    result = _result(
        [0, 0, 1, 2, 2],
        [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]],
    )
    assert result.confusion.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert result.metrics.accuracy == pytest.approx(3 / 5)
    assert result.metrics.balanced_accuracy == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert result.misclassified_ids() == [11, 13]  # the most confidently wrong first (0.7, then 0.5)
    assert result.low_confidence_ids(0.6) == [13]
    assert result.cell_ids(2, 0) == [13] and result.cell_ids(0, 0) == [10]
    assert result.per_image()[11] == ("a", "b", pytest.approx(0.7))
    summary = result.to_dict()
    assert summary["per_class"]["b"]["precision"] == pytest.approx(0.5)
    assert "balanced accuracy 0.667" in result.describe()


def test_an_empty_split_reports_no_number() -> None:
    result = _result([], np.zeros((0, 3)).tolist())
    assert result.confusion.sum() == 0 and not result.scored
    assert result.metrics.accuracy is None and result.metrics.balanced_accuracy is None
    summary = result.to_dict()
    assert summary["accuracy"] is None and summary["balanced_accuracy"] is None
    assert all(c["precision"] is None and c["support"] == 0 for c in summary["per_class"].values())
    assert "no images to score" in result.describe() and "0.000" not in result.describe()
    assert result.misclassified_ids() == [] and result.low_confidence_ids() == []


def test_evaluating_a_project_without_held_out_images_says_so(tmp_path_factory, tmp_path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio import cli
    from dmtl_studio.core.evaluation.report import write_report

    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:  # as with one image per class: everything trains
        store.set_splits({im.id: "train" for im in store.images() if im.label})
    result = evaluate_run(project, run_dir)
    assert result.split == "none" and not result.scored and result.to_dict()["accuracy"] is None
    assert cli.main(["evaluate", str(run_dir), "--project", str(project), "--json"]) == 0
    captured = capsys.readouterr()
    out = captured.err  # --json: the words on stderr, the JSON alone on stdout
    assert "no images to score" in out and "accuracy 0" not in out
    assert "dmtl-studio splits PROJECT on the command line" in out  # what to do, where the user is too
    assert json.loads(captured.out)["accuracy"] is None
    text = write_report(run_dir, tmp_path / "r.html", result=result)[0].read_text(encoding="utf-8")
    assert "No images to score" in text and "0.0%" not in text


def test_without_test_images_the_validation_split_is_used_and_said(tmp_path_factory) -> None:  # noqa: ANN001
    project, run_dir = trained_project(tmp_path_factory)
    assert project_of_run(run_dir) == project.resolve()
    result = evaluate_run(project, run_dir)
    assert result.split == "val" and result.note == FALLBACK_NOTE
    assert "validation split" in result.describe() and "no test images" in result.describe()
    with ProjectStore.open(project) as store:
        val = {im.id for im in store.images(usable_only=True) if im.split == "val" and im.label}
    assert set(result.image_ids.tolist()) == val
    assert result.confusion.sum() == len(val) == 9
    assert np.allclose(result.probabilities.sum(1), 1.0)
    assert result.metrics.accuracy > 0.5  # chance is 1/3


def test_the_test_split_is_preferred_when_it_has_images(tmp_path_factory) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        chosen = [im.id for im in store.images(usable_only=True) if im.split == "train"][:5]
        store.set_splits(dict.fromkeys(chosen, "test"))
    result = evaluate_run(project, run_dir)
    assert result.split == "test"
    # Those test images were training images when the run was trained: the result says its scores are optimistic.
    assert result.note.startswith(
        "5 of the 5 images scored hold the content of images this run was fitted on"
    )
    assert sorted(result.image_ids.tolist()) == sorted(chosen)


def test_a_run_scored_on_another_project_it_never_saw_says_so(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    """evaluate --project on another set said nothing, and its figures read as those of the run's own data (h26)."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    _, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(tmp_path / "images", 4, unlabelled=0, seed=99, size=64)
    with ProjectStore.create(tmp_path / "other") as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.25, seed=0)
    result = evaluate_run(tmp_path / "other", run_dir)
    assert "This run was trained in another project, and none of the" in result.note
    assert "images it was fitted on are in other: these figures are on images it never saw" in result.note
    own, own_run = copy_project(tmp_path_factory)
    assert "another project" not in evaluate_run(own, own_run).note


def test_a_class_renamed_after_the_run_keeps_its_images_and_scores(tmp_path_factory) -> None:  # noqa: ANN001
    from dmtl_studio.core.evaluation.inference import suggest_labels

    project, run_dir = copy_project(tmp_path_factory)
    before = evaluate_run(project, run_dir)
    first = before.classes[0]
    with ProjectStore.open(project) as store:
        store.rename_class(first, "renamed")
        store.rename_class("renamed", "renamed twice")  # each rename since the run, in order
    after = evaluate_run(project, run_dir)
    assert after.classes == ("renamed twice", *before.classes[1:]) and after.skipped == 0
    assert after.metrics.accuracy == before.metrics.accuracy
    np.testing.assert_array_equal(after.confusion, before.confusion)
    assert f"'{first}' is now 'renamed twice'" in after.note
    suggested = {s.label for s in suggest_labels(project, run_dir).suggestions}
    assert first not in suggested and suggested <= set(after.classes)

    with ProjectStore.open(project) as store:  # a run trained after a rename knows the new name
        assert store.class_names_now(["renamed twice", "b"], since=9e12) == ["renamed twice", "b"]
        assert store.class_names_now([first, "b"], since=0.0) == ["renamed twice", "b"]


def test_classes_merged_after_the_run_are_scored_as_one_with_their_summed_probability(
    tmp_path_factory,
) -> None:  # noqa: ANN001
    from dmtl_studio.core.evaluation.inference import suggest_labels
    from dmtl_studio.core.models.checkpoint import load_checkpoint

    project, run_dir = copy_project(tmp_path_factory)
    before = evaluate_run(project, run_dir)
    first, second, third = before.classes
    with ProjectStore.open(project) as store:
        store.merge_classes([first, second], first)
    after = evaluate_run(project, run_dir)
    # The merged class's images are scored (none left out), each against the class it is in now.
    assert after.classes == (first, third) and after.skipped == 0
    np.testing.assert_array_equal(after.image_ids, before.image_ids)
    np.testing.assert_array_equal(after.targets, np.where(before.targets == 2, 1, 0))
    expected = np.stack([before.probabilities[:, :2].sum(1), before.probabilities[:, 2]], 1)
    np.testing.assert_allclose(after.probabilities, expected, atol=1e-5)
    assert f"'{second}' is now '{first}'" in after.note and "sum of its former classes'" in after.note
    assert {s.label for s in suggest_labels(project, run_dir).suggestions} <= {first, third}
    loaded = load_checkpoint(run_dir)  # the caller's loaded run is left as it was: evaluated twice, the same
    assert evaluate_run(project, run_dir, loaded=loaded).classes == after.classes
    assert len(loaded.classes) == 3 and evaluate_run(project, run_dir, loaded=loaded).classes == after.classes


def test_predictions_name_classes_as_the_project_does_now(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    """Predict wrote the run's old names after a rename or merge (a class the project no longer has)."""
    import csv

    from dmtl_studio.core.evaluation.predict import predict_folder

    project, run_dir = copy_project(tmp_path_factory)
    images = trained_project(tmp_path_factory)[0].parent / "images"
    before = predict_folder(run_dir, images, tmp_path / "before.csv")
    first, second, third = before.classes
    with ProjectStore.open(project) as store:
        store.rename_class(first, "<b>renamed")
        store.merge_classes([second], third)
    after = predict_folder(run_dir, images, tmp_path / "after.csv")
    assert after.classes == ("<b>renamed", third)
    assert f"'{first}' is now '<b>renamed'" in after.note and "sum of its former classes'" in after.note
    for old, new in zip(before.predictions, after.predictions, strict=True):
        probabilities = old.probabilities
        assert new.probabilities == pytest.approx((probabilities[0], probabilities[1] + probabilities[2]))
        assert new.label == after.classes[int(np.argmax(new.probabilities))]
    with (tmp_path / "after.csv").open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert header[:5] == ["path", "predicted_label", "confidence", "p_<b>renamed", f"p_{third}"]
    assert not before.note  # nothing renamed before


def test_a_class_renamed_while_the_run_is_built_is_mapped_to_its_name_now(tmp_path) -> None:  # noqa: ANN001
    """The run's start was recorded after it was built, so a rename made meanwhile counted as older than the run,
    and evaluate left that class's images out as "of classes the run does not know"."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.events import RunNotice
    from dmtl_studio.core.training.run import train

    images = write_shapes_folder(tmp_path / "images", 8, seed=3, size=48)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.25, seed=0)
        first = store.class_names()[0]
    renamed: list[bool] = []

    def rename_once(event: object) -> None:
        if isinstance(event, RunNotice) and not renamed:  # said while the run is built, before it is recorded
            with ProjectStore.open(project) as store:
                store.rename_class(first, "renamed meanwhile")
            renamed.append(True)

    config = TrainConfig(epochs=1, batch_size=8, input_size=32, device="cpu", feature_views=1)
    summary = train(project, config, on_event=rename_once)
    assert renamed and first in summary.classes  # the model knows the class by the name it read
    result = evaluate_run(project, summary.run_dir)
    assert "renamed meanwhile" in result.classes and result.skipped == 0


def test_a_run_stopped_part_way_is_said_to_be_so_when_evaluated(tmp_path_factory) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    assert "was stopped" not in evaluate_run(project, run_dir).note  # completed: nothing said
    with ProjectStore.open(project) as store:
        run = store.run_at(run_dir)
        store.set_run_status(run.id, "stopped")
    note = evaluate_run(project, run_dir).note
    assert note.startswith(f"Run {run_dir.name} was stopped after 3 of 3 epoch(s): these are the figures")


def test_a_read_only_project_still_warns_of_scored_images_holding_fitted_content(tmp_path) -> None:  # noqa: ANN001
    """On read-only media the changed file could not be recorded, so the check read the old hash and said
    nothing, while the note claimed the project recorded the new content."""
    import shutil

    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.run import train
    from tests.disk_faults import read_only_folder

    images = write_shapes_folder(tmp_path / "images", 8, seed=5, size=48)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.25, seed=0)
    summary = train(
        project, TrainConfig(epochs=1, batch_size=8, input_size=32, device="cpu", feature_views=1)
    )
    with ProjectStore.open(project) as store:
        records = store.images(usable_only=True)
        fitted = next(im for im in records if im.split == "train" and im.label)
        scored = next(im for im in records if im.split == "test" and im.label == fitted.label)
    shutil.copyfile(fitted.path, scored.path)  # a test image overwritten with a training picture
    with read_only_folder(project):
        result = evaluate_run(project, summary.run_dir)
    assert "hold the content of images this run was fitted on" in result.note
    assert "their new content is used (not recorded: the project is read-only)" in result.note


def test_a_near_copy_of_a_fitted_image_is_noted_once_a_duplicate_check_has_hashed_them(
    tmp_path_factory,
) -> None:  # noqa: ANN001
    from PIL import Image

    from dmtl_studio.core.quality.duplicates import find_duplicates

    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        records = [im for im in store.images(usable_only=True) if im.label]
        fitted = next(im for im in records if im.split == "train")
        held = [im for im in records if im.split == "val"]
        store.set_splits({im.id: "test" for im in held})
    picture = Image.open(fitted.path).convert("RGB")
    smaller = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4), Image.Resampling.LANCZOS)
    smaller.save(held[0].path, format="PNG")  # a held-out image replaced by a smaller copy of a training one

    before = evaluate_run(project, run_dir)
    assert "near-cop" not in before.note  # no hashes kept yet: evaluation decodes nothing for this
    find_duplicates(project)  # the check keeps every image's hashes in the project
    after = evaluate_run(project, run_dir)
    assert (
        f"1 of the {len(held)} images scored is a near-copy (resized, re-encoded, cropped, mirrored, turned, grey or of another exposure)"
        in (after.note)
    )
    assert "hold the content of images this run was fitted on" not in after.note  # not an identical copy


def test_balanced_accuracy_says_which_classes_it_leaves_out() -> None:
    """Classes with no test image cannot have a recall: the balanced accuracy is the others' mean, and says so."""

    result = _result([0, 0, 0], [[0.9, 0.05, 0.05]] * 3)  # only class a was scored
    assert result.metrics.balanced_accuracy == pytest.approx(1.0)
    assert result.unscored_classes() == ["b", "c"]
    assert "balanced accuracy 1.000 over 1 of 3 classes (b, c: none in the test split)" in result.describe()
    assert result.to_dict()["unscored_classes"] == ["b", "c"]
    everyone = _result([0, 1, 2], [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    assert everyone.balanced_scope() == "" and "classes (" not in everyone.describe()


def test_with_classes_too_small_to_hold_an_item_out_the_note_says_to_label_more(tmp_path) -> None:  # noqa: ANN001
    """Reassigning splits cannot give a validation image to classes of 1 distinct image, nor a test image to
    classes of 3: the note says what can (it used to send the user to Reassign splits, which changed nothing).
    One large class is enough for Reassign splits to make a test split: then that is the advice."""
    from dmtl_studio.core.evaluation.results import FALLBACK_NOTE, evaluation_images
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    tiny = write_shapes_folder(tmp_path / "tiny", 1, unlabelled=0, seed=1, size=32)
    small = write_shapes_folder(tmp_path / "small", 3, unlabelled=0, seed=2, size=32)
    for name, folder in (("tiny", tiny), ("small", small)):
        with ProjectStore.create(tmp_path / name / "p") as store:
            import_folder(store, folder, seed=0)
            chosen = evaluation_images(store, store.class_names())
        if name == "tiny":
            assert chosen.split == "none" and "no class has 2 distinct images (the largest" in chosen.note
            assert (
                "as a validation image; label more images (at least 2 distinct of each class)" in chosen.note
            )
        else:
            assert chosen.split == "val" and "no class has 6 distinct images (the largest" in chosen.note
            assert "as a test image; label more images (at least 6 distinct of each class)" in chosen.note
            assert "optimistic figures there" in chosen.note and "--test-fraction" not in chosen.note
    mixed = write_shapes_folder(tmp_path / "mixed", 12, unlabelled=0, seed=3, size=32)
    for extra in sorted((mixed / "circle").iterdir())[3:]:  # circles: 3 left; squares and triangles: 12
        extra.unlink()
    with ProjectStore.create(tmp_path / "mixed-p") as store:
        import_folder(store, mixed, val_fraction=0.25, test_fraction=0.0, seed=0)  # no test split asked for
        chosen = evaluation_images(store, store.class_names())
    assert chosen.split == "val" and chosen.note == FALLBACK_NOTE  # Reassign splits would make one


def test_the_per_class_table_lines_up_with_wide_class_names() -> None:
    result = _result([0, 1, 2], np.eye(3), ("猫", "dog", "🐟fish"))
    rows = result.describe().splitlines()[2:6]  # the header and one row per class
    from dmtl_studio.core.evaluation.results import display_width

    assert len({display_width(row) for row in rows}) == 1, rows  # every row as wide on screen
    assert display_width("猫") == 2 and display_width("🐟fish") == 6


def test_a_temperature_that_makes_the_scored_confidences_worse_is_said_so() -> None:
    """Every validation item right: the fitted temperature softens, and on test items the model gets right with
    raw confidence 0.99 the softened ones are worse calibrated. The line says so, rather than print two numbers."""
    from dmtl_studio.core.models.calibration import softmax

    raw = np.log(np.array([[0.99, 0.005, 0.005], [0.005, 0.99, 0.005], [0.005, 0.005, 0.99]] * 4))
    softened = softmax(raw, 3.0)  # what a temperature of 3 gives
    result = _result(np.tile([0, 1, 2], 4), softened, calibration={"temperature": 3.0, "images": 9})
    line = next(line for line in result.describe().splitlines() if "calibration error" in line)
    assert "the temperature, fitted on 9 validation image(s), makes these images' confidences worse" in line
    assert result.calibration_summary()["worse"]  # what the window's Calibration tab says it by
