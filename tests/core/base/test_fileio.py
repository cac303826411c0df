"""The one atomic writer: on a full disk it raises one plain error, keeps the earlier file and leaves no
temporary file; every other writer goes through it."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.base.fileio import FileWriteError, atomic_copy, atomic_write_bytes
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.thumbcache import ThumbnailCache
from tests.disk_faults import full_disk, user_files


def test_a_full_disk_keeps_the_earlier_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    def earlier(disk: Path) -> None:
        (disk / "report.html").write_bytes(b"the earlier report")

    with full_disk(tmp_path / "disk", free_kib=0, prepare=earlier) as disk:
        with pytest.raises(FileWriteError) as failed:
            atomic_write_bytes(disk / "report.html", b"x" * 200_000)
        assert failed.value.errno == errno.ENOSPC
        assert str(failed.value) == (
            f"could not write {disk / 'report.html'}: the disk is full; nothing was written there "
            "(the earlier file is kept)"
        )
        with pytest.raises(FileWriteError) as failed:
            atomic_copy(Path(__file__), disk / "copy.py")
        assert str(failed.value).endswith("the disk is full; nothing was written there")  # nothing was there
        assert user_files(disk) == ["report.html"]
        assert (disk / "report.html").read_bytes() == b"the earlier report"


def test_a_cache_write_on_a_full_disk_leaves_no_temporary_file(tmp_path: Path) -> None:
    images = write_shapes_folder(tmp_path / "images", 1, size=64)
    picture = next(images.rglob("*.png"))
    with full_disk(tmp_path / "project", free_kib=0) as project:
        image = ThumbnailCache(project, size=32).get(str(picture), None)
        assert isinstance(image, np.ndarray) and image.shape[2] == 3  # still shown, just not cached
        assert [p for p in project.rglob("*") if p.is_file() and not p.name.startswith(".filler")] == []


def test_generated_pictures_on_a_full_disk_fail_loudly(tmp_path: Path) -> None:
    with (
        full_disk(tmp_path / "disk", free_kib=0) as disk,
        pytest.raises(FileWriteError, match="disk is full"),
    ):
        write_shapes_folder(disk / "images", 2, size=64)


def test_a_missing_file_and_a_missing_folder_are_told_apart(tmp_path: Path) -> None:
    from dmtl_studio.core.base.fileio import describe_os_error

    def error_of(path: Path) -> OSError:
        try:
            path.open("rb")
        except OSError as exc:
            return exc
        raise AssertionError(f"{path} opened")

    assert describe_os_error(error_of(tmp_path / "weights.pth")) == "the file does not exist"
    assert describe_os_error(error_of(tmp_path / "gone" / "weights.pth")) == "the folder does not exist"
    assert describe_os_error(OSError(errno.ENOENT, "No such file")) == "the folder does not exist"  # unnamed


def test_a_project_that_cannot_be_created_leaves_no_empty_folder_and_says_a_path_is_too_long(
    tmp_path: Path,
) -> None:
    from dmtl_studio.core.project.errors import ProjectError
    from dmtl_studio.core.project.store import ProjectStore

    deep = tmp_path.joinpath(*["d" * 100] * 5) / "project"  # over SQLite's ~500-byte path
    with pytest.raises(ProjectError, match=r"its path is \d+ bytes; SQLite opens about 500 at most"):
        ProjectStore.create(deep)
    assert list(tmp_path.iterdir()) == []  # the folders made for it are gone
    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("x")
    with pytest.raises(ProjectError):
        ProjectStore.create(kept.joinpath(*["e" * 100] * 5))
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]  # a folder that was there stays
