"""Likely label errors: out-of-fold probabilities and confident learning.

Every labelled image gets a predicted class distribution from a model that never saw it: the labelled images are
split into ``k`` stratified, seeded folds (images with identical content share a fold) and a multinomial logistic
regression is fitted on the frozen features of the other folds (full-batch L-BFGS, seconds for hundreds of
images). Confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset
Labels", JAIR 70, 2021) then decides which given labels to doubt:

- the threshold of class ``j`` is the mean self-confidence of the images labelled ``j``:
  ``t_j = mean(p_j(x) for x labelled j)``;
- an image labelled ``i`` is counted in the confident joint ``C[i][j]`` where ``j`` is, among the classes whose
  probability reaches their threshold (``p_j(x) >= t_j``), the one with the largest probability; an image for
  which no class reaches its threshold is not counted;
- the images in the off-diagonal cells (``j != i``) are the label issues, ``j`` their suggested class.

A second pass then asks again without the suspects' labels: the out-of-fold models are fitted anew on the folds'
images less the first pass's issues (each image is still judged by a model that never saw it), and confident
learning on these probabilities gives the issues reported. A wrong label teaches its fold's models to expect it
on look-alike images, so in the first pass right labels near it are doubted too; the second pass's models are
not taught by it. This is the iterative cross-validation of INCV (Chen, Liao, Chen & Zhang, "Understanding and
Utilizing Deep Neural Networks Trained with Noisy Labels", ICML 2019) applied to confident learning; measured in
``bench/bench_data_quality.py`` (docs/data-quality.md).

Issues are ranked by self-confidence (the probability of the given label), lowest first; the score shown is
``1 - self-confidence``, so the most suspect image has the highest score.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.base.missing_files import missing_files
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.confident_learning import ConfidentLearning, confident_learning
from dmtl_studio.core.quality.label_error_report import (  # noqa: F401  (part of this API)
    FEW_PER_CLASS,
    LabelErrorReport,
    SuspectedLabel,
)
from dmtl_studio.core.training.config import TrainConfig

DEFAULT_FOLDS = 5


class QualityError(Exception):
    """A data-quality check cannot run on this project (the message says why, for a person)."""


# ---------------------------------------------------------------------------------------------- folds
def stratified_folds(
    labels: Sequence[int], k: int, seed: int = 0, groups: Sequence[str] | None = None
) -> np.ndarray:
    """The fold (``0..k-1``) of each item: stratified by label, seeded, items of one group in one fold.

    Parameters
    ----------
    labels
        ``(N,)`` class index of each item.
    k
        Number of folds (at least 2).
    seed
        Seed of the shuffle within each class.
    groups
        ``(N,)`` group key per item (e.g. the content hash); items sharing a key share a fold.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` int fold numbers.
    """
    labels = np.asarray(labels, dtype=np.int64)
    keys = list(groups) if groups is not None else [str(i) for i in range(len(labels))]
    members: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        members.setdefault(key, []).append(index)
    by_class: dict[int, list[list[int]]] = {}
    for key in sorted(members):  # a group goes with its first member's class
        group = members[key]
        by_class.setdefault(int(labels[group[0]]), []).append(group)
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(labels), dtype=np.int64)
    offset = 0
    for label in sorted(by_class):  # deal round-robin, continuing where the last class ended
        for position in rng.permutation(len(by_class[label])):
            fold[by_class[label][position]] = offset % k
            offset += 1
    return fold


# ---------------------------------------------------------------------------------------------- model
def fit_predict_softmax(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    num_classes: int,
    l2: float = 10.0,
    max_iter: int = 100,
) -> np.ndarray:
    """Multinomial logistic regression (L2-penalised, full-batch L-BFGS) fitted on one set, applied to another.

    The features are standardised with the training set's mean and deviation. The objective is
    ``sum(cross_entropy) + l2 / 2 * ||W||^2`` (bias not penalised), as scikit-learn's ``C = 1 / l2``;
    the default (``C = 0.1``) keeps a noisy label from being fitted, so it shows as doubtful out of fold.

    Parameters
    ----------
    train_x, test_x
        ``(N, F)`` and ``(M, F)`` features.
    train_y
        ``(N,)`` class indices in ``0..num_classes-1``.

    Returns
    -------
    numpy.ndarray
        ``(M, num_classes)`` predicted probabilities (rows sum to 1).
    """
    import torch
    from torch.nn import functional

    x = torch.as_tensor(np.asarray(train_x, dtype=np.float64))
    t = torch.as_tensor(np.asarray(test_x, dtype=np.float64))
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    x, t = (x - mean) / std, (t - mean) / std
    y = torch.as_tensor(np.asarray(train_y, dtype=np.int64))
    weight = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-7, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = functional.cross_entropy(x @ weight + bias, y, reduction="sum") + 0.5 * l2 * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return torch.softmax(t @ weight + bias, dim=1).numpy()


def out_of_fold_probabilities(
    features: np.ndarray,
    labels: Sequence[int],
    num_classes: int,
    k: int = DEFAULT_FOLDS,
    seed: int = 0,
    groups: Sequence[str] | None = None,
    l2: float = 10.0,
    should_stop: ShouldStop = never_stop,
    untaught: np.ndarray | None = None,
) -> np.ndarray:
    """Each item's class probabilities from a model fitted on the other folds (see the module docstring).

    Parameters
    ----------
    features
        ``(N, F)`` feature vectors.
    labels
        ``(N,)`` given class indices.
    untaught
        ``(N,)`` bool: items no model is fitted on (their probabilities are still predicted); none by default.
        A class all of whose items outside a fold are untaught is taught there all the same (a model must know
        every class).

    Returns
    -------
    numpy.ndarray
        ``(N, num_classes)`` out-of-fold probabilities.

    Raises
    ------
    QualityError
        With fewer than 2 classes, or a class with fewer than ``k`` items.
    """
    import torch

    labels = np.asarray(labels, dtype=np.int64)
    check_enough_labels(labels, num_classes, k)
    folds = stratified_folds(labels, k, seed, groups)
    probabilities = np.zeros((len(labels), num_classes), dtype=np.float64)
    # The fits are small (hundreds of rows): one intra-op thread is several times faster than many, whose
    # hand-offs cost more than the arithmetic (and far more on a busy machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for fold in range(k):
            check(should_stop)
            held = folds == fold
            if not held.any():
                continue
            taught = ~held if untaught is None else ~held & ~untaught
            for label in np.unique(labels[~held]):
                # A class none of whose items here is taught would be unknown to this fold's model: its right
                # labels would score 1.00, and a fold taught nothing gave NaN. Such a class keeps its items.
                if not (taught & (labels == label)).any():
                    taught |= ~held & (labels == label)
            probabilities[held] = fit_predict_softmax(
                features[taught], labels[taught], features[held], num_classes, l2
            )
    finally:
        torch.set_num_threads(threads)
    return probabilities


def label_issues(
    features: np.ndarray,
    labels: Sequence[int],
    num_classes: int,
    k: int = DEFAULT_FOLDS,
    seed: int = 0,
    groups: Sequence[str] | None = None,
    should_stop: ShouldStop = never_stop,
) -> ConfidentLearning:
    """Confident learning in two passes (see the module docstring): out-of-fold probabilities and their issues,
    then the same with no model taught by those issues' labels. Takes and raises what
    :func:`out_of_fold_probabilities` does; returns the second pass's result (the first's when it found none)."""
    labels = np.asarray(labels, dtype=np.int64)
    first = confident_learning(
        labels,
        out_of_fold_probabilities(features, labels, num_classes, k, seed, groups, should_stop=should_stop),
    )
    if not len(first.issues):
        return first
    untaught = np.zeros(len(labels), dtype=bool)
    untaught[first.issues] = True
    probabilities = out_of_fold_probabilities(
        features, labels, num_classes, k, seed, groups, should_stop=should_stop, untaught=untaught
    )
    return confident_learning(labels, probabilities)


def check_enough_labels(
    labels: np.ndarray, num_classes: int, k: int, names: Sequence[str] | None = None, items: str = "images"
) -> None:
    """Raise :class:`QualityError` unless there are 2+ classes and at least ``k`` items of each; the message
    calls the items ``items`` ("images" or "texts")."""
    if k < 2:
        raise QualityError("label errors need at least 2 folds")
    counts = np.bincount(labels, minlength=num_classes)
    if num_classes < 2 or (counts > 0).sum() < 2:
        raise QualityError(f"label errors need labelled {items} of at least 2 classes")
    small = [(names[j] if names else str(j), int(c)) for j, c in enumerate(counts) if c < k]
    if small:
        listed = ", ".join(f"{name} ({count})" for name, count in small)
        # Each fold holds out some images of every class, so a class needs one labelled image per fold; 2 folds at
        # the least: a class with a single labelled image cannot be checked with any number of folds.
        fewest = int(counts[counts > 0].min())
        if fewest >= 2:
            advice = f"use {fewest} folds or fewer, or label more {items} of these classes"
        else:
            single = ", ".join(name for name, count in small if count < 2)
            advice = (
                f"no number of folds works while a class has a single labelled {items[:-1]} ({single}): label at "
                f"least one more {items[:-1]} of it (at least {k} of each class for {k} folds)"
            )
        raise QualityError(
            f"{k} folds need at least {k} labelled {items} per class (each fold holds some of every class out); "
            f"too few in: {listed}. To go on, {advice}."
        )


# ---------------------------------------------------------------------------------------------- projects
def find_label_errors(
    project_dir: str | Path,
    folds: int = DEFAULT_FOLDS,
    config: TrainConfig | None = None,
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int, float], None] | None = None,
    fit_folds: bool = False,
    classes: Sequence[str] | None = None,
) -> LabelErrorReport:
    """Rank a project's labelled images by how likely their label is wrong.

    With ``fit_folds`` (the window and the audit, which have no folds setting) a class with fewer labelled images
    than ``folds`` but at least 2 lowers the folds to its count (the report's ``folds`` says how many ran).
    ``classes``: check only the items labelled with these (an audit: the run's classes, not a class added since).

    Uses every usable labelled image of every split. The frozen features come from
    :func:`~dmtl_studio.core.quality.features.frozen_features` (backbone and input size of ``config``); a text
    project's items are texts, and their features the text encoder's embeddings
    (:func:`~dmtl_studio.core.quality.features.text_embeddings`: the bundled encoder unless ``config`` names one).

    Raises
    ------
    QualityError
        When a class has fewer than ``folds`` labelled images, or fewer than 2 classes are labelled.
    dmtl_studio.core.models.text_encoder.TextEncoderError
        A text project's encoder cannot be read.
    dmtl_studio.core.base.cancel.Cancelled
        When ``should_stop`` asks to stop.
    """
    from dmtl_studio.core.quality.features import frozen_features, text_embeddings

    config = config or TrainConfig()
    with ProjectStore.open(project_dir) as store:
        images = [
            im
            for im in store.images(usable_only=True)
            if im.label is not None and (classes is None or im.label in classes)
        ]
        text = store.kind == "text"
        gone = set() if text else set(missing_files(im.path for im in images).paths)  # the cache has them
        images = [im for im in images if im.path not in gone]
        classes = tuple(name for name in store.class_names() if any(im.label == name for im in images))
        index = {name: i for i, name in enumerate(classes)}
        labels = np.array([index[im.label] for im in images], dtype=np.int64)
        counts = np.bincount(labels, minlength=len(classes))
        if fit_folds and len(classes) >= 2 and counts.min() >= 2:
            folds = min(folds, int(counts.min()))  # "use 2 folds or fewer" had no box to follow it in (h35)
        check_enough_labels(labels, len(classes), folds, classes, "texts" if text else "images")
        started = time.perf_counter()
        if text:
            features = text_embeddings(store, [im.id for im in images], config, should_stop, on_progress)
        else:
            features = frozen_features(store, [im.path for im in images], config, should_stop, on_progress)
    feature_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = label_issues(
        features,
        labels,
        len(classes),
        folds,
        config.seed,
        [im.sha256 or im.path for im in images],
        should_stop,
    )
    suspects = tuple(
        SuspectedLabel(
            images[i].id,
            images[i].path,
            images[i].label,
            classes[int(result.suggested[i])],
            float(1.0 - result.self_confidence[i]),
            images[i].split,
        )
        for i in result.issues
    )
    return LabelErrorReport(
        suspects,
        classes,
        len(images),
        folds,
        {name: float(result.thresholds[i]) for i, name in enumerate(classes)},
        feature_seconds,
        time.perf_counter() - started,
        tuple(sorted(gone)),
        "text" if text else "image",
    )
