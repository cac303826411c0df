"""Label editing with undo and redo. Each action is one committed transaction in the project store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dmtl_studio.core.project.store import ProjectStore


@dataclass(frozen=True)
class LabelAction:
    """One user action: the labels before and after, per image."""

    description: str
    before: dict[int, str | None]
    after: dict[int, str | None]


class LabelEditor:
    """Assigns labels and splits through a store and keeps the history to undo and redo them.

    The history lives for the session; what is on disk is always the state after the last committed action.
    """

    def __init__(self, store: ProjectStore, limit: int = 1000) -> None:
        self.store = store
        self.limit = limit
        self._undo: list[LabelAction] = []
        self._redo: list[LabelAction] = []

    def assign(self, image_ids: Sequence[int], class_name: str | None) -> LabelAction | None:
        """Label ``image_ids`` as ``class_name`` (``None`` unlabels). Returns the action, or ``None`` if nothing
        changed."""
        before = self.store.labels_of(list(image_ids))
        after = {image_id: class_name for image_id in before}
        if before == after:
            return None
        what = (
            f"label {len(after)} image(s) as {class_name}" if class_name else f"unlabel {len(after)} image(s)"
        )
        action = LabelAction(what, before, after)
        self.store.set_labels(action.after)
        self._undo.append(action)
        del self._undo[: -self.limit]
        self._redo.clear()
        return action

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> LabelAction | None:
        if not self._undo:
            return None
        action = self._undo.pop()
        self.store.set_labels(action.before)
        self._redo.append(action)
        return action

    def redo(self) -> LabelAction | None:
        if not self._redo:
            return None
        action = self._redo.pop()
        self.store.set_labels(action.after)
        self._undo.append(action)
        return action

    def clear_history(self) -> None:
        """Forget the history (after class renames/merges/deletes, whose names it would refer to)."""
        self._undo.clear()
        self._redo.clear()
