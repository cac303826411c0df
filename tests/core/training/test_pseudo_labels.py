"""Class-balanced pseudo-labels by label spreading: the selection rule, and that unlabelled images only ever
reach the fit through a pseudo-label."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.training.pseudo_labels import (
    KEEP_FRACTION,
    balanced_selection,
    pseudo_label,
    spread_labels,
)


def _clusters(
    rng: np.random.Generator, per_class: list[int], width: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(0, 4, (len(per_class), width))
    x = np.concatenate([centres[k] + rng.normal(0, 1, (n, width)) for k, n in enumerate(per_class)])
    return x, np.repeat(np.arange(len(per_class)), per_class)


def test_spreading_recovers_well_separated_classes():
    x, y = _clusters(np.random.default_rng(0), [43, 43, 43])
    pick = np.concatenate([np.flatnonzero(y == k)[:3] for k in range(3)])
    rest = np.setdiff1d(np.arange(len(y)), pick)
    spread = spread_labels(x[pick], y[pick], x[rest], num_classes=3)
    assert spread.shape == (len(rest), 3)
    assert (spread.argmax(1) == y[rest]).mean() > 0.95


def test_the_selection_keeps_the_same_share_of_every_class_most_confident_first():
    # 8 rows predicted class 0, 2 rows class 1: a confidence threshold would swamp class 1; the share does not.
    dist = np.array(
        [[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 4 + [[0.3, 0.7], [0.45, 0.55]],
        dtype=np.float64,
    )
    chosen = balanced_selection(dist, keep_fraction=0.5)
    assert list(chosen.indices) == [0, 1, 2, 3, 8]
    assert list(chosen.labels) == [0, 0, 0, 0, 1]
    assert np.all(chosen.confidence >= 0.7)
    one = balanced_selection(dist, keep_fraction=0.1)  # at least one per class that has rows
    assert list(one.labels) == [0, 1]
    assert len(balanced_selection(np.zeros((3, 2)))) == 0  # no weight: never chosen
    with pytest.raises(ValueError, match="keep_fraction"):
        balanced_selection(dist, keep_fraction=0)


def test_a_class_the_labels_lack_gets_no_pseudo_label_and_inputs_are_checked():
    rng = np.random.default_rng(3)
    x, y = _clusters(rng, [20, 20])
    labelled = np.concatenate([x[:3], x[20:23]])
    chosen = pseudo_label(labelled, np.array([0, 0, 0, 2, 2, 2]), x[3:20], num_classes=3)
    assert set(chosen.labels) <= {0, 2}
    assert 0 < len(chosen) <= int(np.ceil(KEEP_FRACTION * 17)) + 1
    with pytest.raises(ValueError, match="labelled and unlabelled"):
        spread_labels(labelled, np.zeros(6, np.int64), x[:0], num_classes=3)
    with pytest.raises(ValueError, match="widths"):
        spread_labels(labelled, np.zeros(6, np.int64), x[:5, :4], num_classes=3)
