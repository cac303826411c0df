"""Calibrated confidence: temperature scaling, expected calibration error, reliability data, reject thresholds.

Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") divides a model's logits by
one scalar ``T > 0`` fitted to minimise the negative log-likelihood of ``softmax(logits / T)`` on held-out
(validation) images. It never changes the predicted class, only how sure the model says it is. The expected
calibration error (ECE) bins the top-1 confidence into 15 equal-width bins and averages ``|accuracy - confidence|``
weighted by the bins' share of images.

A reject threshold turns low confidence into "not sure": the lowest confidence whose accepted subset reaches a
target accuracy on held-out data, or the threshold that keeps a target share (coverage) of the images.

This module needs numpy and scipy only (no torch), so the window and the report can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Equal-width confidence bins of the expected calibration error (the standard choice).
BINS = 15
#: Fewer validation images than this and no temperature is fitted (the key is left out of the sidecar).
MIN_IMAGES = 10
#: What ``predict`` writes as the label of an image it is not sure about.
UNSURE = "unsure"
#: The temperature is searched in ``[exp(-LOG_T_RANGE), exp(LOG_T_RANGE)]``.
LOG_T_RANGE = 4.0


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``.

    Parameters
    ----------
    logits
        ``(N, C)`` scores.
    temperature
        ``T > 0``; larger values flatten the probabilities.

    Returns
    -------
    numpy.ndarray
        ``(N, C)`` float64 probabilities, each row summing to 1.
    """
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(targets)), targets]))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the NLL of ``softmax(logits / T)`` (bounded 1-D search on ``log T``).

    Parameters
    ----------
    logits
        ``(N, C)`` held-out scores (never the training images').
    targets
        ``(N,)`` true class indices.

    Returns
    -------
    float
        ``T`` in ``[e^-4, e^4]``; 1.0 when there is nothing to fit (no image).

    Raises
    ------
    ValueError
        When the shapes do not match.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(targets):
        raise ValueError(f"logits {logits.shape} and targets {targets.shape} do not match")
    if len(targets) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: _nll(logits, targets, float(np.exp(log_t))),
        bounds=(-LOG_T_RANGE, LOG_T_RANGE),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


@dataclass(frozen=True)
class Reliability:
    """Reliability-diagram data: per equal-width confidence bin, mean confidence, accuracy and image count.

    ``confidence`` and ``accuracy`` are NaN in empty bins; ``edges`` has ``bins + 1`` entries from 0 to 1.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: sum over bins of ``count/N * |accuracy - confidence|``."""
        total = int(self.counts.sum())
        if total == 0:
            return 0.0
        used = self.counts > 0
        gaps = np.abs(self.accuracy[used] - self.confidence[used])
        return float((self.counts[used] / total * gaps).sum())

    def to_dict(self) -> dict:
        """Plain lists (JSON, the window): ``edges``, ``confidence``, ``accuracy`` (None where empty), ``counts``."""

        def plain(values: np.ndarray) -> list:
            return [None if not np.isfinite(v) else float(v) for v in values]

        return {
            "edges": [float(e) for e in self.edges],
            "confidence": plain(self.confidence),
            "accuracy": plain(self.accuracy),
            "counts": [int(c) for c in self.counts],
            "ece": self.ece,
        }


def reliability(probabilities: np.ndarray, targets: np.ndarray, bins: int = BINS) -> Reliability:
    """Bin the top-1 confidence of ``probabilities`` ``(N, C)`` against ``targets`` ``(N,)`` into ``bins`` bins.

    A confidence ``c`` falls in bin ``k`` when ``edges[k] < c <= edges[k+1]`` (the first bin also holds 0).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    confidence = np.full(bins, np.nan)
    accuracy = np.full(bins, np.nan)
    counts = np.zeros(bins, dtype=np.int64)
    if len(targets):
        top = probabilities.max(axis=1)
        correct = (probabilities.argmax(axis=1) == targets).astype(np.float64)
        index = np.clip(np.searchsorted(edges, top, side="left") - 1, 0, bins - 1)
        for k in range(bins):
            mask = index == k
            counts[k] = int(mask.sum())
            if counts[k]:
                confidence[k] = float(top[mask].mean())
                accuracy[k] = float(correct[mask].mean())
    return Reliability(edges=edges, confidence=confidence, accuracy=accuracy, counts=counts)


def expected_calibration_error(probabilities: np.ndarray, targets: np.ndarray, bins: int = BINS) -> float:
    """ECE of ``probabilities`` ``(N, C)`` against ``targets`` ``(N,)`` with ``bins`` equal-width bins (0..1)."""
    return reliability(probabilities, targets, bins).ece


def calibrate(logits: np.ndarray, targets: np.ndarray, fitted_on: str = "validation") -> dict | None:
    """Fit a temperature and describe it as the sidecar's ``calibration`` entry.

    Returns
    -------
    dict or None
        ``{"method": "temperature", "temperature": T, "fitted_on", "images", "ece_before", "ece_after",
        "bins"}``; None when fewer than :data:`MIN_IMAGES` images were given (too few to fit anything).
        When the likelihood has no minimum inside the search range (every held-out image right: it keeps
        falling as ``T`` goes to 0, which would make every later prediction look certain; or scores that say
        little about the classes: it keeps falling as ``T`` grows), ``T`` is chosen by
        :func:`match_confidence` instead and the entry says which case in ``"note"``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) < MIN_IMAGES or not np.isfinite(logits).all():
        return None
    temperature = fit_temperature(logits, targets)
    note = None
    # With every image right the likelihood falls all the way to T = 0, but in floating point it reaches 0 (flat)
    # well before the search bound, so the search can stop anywhere in that flat stretch: test the case itself.
    every_right = bool((logits.argmax(1) == targets).all())
    if every_right or abs(np.log(temperature)) > LOG_T_RANGE - 1e-2:
        bound = temperature
        temperature = match_confidence(logits, targets)
        why = (
            "it keeps falling as T goes to 0, as when every item is right"
            if every_right or bound < 1.0
            else "it keeps falling as T grows, as when the scores say little about the classes"
        )
        where = "" if every_right else f"; best at the search bound T={bound:.3g}"
        note = (
            f"the likelihood of the {len(targets)} validation items has no minimum ({why}{where}): "
            f"T={temperature:.3g} makes their mean confidence the smoothed accuracy (right + 1) / (items + 2) "
            "instead"
        )
    entry = {
        "method": "temperature",
        "temperature": temperature,
        "fitted_on": fitted_on,
        "images": len(targets),
        "ece_before": expected_calibration_error(softmax(logits), targets),
        "ece_after": expected_calibration_error(softmax(logits, temperature), targets),
        "bins": BINS,
    }
    if note:
        entry["note"] = note
    return entry


def match_confidence(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature whose mean top-1 confidence equals the smoothed accuracy ``(right + 1) / (N + 2)``.

    Laplace's rule of succession: with every one of ``N`` held-out images right, the accuracy to expect is not 1
    but ``(N + 1) / (N + 2)``. Used when the likelihood has no minimum; 1.0 when no temperature in the search
    range reaches that confidence.
    """
    from scipy.optimize import brentq

    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    right = int((logits.argmax(1) == targets).sum())
    wanted = (right + 1) / (len(targets) + 2)

    def gap(log_t: float) -> float:
        return float(softmax(logits, float(np.exp(log_t))).max(1).mean()) - wanted

    low, high = gap(-LOG_T_RANGE), gap(LOG_T_RANGE)
    if low * high > 0:
        return 1.0
    return float(np.exp(brentq(gap, -LOG_T_RANGE, LOG_T_RANGE, xtol=1e-6)))


def temperature_of(sidecar: dict) -> float:
    """The temperature a model's sidecar names (1.0 for a model without calibration or with a damaged entry)."""
    entry = sidecar.get("calibration") if isinstance(sidecar, dict) else None
    if not isinstance(entry, dict):
        return 1.0
    try:
        value = float(entry.get("temperature", 1.0))
    except (TypeError, ValueError):
        return 1.0
    return value if np.isfinite(value) and value > 0 else 1.0


@dataclass(frozen=True)
class RejectThreshold:
    """A confidence threshold and what it did on the held-out images it was chosen on.

    ``threshold``: images with a top probability below it are "unsure". ``accuracy`` and ``coverage`` (share of
    images kept) are measured on those images; ``reached`` says whether the target was met (when it was not, the
    threshold keeps the most accurate non-empty subset found).
    """

    threshold: float
    accuracy: float
    coverage: float
    reached: bool
    images: int


def _accepted_curve(
    probabilities: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate thresholds (distinct confidences, descending), accuracy and coverage of ``confidence >= t``."""
    top = np.asarray(probabilities, dtype=np.float64).max(axis=1)
    correct = np.asarray(probabilities).argmax(axis=1) == np.asarray(targets)
    order = np.argsort(-top, kind="stable")
    top, correct = top[order], correct[order]
    cumulative = np.cumsum(correct)
    # the last position of each distinct confidence: accepting ">= t" takes all ties at once
    last = np.r_[np.nonzero(np.diff(top))[0], len(top) - 1]
    kept = last + 1
    return top[last], cumulative[last] / kept, kept / len(top)


def threshold_for_accuracy(probabilities: np.ndarray, targets: np.ndarray, target: float) -> RejectThreshold:
    """The lowest confidence threshold whose accepted images (``confidence >= threshold``) reach ``target``; when
    none does, the most accurate threshold (``reached`` false), or 1.0, keeping nothing, when every threshold's
    accepted images are all wrong.

    Parameters
    ----------
    probabilities
        ``(N, C)`` held-out probabilities (already calibrated, when the model is).
    targets
        ``(N,)`` true class indices.
    target
        Accuracy wanted on the accepted images, in ``(0, 1]``.

    Raises
    ------
    ValueError
        When ``target`` is outside ``(0, 1]`` or there is no image.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"the target accuracy must be in (0, 1], not {target}")
    if len(targets) == 0:
        raise ValueError("no held-out image to choose a threshold on")
    thresholds, accuracy, coverage = _accepted_curve(probabilities, targets)
    ok = np.nonzero(accuracy >= target - 1e-12)[0]
    if len(ok):
        k = int(ok.max())  # thresholds descend: the largest index is the lowest threshold
        return RejectThreshold(
            float(thresholds[k]), float(accuracy[k]), float(coverage[k]), True, len(targets)
        )
    k = int(np.argmax(accuracy))
    if accuracy[k] <= 0.0:  # no threshold keeps a right answer: keep none (every prediction 'unsure')
        return RejectThreshold(1.0, 0.0, 0.0, False, len(targets))
    return RejectThreshold(float(thresholds[k]), float(accuracy[k]), float(coverage[k]), False, len(targets))


def threshold_for_coverage(
    probabilities: np.ndarray, targets: np.ndarray, coverage: float
) -> RejectThreshold:
    """The highest threshold that still accepts at least ``coverage`` of the held-out images (``(0, 1]``)."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"the target coverage must be in (0, 1], not {coverage}")
    if len(targets) == 0:
        raise ValueError("no held-out image to choose a threshold on")
    thresholds, accuracy, covered = _accepted_curve(probabilities, targets)
    k = int(np.nonzero(covered >= coverage - 1e-12)[0].min())
    return RejectThreshold(float(thresholds[k]), float(accuracy[k]), float(covered[k]), True, len(targets))
