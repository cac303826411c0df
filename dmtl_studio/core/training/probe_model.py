"""A fitted linear probe as data and as a torch layer: weights over standardised features, the standardisation
itself, and the layer that carries both into a classifier head and every export (fitting is
:mod:`dmtl_studio.core.training.linear_probe`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

#: A feature whose standard deviation on the training rows is below this is only centred (not divided by ~0).
MIN_STD = 1e-6
#: Held-out accuracy (a fraction) from which a probe's near-certain probabilities at the weakest C searched are
#: earned rather than a sign of few or far-apart labelled items, so :meth:`LinearProbe.search_note` says nothing.
EARNED_CERTAINTY = 0.98


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear probe; ``logits = ((x - mean) / std) @ weights.T + bias``.

    Attributes
    ----------
    weights : np.ndarray
        ``(C, F)`` float32, over standardised features.
    bias : np.ndarray
        ``(C,)`` float32.
    mean, std : np.ndarray
        ``(F,)`` float32: the standardisation fitted on the training rows (``std`` is 1 where a feature is
        constant). They travel with the model into every export (see :func:`to_module`).
    c : float
        The chosen inverse regularisation strength.
    c_grid : tuple of float
        The grid that cross-validation searched (ascending; on a large set the part walked before the score
        fell twice in a row).
    cv_scores : tuple of float
        Mean held-out score per C of ``c_grid`` (higher is better; for ``log_loss`` the negated loss). Empty when
        no cross-validation ran.
    cv_accuracy : tuple of float
        Mean held-out accuracy per C (for plotting next to ``cv_scores``).
    folds : int
        Folds per repeat (0: no cross-validation; ``c`` is then :data:`FALLBACK_C` or the only grid value).
    repeats : int
        Repeats of the k-fold split (each with a different shuffle).
    scoring : str
        What chose C: ``"log_loss"``, ``"accuracy"`` or ``"balanced_accuracy"``.
    iterations : int
        L-BFGS iterations of the final fit.
    train_accuracy : float
        Accuracy of the final model on its own training rows.
    pseudo_labelled : int
        Unlabelled rows that joined the final fit with a pseudo-label (semi-supervised fits; 0 otherwise).
    folds_scored : int, optional
        Of each repeat's ``folds``, how many were fitted and scored: fewer on a large set, whose first folds
        already hold enough held-out images (:data:`~dmtl_studio.core.training.linear_probe.MIN_HELD_OUT_IMAGES`).
        ``None``: all of them.
    """

    weights: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    c: float
    c_grid: tuple[float, ...]
    cv_scores: tuple[float, ...]
    cv_accuracy: tuple[float, ...]
    folds: int
    repeats: int
    scoring: str
    iterations: int
    train_accuracy: float
    pseudo_labelled: int = 0
    folds_scored: int | None = None

    @property
    def num_classes(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.weights.shape[1])

    def logits(self, features: np.ndarray) -> np.ndarray:
        """``(N, C)`` float32 logits of raw (unstandardised) features ``(N, F)``."""
        z = (np.asarray(features, dtype=np.float32) - self.mean) / self.std
        return z @ self.weights.T + self.bias

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``(N, C)`` class probabilities (softmax of :meth:`logits`)."""
        logits = self.logits(features)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` int64 predicted class indices."""
        return self.logits(features).argmax(axis=1).astype(np.int64)

    def search_how(self) -> str:
        """How C was chosen, for the run's notes: ``"5-fold cross-validation"``, or on a large set
        ``"2 of 5 folds of cross-validation (…)"`` (empty when no cross-validation ran)."""
        if not self.folds:
            return ""
        if self.folds_scored is not None and self.folds_scored < self.folds:
            return (
                f"{self.folds_scored} of {self.folds} folds of cross-validation (on a set this large they hold "
                "enough held-out images to choose C; the other folds would only cost time)"
            )
        return f"{self.folds}-fold cross-validation"

    def search_note(self) -> str:
        """What the C search says of the data, for the run's notes (empty when nothing is worth saying): the
        strongest or the weakest regularisation searched won (the best may lie beyond the grid), or even the best C's held-out
        log-loss is above a uniform guess's (``ln C``: the probe's raw probabilities are overconfident)."""
        if not self.folds or len(self.c_grid) < 2:
            return ""
        notes = []
        if self.c <= self.c_grid[0]:
            notes.append(
                f"the strongest regularisation searched won (C = {self.c:.3g}, the end of the grid), so a stronger "
                "one might score better still; its scores are small (a calibrated run's temperature scales them)"
            )
        elif self.c >= self.c_grid[-1] and not self._held_out_all_but_right():
            # h32: said nowhere, while its predictions read 97-99.9 % on anything; on classes the held-out folds
            # tell apart without fault, near-certain probabilities are earned and it is not said (h34)
            notes.append(
                f"the weakest regularisation searched won (C = {self.c:.3g}, the end of the grid): the labelled "
                "items are few or far apart, so its raw probabilities run near certain (a calibrated run's "
                "temperature scales them)"
            )
        uniform = float(np.log(self.num_classes))
        if self.scoring == "log_loss" and self.cv_scores and -max(self.cv_scores) > uniform:
            notes.append(
                f"even at that C the held-out log-loss ({-max(self.cv_scores):.3f}) is above a uniform guess's "
                f"({uniform:.3f}): the raw probabilities are overconfident (a calibrated run's temperature softens "
                "them; without calibration prefer a fixed confidence threshold)"
            )
        return "; ".join(notes)

    def _held_out_all_but_right(self) -> bool:
        """The held-out accuracy at the weakest C searched is at least :data:`EARNED_CERTAINTY`."""
        return bool(self.cv_accuracy) and self.cv_accuracy[-1] >= EARNED_CERTAINTY

    def with_strength_chosen_by(self, chosen_by: LinearProbe) -> LinearProbe:
        """This probe (a refit at ``chosen_by.c``, e.g. with pseudo-labelled rows added) described by the
        cross-validation that chose its C: ``chosen_by``'s grid, scores, folds, repeats and scoring."""
        return replace(
            self,
            c_grid=chosen_by.c_grid,
            cv_scores=chosen_by.cv_scores,
            cv_accuracy=chosen_by.cv_accuracy,
            folds=chosen_by.folds,
            repeats=chosen_by.repeats,
            folds_scored=chosen_by.folds_scored,
            scoring=chosen_by.scoring,
        )


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed buffers ``(F,)``: the probe's standardisation as a layer."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def to_module(probe: LinearProbe, fold_standardisation: bool = True) -> nn.Module:
    """The probe as a torch layer over raw features ``(B, F) -> (B, C)``.

    With ``fold_standardisation`` (default) a single :class:`torch.nn.Linear` whose weights absorb the
    standardisation, ``W' = W / std`` and ``b' = b - W' @ mean``: it drops into a classifier head unchanged, and
    every export (TorchScript, ONNX) carries the standardisation without a new operator. Otherwise a
    ``Sequential(Standardize, Linear)`` with the weights as fitted. Both give the same logits up to float32
    rounding (``W (x - m) / s + b = (W / s) x + (b - (W / s) m)``).
    """
    weights = torch.as_tensor(probe.weights, dtype=torch.float64)
    bias = torch.as_tensor(probe.bias, dtype=torch.float64)
    mean = torch.as_tensor(probe.mean, dtype=torch.float64)
    std = torch.as_tensor(probe.std, dtype=torch.float64)
    linear = nn.Linear(probe.num_features, probe.num_classes)
    with torch.no_grad():
        if fold_standardisation:
            folded = weights / std
            linear.weight.copy_(folded.float())
            linear.bias.copy_((bias - folded @ mean).float())
            return linear
        linear.weight.copy_(weights.float())
        linear.bias.copy_(bias.float())
    return nn.Sequential(Standardize(probe.mean, probe.std), linear)


def standardisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``(F,)`` float32 of rows ``(N, F)``; a near-constant feature gets std 1."""
    x = np.asarray(features, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std < MIN_STD, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def class_weight_vector(targets: np.ndarray, num_classes: int, class_weight: str | None) -> np.ndarray:
    """Per-class loss weights ``(num_classes,)``: ones, or ``n / (k * n_c)`` for ``"balanced"`` (scikit-learn's)."""
    if class_weight is None:
        return np.ones(num_classes)
    if class_weight != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced', not {class_weight!r}")
    counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = len(targets) / (present.sum() * counts[present])
    return weights
