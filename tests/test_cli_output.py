"""The folders an output command makes: said when it succeeds, removed again when it fails, refused under a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.cli_output import output_folders
from dmtl_studio.core.base.fileio import OutputExistsError


def test_made_folders_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports" / "today" / "r.html"
    with output_folders(out):
        out.parent.mkdir(parents=True)
        out.write_text("report")
    said = capsys.readouterr().err
    assert (
        said
        == f"note: created the folder {tmp_path / 'reports'} (down to {out.parent}), which did not exist\n"
    )
    with output_folders(out.parent / "again.html"):  # its folder is there now: nothing to say
        (out.parent / "again.html").write_text("report")
    assert capsys.readouterr().err == ""


def test_a_failed_command_takes_back_the_empty_folders_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kept").mkdir()
    out = tmp_path / "kept" / "new" / "deeper" / "p.csv"
    with pytest.raises(OSError, match="disk full"), output_folders(out):
        out.parent.mkdir(parents=True)
        raise OSError("disk full")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept"]  # the folder that was there stays
    assert capsys.readouterr().err == ""
    # A folder that holds something when the command fails is left with it.
    with pytest.raises(OSError), output_folders(out):
        out.parent.mkdir(parents=True)
        (out.parent / "part.csv").write_text("half")
        raise OSError("stopped")
    assert (out.parent / "part.csv").is_file()


@pytest.mark.parametrize("under", ["afile/x.csv", "afile/sub/x.csv"])
def test_a_file_where_a_folder_must_be_is_refused_first(tmp_path: Path, under: str) -> None:
    (tmp_path / "afile").write_text("a file")
    ran = []
    with (
        pytest.raises(OutputExistsError, match="afile is a file, not a folder"),
        output_folders(tmp_path / under),
    ):
        ran.append(True)
    assert not ran  # refused before the command's work


def test_paths_with_control_characters_are_printed_on_one_line() -> None:
    from dmtl_studio.cli import _printable

    assert _printable("/data/new\nline/0.png") == "/data/new\\nline/0.png"
    assert _printable("/data/tab\there.png") == "/data/tab\\there.png"
    assert _printable("/data/café/ü.png") == "/data/café/ü.png"  # letters stay as they are
    assert _printable("/data/caf\udce9.png") == "/data/caf\\udce9.png"  # a name that is not UTF-8 prints too
    assert _printable("/shots/10.12.13\u202fAM.png") == "/shots/10.12.13\u202fAM.png"  # macOS's narrow space
    assert _printable("/a/\u3000b") == "/a/\u3000b" and _printable("/a/\u202eb") == "/a/\\u202eb"
