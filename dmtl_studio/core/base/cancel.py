"""Cooperative cancellation: long work takes ``should_stop`` and checks it at safe boundaries."""

from __future__ import annotations

from collections.abc import Callable

ShouldStop = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside long work when ``should_stop()`` turned true; caught by the work's own entry point."""


def never_stop() -> bool:
    return False


def check(should_stop: ShouldStop) -> None:
    if should_stop():
        raise Cancelled
