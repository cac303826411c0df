"""The errors a run raises: each message says what to do."""

from __future__ import annotations

from typing import Any


class TrainingError(Exception):
    """A run that cannot start or go on; the message says what to do."""


class NonFiniteLoss(TrainingError):
    """The loss became NaN or infinite; no weights of that step were kept."""


class RunInterrupted(KeyboardInterrupt):
    """The person interrupted a run (Ctrl-C): the run is kept with status ``"interrupted"`` when an epoch was
    saved, so it can be continued; ``summary`` is its :class:`~dmtl_studio.core.training.events.RunSummary`."""

    def __init__(self, summary: Any) -> None:
        super().__init__("the run was interrupted")
        self.summary = summary
