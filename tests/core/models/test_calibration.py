"""Temperature scaling, expected calibration error and reject thresholds on toy logits."""

from __future__ import annotations

import numpy as np

from dmtl_studio.core.models.calibration import (
    calibrate,
    expected_calibration_error,
    fit_temperature,
    reliability,
    softmax,
    threshold_for_accuracy,
    threshold_for_coverage,
)


def _calibrated_toy(n: int, classes: int, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose softmax is the true class distribution; ``scale`` > 1 makes them overconfident."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.6, size=(n, classes))
    probs = softmax(logits)
    targets = np.array([rng.choice(classes, p=p) for p in probs])
    return logits * scale, targets


def test_temperature_lowers_ece_of_overconfident_logits() -> None:
    logits, targets = _calibrated_toy(3000, 4, seed=0, scale=3.0)
    temperature = fit_temperature(logits[:1500], targets[:1500])
    assert 2.5 < temperature < 3.5  # undoes the factor the logits were sharpened by
    before = expected_calibration_error(softmax(logits[1500:]), targets[1500:])
    after = expected_calibration_error(softmax(logits[1500:], temperature), targets[1500:])
    assert after <= before / 2
    assert after < 0.06


def test_temperature_is_one_for_calibrated_logits() -> None:
    logits, targets = _calibrated_toy(4000, 3, seed=1)
    assert abs(fit_temperature(logits, targets) - 1.0) < 0.08


def test_calibration_entry_and_too_few_images() -> None:
    logits, targets = _calibrated_toy(200, 3, seed=2, scale=2.0)
    entry = calibrate(logits, targets)
    assert entry is not None and entry["method"] == "temperature" and entry["images"] == 200
    assert entry["bins"] == 15 and entry["fitted_on"] == "validation"
    assert entry["ece_after"] < entry["ece_before"]
    assert calibrate(logits[:9], targets[:9]) is None


def test_reliability_bins_follow_the_definition() -> None:
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.3, 0.7]])
    targets = np.array([0, 1, 0, 1])
    data = reliability(probs, targets)
    assert data.counts.sum() == 4 and data.counts[14] == 2  # (0.933, 1.0]
    assert data.accuracy[14] == 0.5 and abs(data.confidence[14] - 0.95) < 1e-12
    # |0.5-0.95|*2/4 + |1-0.55|/4 + |1-0.7|/4
    assert abs(data.ece - (0.45 * 0.5 + 0.45 * 0.25 + 0.3 * 0.25)) < 1e-12


def test_reject_threshold_reaches_target_accuracy_on_held_out_data() -> None:
    logits, targets = _calibrated_toy(4000, 3, seed=3)
    probs = softmax(logits)
    overall = float((probs.argmax(1) == targets).mean())
    target = 0.9
    assert overall < target - 0.1
    chosen = threshold_for_accuracy(probs[:2000], targets[:2000], target)
    assert chosen.reached and chosen.accuracy >= target
    held = probs[2000:]
    accepted = held.max(1) >= chosen.threshold
    held_accuracy = float((held[accepted].argmax(1) == targets[2000:][accepted]).mean())
    assert held_accuracy >= target - 0.02  # on images it was not chosen on
    assert 0.05 < accepted.mean() < 0.95
    # the lowest such threshold: one step lower misses the target on the images it was chosen on
    lower = probs[:2000].max(1) >= chosen.threshold - 1e-9
    assert lower.sum() == round(chosen.coverage * 2000)


def test_threshold_for_coverage() -> None:
    logits, targets = _calibrated_toy(1000, 3, seed=4)
    probs = softmax(logits)
    chosen = threshold_for_coverage(probs, targets, 0.6)
    kept = probs.max(1) >= chosen.threshold
    assert kept.mean() >= 0.6 and kept.mean() < 0.61


def test_no_minimum_when_every_validation_image_is_right_matches_the_smoothed_accuracy() -> None:
    rng = np.random.default_rng(5)
    targets = rng.integers(0, 3, size=40)
    logits = rng.normal(0, 0.3, size=(40, 3))
    logits[np.arange(40), targets] += 1.0  # always right, never sure: the NLL falls as T goes to 0
    entry = calibrate(logits, targets)
    assert entry is not None and "no minimum" in entry["note"] and "every item is right" in entry["note"]
    temperature = entry["temperature"]
    assert 0.05 < temperature < 1.0  # more confident than before, never certain
    assert abs(softmax(logits, temperature).max(1).mean() - 41 / 42) < 1e-4
    assert entry["ece_after"] < entry["ece_before"]


def test_every_image_right_by_a_wide_margin_is_never_certain() -> None:
    # Margins so wide that the likelihood is exactly 0 in float64 long before the search bound (a linear probe on
    # an easy project): the search stops anywhere in that flat stretch, and every later prediction said 100 %.
    rng = np.random.default_rng(7)
    targets = rng.integers(0, 3, size=30)
    logits = rng.normal(0, 0.05, size=(30, 3))
    logits[np.arange(30), targets] += 2.0
    entry = calibrate(logits, targets)
    assert entry is not None and "every item is right" in entry["note"]
    assert abs(softmax(logits, entry["temperature"]).max(1).mean() - 31 / 32) < 1e-4
    assert softmax(logits, entry["temperature"]).max() < 1.0 - 1e-6


def test_no_minimum_at_the_upper_bound_says_the_scores_say_little_not_that_every_image_is_right() -> None:
    rng = np.random.default_rng(6)
    targets = rng.integers(0, 3, size=60)
    logits = rng.normal(0, 1.0, size=(60, 3))
    logits[np.arange(60), targets] -= 1.0  # scores that point away from the classes: the NLL falls as T grows
    entry = calibrate(logits, targets)
    assert entry is not None and "no minimum" in entry["note"]
    assert "say little about the classes" in entry["note"]
    assert "every item is right" not in entry["note"]
    right = int((logits.argmax(1) == targets).sum())
    if entry["temperature"] != 1.0:  # a temperature that reaches the smoothed accuracy exists
        assert abs(softmax(logits, entry["temperature"]).max(1).mean() - (right + 1) / 62) < 1e-4


def test_a_target_no_threshold_reaches_with_a_right_answer_keeps_nothing() -> None:
    """The fallback (the most accurate threshold) kept labels at a threshold that was wrong every time."""
    from dmtl_studio.core.quality.reject import describe_threshold, describe_threshold_briefly

    probabilities = np.array([[0.9, 0.1], [0.7, 0.3], [0.6, 0.4]])
    chosen = threshold_for_accuracy(probabilities, np.array([1, 1, 1]), 0.9)
    assert (chosen.reached, chosen.coverage, chosen.threshold) == (False, 0.0, 1.0)
    assert "every image is written as 'unsure'" in describe_threshold(chosen, 0.9)
    assert "every image is written as 'unsure'" in describe_threshold_briefly(chosen, 0.9)
    some = threshold_for_accuracy(probabilities, np.array([1, 0, 1]), 0.9)  # one right answer: the best kept
    assert not some.reached and some.coverage > 0 and some.accuracy > 0
