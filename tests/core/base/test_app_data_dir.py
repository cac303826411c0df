"""The application's data folder: where it is, and what is said when it cannot be made."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.base.errors import plain_message
from dmtl_studio.core.base.paths import AppDataError, app_data_dir


@pytest.mark.parametrize("xdg", ["", "relative/dir"])
def test_an_empty_or_relative_xdg_data_home_is_ignored(tmp_path: Path, monkeypatch, xdg: str) -> None:  # noqa: ANN001
    """As the XDG specification (and the installer's scripts) say; the data went under the current folder."""
    monkeypatch.delenv("DMTL_STUDIO_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    monkeypatch.chdir(tmp_path)
    assert app_data_dir() == tmp_path / "home" / ".local" / "share" / "dmtl-studio"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert app_data_dir() == tmp_path / "xdg" / "dmtl-studio"


def test_a_data_folder_that_cannot_be_made_is_said_with_the_way_out(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("DMTL_STUDIO_HOME", str(tmp_path / "afile"))
    with pytest.raises(AppDataError) as caught:
        app_data_dir()
    line = plain_message(caught.value)
    assert line.startswith(f"the application's data folder {tmp_path / 'afile'} cannot be made (")
    assert line.endswith("set DMTL_STUDIO_HOME to a writable folder (or start with a writable home folder)")
