"""evaluate, export, report and predict with an exported model, through the real command."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

from dmtl_studio.core.project.demo import write_shapes_folder
from tests.core.trained_run import trained_project
from tests.e2e.cli import run_cli


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=600)


def test_evaluate_export_predict_report(tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    evaluated = _cli("evaluate", str(run_dir), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    summary = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert summary["split"] == "val" and "no test images" in evaluated.stdout
    assert summary["images"] == 9 and 0 <= summary["balanced_accuracy"] <= 1

    onnx = tmp_path / "out" / "model.onnx"
    exported = _cli("export", str(run_dir), "--format", "onnx", "--out", str(onnx))
    assert exported.returncode == 0, exported.stderr
    assert onnx.is_file() and (tmp_path / "out" / "model.onnx.json").is_file()
    assert "max abs difference" in exported.stdout
    assert f"created the folder {onnx.parent}, which did not exist" in exported.stderr

    images = write_shapes_folder(tmp_path / "images", 2, seed=3, size=64)
    predicted = _cli("predict", str(onnx), str(images), "--out", str(tmp_path / "p.csv"))
    assert predicted.returncode == 0, predicted.stderr
    assert "created the folder" not in predicted.stderr  # its folder was there
    with (tmp_path / "p.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 6
    nested = tmp_path / "preds" / "today" / "p.csv"
    predicted = _cli("predict", str(onnx), str(images), "--out", str(nested))
    assert predicted.returncode == 0 and nested.read_bytes() == (tmp_path / "p.csv").read_bytes()
    assert f"created the folder {tmp_path / 'preds'} (down to {nested.parent})" in predicted.stderr
    under_a_file = _cli("predict", str(onnx), str(images), "--out", str(tmp_path / "p.csv" / "q.csv"))
    assert under_a_file.returncode == 2 and under_a_file.stderr.strip() == (
        f"dmtl-studio predict: {tmp_path / 'p.csv'} is a file, not a folder: choose another place for q.csv "
        "(nothing was written)"
    )  # said before any image is predicted

    report = _cli("report", str(run_dir), "--out", str(tmp_path / "reports" / "r.html"))
    assert report.returncode == 0, report.stderr
    assert f"created the folder {tmp_path / 'reports'}, which did not exist" in report.stderr
    report = _cli("report", str(run_dir), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "validation split" in report.stdout and (tmp_path / "r.html").stat().st_size > 2000
    again = _cli("report", str(run_dir), "--out", str(tmp_path / "r.html"))  # its own report is written anew
    assert again.returncode == 0, again.stderr
    for other in (tmp_path / "p.csv", *_project.glob("*.sqlite")):  # any other file is kept as it was
        before = other.read_bytes()
        refused = _cli("report", str(run_dir), "--out", str(other))
        assert refused.returncode == 2 and refused.stderr.strip() == (
            f"dmtl-studio report: {other} already exists and is not a report DMTL Studio wrote: choose another "
            "file name, or move that file away first (nothing was written)"
        )
        assert other.read_bytes() == before

    missing = _cli("predict", str(tmp_path / "model.onnx"), str(images), "--out", str(tmp_path / "x.csv"))
    assert missing.returncode == 2
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(onnx.read_bytes())
    no_sidecar = _cli("predict", str(lonely), str(images), "--out", str(tmp_path / "x.csv"))
    assert no_sidecar.returncode == 2 and "sidecar" in no_sidecar.stderr


def test_a_report_that_cannot_be_written_in_the_run_folder_points_to_out(
    tmp_path_factory, monkeypatch, capsys
) -> None:  # noqa: ANN001
    """A read-only run folder (a project on a read-only share): the refusal said nothing of --out."""
    import errno

    from dmtl_studio.cli import main
    from dmtl_studio.core.base.fileio import FileWriteError
    from dmtl_studio.core.evaluation import report

    _project, run_dir = trained_project(tmp_path_factory)

    def read_only(run: object, out: object = None, **_: object) -> None:
        raise FileWriteError(Path(run) / "report.html", "permission denied", errno.EACCES)

    monkeypatch.setattr(report, "write_report", read_only)
    assert main(["report", str(run_dir)]) == 2
    assert "permission denied (write it elsewhere with --out FILE)" in capsys.readouterr().err
