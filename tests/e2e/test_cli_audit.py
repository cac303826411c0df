"""``dmtl-studio audit``: one summary line and exit 0, or one plain line and exit 2 on bad input."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.core.trained_run import trained_project
from tests.e2e.cli import run_cli


def _plain_failure(result, *words: str) -> None:  # noqa: ANN001
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dmtl-studio audit:")]
    assert len(lines) == 1, result.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]


def test_audit_writes_a_bundle_and_says_so_in_one_line(tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    out = tmp_path / "bundle.zip"
    result = run_cli("audit", str(run_dir), "--out", str(out), "--no-label-check", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"wrote {out}: 36 labelled image hash(es) (train, validation, test), accuracy "
    )
    assert "95 % CI" in lines[0] and "label check not run" in lines[0]
    with zipfile.ZipFile(out) as bundle:
        assert json.loads(bundle.read("manifest.json"))["files"]["training-images.csv"]

    again = run_cli("audit", str(run_dir), "--out", str(out), "--no-label-check", timeout=600)
    _plain_failure(again, str(out), "already exists")


def test_audit_of_bad_input_exits_2_with_a_plain_line(tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    project, run_dir = trained_project(tmp_path_factory)
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    _plain_failure(
        run_cli("audit", str(not_a_run), "--out", str(tmp_path / "a.zip")), "holds no trained model"
    )
    lone = tmp_path / "lone-run"  # a run folder copied out of its project
    lone.mkdir()
    for name in ("model.safetensors", "model.json"):
        (lone / name).write_bytes((run_dir / name).read_bytes())
    _plain_failure(run_cli("audit", str(lone), "--out", str(tmp_path / "b.zip")), "--project")
    assert not (tmp_path / "a.zip").exists() and not (tmp_path / "b.zip").exists()
    nested = tmp_path / "no-such-folder" / "c.zip"  # its folder is made, as predict, export and report do
    made = run_cli("audit", str(run_dir), "--out", str(nested), "--no-label-check", timeout=600)
    assert made.returncode == 0 and nested.is_file(), made.stderr[-2000:]
    assert f"created the folder {nested.parent}, which did not exist" in made.stderr
    assert project.is_dir()
