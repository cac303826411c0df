"""The errors a run raises: each message says what to do."""

from __future__ import annotations


class TrainingError(Exception):
    """A run that cannot start or go on; the message says what to do."""


class NonFiniteLoss(TrainingError):
    """The loss became NaN or infinite; no weights of that step were kept."""
