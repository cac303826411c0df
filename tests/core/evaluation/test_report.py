"""The run report: one self-contained HTML file with every section, and the split it was evaluated on."""

from __future__ import annotations

import re

from dmtl_studio.core.evaluation.report import write_report
from dmtl_studio.core.evaluation.report_charts import line_chart_svg
from tests.core.trained_run import trained_project


def test_report_is_self_contained_and_complete(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    path, result = write_report(run_dir, tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    for section in (
        "Evaluation",
        "Confusion matrix",
        "Per class",
        "Training curves",
        "Dataset",
        "Configuration",
        "Augmentation recipe",
        "Environment",
    ):
        assert f">{section}<" in text, section
    assert "no test images" in text  # the fallback to the validation split is said
    # three training curves and the reliability diagram
    assert text.count("<svg") == 4 and "<polyline" in text and "Reliability diagram" in text
    assert ">Calibration<" in text
    assert not re.search(r"""(src|href)=["']?(https?:|file:|/|\.\.)""", text)  # nothing outside the file
    assert f"{result.metrics.accuracy:.1%}" in text
    assert "efficientnet_lite0" in text and "torch" in text and "circle" in text
    assert "<th class='l'>head</th><td class='l'>linear</td>" in text
    assert "<th class='l'>hidden</th>" not in text  # a linear head has no hidden layer to list


def test_default_location_is_the_run_folder(tmp_path_factory) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    path, _ = write_report(run_dir)
    assert path == run_dir / "report.html" and path.stat().st_size > 2000
    path.unlink()


def test_empty_chart_says_so() -> None:
    assert "no data" in line_chart_svg("Loss", [], "x")


def test_a_chart_of_rates_has_no_negative_tick() -> None:
    """A learning rate decaying to 0 was drawn with a tick at -0.00019 (the padding below its least value)."""
    import re

    svg = line_chart_svg("Learning rate", [("lr", [1, 2, 3], [3e-3, 1e-3, 0.0])], "lr")
    ticks = [float(t) for t in re.findall(r'text-anchor="end" font-size="10">([^<]+)<', svg)]
    assert len(ticks) == 5 and min(ticks) == 0.0
    signed = line_chart_svg("Margin", [("m", [1, 2], [-1.0, 1.0])], "m")  # a quantity that can be negative
    assert float(re.findall(r'text-anchor="end" font-size="10">([^<]+)<', signed)[0]) < -1.0


def test_report_reads_as_prose_with_example_mistakes(tmp_path_factory) -> None:  # noqa: ANN001
    import numpy as np

    from dmtl_studio.core.evaluation.report import build_report
    from dmtl_studio.core.evaluation.results import EvaluationResult
    from dmtl_studio.core.models.checkpoint import load_checkpoint
    from dmtl_studio.core.project.store import ProjectStore

    project, run_dir = trained_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        images = [im for im in store.images() if im.label in ("circle", "square")][:4]
        epochs = store.epoch_metrics(store.runs()[0].id)
    sidecar = load_checkpoint(run_dir).sidecar
    # Two of four images called the other class: the report must show those two as pictures.
    result = EvaluationResult(
        run_dir=str(run_dir),
        run_name=run_dir.name,
        split="val",
        note="",
        classes=("circle", "square"),
        image_ids=np.array([im.id for im in images]),
        paths=tuple(im.path for im in images),
        targets=np.array([0 if im.label == "circle" else 1 for im in images]),
        probabilities=np.array([[0.123456789012345, 0.876543210987655], [0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]),
    )
    text = build_report(run_dir, result, epochs, None, sidecar, "completed")
    wrong = len(result.misclassified_ids())
    assert wrong >= 1
    assert text.count("<img src='data:image/jpeg;base64,") == wrong  # embedded, nothing outside the file
    assert not re.search(r"\d\.\d{7,}", text)  # no 16-digit numbers anywhere
    assert '{"' not in text and "[{" not in text  # no raw JSON (configuration, recipe, metrics)
    for section in ("Configuration", "Augmentation recipe", "Environment", "Model"):
        assert f"<details><summary>{section}</summary>" in text, section
    assert "<th class='l'>learning rate</th>" in text
