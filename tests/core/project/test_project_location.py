"""Where a new project may be made: the rules behind the New project form."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.project.location import check_new_project_folder
from dmtl_studio.core.project.store import ProjectStore


def test_an_empty_or_unusable_name_is_refused(tmp_path: Path) -> None:
    for name in ("", "   ", "a/b", "what?", "..", "con:"):
        check = check_new_project_folder(tmp_path, name)
        assert check.problem is not None, name
    assert not any(tmp_path.iterdir())  # nothing was made while checking


def test_a_folder_that_does_not_exist_yet_is_accepted(tmp_path: Path) -> None:
    check = check_new_project_folder(tmp_path / "not" / "yet", " leaf spots ")
    assert check.problem is None and not check.needs_confirmation
    assert check.folder == tmp_path / "not" / "yet" / "leaf spots"


def test_a_folder_with_files_needs_confirmation_and_a_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    # What the system leaves in a folder is no one's data: nothing to ask about (h29: ".DS_Store" counted).
    for clutter in (".DS_Store", "Thumbs.db", "desktop.ini", ".git"):
        (tmp_path / "busy" / clutter).write_text("")
    assert not check_new_project_folder(tmp_path, "busy").needs_confirmation
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    check = check_new_project_folder(tmp_path, "busy")
    assert check.problem is None and check.needs_confirmation and check.existing_entries == 1
    ProjectStore.create(tmp_path / "old").close()
    check = check_new_project_folder(tmp_path, "old")
    assert check.problem is not None and "already holds a project" in check.problem
    (tmp_path / "file").write_text("x")
    assert check_new_project_folder(tmp_path / "file", "p").problem is not None  # location is a file
    assert check_new_project_folder(tmp_path, "file").problem is not None  # name is a file
