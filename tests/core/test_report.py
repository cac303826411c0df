"""The run report: one self-contained HTML file with every section, and the split it was evaluated on."""

from __future__ import annotations

import re

from dmtl_studio.core.report import line_chart_svg, write_report
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
    assert text.count("<svg") == 3 and "<polyline" in text
    assert not re.search(r"""(src|href)=["']?(https?:|file:|/|\.\.)""", text)  # nothing outside the file
    assert f"{result.metrics.accuracy:.1%}" in text
    assert "efficientnet_lite0" in text and "torch" in text and "circle" in text


def test_default_location_is_the_run_folder(tmp_path_factory) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    path, _ = write_report(run_dir)
    assert path == run_dir / "report.html" and path.stat().st_size > 2000
    path.unlink()


def test_empty_chart_says_so() -> None:
    assert "no data" in line_chart_svg("Loss", [], "x")
