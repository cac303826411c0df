"""Scores read off a confusion matrix (rows: true class, columns: predicted) that several layers share. numpy only."""

from __future__ import annotations

import numpy as np


def balanced_accuracy(confusion: np.ndarray) -> float | None:
    """The mean recall over the classes that have at least one scored item (scikit-learn's
    ``balanced_accuracy_score``; Brodersen et al., "The balanced accuracy and its posterior distribution", 2010).

    ``confusion``: ``(classes, classes)`` counts, rows the true class. A class with no scored item (an empty row) is
    left out of the mean rather than counted as 0; ``None`` when no row holds anything.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    support = confusion.sum(axis=1)
    present = support > 0
    if not present.any():
        return None
    return float((np.diag(confusion)[present] / support[present]).mean())
