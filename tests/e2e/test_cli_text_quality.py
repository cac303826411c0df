"""``dmtl-studio duplicates``, ``label-errors`` and ``audit`` on a text project: they compare texts, not pictures,
and say "texts"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from tests.core.quality.test_text_quality import EXACT, NEAR, plant_copies
from tests.core.text_run import copy_text_project, make_text_project
from tests.e2e.cli import run_cli


def _no_images(output: str) -> None:
    assert "image" not in output.replace("training-images.csv", "").lower(), output
    assert "picture" not in output.lower() and "Traceback" not in output


def test_duplicates_and_label_errors_of_a_text_project_speak_of_texts(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "project")
    plant_copies(project, (EXACT, NEAR))
    with ProjectStore.open(project) as store:
        count = store.image_count()
        victim = next(record for record in store.images() if record.path == "weather.csv#4")
        store.set_label([victim.id], "money")

    result = run_cli("duplicates", str(project), "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [*result.stderr.strip().splitlines(), result.stdout.strip()]  # --json: the JSON alone on stdout
    assert f"2 group(s) of duplicates among {count} text(s), 2 with warnings" in lines
    assert sorted(line.split(" ", 2)[2] for line in lines if line.startswith("group ")) == [
        "(exact, 2 texts)",
        "(near, 2 texts)",
    ]
    summary = json.loads(lines[-1])
    assert summary["unreadable"] == [] and summary["images"] == count
    member_lines = [line for line in lines if line.startswith("  ") and "\t" in line]
    assert member_lines and all(
        len(line.split("\t")) >= 4 for line in member_lines
    )  # each text's first words
    _no_images("\n".join(lines[:-1]) + result.stderr)

    result = run_cli("label-errors", str(project), "--folds", "4", "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [*result.stderr.strip().splitlines(), result.stdout.strip()]
    head = next(line for line in lines if "suspected label error(s) among " in line)
    assert head.startswith(f"{len(json.loads(lines[-1])['suspects'])} suspected label error(s) among ")
    assert f" {count} labelled text(s) (4 folds" in head
    assert "\tmoney\tweather\tweather.csv#4\n" in result.stderr  # the flipped text, its true class suggested
    _no_images("\n".join(lines[:-1]) + result.stderr)

    result = run_cli("label-errors", str(project), "--folds", "30")
    assert result.returncode == 2
    assert "30 folds need at least 30 labelled texts per class" in result.stderr
    _no_images(result.stderr)


def test_audit_of_a_text_run_checks_labels_and_leaks_and_speaks_of_texts(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    project, run_dir = copy_text_project(tmp_path_factory)
    plant_copies(project, (EXACT,))
    out = tmp_path / "bundle.zip"
    result = run_cli("audit", str(run_dir), "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    assert (
        line.startswith(f"wrote {out}: ")
        and " labelled text hash(es) (train, validation, test), accuracy " in line
    )
    assert " text(s) of the test split, 1 leak warning(s), label check " in line
    assert "not run" not in line
    _no_images(line)
