"""k-fold cross-validation: stratified, seeded folds that hold every image out once, duplicates together."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.crossval import FoldResult, cross_validate, make_folds
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult
from dmtl_studio.core.training.run import train


def test_folds_are_stratified_disjoint_seeded_and_cover_every_labelled_image(project: Path) -> None:
    with ProjectStore.open(project) as store:
        folds = make_folds(store, 4, seed=1)
        again = make_folds(store, 4, seed=1)
        other = make_folds(store, 4, seed=2)
        labelled = {im.path for im in store.images(usable_only=True) if im.label is not None}
    assert folds == again and folds != other
    held = [path for fold in folds for path, _ in fold.val]
    assert sorted(held) == sorted(labelled)  # each labelled image held out exactly once
    for fold in folds:
        assert not {p for p, _ in fold.train} & {p for p, _ in fold.val}
        assert len(fold.train) + len(fold.val) == len(labelled)
        per_class = Counter(t for _, t in fold.val)
        assert max(per_class.values()) - min(per_class.values()) <= 1  # stratified


def test_identical_images_share_a_fold_and_too_many_folds_are_refused(tmp_path: Path) -> None:
    rows = []
    for i in range(12):
        digest = f"dup{i // 2}"  # pairs of identical files
        rows.append((str(tmp_path / f"{i}.png"), "a" if i < 6 else "b", SimpleNamespace(sha256=digest), None))
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images(rows)
        folds = make_folds(store, 3, seed=0)
        for fold in folds:
            names = {Path(p).stem for p, _ in fold.val}
            assert all(str(int(n) ^ 1) in names for n in names)  # each image's twin is held out with it
        with pytest.raises(
            TrainingError,
            match=r"at least 7 distinct labelled images per class; too few in: a \(3\), b \(3\)",
        ):
            make_folds(store, 7)
        with pytest.raises(
            TrainingError, match=r"To go on, --folds 3 \(the most the smallest class allows\)"
        ):
            make_folds(store, 7)
        with pytest.raises(TrainingError, match="at least 2 folds"):
            make_folds(store, 1)


def test_a_class_whose_every_picture_is_also_another_class_s_is_told_to_resolve_the_conflicts(
    tmp_path: Path,
) -> None:
    """Each picture of 'b' is also labelled 'a': its groups go to 'a', 'b' has none, and the advice was to label
    "one more image of each class that has only one"."""
    rows = [(str(tmp_path / f"a{i}.png"), "a", SimpleNamespace(sha256=f"x{i}"), None) for i in range(6)]
    rows += [(str(tmp_path / f"b{i}.png"), "b", SimpleNamespace(sha256=f"x{i}"), None) for i in range(3)]
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images(rows)
        with pytest.raises(
            TrainingError, match=r"too few in: b \(0\)\. To go on, give b pictures of their own"
        ):
            make_folds(store, 2)


def test_cross_validation_trains_each_fold_and_reports_mean_and_std(project: Path) -> None:
    events: list[object] = []
    config = TrainConfig(epochs=1, batch_size=16, input_size=64, device="cpu", learning_rate=3e-3)
    result = cross_validate(project, config, 2, on_event=events.append)
    assert [f.fold for f in result.folds] == [1, 2]
    assert [e.fold for e in events if isinstance(e, FoldResult)] == [1, 2]
    assert all(0 <= a <= 1 for a in result.accuracies)
    assert result.mean == pytest.approx(sum(result.accuracies) / 2)
    data = result.to_dict()
    assert data["folds"] == 2 and len(data["per_fold"]) == 2 and data["std_accuracy"] >= 0
    assert all(0 <= f.balanced_accuracy <= 1 and 0 < f.majority_rate <= 1 for f in result.folds)
    assert data["mean_balanced_accuracy"] == pytest.approx(sum(f.balanced_accuracy for f in result.folds) / 2)
    with ProjectStore.open(project) as store:
        names = [r.name for r in store.runs()]
    assert len(names) == 2 and all(n.startswith("cv-") for n in names)  # marked apart from normal runs
    # A fold's run trained on its fold's split: --resume (which goes on with the project's split) refuses it.
    with ProjectStore.open(project) as store:
        fold_dir = store.runs_dir / names[0]
    # Evaluating a fold run on the test split it trained on says so, rather than blame duplicates.
    from dmtl_studio.core.evaluation.inference import evaluate_run

    note = evaluate_run(project, fold_dir).note
    assert "in the training part of this cross-validation fold run" in note and "duplicates" not in note
    with pytest.raises(TrainingError, match="cross-validation fold's run"):
        train(
            project, TrainConfig(epochs=2, batch_size=16, input_size=64, device="cpu"), resume_from=fold_dir
        )


def test_a_file_gone_from_disk_is_left_out_of_every_fold_not_only_the_first(tmp_path: Path) -> None:
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    folder = write_shapes_folder(tmp_path / "images", 6, unlabelled=0, seed=3, size=48)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder, val_fraction=0.25, test_fraction=0.0, seed=0)
        folds = make_folds(store, 2, seed=0)
    gone = folds[1].val[0][0]  # held out by the second fold, trained on by the first
    Path(gone).unlink()
    config = TrainConfig(epochs=1, batch_size=16, input_size=64, device="cpu")
    events: list[object] = []
    result = cross_validate(tmp_path / "p", config, 2, on_event=events.append)
    assert [f.fold for f in result.folds] == [1, 2]  # the second fold left it out too, and trained
    # The counts are of the images used: the gone one is neither trained on (fold 1) nor scored (fold 2).
    assert [(f.train_images, f.test_images) for f in result.folds] == [
        (len(folds[0].train) - 1, len(folds[0].val)),
        (len(folds[1].train), len(folds[1].val) - 1),
    ]
    last_epochs = [e for e in events if isinstance(e, EpochResult) and e.epoch == e.epochs]
    assert [f.test_images for f in result.folds] == [int(e.confusion.sum()) for e in last_epochs]
    with ProjectStore.open(tmp_path / "p") as store:
        assert [r.status for r in store.runs()] == ["completed", "completed"]


def test_an_interruption_before_any_fold_finished_describes_itself_as_json() -> None:
    from dmtl_studio.core.training.crossval import CrossValidationInterrupted

    data = CrossValidationInterrupted(3, 1, (), None).to_dict()  # Ctrl-C during fold 1, nothing saved yet
    assert (
        data["completed"] == [] and data["interrupted_fold"] == 1 and data["interrupted_fold_run_dir"] is None
    )
    done = FoldResult(1, 3, 10, 5, 0.8, "/p/runs/cv-1of3-x")
    later = CrossValidationInterrupted(3, 2, (done,), None).to_dict()
    assert later["completed"] == [
        {
            "fold": 1,
            "train_images": 10,
            "test_images": 5,
            "accuracy": 0.8,
            "balanced_accuracy": None,
            "majority_rate": None,
            "run_dir": "/p/runs/cv-1of3-x",
        }
    ]


def test_on_imbalanced_folds_the_summary_gives_balanced_accuracy_and_the_largest_class_rate() -> None:
    """80:8 classes a model cannot tell apart: 0.898 plain accuracy is below always answering 'ok' (0.909)."""
    from dmtl_studio.core.training.crossval import CrossValidation, _balanced_and_majority

    assert _balanced_and_majority(np.array([[27, 0], [3, 0]])) == (0.5, 0.9, 2)  # every defect called ok
    folds = tuple(
        FoldResult(k, 3, 58, 30, accuracy, "", *_balanced_and_majority(np.array(matrix)))
        for k, (accuracy, matrix) in enumerate(
            [(0.9, [[27, 0], [3, 0]]), (0.862, [[25, 1], [3, 0]]), (0.931, [[27, 0], [2, 0]])], start=1
        )
    )
    result = CrossValidation(folds)
    line = result.describe()
    assert line.startswith("3-fold accuracy: 0.898 ± 0.035, balanced accuracy 0.494 ± 0.011")
    assert (
        "always answering the largest class would score 0.909" in line and "--imbalance weighted_loss" in line
    )
    assert result.to_dict()["majority_rate"] == pytest.approx(0.909, abs=1e-3)
    balanced = CrossValidation(
        (FoldResult(1, 2, 10, 10, 0.9, "", 0.9, 0.5, 2), FoldResult(2, 2, 10, 10, 0.8, "", 0.8, 0.5, 2))
    )
    assert "largest class" not in balanced.describe()  # equal classes: the plain accuracy says it
    weak = CrossValidation(  # a weak model on equal classes (0.55 against 0.50): no imbalance to point to
        tuple(
            FoldResult(k, 3, 10, 10, 0.55, "", *_balanced_and_majority(np.array([[6, 4], [5, 5]])))
            for k in (1, 2, 3)
        )
    )
    assert weak.majority_warning() == "" and "largest class" not in weak.describe()
