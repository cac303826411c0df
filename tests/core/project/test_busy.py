"""The small records of who has a project open: never in the way, never left empty."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from dmtl_studio.core.project import busy


def test_a_record_that_cannot_be_written_leaves_no_empty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = Path.write_text

    def disk_full(self: Path, *args: object, **kwargs: object) -> int:
        real_write(self, "")  # the file is made, then the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    assert busy.register_owner(tmp_path) is None
    assert list((tmp_path / busy.OWNERS_DIR).iterdir()) == []


def test_a_record_names_this_process(tmp_path: Path) -> None:
    path = busy.register_owner(tmp_path)
    assert path is not None and path.read_text(encoding="utf-8").startswith('{"pid": ')
