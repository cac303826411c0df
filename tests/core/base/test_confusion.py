import numpy as np
from sklearn.metrics import balanced_accuracy_score

from dmtl_studio.core.base.confusion import balanced_accuracy


def test_balanced_accuracy_equals_scikit_learn_on_labels_drawn_at_random() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 200)
    predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, 4, 200))
    confusion = np.zeros((4, 4))
    np.add.at(confusion, (truth, predicted), 1)
    assert balanced_accuracy(confusion) == balanced_accuracy_score(truth, predicted)


def test_a_class_with_no_scored_item_is_left_out_and_an_empty_matrix_has_no_score() -> None:
    confusion = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 1]])
    assert balanced_accuracy(confusion) == (0.75 + 0.5) / 2
    assert balanced_accuracy(np.zeros((3, 3))) is None
