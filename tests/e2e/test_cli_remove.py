"""``dmtl-studio remove``: named images, a folder, gone files; a dry run that changes nothing; a path that names
nothing is an error."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.store import ProjectStore
from tests.e2e.cli import run_cli


def test_remove_from_the_command_line(tmp_path: Path) -> None:
    images = write_shapes_folder(tmp_path / "images", 3, seed=2, size=32)
    project = tmp_path / "project"
    assert run_cli("import", str(project), str(images)).returncode == 0
    (images / "circle" / "circle_000.png").unlink()

    nothing = run_cli("remove", str(project))
    assert nothing.returncode == 2 and "--missing" in nothing.stderr
    dry = run_cli("remove", str(project), "--missing", "--dry-run")
    assert (
        dry.returncode == 0
        and "circle_000.png (circle)" in dry.stdout
        and "would remove 1 image(s)" in dry.stdout
    )
    with ProjectStore.open(project) as store:
        assert store.image_count() == 9 and store.problems() == []  # a dry run marks nothing either

    # Options and paths in any order; a folder names every image below it.
    done = run_cli("remove", str(project), "--missing", str(images / "square"))
    assert done.returncode == 0, done.stderr
    assert "removed 4 image(s) from the project, 4 of them labelled" in done.stdout
    assert "labels import-csv" in done.stderr and "no file was deleted from disk" in done.stdout
    log = next((project / "removed").glob("removed-*.csv"))
    back = run_cli(
        "labels", "import-csv", str(project), str(log)
    )  # the files are there: back, in their split
    assert back.returncode == 0 and "3 image(s) put in the split the file's split column gives" in back.stdout
    assert "1 row(s) skipped, no such file" in back.stderr  # the one deleted from disk
    with ProjectStore.open(project) as store:
        assert store.image_count() == 8
    done = run_cli("remove", str(project), str(images / "square"))
    assert done.returncode == 0, done.stderr
    with ProjectStore.open(project) as store:
        assert sorted(r.label for r in store.images()) == [
            "circle",
            "circle",
            "triangle",
            "triangle",
            "triangle",
        ]
    assert len(list((images / "square").iterdir())) == 3  # the files stay

    unknown = run_cli("remove", str(project), str(tmp_path / "nowhere.png"))
    assert unknown.returncode == 2 and "no image of the project is at" in unknown.stderr
    assert "dmtl-studio remove: no image of the project matches" in unknown.stderr and not unknown.stdout


def test_a_label_file_none_of_whose_rows_apply_is_an_error(tmp_path: Path) -> None:
    images = write_shapes_folder(tmp_path / "images", 2, seed=3, size=32)
    project = tmp_path / "project"
    assert run_cli("import", str(project), str(images)).returncode == 0
    table = tmp_path / "gone.csv"
    table.write_text(f"path,label\n{tmp_path / 'gone.png'},circle\n", encoding="utf-8")
    result = run_cli("labels", "import-csv", str(project), str(table))
    assert result.returncode == 2 and "none of the 1 row(s) could be applied" in result.stderr
