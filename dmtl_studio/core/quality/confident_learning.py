"""Confident learning's definitions: per-class thresholds, the confident joint and the label issues.

Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 70, 2021, written
from the paper (see :mod:`dmtl_studio.core.quality.label_errors` for how the probabilities are obtained).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConfidentLearning:
    """The result of confident learning on ``N`` items of ``C`` classes.

    ``thresholds``: ``(C,)`` per-class thresholds ``t_j``; ``joint``: ``(C, C)`` confident joint (rows: given
    label, columns: confidently predicted class); ``suggested``: ``(N,)`` that class per item (``-1`` when no
    class reaches its threshold); ``self_confidence``: ``(N,)`` probability of the given label; ``issues``:
    indices of the off-diagonal items, most suspect first; ``ranking``: every index, the issues first (in that
    order) and then the other items by self-confidence, lowest first.
    """

    thresholds: np.ndarray
    joint: np.ndarray
    suggested: np.ndarray
    self_confidence: np.ndarray
    issues: np.ndarray
    ranking: np.ndarray


def confident_learning(labels: Sequence[int], probabilities: np.ndarray) -> ConfidentLearning:
    """Confident learning's thresholds, confident joint and label issues (see the module docstring).

    Parameters
    ----------
    labels
        ``(N,)`` given class indices.
    probabilities
        ``(N, C)`` out-of-fold predicted probabilities.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    count, classes = probabilities.shape
    rows = np.arange(count)
    self_confidence = probabilities[rows, labels]
    thresholds = np.array(
        [self_confidence[labels == j].mean() if (labels == j).any() else 1.0 for j in range(classes)]
    )
    # A tiny tolerance so that an item exactly at the threshold (e.g. one item in its class) counts.
    reaches = probabilities >= thresholds[None, :] - 1e-12
    counted = reaches.any(axis=1)
    suggested = np.where(counted, np.where(reaches, probabilities, -np.inf).argmax(axis=1), -1)
    joint = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(joint, (labels[counted], suggested[counted]), 1)
    is_issue = counted & (suggested != labels)
    issues = np.flatnonzero(is_issue)
    issues = issues[np.argsort(self_confidence[issues], kind="stable")]
    others = np.flatnonzero(~is_issue)
    others = others[np.argsort(self_confidence[others], kind="stable")]
    return ConfidentLearning(
        thresholds, joint, suggested, self_confidence, issues, np.concatenate([issues, others])
    )
