"""Feature-space semi-supervision: unlabelled embeddings raise a few-label probe's accuracy on clustered data, the
pseudo-labels are class-balanced, and label spreading's scores are distributions."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.training.linear_probe import fit_linear_probe
from dmtl_studio.core.training.text_semi import balanced_pick, fit_semi_supervised_probe, spread_labels


def _clusters(seed: int, per_class: int, classes: int = 3, width: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Elongated Gaussian clusters: a few labels fix the wrong boundary, the unlabelled mass shows the right one."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.2, (classes, width))
    stretch = np.ones(width)
    stretch[:3] = 4.0
    x = np.concatenate([centres[c] + rng.normal(0, 1, (per_class, width)) * stretch for c in range(classes)])
    return x.astype(np.float32), np.repeat(np.arange(classes), per_class)


@pytest.mark.parametrize("method", ["self_training"])
def test_unlabelled_rows_raise_accuracy_over_the_labels_alone(method: str) -> None:
    gains = []
    for seed in range(3):
        x, y = _clusters(seed, 200)
        test = np.arange(len(y)) % 4 == 0
        rng = np.random.default_rng(seed)
        train = np.flatnonzero(~test)
        few = np.concatenate([rng.choice(train[y[train] == c], 3, replace=False) for c in range(3)])
        pool = np.setdiff1d(train, few)
        plain = fit_linear_probe(x[few], y[few], seed=seed)
        semi = fit_semi_supervised_probe(x[few], y[few], x[pool], num_classes=3, method=method, seed=seed)
        assert semi.c == plain.c  # chosen on the true labels only
        gains.append((semi.predict(x[test]) == y[test]).mean() - (plain.predict(x[test]) == y[test]).mean())
    assert np.mean(gains) > 0.0


def test_without_unlabelled_rows_it_is_the_plain_probe() -> None:
    x, y = _clusters(0, 10)
    semi = fit_semi_supervised_probe(x, y, np.empty((0, x.shape[1]), np.float32))
    np.testing.assert_array_equal(semi.weights, fit_linear_probe(x, y).weights)
    with pytest.raises(ValueError, match="method"):
        fit_semi_supervised_probe(x, y, x, method="magic")


def test_pseudo_labels_are_balanced_and_spread_scores_are_distributions() -> None:
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.4, 0.6]])
    rows, classes = balanced_pick(scores, 2)
    assert rows.tolist() == [0, 1, 3] and classes.tolist() == [0, 0, 1]
    x, y = _clusters(1, 30)
    spread = spread_labels(x[::10], y[::10], x, 3)
    assert spread.shape == (len(x), 3) and np.allclose(spread.sum(1), 1.0) and (spread >= 0).all()
    assert (spread.argmax(1) == y).mean() > 0.6


@pytest.mark.parametrize("method", ["self_training", "spreading"])
def test_the_refit_with_pseudo_labels_keeps_the_cross_validation_that_chose_c(method: str) -> None:
    x, y = _clusters(1, 30)
    few = np.concatenate([np.flatnonzero(y == c)[:6] for c in range(3)])
    pool = np.setdiff1d(np.arange(len(y)), few)
    plain = fit_linear_probe(x[few], y[few], seed=0)
    semi = fit_semi_supervised_probe(x[few], y[few], x[pool], num_classes=3, method=method, seed=0)
    assert plain.folds >= 2  # C was cross-validated on the labels...
    # ...and the refit says so (it was reported as "a fixed value (too few images per class)").
    assert (semi.folds, semi.c_grid, semi.cv_scores, semi.scoring) == (
        plain.folds,
        plain.c_grid,
        plain.cv_scores,
        plain.scoring,
    )
    assert semi.c == plain.c and not np.array_equal(semi.weights, plain.weights)


def _imbalanced(seed: int) -> tuple[np.ndarray, ...]:
    """Two overlapping classes, 60 labels against 6, 40 unlabelled rows; a balanced test set of 400."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, 8))
    centres[1, 0] = 1.5

    def draw(cls: int, n: int) -> np.ndarray:
        return (centres[cls] + rng.normal(0, 1, (n, 8))).astype(np.float32)

    labelled, targets = np.concatenate([draw(0, 60), draw(1, 6)]), np.repeat([0, 1], [60, 6])
    unlabelled = np.concatenate([draw(0, 30), draw(1, 10)])
    test, truth = np.concatenate([draw(0, 200), draw(1, 200)]), np.repeat([0, 1], 200)
    return labelled, targets, unlabelled, test, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_training_honours_balanced_class_weights(seed: int) -> None:
    labelled, targets, unlabelled, test, truth = _imbalanced(seed)
    fits = {
        weight: fit_semi_supervised_probe(
            labelled, targets, unlabelled, num_classes=2, class_weight=weight, seed=0
        )
        for weight in (None, "balanced")
    }
    assert not np.allclose(fits[None].weights, fits["balanced"].weights)
    recall = {weight: (probe.predict(test)[truth == 1] == 1).mean() for weight, probe in fits.items()}
    assert recall["balanced"] > recall[None]  # the minority class is found more often
    # The weighting reaches the cross-validation too: it is the balanced probe's, on the labels alone.
    plain = fit_linear_probe(labelled, targets, num_classes=2, class_weight="balanced", seed=0)
    assert (fits["balanced"].c, fits["balanced"].cv_scores) == (plain.c, plain.cv_scores)
