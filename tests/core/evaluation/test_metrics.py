from __future__ import annotations

import numpy as np

from dmtl_studio.core.evaluation.metrics import per_class_metrics


def test_metrics_from_a_known_confusion_matrix() -> None:
    confusion = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])  # the third class is absent and never predicted
    m = per_class_metrics(confusion)
    np.testing.assert_allclose(m.precision, [8 / 9, 3 / 5, 0])
    np.testing.assert_allclose(m.recall, [0.8, 0.75, 0])
    np.testing.assert_allclose(m.f1[0], 2 * (8 / 9) * 0.8 / (8 / 9 + 0.8))
    assert m.support.tolist() == [10, 4, 0]
    assert m.accuracy == 11 / 14
    assert m.balanced_accuracy == (0.8 + 0.75) / 2  # absent classes do not count
    assert not np.isnan(m.f1).any()


def test_a_score_that_is_zero_over_zero_is_not_defined_rather_than_zero() -> None:
    # Class 2 has no image scored but was predicted once; class 3 has none and was never predicted; class 1 was
    # never predicted though it has images (precision 0/0, recall 0).
    m = per_class_metrics(np.array([[4, 0, 1, 0], [2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]))
    assert m.defined(0) == (4 / 6, 0.8, 2 * (4 / 6) * 0.8 / (4 / 6 + 0.8))
    assert m.defined(1) == (None, 0.0, 0.0)
    assert m.defined(2) == (0.0, None, None)
    assert m.defined(3) == (None, None, None)
