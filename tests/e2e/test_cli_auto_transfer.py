"""``train --transfer auto`` on the command line: which run it kept, why and where; a text project is refused with
the reason, nothing made."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dmtl_studio.core.project.store import ProjectStore
from tests.core.text_run import make_text_project
from tests.e2e.cli import run_cli


def test_auto_on_a_text_project_is_refused_with_what_to_choose(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "texts")
    result = run_cli("train", str(project), "--transfer", "auto", "--time-budget", "5", "--device", "cpu")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Auto transfer is for image projects" in result.stderr
    assert "Choose frozen, partial or full transfer" in result.stderr
    with ProjectStore.open(project) as store:
        assert store.runs() == []


QUICK = ("--epochs", "1", "--input-size", "32", "--feature-views", "1", "--device", "cpu", "--json")
WORDS = {"probe": "the linear probe", "finetune": "the fine-tune"}


def _report(result: subprocess.CompletedProcess[str]) -> tuple[list[str], dict]:
    """The run's closing lines, from "run completed: …" on (on stderr with --json, after the progress), and the JSON
    summary, alone on stdout."""
    lines = result.stderr.strip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("run completed: "))
    return lines[start:], json.loads(result.stdout)


def test_auto_says_which_run_it_kept_why_and_where(project: Path) -> None:
    result = run_cli("train", str(project), "--transfer", "auto", *QUICK)
    assert result.returncode == 0, result.stderr
    lines, summary = _report(result)
    choice = summary["metrics"]["auto"]
    assert set(choice) >= {"probe_run", "finetune_run", "probe", "finetune", "kept", "note"}
    kept, other = choice["kept"], "probe" if choice["kept"] == "finetune" else "finetune"
    # Both were scored on the shapes project's validation images (5+ per class): the scores decide.
    assert choice["probe"] is not None and choice["finetune"] is not None
    assert kept == ("probe" if choice["probe"] > choice["finetune"] else "finetune")
    headline = (
        f"Auto kept {WORDS[kept]}: balanced accuracy {choice[kept]:.3f} vs {choice[other]:.3f} for {WORDS[other]} "
        "on the"
    )
    assert lines[0] == f"run completed: {summary['run_dir']}"
    assert lines[1].startswith(headline) and lines[1] == choice["note"]
    assert lines[2] == f"kept run: {choice[f'{kept}_run']}" == f"kept run: {summary['run_dir']}"
    assert lines[3].endswith(f"run stays in the project's history: {choice[f'{other}_run']}")


def test_auto_with_no_time_for_the_fine_tune_says_the_probe_was_kept_and_why(project: Path) -> None:
    result = run_cli("train", str(project), "--transfer", "auto", "--time-budget", "0", *QUICK)
    assert result.returncode == 0, result.stderr
    # The probe's one fit reads as a fit on its own items, not as an epoch's score.
    [fitted] = [line for line in result.stderr.splitlines() if line.startswith("linear probe fitted (C = ")]
    assert "on its training items (their cached views) loss" in fitted and "held-out figures" in fitted
    assert not any(line.startswith("epoch 1/1:") for line in result.stderr.splitlines())
    lines, summary = _report(result)
    choice = summary["metrics"]["auto"]
    assert choice["kept"] == "probe" and choice["finetune_run"] is None
    assert Path(summary["run_dir"]).name.startswith("auto-probe-")
    assert lines == [
        f"run completed: {summary['run_dir']}",
        "Auto kept the linear probe: the time budget is 0 min, so no fine-tune was tried",
        f"kept run: {summary['run_dir']}",
    ]
