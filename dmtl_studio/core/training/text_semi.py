"""Learning from unlabelled items in feature space: a frozen encoder's embeddings, a few labels, many unlabelled.

With a frozen encoder every item is a fixed vector, so the unlabelled ones can teach the head without a training
loop: their labels are inferred from the labelled ones through the geometry of the embedding space, the most
confident of them join the labelled rows with their inferred class, and the head is fitted as the usual linear
probe (:func:`~dmtl_studio.core.training.linear_probe.fit_linear_probe`). Two inference rules:

- ``"self_training"`` (default): the probe fitted on the labels predicts the unlabelled items; each round adds
  the most confident ones and refits (Yarowsky 1995; Lee, "Pseudo-Label", 2013). On the text benchmark
  (``docs/text.md``) it is the rule that pays on both datasets;
- ``"spreading"``: label spreading over a symmetric k-nearest-neighbour graph of the L2-normalised
  embeddings (Zhou et al., "Learning with Local and Global Consistency", NIPS 2003), followed by class mass
  normalisation (Zhu, Ghahramani & Lafferty, ICML 2003) so a class with few labels is not swallowed by its
  neighbours.

Either way the pseudo-labelled items are taken class-balanced — the same number per class, the most confident
first — and the L2 strength ``C`` is the one cross-validation chose on the true labels alone (pseudo-labels never
choose it). Every fit, the cross-validation and each refit, weights the classes as the run's supervised probe does
(``class_weight``). Unlabelled items never change a labelled item's class.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.training.linear_probe import ProbeProgress, fit_linear_probe
from dmtl_studio.core.training.probe_model import LinearProbe

SEMI_METHODS = ("spreading", "self_training")


def spread_labels(
    labelled: np.ndarray,
    targets: np.ndarray,
    unlabelled: np.ndarray,
    num_classes: int,
    neighbours: int = 10,
    alpha: float = 0.9,
    iterations: int = 50,
) -> np.ndarray:
    """Class scores ``(M, num_classes)`` of the unlabelled rows by label spreading (see the module docstring).

    Parameters
    ----------
    labelled, unlabelled
        ``(N, F)`` and ``(M, F)`` embeddings.
    targets
        ``(N,)`` class indices of the labelled rows.
    neighbours
        k of the k-nearest-neighbour graph (cosine similarity, symmetrised).
    alpha
        How far labels spread (0: not at all; near 1: far) — Zhou et al.'s alpha.

    Returns
    -------
    np.ndarray
        Non-negative scores, each row summing to 1 (a row the labels never reached is uniform).
    """
    x = np.concatenate([labelled, unlabelled]).astype(np.float64)
    x = x - x.mean(0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = len(x)
    k = max(1, min(neighbours, n - 1))
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
    weights = np.zeros((n, n))
    rows = np.repeat(np.arange(n), k)
    weights[rows, nearest.ravel()] = np.maximum(similarity[rows, nearest.ravel()], 0.0)
    weights = np.maximum(weights, weights.T)
    degree = weights.sum(1)
    inverse_root = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    normalised = weights * inverse_root[:, None] * inverse_root[None, :]
    seeds = np.zeros((n, num_classes))
    seeds[np.arange(len(targets)), targets] = 1.0
    scores = seeds.copy()
    for _ in range(iterations):
        scores = alpha * normalised @ scores + (1.0 - alpha) * seeds
    scores = scores[len(labelled) :]
    # Class mass normalisation: each class's total mass over the unlabelled rows made equal.
    mass = scores.sum(0)
    scores = scores / np.where(mass > 0, mass, 1.0)
    total = scores.sum(1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / num_classes)


def balanced_pick(scores: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and classes of up to ``per_class`` unlabelled rows per class, those whose top class it is, most
    confident first. ``scores`` is ``(M, C)``."""
    top = scores.argmax(1)
    chosen, classes = [], []
    for cls in range(scores.shape[1]):
        mine = np.flatnonzero(top == cls)
        best = mine[np.argsort(-scores[mine, cls], kind="stable")][:per_class]
        chosen += best.tolist()
        classes += [cls] * len(best)
    return np.asarray(chosen, dtype=np.int64), np.asarray(classes, dtype=np.int64)


def fit_semi_supervised_probe(
    labelled: np.ndarray,
    targets: np.ndarray,
    unlabelled: np.ndarray,
    *,
    num_classes: int | None = None,
    method: str = "self_training",
    share: float = 0.6,
    rounds: int = 3,
    class_weight: str | None = None,
    groups: np.ndarray | None = None,
    seed: int = 0,
    should_stop: ShouldStop = never_stop,
    on_progress: ProbeProgress | None = None,
) -> LinearProbe:
    """A linear probe fitted on the labelled rows plus class-balanced pseudo-labelled unlabelled rows.

    Parameters
    ----------
    labelled, targets
        ``(N, F)`` embeddings of the labelled items and their classes ``(N,)``.
    unlabelled
        ``(M, F)`` embeddings of the unlabelled items (may be empty: then the plain probe).
    method
        ``"spreading"`` or ``"self_training"`` (see the module docstring).
    share
        At most this share of the unlabelled rows is pseudo-labelled (split equally between the classes).
    rounds
        Self-training rounds (each adds a further ``share / rounds``); label spreading uses one.
    class_weight
        ``None`` or ``"balanced"`` (each class weighted by the inverse of its share of the rows fitted, pseudo-
        labelled ones included): passed to every :func:`fit_linear_probe` fit, as the run's supervised probe and
        its out-of-fold fold models get it.
    groups
        ``(N,)`` group of each labelled row for the cross-validation (identical items share one), as for
        :func:`fit_linear_probe`; ``None``: one per row.
    on_progress
        Reports the cross-validation on the labelled rows, the only one (:func:`fit_linear_probe`'s
        ``on_progress``); the refits with pseudo-labels keep its C.

    Returns
    -------
    LinearProbe
        Fitted on the labelled and the chosen pseudo-labelled rows, with the C chosen on the labels alone.

    Raises
    ------
    ValueError
        An unknown method, or inputs :func:`fit_linear_probe` refuses.
    """
    if method not in SEMI_METHODS:
        raise ValueError(f"method must be one of {', '.join(SEMI_METHODS)}, not {method!r}")
    k = int(num_classes) if num_classes is not None else int(targets.max()) + 1
    probe = fit_linear_probe(
        labelled,
        targets,
        num_classes=k,
        groups=groups,
        class_weight=class_weight,
        seed=seed,
        should_stop=should_stop,
        on_progress=on_progress,
    )
    cross_validated = probe  # the fit whose cross-validation chose C, which every refit keeps
    if len(unlabelled) == 0:
        return probe
    per_class = max(1, int(share * len(unlabelled) / k))
    if method == "spreading":
        chosen, pseudo = balanced_pick(spread_labels(labelled, targets, unlabelled, k), per_class)
        steps = [(chosen, pseudo)]
    else:
        steps = []
        for round_ in range(1, rounds + 1):
            chosen, pseudo = balanced_pick(probe.predict_proba(unlabelled), per_class * round_ // rounds)
            steps.append((chosen, pseudo))
            if round_ < rounds:
                probe = _refit(
                    labelled, targets, unlabelled, chosen, pseudo, k, probe.c, class_weight, seed, should_stop
                )
    chosen, pseudo = steps[-1]
    refit = _refit(labelled, targets, unlabelled, chosen, pseudo, k, probe.c, class_weight, seed, should_stop)
    return replace(refit.with_strength_chosen_by(cross_validated), pseudo_labelled=len(chosen))


def _refit(
    labelled: np.ndarray,
    targets: np.ndarray,
    unlabelled: np.ndarray,
    chosen: np.ndarray,
    pseudo: np.ndarray,
    num_classes: int,
    c: float,
    class_weight: str | None,
    seed: int,
    should_stop: ShouldStop,
) -> LinearProbe:
    rows = np.concatenate([labelled, unlabelled[chosen]])
    classes = np.concatenate([targets, pseudo])
    return fit_linear_probe(
        rows,
        classes,
        num_classes=num_classes,
        c_grid=[c],
        class_weight=class_weight,
        seed=seed,
        should_stop=should_stop,
    )
