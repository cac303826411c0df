"""The errors a project store raises; each message says in plain words why and what to do."""

from __future__ import annotations


class ProjectError(Exception):
    """A project that cannot be opened or changed; the message says why in plain words."""


class ProjectBusyError(ProjectError):
    """Another process kept the project's database locked for longer than the product waits."""


class UnknownSchemaError(ProjectError):
    """The database holds triggers, views, tables or indexes the product did not create; ``objects`` names
    them as ``(type, name)``. The project is refused untouched unless they are dropped with consent."""

    def __init__(self, message: str, objects: tuple[tuple[str, str], ...]) -> None:
        super().__init__(message)
        self.objects = objects
