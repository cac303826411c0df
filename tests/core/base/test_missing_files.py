"""Which files of a list are gone, looked at folder by folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmtl_studio.core.base.cancel import Cancelled
from dmtl_studio.core.base.missing_files import missing_files


@pytest.fixture
def tree(tmp_path: Path) -> list[str]:
    for folder in ("a", "b/c", "d"):
        (tmp_path / folder).mkdir(parents=True)
        for name in ("1.png", "2.png"):
            (tmp_path / folder / name).write_bytes(b"x")
    return [str(tmp_path / folder / name) for folder in ("a", "b/c", "d") for name in ("1.png", "2.png")]


def test_gone_files_keep_their_order_and_name_the_highest_gone_folder(
    tree: list[str], tmp_path: Path
) -> None:
    assert missing_files(tree).paths == () and missing_files(tree).folders == ()
    (tmp_path / "b").rename(tmp_path / "b-moved")  # b/c goes with b: b is named
    os.remove(tree[4])  # deleted alone: its folder d is there
    (tmp_path / "a" / "2.png").unlink()
    (tmp_path / "a" / "2.png").mkdir()  # a folder where the file was: gone too
    found = missing_files(tree)
    assert found.paths == (tree[1], tree[2], tree[3], tree[4])
    assert found.folders == ((str(tmp_path / "b"), 2),)


def test_a_file_or_folder_this_user_may_not_read_is_not_gone(
    tree: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder made unreadable was said to be moved (h31); reading its files says why they cannot be used."""
    real = os.stat
    locked = str(tmp_path / "d")

    def stat(path, *args, **kwargs):  # noqa: ANN001, ANN202
        if os.fspath(path).startswith(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    assert missing_files(tree).paths == ()


def test_a_look_stopped_part_way_raises() -> None:
    asked = iter([False, True])
    with pytest.raises(Cancelled):
        missing_files(["/nowhere/a/1.png", "/nowhere/b/1.png"], lambda: next(asked, True))
