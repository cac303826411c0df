"""Augmentation on the command line: `bench augment` and `train --recipe`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from dmtl_studio.core.augment.registry import operations


def test_bench_augment_prints_the_table_and_ends_with_the_recipe_ratio() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dmtl_studio", "bench", "augment", "--seconds", "0.01"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"recipe: \d+\.\dx torchvision v2", lines[-1])
    rows = {line.split("|")[1].strip() for line in lines if line.startswith("| ") and "---" not in line}
    assert {op.name for op in operations()} | {"recipe 'medium'"} <= rows
    assert any(line.startswith("median operation: ") for line in lines)


def test_train_with_a_bad_recipe_file_names_the_step_and_changes_nothing(tmp_path, project) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "steps": [{"operation": "twirl"}]}')
    result = subprocess.run(
        [sys.executable, "-m", "dmtl_studio", "train", str(project), "--recipe", str(bad), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert "bad.json: step 1: unknown operation 'twirl'" in result.stderr
    assert not any((project / "runs").iterdir())


def test_bench_refuses_a_time_that_measures_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from dmtl_studio.cli import _parser

    for value in ("-1", "0", "nan"):  # they were accepted and printed rates of nothing
        with pytest.raises(SystemExit):
            _parser().parse_args(["bench", "augment", "--seconds", value])
        assert f"--seconds: {value}: give a time above 0 seconds" in capsys.readouterr().err
    assert _parser().parse_args(["bench", "augment", "--seconds", "0.2"]).seconds == 0.2
