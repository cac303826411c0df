"""Confident learning on out-of-fold probabilities: the paper's definitions, and injected label noise found."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.quality.label_errors import (
    QualityError,
    confident_learning,
    label_issues,
    out_of_fold_probabilities,
    stratified_folds,
)


def test_thresholds_joint_and_issues_follow_the_paper_definition() -> None:
    # Class thresholds t_j are the mean self-confidence of the items labelled j.
    labels = np.array([0, 0, 0, 1, 1, 1])
    p = np.array(
        [
            [0.9, 0.1],  # labelled 0, confidently 0
            [0.7, 0.3],  # labelled 0, confidently 0
            [0.2, 0.8],  # labelled 0 but confidently 1 -> issue, suggested 1
            [0.1, 0.9],  # labelled 1, confidently 1
            [0.4, 0.6],  # labelled 1: p1 = 0.6 < t1 and p0 = 0.4 < t0 -> not counted at all
            [0.3, 0.7],  # labelled 1, p1 = 0.7 < t1 = 0.733.., p0 = 0.3 < t0 -> not counted
        ]
    )
    result = confident_learning(labels, p)
    t0 = (0.9 + 0.7 + 0.2) / 3
    t1 = (0.9 + 0.6 + 0.7) / 3
    np.testing.assert_allclose(result.thresholds, [t0, t1])
    # C[i][j]: items labelled i whose above-threshold class with the largest probability is j.
    expected = np.zeros((2, 2), dtype=int)
    for label, row in zip(labels, p, strict=True):
        above = [j for j in range(2) if row[j] >= result.thresholds[j]]
        if above:
            expected[label, max(above, key=lambda j: row[j])] += 1
    np.testing.assert_array_equal(result.joint, expected)
    assert result.joint.tolist() == [[2, 1], [0, 1]]
    assert result.issues.tolist() == [2]
    assert result.suggested[2] == 1
    assert result.suggested[4] == -1 and result.suggested[5] == -1
    assert result.ranking[0] == 2 and sorted(result.ranking.tolist()) == list(range(6))


def test_issues_are_ranked_by_self_confidence() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array(
        [[0.95, 0.05], [0.9, 0.1], [0.3, 0.7], [0.05, 0.95], [0.1, 0.9], [0.05, 0.95], [0.9, 0.1], [0.2, 0.8]]
    )
    result = confident_learning(labels, p)
    # t0 = 0.55, t1 = 0.6875: items 2, 3 (labelled 0) and 6 (labelled 1) are confidently the other class.
    assert result.issues.tolist() == [3, 6, 2]  # self-confidence 0.05, 0.1, 0.3
    assert result.suggested[[2, 3, 6]].tolist() == [1, 1, 0]


def _noisy_blobs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3 separable gaussian blobs in 16-D feature space, 40 items each; 10 % of the labels flipped."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (3, 16)) * 4
    truth = np.repeat(np.arange(3), 40)
    features = centres[truth] + rng.normal(0, 1, (len(truth), 16))
    given = truth.copy()
    flipped = rng.choice(len(truth), len(truth) // 10, replace=False)
    given[flipped] = (truth[flipped] + rng.integers(1, 3, len(flipped))) % 3
    return features.astype(np.float32), given, truth, flipped


@pytest.mark.parametrize("seed", [0, 1])
def test_injected_label_noise_is_found(seed: int) -> None:
    features, given, truth, flipped = _noisy_blobs(seed)
    probabilities = out_of_fold_probabilities(features, given, 3, k=5, seed=seed)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-9)
    result = confident_learning(given, probabilities)
    flagged = set(result.issues.tolist())
    found = len(flagged & set(flipped.tolist()))
    false = len(flagged - set(flipped.tolist()))
    assert found >= 0.9 * len(flipped), (found, len(flipped))
    assert false <= 0.03 * (len(given) - len(flipped)), false
    # The suggested class of a found flip is its true class.
    caught = sorted(flagged & set(flipped.tolist()))
    assert (result.suggested[caught] == truth[caught]).mean() >= 0.9
    # The top of the ranking is made of flipped items.
    top = set(result.ranking[: len(flipped)].tolist())
    assert len(top & set(flipped.tolist())) >= 0.8 * len(flipped)


def test_the_second_pass_doubts_fewer_right_labels_and_finds_no_fewer_wrong_ones() -> None:
    # Few items in many dimensions, a fifth of the labels wrong: the first pass's models learn the wrong labels
    # and doubt right ones near them; the second pass's models are not taught by the first pass's suspects.
    found = {"one": 0, "two": 0}
    false = {"one": 0, "two": 0}
    for seed in range(5):
        rng = np.random.default_rng(seed)
        truth = np.repeat([0, 1, 2], 22)
        features = (rng.normal(0, 1, (3, 64)) * 0.7)[truth] + rng.normal(0, 1, (len(truth), 64))
        flipped = rng.choice(len(truth), 13, replace=False)
        given = truth.copy()
        given[flipped] = (truth[flipped] + rng.integers(1, 3, len(flipped))) % 3
        wrong = set(flipped.tolist())
        one = set(
            confident_learning(given, out_of_fold_probabilities(features, given, 3, 5, seed)).issues.tolist()
        )
        two = set(label_issues(features, given, 3, 5, seed).issues.tolist())
        for key, flagged in (("one", one), ("two", two)):
            found[key] += len(flagged & wrong)
            false[key] += len(flagged - wrong)
    assert false["one"] >= 3 and false["two"] < false["one"], false
    assert found["two"] >= found["one"], found


def test_untaught_items_are_predicted_but_teach_no_model() -> None:
    from dmtl_studio.core.quality.label_errors import fit_predict_softmax

    features, given, _, flipped = _noisy_blobs(0)
    untaught = np.zeros(len(given), dtype=bool)
    untaught[flipped] = True
    probabilities = out_of_fold_probabilities(features, given, 3, k=5, seed=0, untaught=untaught)
    folds = stratified_folds(given, 5, 0)
    for fold in range(5):  # each fold's model is fitted on its taught items only
        held = folds == fold
        taught = ~held & ~untaught
        np.testing.assert_allclose(
            probabilities[held], fit_predict_softmax(features[taught], given[taught], features[held], 3)
        )
    assert not np.allclose(probabilities, out_of_fold_probabilities(features, given, 3, k=5, seed=0))


def test_folds_are_stratified_seeded_and_keep_groups_together() -> None:
    labels = np.repeat([0, 1, 2], [7, 5, 9])
    groups = [f"g{i}" for i in range(len(labels))]
    groups[1] = groups[0]  # two items with identical content
    folds = stratified_folds(labels, 5, seed=3, groups=groups)
    assert folds[0] == folds[1]
    for label in range(3):
        assert set(folds[labels == label].tolist()) == set(range(5))  # every fold holds every class
    assert np.array_equal(folds, stratified_folds(labels, 5, seed=3, groups=groups))
    assert not np.array_equal(folds, stratified_folds(labels, 5, seed=4, groups=groups))


def test_too_few_labels_per_class_for_the_folds_is_a_plain_error() -> None:
    labels = np.array([0] * 6 + [1] * 3)
    with pytest.raises(QualityError, match=r"5 folds need at least 5 labelled images per class.*1 \(3\)"):
        out_of_fold_probabilities(np.zeros((9, 2)), labels, 2, k=5)
    with pytest.raises(QualityError, match="at least 2 classes"):
        out_of_fold_probabilities(np.zeros((9, 2)), np.zeros(9, dtype=int), 1, k=3)


def test_too_few_labels_advice_states_the_real_constraint() -> None:
    # A class with a single labelled image: no number of folds works (2 at the least), so fewer folds is no advice.
    labels = np.array([0] * 6 + [1] * 6 + [2])
    with pytest.raises(QualityError) as single:
        out_of_fold_probabilities(np.zeros((13, 2)), labels, 3, k=5)
    message = str(single.value)
    assert "no number of folds works" in message
    assert "fewer folds" not in message and "or fewer" not in message
    # Three images in the smallest class: the largest number of folds that works is named.
    labels = np.array([0] * 6 + [1] * 3)
    with pytest.raises(QualityError, match="use 3 folds or fewer") as three:
        out_of_fold_probabilities(np.zeros((9, 2)), labels, 2, k=5)
    # "5 folds need at least 5 … 2 folds are the fewest, so 2 per class at the least" read as a contradiction.
    assert "fewest" not in str(three.value) and "at the least" not in str(three.value)


def test_small_classes_get_a_caveat_with_the_list() -> None:
    from dmtl_studio.core.quality.label_errors import FEW_PER_CLASS, LabelErrorReport, SuspectedLabel

    flagged = (SuspectedLabel(3, "/x/3.png", "a", "b", 0.9, "train"),)
    small = LabelErrorReport(suspects=flagged, classes=("a", "b", "c"), images=18, folds=5)
    assert small.caveat("image").startswith(
        "with 6 labelled image(s) a class on average, lists like this one"
    )
    large = LabelErrorReport(suspects=flagged, classes=("a", "b"), images=2 * FEW_PER_CLASS, folds=5)
    assert large.caveat() == ""
    # 22 a class: the benchmark's lists held many right labels there, so the caveat is given.
    assert LabelErrorReport(suspects=flagged, classes=("a", "b", "c"), images=66, folds=5).caveat() != ""
    none_flagged = LabelErrorReport(suspects=(), classes=("a", "b", "c"), images=18, folds=5)
    assert none_flagged.caveat() == ""  # no flagged label to warn of


def test_a_class_whose_every_item_is_untaught_is_taught_all_the_same() -> None:
    """A fold whose model never saw a class flagged that class's right labels at 1.00, and a fold taught nothing
    gave NaN probabilities and an empty list (h27)."""
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 2)
    features = rng.normal(size=(6, 5))
    everything = np.ones(6, dtype=bool)
    probabilities = out_of_fold_probabilities(features, labels, 3, k=2, seed=0, untaught=everything)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(
        probabilities, out_of_fold_probabilities(features, labels, 3, k=2, seed=0)
    )  # nothing could be left out: the first pass's models
    blobs, given, _, _ = _noisy_blobs(1)
    untaught = given == 2  # every item of class 2: no fold could be taught it
    result = confident_learning(
        given, out_of_fold_probabilities(blobs, given, 3, k=5, seed=1, untaught=untaught)
    )
    assert np.isfinite(result.thresholds).all()
    assert result.self_confidence[given == 2].mean() > 0.5  # class 2 is known: its labels are not doubted
