"""The command line's progress bar: drawn for work to count, never as an empty 0/0."""

from __future__ import annotations

import pytest

from dmtl_studio import cli


def test_a_bar_with_nothing_to_count_is_not_drawn(capsys: pytest.CaptureFixture[str]) -> None:
    bar = cli._Progress("evaluate")
    bar.update(0, 0)
    assert capsys.readouterr().err == ""
    bar.update(3, 3)
    assert "] 3/3" in capsys.readouterr().err
