"""Classification metrics from a confusion matrix (rows: true class, columns: predicted). numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dmtl_studio.core.base.confusion import balanced_accuracy


def nothing_scored(noun: str = "image") -> str:
    """What a score of nothing says instead of a number, for items called ``noun`` (``"image"`` or ``"text"``)."""
    return f"no {noun}s to score"


#: What a per-class table shows for a score that is 0/0 (recall of a class with no image scored).
NOT_DEFINED = "n/a"


@dataclass(frozen=True)
class ClassMetrics:
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    #: ``None`` when nothing was scored (an empty confusion matrix): no number, rather than a false 0.
    accuracy: float | None
    #: ``None`` when no class has a scored image.
    balanced_accuracy: float | None
    #: How many images were predicted as each class (the confusion matrix's column sums).
    predicted: np.ndarray

    @property
    def scored(self) -> int:
        """How many images the metrics count."""
        return int(self.support.sum())

    def defined(self, index: int) -> tuple[float | None, float | None, float | None]:
        """``(precision, recall, f1)`` of class ``index``, ``None`` where it is 0/0 rather than a score: recall and
        F1 of a class with no image scored, precision of a class never predicted (the arrays hold 0 there)."""
        present = self.support[index] > 0
        predicted = self.predicted[index] > 0
        return (
            float(self.precision[index]) if predicted else None,
            float(self.recall[index]) if present else None,
            float(self.f1[index]) if present else None,
        )


def format_score(value: float | None, spec: str = ".3f", noun: str = "image") -> str:
    """``value`` formatted with ``spec``, or :func:`nothing_scored` (of ``noun``) for ``None``."""
    return nothing_scored(noun) if value is None else format(value, spec)


def per_class_metrics(confusion: np.ndarray) -> ClassMetrics:
    """Precision, recall, F1 and support per class; a class never predicted (or absent) scores 0, not NaN.

    An empty matrix (nothing scored) has no accuracy: ``accuracy`` and ``balanced_accuracy`` are ``None``.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0
    )
    total = confusion.sum()
    return ClassMetrics(
        precision=precision,
        recall=recall,
        f1=f1,
        support=support.astype(np.int64),
        accuracy=float(true_positive.sum() / total) if total else None,
        balanced_accuracy=balanced_accuracy(confusion),
        predicted=predicted.astype(np.int64),
    )
