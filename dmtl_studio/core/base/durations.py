"""Durations as a person says them, for notes and the command line: "40 s", "1 min 12 s", "25 min", "1 h 20 min".

The window's progress bar shows a ticking clock instead (``1:05:09``), its own format.
"""

from __future__ import annotations


def spoken_duration(seconds: float) -> str:
    """``seconds`` (≥ 0; a negative value reads as 0) in words, as precise as a person needs them.

    Under a minute to the second ("1 s" at least), under ten minutes to the second after the minutes
    ("1 min 24 s": 84 s and 60 s must not both read "1 min"), then to the minute ("25 min", "1 h 20 min").
    """
    total = max(0, round(seconds))
    if total < 60:
        return f"{max(1, total)} s"
    if total < 600:
        minutes, secs = divmod(total, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
