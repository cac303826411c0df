"""``train --transfer auto`` on the command line: a text project is refused with the reason, nothing made."""

from __future__ import annotations

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
