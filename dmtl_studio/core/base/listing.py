"""Long lists said in a bounded number of lines (an import's problems and notes, in the CLI and the window)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def capped_lines(
    title: str, rows: Sequence[tuple[str, str]], limit: int, describe: Callable[[str], str] = str
) -> list[str]:
    """``"title: describe(key): text"`` for the first ``limit`` of ``rows`` (``(key, text)`` pairs), then
    ``"… and N more title(s)"`` when there were more."""
    lines = [f"{title}: {describe(key)}: {text}" for key, text in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit} more {title}(s)")
    return lines
