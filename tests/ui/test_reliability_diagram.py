"""The evaluation view's reliability diagram and the report's calibration section show the evaluated images."""

from __future__ import annotations

import numpy as np

from dmtl_studio.core.evaluation.report import calibration_html
from dmtl_studio.core.evaluation.results import EvaluationResult
from dmtl_studio.core.models.calibration import softmax
from dmtl_studio.ui.evaluation_view import EvaluationView


def _result(calibration: dict | None) -> EvaluationResult:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2.0, size=(60, 3))
    targets = logits.argmax(1)
    targets[:15] = (targets[:15] + 1) % 3  # a quarter wrong: over-confident logits
    temperature = calibration["temperature"] if calibration else 1.0
    return EvaluationResult(
        run_dir="/runs/r", run_name="r", split="test", note="", classes=("a", "b", "c"),
        image_ids=np.arange(60), paths=tuple(f"/i/{k}.png" for k in range(60)), targets=targets,
        probabilities=softmax(logits, temperature), calibration=calibration,
    )  # fmt: skip


def test_reliability_diagram_in_the_evaluation_view(qtbot) -> None:  # noqa: ANN001
    view = EvaluationView()
    qtbot.addWidget(view)
    entry = {"method": "temperature", "temperature": 2.0, "fitted_on": "validation", "images": 30,
             "ece_before": 0.2, "ece_after": 0.05, "bins": 15}  # fmt: skip
    result = _result(entry)
    view.show_result(result)
    summary = result.calibration_summary()
    # uncalibrated probabilities recovered exactly from the calibrated ones (softmax(T log p))
    plain = _result(None).reliability()
    assert abs(summary["ece_uncalibrated"] - plain.ece) < 1e-9 and summary["ece"] != plain.ece
    heights = view.reliability.bars.opts["height"]
    accuracy = [a for a in summary["bins"]["accuracy"] if a is not None]
    np.testing.assert_allclose(heights, accuracy)
    assert len(view.reliability.before.opts["height"]) == int((plain.counts > 0).sum())
    assert (
        f"{summary['ece']:.3f}" in view.reliability.title.text()
        and "temperature 2.00" in view.reliability.title.text()
    )
    html = calibration_html(result)
    assert "<svg" in html and f"{summary['ece']:.3f}" in html and "without calibration" in html
    view.show_result(_result(None))
    assert (
        "not calibrated" in view.reliability.title.text() and len(view.reliability.before.opts["height"]) == 0
    )
