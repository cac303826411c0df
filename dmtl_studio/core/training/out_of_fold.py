"""Out-of-fold logits of a linear probe for the validation items that joined its fit.

When the project has a test split a linear probe takes the validation items into its fit (no wasted labels:
:mod:`~dmtl_studio.core.training.held_out`). Whatever is then measured on them with the final model is measured on
its own training data: a temperature fitted on them comes out too low (over-confident) and a "not sure" threshold
chosen on them too optimistic. The standard remedy is cross-validated (out-of-fold) predictions: the labelled
items are dealt into grouped, stratified folds as in the probe's own cross-validation (an item's augmented views
always in one fold; the same folds as its first repeat), a probe is fitted at the chosen L2 strength on each fold's
complement, and the clean view of each joined validation item gets its logits from the fold model that did not
see it. With pseudo-labelled items in the final fit, the fold models are fitted on the labelled rows alone.

Those logits calibrate the run's temperature (``fitted_on``: :data:`FITTED_ON`) and are kept in the run folder
(:data:`HELD_OUT_NAME`, keyed by content hash like ``fitted-items.txt``) for ``predict --target-accuracy``
(:mod:`~dmtl_studio.core.quality.reject`).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.training.linear_probe import DTYPE, _fit, group_folds
from dmtl_studio.core.training.probe_model import class_weight_vector, standardisation

#: The run folder's out-of-fold logits of the validation items that joined the fit.
HELD_OUT_NAME = "held-out-logits.npz"
#: The sidecar's ``calibration.fitted_on`` when the temperature was fitted on those logits.
FITTED_ON = "validation, out-of-fold"


@dataclass(frozen=True)
class HeldOutLogits:
    """Out-of-fold logits ``(J, K)`` and class indices ``(J,)`` of the joined validation items ``paths``."""

    paths: tuple[str, ...]
    logits: np.ndarray
    targets: np.ndarray


def out_of_fold_logits(
    features: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    queries: np.ndarray,
    query_groups: np.ndarray,
    *,
    c: float,
    folds: int,
    num_classes: int,
    class_weight: str | None = None,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-6,
    should_stop: ShouldStop = never_stop,
) -> np.ndarray:
    """Logits ``(Q, K)`` of ``queries``, each from a probe fitted at ``c`` on the folds its group is not in.

    Parameters
    ----------
    features, targets, groups
        The fitted rows ``(N, F)``, their classes ``(N,)`` and the group (item) of each row ``(N,)``, as given to
        :func:`~dmtl_studio.core.training.linear_probe.fit_linear_probe`.
    queries, query_groups
        Rows ``(Q, F)`` to predict (the items' clean views) and the group of each ``(Q,)``, one of ``groups``.
    c, folds
        The L2 strength and the number of folds the probe's cross-validation used (``folds >= 2``).
    num_classes, class_weight, seed, max_iter, tol
        As for ``fit_linear_probe``; ``seed`` deals the folds as its first repeat does.

    Raises
    ------
    ValueError
        When ``folds < 2`` or a query's group is not among ``groups``.
    dmtl_studio.core.base.cancel.Cancelled
        When ``should_stop()`` turned true.
    """
    if folds < 2:
        raise ValueError("out-of-fold logits need at least 2 folds")
    x_np = np.asarray(features, dtype=np.float64)
    y_np = np.asarray(targets, dtype=np.int64)
    g_np = np.asarray(groups)
    fold_of = group_folds(y_np, g_np, folds, seed=seed)
    fold_of_group = dict(zip(g_np.tolist(), fold_of.tolist(), strict=True))
    try:
        query_fold = np.asarray([fold_of_group[g] for g in np.asarray(query_groups).tolist()], dtype=np.int64)
    except KeyError:
        raise ValueError("every query's group must be one of the fitted rows' groups") from None
    class_w = class_weight_vector(y_np, num_classes, class_weight)
    q_np = np.asarray(queries, dtype=np.float64)
    out = np.zeros((len(q_np), num_classes), dtype=np.float32)
    for fold in np.unique(query_fold):
        train_rows = fold_of != fold
        mean, std = standardisation(x_np[train_rows])
        xs = torch.as_tensor((x_np[train_rows] - mean) / std, dtype=DTYPE)
        weights, bias, _ = _fit(
            xs,
            torch.as_tensor(y_np[train_rows]),
            torch.as_tensor(class_w[y_np[train_rows]], dtype=DTYPE),
            c,
            num_classes,
            None,
            max_iter,
            tol,
            should_stop,
        )
        absent = np.bincount(y_np[train_rows], minlength=num_classes) == 0
        bias[torch.as_tensor(absent)] = -1e4  # as in the final fit: a class without rows is never predicted
        asked = query_fold == fold
        scores = torch.as_tensor((q_np[asked] - mean) / std, dtype=DTYPE) @ weights.T + bias
        out[asked] = scores.numpy()
    return out


def write_held_out_logits(
    store: object, run_dir: str | os.PathLike[str], held_out: HeldOutLogits, classes: Sequence[str]
) -> None:
    """Keep ``held_out`` in ``run_dir`` (:data:`HELD_OUT_NAME`), each item named by its content hash.

    ``store`` is the run's :class:`~dmtl_studio.core.project.store.ProjectStore`.

    Raises
    ------
    OSError
        When the file cannot be written.
    """
    hash_of = {im.path: im.sha256 for im in store.images() if im.sha256}
    keep = [i for i, path in enumerate(held_out.paths) if path in hash_of]
    buffer = io.BytesIO()
    np.savez(
        buffer,
        hashes=np.asarray([hash_of[held_out.paths[i]] for i in keep], dtype=str),
        logits=np.asarray(held_out.logits, dtype=np.float32)[keep],
        targets=np.asarray(held_out.targets, dtype=np.int64)[keep],
        classes=np.asarray(list(classes), dtype=str),
    )
    atomic_write_bytes(Path(run_dir) / HELD_OUT_NAME, buffer.getvalue())


def _read_held_out(
    run_dir: str | os.PathLike[str], classes: Sequence[str]
) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """A run's kept ``(hashes, logits (J, K), targets (J,))``; ``None`` when it keeps none (an epoch run, a run from
    before they were kept), when the file cannot be read or is inconsistent, or when its classes are not
    ``classes``."""
    try:
        with np.load(Path(run_dir) / HELD_OUT_NAME, allow_pickle=False) as data:
            if [str(c) for c in data["classes"]] != list(classes):
                return None
            logits = np.asarray(data["logits"], dtype=np.float64)
            hashes = [str(h) for h in data["hashes"]]
            targets = np.asarray(data["targets"], dtype=np.int64)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    k = len(classes)
    if logits.ndim != 2 or logits.shape != (len(hashes), k) or targets.shape != (len(hashes),):
        return None
    if not np.isfinite(logits).all() or (len(targets) and (targets.min() < 0 or targets.max() >= k)):
        return None
    return hashes, logits, targets


def held_out_logits(run_dir: str | os.PathLike[str], classes: Sequence[str]) -> dict[str, np.ndarray]:
    """The out-of-fold logits ``(K,)`` a run keeps, by content hash; empty when it keeps none (an epoch run, a
    run from before they were kept), when the file cannot be read, or when its classes are not ``classes``."""
    kept = _read_held_out(run_dir, classes)
    return {} if kept is None else dict(zip(kept[0], kept[1], strict=True))


def held_out_confusion(run_dir: str | os.PathLike[str], classes: Sequence[str]) -> np.ndarray | None:
    """The confusion matrix ``(K, K)`` (rows: true class, columns: predicted) of a run's out-of-fold logits:
    how its probe does on the validation items it fitted, each predicted by a fold model that did not see it.
    ``None`` when the run keeps none or the file cannot be read (as :func:`held_out_logits`)."""
    kept = _read_held_out(run_dir, classes)
    if kept is None or len(kept[2]) == 0:
        return None
    _hashes, logits, targets = kept
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (targets, logits.argmax(1)), 1)
    return confusion
