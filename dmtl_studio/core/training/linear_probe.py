"""A linear probe fitted to convergence: multinomial logistic regression on frozen backbone features.

This is the standard strong baseline for transfer from a frozen backbone: standardise the features, fit an
L2-regularised multinomial logistic regression with a full-batch quasi-Newton solver (L-BFGS) until the gradient
vanishes, and choose the regularisation strength ``C`` by cross-validation on the training features. It costs
seconds once the features exist, and it does not depend on a learning rate, a number of epochs or a batch size.

The objective is scikit-learn's, so ``C`` means the same thing there and here (the bias is not penalised)::

    C * sum_i w_i * CE(W x_i + b, y_i) + 0.5 * ||W||^2

(minimised here divided by ``C * N``, which does not move the minimum). Rows may be augmented views of the same
image; ``groups`` names the image of each row so that cross-validation never scores an image whose views it
trained on.

References
----------
- scikit-learn, ``sklearn.linear_model.LogisticRegression`` (lbfgs solver, multinomial loss) and
  ``LogisticRegressionCV``: https://scikit-learn.org/stable/modules/linear_model.html#logistic-regression
- Radford et al., "Learning Transferable Visual Models From Natural Language Supervision" (CLIP), 2021,
  appendix A.3: L-BFGS logistic regression on frozen features, L2 strength swept on a validation split.
- Oquab et al., "DINOv2: Learning Robust Visual Features without Supervision", 2023, section 7: the same
  linear-probe protocol, regularisation chosen on held-out training data.
- Nocedal, "Updating quasi-Newton matrices with limited storage", Math. Comp. 35, 1980 (L-BFGS).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn import functional

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.training.probe_model import LinearProbe, class_weight_vector, standardisation

#: Half-decade steps from strong to weak regularisation (1e-3 ... 10); for standardised features of a few hundred
#: to a few thousand dimensions the best C of real image sets falls inside it.
DEFAULT_C_GRID: tuple[float, ...] = tuple(float(10.0**e) for e in np.arange(-3.0, 1.01, 0.5))
#: At most this many folds; fewer when the smallest class has fewer images (each fold holds one of each).
MAX_FOLDS = 5
#: On a large set, the C search scores each C on as many of the k folds as hold this many held-out images between
#: them (one fold of 12,600 images holds 2,520), as CLIP's protocol scores each C on one validation split: the
#: held-out log-loss of a few thousand images already ranks the Cs, and every fold left out saves a fit per C.
MIN_HELD_OUT_IMAGES = 2000
#: Standardised copies of the features kept for the C search (values, float32): about 400 MB.
_KEPT_VALUES = 100_000_000
#: C used when cross-validation is impossible (a class with a single image): moderate regularisation.
FALLBACK_C = 0.1
SCORINGS = ("log_loss", "accuracy", "balanced_accuracy")
#: The solver's precision. Measured on 200-2000 rows x 1280 features (one thread): float32 reaches the same
#: objective as float64 and scikit-learn's lbfgs to 1e-6 relative, with the same predictions, 1.5-2x faster.
DTYPE = torch.float32

#: ``on_progress(done, total, c, score)`` after each C of the grid has been scored on every fold.
ProbeProgress = Callable[[int, int, float, float], None]


def group_folds(targets: np.ndarray, groups: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold number ``(N,)`` of each row: stratified by class, every group (image) whole in one fold.

    Each class's groups are shuffled and dealt round-robin, starting at a random fold, so every fold holds about
    ``1 / folds`` of each class and the folds are of about equal size.

    Raises
    ------
    ValueError
        When a group holds rows of different classes (the views of one image share its label).
    """
    rng = np.random.default_rng(seed)
    unique_groups, group_index = np.unique(groups, return_inverse=True)
    group_class = np.full(len(unique_groups), -1, dtype=np.int64)
    group_class[group_index] = targets
    if not np.array_equal(group_class[group_index], targets):
        raise ValueError("every row of a group (the views of one image) must have the same class")
    group_fold = np.empty(len(unique_groups), dtype=np.int64)
    start = int(rng.integers(folds))
    for cls in np.unique(group_class):
        members = rng.permutation(np.flatnonzero(group_class == cls))
        group_fold[members] = (start + np.arange(len(members))) % folds
        start = (start + len(members)) % folds  # the next class fills the folds this one left short
    return group_fold[group_index]


def _fit(
    x: torch.Tensor,
    y: torch.Tensor,
    row_weights: torch.Tensor,
    c: float,
    num_classes: int,
    init: tuple[torch.Tensor, torch.Tensor] | None,
    max_iter: int,
    tol: float,
    should_stop: ShouldStop,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """L-BFGS on the mean weighted cross-entropy + ``||W||^2 / (2 C N)``; returns ``(W, b, iterations)``."""
    n, f = x.shape
    weights = torch.zeros(num_classes, f, dtype=x.dtype) if init is None else init[0].clone()
    bias = torch.zeros(num_classes, dtype=x.dtype) if init is None else init[1].clone()
    weights.requires_grad_(True)
    bias.requires_grad_(True)
    penalty = 1.0 / (2.0 * c * n)
    total = row_weights.sum()
    optimizer = torch.optim.LBFGS(
        [weights, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        check(should_stop)
        optimizer.zero_grad()
        losses = functional.cross_entropy(x @ weights.T + bias, y, reduction="none")
        loss = (losses * row_weights).sum() / total + penalty * (weights * weights).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    iterations = int(optimizer.state[optimizer._params[0]].get("n_iter", 0))
    return weights.detach(), bias.detach(), iterations


def _score(logits: torch.Tensor, y: torch.Tensor, scoring: str, num_classes: int) -> tuple[float, float]:
    """``(score, accuracy)`` of held-out logits; the score is higher-is-better."""
    predicted = logits.argmax(1)
    accuracy = float((predicted == y).double().mean())
    if scoring == "log_loss":
        return -float(functional.cross_entropy(logits, y)), accuracy
    if scoring == "accuracy":
        return accuracy, accuracy
    recalls = [float((predicted[y == k] == k).double().mean()) for k in range(num_classes) if (y == k).any()]
    return float(np.mean(recalls)), accuracy


def fit_linear_probe(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    num_classes: int | None = None,
    groups: np.ndarray | None = None,
    scored: np.ndarray | None = None,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    max_folds: int = MAX_FOLDS,
    repeats: int | None = None,
    min_held_out: int | None = MIN_HELD_OUT_IMAGES,
    scoring: str = "log_loss",
    class_weight: str | None = None,
    max_iter: int = 500,
    tol: float = 1e-6,
    seed: int = 0,
    threads: int | None = 1,
    should_stop: ShouldStop = never_stop,
    on_progress: ProbeProgress | None = None,
) -> LinearProbe:
    """Fit a standardised multinomial logistic regression, its L2 strength chosen by grouped k-fold CV.

    Parameters
    ----------
    features : np.ndarray
        ``(N, F)`` rows: clean features of the training images, plus augmented views as extra rows if wanted.
    targets : np.ndarray
        ``(N,)`` class indices in ``[0, num_classes)``.
    num_classes : int, optional
        Number of classes (default ``targets.max() + 1``); a class without rows gets a very low bias.
    groups : np.ndarray, optional
        ``(N,)`` image id of each row: rows of one group (an image and its augmented views) always fall in the
        same fold. Default: every row its own group.
    scored : np.ndarray, optional
        ``(N,)`` bool: the rows a held-out fold is scored on (e.g. the clean views only). Default: all rows.
    c_grid : sequence of float
        Candidate inverse regularisation strengths (scikit-learn's ``C``); searched in ascending order, each
        fit warm-started from the previous one. A single value skips cross-validation.
    max_folds : int
        At most this many folds; fewer when the smallest class has fewer groups. With fewer than 2 groups in a
        class no cross-validation runs and C is :data:`FALLBACK_C`.
    repeats : int, optional
        Repeats of the k-fold split, each shuffled differently. Default: 3 when the smallest class has fewer
        than 20 groups (few labels make one split's score noisy) on a set that is not large, else 1.
    min_held_out : int, optional
        A set of at least this many groups is large: it is split once by default, only the first folds that
        hold this many groups between them are fitted and scored (``LinearProbe.folds_scored``), and the walk up
        the grid stops once the score has fallen twice in a row, whatever the repeats (``LinearProbe.c_grid`` is
        then the part searched): on a large set the rest only costs time. ``None``: every fold and every C.
    scoring : {"log_loss", "accuracy", "balanced_accuracy"}
        What picks C. The held-out log-loss (default) is smooth in C and does not tie on small folds, where
        accuracy jumps in steps of one image; ties are broken towards stronger regularisation.
    class_weight : {None, "balanced"}
        ``"balanced"`` weights each row by ``n / (k * n_class)`` in the loss (scikit-learn's rule).
    max_iter, tol : int, float
        L-BFGS iterations per fit and the gradient tolerance (max-norm) that ends one.
    seed : int
        Seeds the fold assignment.
    threads : int, optional
        torch intra-op threads during the fit, restored afterwards; ``None`` leaves torch's setting. The matrix
        products here are small: one thread is fastest, and on a CPU shared with other work two threads were
        measured up to 10x slower than one (each product waits for the slowest thread).
    should_stop : callable
        Polled at every L-BFGS function evaluation; when it returns true the fit raises ``Cancelled``.
    on_progress : callable, optional
        ``on_progress(done, total, c, score)`` after each C has been scored on every fold
        (``total = len(c_grid)``); not called when no cross-validation runs.

    Returns
    -------
    LinearProbe
        Weights ``(C, F)``, bias ``(C,)``, standardisation ``(F,)``, the chosen C and the per-C CV scores.

    Raises
    ------
    ValueError
        On mismatched shapes, fewer than 2 classes with rows, an empty or non-positive grid, non-finite
        features, an unknown scoring or class weight, or a group holding rows of different classes.
    dmtl_studio.core.base.cancel.Cancelled
        When ``should_stop()`` turned true.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        return _fit_linear_probe(
            features,
            targets,
            num_classes,
            groups,
            scored,
            c_grid,
            max_folds,
            repeats,
            min_held_out,
            scoring,
            class_weight,
            max_iter,
            tol,
            seed,
            should_stop,
            on_progress,
        )
    finally:
        torch.set_num_threads(previous)


def _fit_linear_probe(
    features: np.ndarray,
    targets: np.ndarray,
    num_classes: int | None,
    groups: np.ndarray | None,
    scored: np.ndarray | None,
    c_grid: Sequence[float],
    max_folds: int,
    repeats: int | None,
    min_held_out: int | None,
    scoring: str,
    class_weight: str | None,
    max_iter: int,
    tol: float,
    seed: int,
    should_stop: ShouldStop,
    on_progress: ProbeProgress | None,
) -> LinearProbe:
    x_np = np.asarray(features, dtype=np.float64)
    y_np = np.asarray(targets, dtype=np.int64)
    if x_np.ndim != 2 or y_np.shape != (x_np.shape[0],):
        raise ValueError(f"features must be (N, F) and targets (N,); got {x_np.shape} and {y_np.shape}")
    if not np.isfinite(x_np).all():
        raise ValueError("features hold NaN or infinite values")
    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, not {scoring!r}")
    grid = sorted(float(c) for c in c_grid)
    if not grid or grid[0] <= 0:
        raise ValueError("c_grid must hold at least one positive value")
    k = int(num_classes) if num_classes is not None else int(y_np.max()) + 1
    if y_np.min() < 0 or y_np.max() >= k:
        raise ValueError(f"targets must lie in [0, {k})")
    if len(np.unique(y_np)) < 2:
        raise ValueError("a linear probe needs rows of at least 2 classes")
    n = len(y_np)
    g_np = np.arange(n) if groups is None else np.asarray(groups)
    if g_np.shape != (n,):
        raise ValueError("groups must have one entry per row")
    s_np = np.ones(n, dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    if s_np.shape != (n,):
        raise ValueError("scored must have one entry per row")
    class_w = class_weight_vector(y_np, k, class_weight)

    # Folds: one image of each class per fold at least, so k-fold with k = the smallest class's image count.
    _, group_first = np.unique(g_np, return_index=True)
    groups_per_class = np.bincount(y_np[group_first], minlength=k)
    smallest = int(groups_per_class[groups_per_class > 0].min())
    folds = min(int(max_folds), smallest) if len(grid) > 1 else 0
    folds = folds if folds >= 2 else 0
    # On a large set the held-out loss is smooth in C: once it has fallen twice in a row the weaker
    # regularisations, whose fits take the most iterations, would only confirm the fall; and one split's
    # thousands of held-out images score it steadily even when a class is rare, so it needs no repeats.
    large = min_held_out is not None and len(group_first) >= min_held_out
    if repeats is None:
        repeats = 3 if smallest < 20 and not large else 1
    repeats = max(1, int(repeats)) if folds else 0
    scored_folds = folds
    if folds and repeats == 1 and min_held_out is not None:
        scored_folds = min(folds, max(1, math.ceil(min_held_out * folds / len(group_first))))

    y = torch.as_tensor(y_np)
    x = torch.as_tensor(x_np, dtype=DTYPE)
    cv_scores: list[float] = []
    cv_accuracy: list[float] = []
    if folds:
        # Every (repeat, fold) keeps its own standardised rows and its last solution, so the C grid is walked
        # from strong to weak regularisation with each fit warm-started from the previous C's.
        masks = []
        for repeat in range(repeats):
            fold_of = group_folds(y_np, g_np, folds, seed=seed + repeat)
            for fold in range(scored_folds):
                train_rows, test_rows = fold_of != fold, (fold_of == fold) & s_np
                if test_rows.any() and len(np.unique(y_np[train_rows])) >= 2:
                    masks.append((train_rows, test_rows))
        # Each split's standardised rows are kept for the whole walk when they fit in memory, else made anew
        # for each fit (15 splits of a large set would hold 15 copies of the features).
        keep = len(masks) * x.numel() <= _KEPT_VALUES

        def split_rows(train_rows: np.ndarray, test_rows: np.ndarray) -> tuple[torch.Tensor, ...]:
            check(should_stop)
            mean, std = (torch.as_tensor(v, dtype=DTYPE) for v in standardisation(x_np[train_rows]))
            train_t, test_t = torch.as_tensor(train_rows), torch.as_tensor(test_rows)
            weights = torch.as_tensor(class_w[y_np[train_rows]], dtype=DTYPE)
            return (x[train_t] - mean) / std, y[train_t], (x[test_t] - mean) / std, y[test_t], weights

        splits = [split_rows(*m) if keep else m for m in masks]
        inits: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(splits)
        for index, c in enumerate(grid):
            score = accuracy = 0.0
            for position, split in enumerate(splits):
                x_train, y_train, x_test, y_test, w_rows = split if keep else split_rows(*split)
                weights, bias, _ = _fit(
                    x_train, y_train, w_rows, c, k, inits[position], max_iter, tol, should_stop
                )
                inits[position] = (weights, bias)
                fold_score, fold_accuracy = _score(x_test @ weights.T + bias, y_test, scoring, k)
                score += fold_score / len(splits)
                accuracy += fold_accuracy / len(splits)
            cv_scores.append(score)
            cv_accuracy.append(accuracy)
            if on_progress is not None:
                on_progress(index + 1, len(grid), c, score)
            if large and index >= 2 and cv_scores[-1] < cv_scores[-2] < cv_scores[-3]:
                grid = grid[: index + 1]  # what the search covered
                break
        best = max(cv_scores)
        # Ties (within float noise) go to the smallest C: the strongest regularisation that scores as well.
        chosen = grid[next(i for i, v in enumerate(cv_scores) if v >= best - 1e-12)]
    else:
        chosen = grid[0] if len(grid) == 1 else FALLBACK_C

    mean, std = standardisation(x_np)
    xs = (x - torch.as_tensor(mean, dtype=DTYPE)) / torch.as_tensor(std, dtype=DTYPE)
    weights, bias, iterations = _fit(
        xs, y, torch.as_tensor(class_w[y_np], dtype=DTYPE), chosen, k, None, max_iter, tol, should_stop
    )
    logits = xs @ weights.T + bias
    absent = np.bincount(y_np, minlength=k) == 0
    if absent.any():  # a class without rows: never predicted
        bias[torch.as_tensor(absent)] = -1e4
    return LinearProbe(
        weights=weights.numpy().astype(np.float32),
        bias=bias.numpy().astype(np.float32),
        mean=mean,
        std=std,
        c=float(chosen),
        c_grid=tuple(grid),
        cv_scores=tuple(cv_scores),
        cv_accuracy=tuple(cv_accuracy),
        folds=folds,
        repeats=repeats,
        folds_scored=scored_folds,
        scoring=scoring,
        iterations=iterations,
        train_accuracy=float((logits.argmax(1) == y).double().mean()),
    )


def log_grid(low: float, high: float, per_decade: int = 2) -> tuple[float, ...]:
    """An ascending log-spaced grid from ``low`` to ``high`` with ``per_decade`` values per factor of ten."""
    steps = max(1, round(math.log10(high / low) * per_decade))
    return tuple(float(v) for v in np.logspace(math.log10(low), math.log10(high), steps + 1))
