"""Pseudo-labels for unlabelled images in the frozen backbone's feature space: label spreading, class-balanced.

With a frozen backbone every image is a fixed feature vector, so semi-supervised learning is cheap there. Label
spreading (Zhou et al., 2004, "Learning with Local and Global Consistency"; scikit-learn's ``LabelSpreading``)
propagates the labels over a k-nearest-neighbour graph of the standardised, L2-normalised features of labelled
and unlabelled images. The most confident half of the unlabelled images *of each predicted class* then joins the
linear probe's fit with its pseudo-label: taking the same fraction per class keeps a few-shot class from being
swamped by the classes the graph favours, and the least confident half — where the graph is nearly undecided —
stays out. Measured in ``bench/bench_quality.py`` (``docs/quality.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Neighbours of each image in the k-NN graph (at most the number of images less one).
NEIGHBOURS = 20
#: Label spreading's clamping factor: the share of a labelled image's label it may take from its neighbours.
SPREAD_ALPHA = 0.2
#: The share of each predicted class's unlabelled images (the most confident) that get a pseudo-label.
KEEP_FRACTION = 0.5


@dataclass(frozen=True)
class PseudoLabels:
    """``indices`` ``(P,)`` rows of the unlabelled features given a pseudo-label, ``labels`` ``(P,)`` their class
    indices, ``confidence`` ``(P,)`` the spread label's weight in ``[0, 1]``."""

    indices: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def _normalised(features: np.ndarray) -> np.ndarray:
    z = (features - features.mean(0)) / (features.std(0) + 1e-6)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def spread_labels(
    labelled: np.ndarray,
    targets: np.ndarray,
    unlabelled: np.ndarray,
    num_classes: int,
    neighbours: int = NEIGHBOURS,
    alpha: float = SPREAD_ALPHA,
) -> np.ndarray:
    """Class distributions ``(M, num_classes)`` of the unlabelled rows after label spreading.

    Parameters
    ----------
    labelled, unlabelled : np.ndarray
        ``(N, F)`` and ``(M, F)`` feature rows (one per image).
    targets : np.ndarray
        ``(N,)`` class indices of the labelled rows, in ``[0, num_classes)``.

    Raises
    ------
    ValueError
        Empty ``labelled`` or ``unlabelled``, or rows of different widths.
    """
    from sklearn.semi_supervised import LabelSpreading

    if not len(labelled) or not len(unlabelled):
        raise ValueError("label spreading needs labelled and unlabelled images")
    if labelled.shape[1] != unlabelled.shape[1]:
        raise ValueError(f"feature widths differ: {labelled.shape[1]} and {unlabelled.shape[1]}")
    rows = _normalised(np.concatenate([labelled, unlabelled]).astype(np.float64))
    marks = np.concatenate([targets.astype(np.int64), -np.ones(len(unlabelled), dtype=np.int64)])
    k = max(1, min(neighbours, len(rows) - 1))
    model = LabelSpreading(kernel="knn", n_neighbors=k, alpha=alpha, max_iter=100).fit(rows, marks)
    spread = np.zeros((len(unlabelled), num_classes))
    # LabelSpreading's columns are the classes present among the labels, in ascending order.
    spread[:, model.classes_[model.classes_ >= 0]] = model.label_distributions_[len(labelled) :]
    return spread


def balanced_selection(distributions: np.ndarray, keep_fraction: float = KEEP_FRACTION) -> PseudoLabels:
    """The most confident ``keep_fraction`` of the rows of each predicted class (at least one per class that
    has any), by the argmax of ``distributions`` ``(M, K)``; rows without any weight are never chosen.

    Raises
    ------
    ValueError
        ``keep_fraction`` outside ``(0, 1]``.
    """
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    predicted = distributions.argmax(1)
    confidence = distributions.max(1)
    chosen: list[np.ndarray] = []
    for cls in range(distributions.shape[1]):
        rows = np.flatnonzero((predicted == cls) & (confidence > 0))
        if len(rows):
            ranked = rows[np.argsort(-confidence[rows], kind="stable")]
            chosen.append(ranked[: max(1, int(np.ceil(keep_fraction * len(rows))))])
    indices = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    return PseudoLabels(indices, predicted[indices], confidence[indices])


def pseudo_label(
    labelled: np.ndarray, targets: np.ndarray, unlabelled: np.ndarray, num_classes: int
) -> PseudoLabels:
    """:func:`spread_labels` then :func:`balanced_selection`: the unlabelled rows that join the fit, and how."""
    return balanced_selection(spread_labels(labelled, targets, unlabelled, num_classes))
