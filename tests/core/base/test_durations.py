"""Durations in words: precise enough that two different durations near a minute never read the same."""

from __future__ import annotations

from dmtl_studio.core.base.durations import spoken_duration


def test_durations_read_as_a_person_says_them() -> None:
    cases = {
        0: "1 s",
        0.4: "1 s",
        -3: "1 s",
        40.4: "40 s",
        59.4: "59 s",
        60: "1 min",
        84: "1 min 24 s",
        599: "9 min 59 s",
        600: "10 min",
        1529: "25 min",
        4800: "1 h 20 min",
        7199: "2 h 0 min",
    }
    assert {s: spoken_duration(s) for s in cases} == cases
    assert spoken_duration(84) != spoken_duration(60)
