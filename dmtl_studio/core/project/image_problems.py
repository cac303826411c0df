"""The errors of reading an image file: each carries a reason a person can read."""

from __future__ import annotations


class ImageProblem(Exception):
    """A file that cannot be used as an image; ``str(exc)`` is a reason a person can read."""


class FileProblem(ImageProblem):
    """An image of a project that could not be read while working on it: which file, and why."""

    def __init__(self, message: str, path: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.path, self.reason = path, reason
