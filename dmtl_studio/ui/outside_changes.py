"""Noticing changes another process made to the open project (a command, another window): the window reads the
items again instead of showing, and acting on, what they were.

SQLite's ``PRAGMA data_version`` tells, for almost nothing, whether another connection committed since the last
look; only then are the items as stored compared with the items as shown (one query, about 20 ms for 20,000
items), so that changes which leave them as shown (a run's epochs written by a training in another terminal) do
not disturb the grid, and the window's own labels never count as changes made elsewhere.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.store import ProjectStore

log = logging.getLogger(__name__)

#: How often the open project is looked at (milliseconds).
CHECK_INTERVAL_MS = 1500
#: What a browser shows of the project: ``({id: (label, split, has a problem)}, {class: colour})``.
Shown = tuple[dict[int, tuple[str | None, str | None, bool]], dict[str, str]]


class OutsideChanges(QObject):
    """Looks at the open project every :data:`CHECK_INTERVAL_MS` and emits :attr:`changed` when another
    connection left its items or classes otherwise than ``shown()`` shows them.

    ``paused()`` is asked before each look: true while the window's own workers write the items (an import), whose
    end reads everything again anyway.
    """

    changed = Signal()
    #: Runs were added, removed, or ended elsewhere (a training in another terminal).
    runs_changed = Signal()

    def __init__(
        self, shown: Callable[[], Shown], paused: Callable[[], bool], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._shown = shown
        self._paused = paused
        self._store: ProjectStore | None = None
        self._version: int | None = None
        self._runs: list[tuple[int, str]] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_INTERVAL_MS)
        self.timer.timeout.connect(self.check)

    def watch(self, store: ProjectStore | None) -> None:
        """Look at ``store`` from now on (``None``: at nothing)."""
        self._store, self._version, self._runs = store, None, None
        if store is None:
            self.timer.stop()
        else:
            self._version = self._data_version()
            try:
                self._runs = store.run_states()
            except (sqlite3.Error, ProjectError) as exc:
                log.debug("cannot look at the project: %s", exc)
            self.timer.start()

    def _data_version(self) -> int | None:
        try:
            return self._store.data_version() if self._store is not None else None
        except (sqlite3.Error, ProjectError) as exc:  # a disk gone: the next look tries again
            log.debug("cannot look at the project: %s", exc)
            return None

    def check(self) -> bool:
        """Look once; emit :attr:`changed` (and return ``True``) when the items shown differ from the stored ones."""
        if self._store is None or self._paused():
            return False
        version = self._data_version()
        if version is None or version == self._version:
            return False
        try:
            stored = (self._store.item_states(), self._store.class_colors())
            runs = self._store.run_states()
        except (sqlite3.Error, ProjectError) as exc:
            log.debug("cannot look at the project: %s", exc)
            return False
        self._version = version
        if runs != self._runs:
            self._runs = runs
            self.runs_changed.emit()
        if stored == self._shown():
            return False
        self.changed.emit()
        return True
