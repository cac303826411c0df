"""Label imports that keep what they do not change, report case variants, and class renames from the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from dmtl_studio.core.project.store import ProjectStore
from tests.e2e.cli import run_cli


def test_import_csv_counts_keeps_empty_cells_and_rename_merges_case_variants(
    tmp_path: Path, project: Path
) -> None:
    with ProjectStore.open(project) as store:
        records = store.images(usable_only=True)
        kept = next(r for r in records if r.label == "square")
        new = next(r for r in records if r.label is None)
        circles = sum(1 for r in records if r.label == "circle")
    with (tmp_path / "l.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([("path", "label"), (kept.path, ""), (new.path, "Circle")])

    result = run_cli("labels", "import-csv", str(project), str(tmp_path / "l.csv"))
    assert result.returncode == 0, result.stderr
    assert "labelled 1 image(s) (1 changed, 0 unchanged)" in result.stdout
    assert "1 row(s) with an empty label" in result.stdout
    assert "'Circle' differs from class 'circle' only in case" in result.stderr
    with ProjectStore.open(project) as store:
        assert store.labels_of([kept.id, new.id]) == {kept.id: "square", new.id: "Circle"}
        assert store.images_by_id([new.id])[0].split is not None
    blocked = run_cli("labels", "export-folders", str(project), str(tmp_path / "out"))
    assert blocked.returncode == 2 and "differ only in case" in blocked.stderr

    refused = run_cli(
        "labels", "rename", str(project), "Circle", "circle"
    )  # a merge is asked for, not guessed
    assert (
        refused.returncode == 2
        and "a class named 'circle' already exists: to move every item" in refused.stderr
    )
    assert "add --merge" in refused.stderr
    result = run_cli("labels", "rename", str(project), "Circle", "circle", "--merge")
    assert result.returncode == 0, result.stderr
    assert "merged class 'Circle' into 'circle': 1 item(s) moved" in result.stdout
    result = run_cli("labels", "rename", str(project), "circle", "round")
    assert result.returncode == 0 and "renamed class 'circle' to 'round'" in result.stdout
    with ProjectStore.open(project) as store:
        assert "Circle" not in store.class_names() and "circle" not in store.class_names()
        assert store.class_counts()["round"]["total"] == circles + 1
    same = run_cli("labels", "rename", str(project), "round", "round")
    assert same.returncode == 0 and "nothing to do: the class is already called 'round'" in same.stdout
    with ProjectStore.open(project) as store:  # no rename logged for older runs to translate
        assert [old for old, _, _ in json.loads(store.get_meta("class_renames"))] == ["Circle", "circle"]
    missing = run_cli("labels", "rename", str(project), "nope", "x")
    assert missing.returncode == 2 and "there is no class 'nope'" in missing.stderr
    alone = run_cli("labels", "rename", str(project), "round")
    assert alone.returncode == 2 and "needs the class and its new name" in alone.stderr
    # A new name that starts with "-" reads as an option: the refusal says how to give it (h30).
    dash = run_cli("labels", "rename", str(project), "round", "-dash")
    assert (
        dash.returncode == 2
        and "(if -dash is a value, put it after '--', which ends the options: … -- -dash)" in dash.stderr
    )
    typo = run_cli(
        "labels", "rename", str(project), "round", "oval", "--mrege"
    )  # a mistyped option: no such hint
    assert (
        typo.returncode == 2
        and "unrecognized arguments: --mrege" in typo.stderr
        and "is a value" not in typo.stderr
    )
    dash = run_cli("labels", "rename", str(project), "round", "--", "-dash")
    assert dash.returncode == 0 and "renamed class 'round' to '-dash'" in dash.stdout
    assert run_cli("labels", "rename", str(project), "--", "-dash", "round").returncode == 0
    assert run_cli("labels", "export-folders", str(project), str(tmp_path / "out")).returncode == 0
