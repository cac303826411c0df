"""Label and class editing with undo and redo, and the rules of what can be labelled.

Each action is one committed transaction in the project store. The rules a browser applies live here, so that
every view (and the tests) asks the same place: a problem file cannot be labelled, an image needs a label when it
is usable and has none, a newly labelled image joins a split at once, class names compare without surrounding
spaces and case (and in Unicode NFC form), and a change to the classes forgets the label history (which names them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from dmtl_studio.core.project.hand_marks import mark_taken_off
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.splits import assign_splits
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.validation import normal_class_name

T = TypeVar("T")


@dataclass(frozen=True)
class LabelAction:
    """One user action: the labels before and after, per image."""

    description: str
    before: dict[int, str | None]
    after: dict[int, str | None]


def can_label(record: ImageRecord) -> bool:
    """Whether an image can be given a label: only a usable file can (a problem file has no pixels to learn).

    Parameters
    ----------
    record
        The image.

    Returns
    -------
    bool
        ``True`` for a file without a problem.
    """
    return record.problem is None


def needs_label(record: ImageRecord) -> bool:
    """Whether an image counts as unlabelled: usable and without a label (what the labelling queue visits).

    Parameters
    ----------
    record
        The image.

    Returns
    -------
    bool
        ``True`` for a usable image without a label.
    """
    return record.label is None and record.problem is None


def next_unlabelled(records: Sequence[ImageRecord], current: int) -> int | None:
    """The position of the next image that needs a label after ``current``, wrapping round to the start.

    Parameters
    ----------
    records
        The images in the order shown.
    current
        The position of the current image (``-1``: none).

    Returns
    -------
    int or None
        The position, or ``None`` when no other image needs a label.
    """
    order = list(range(current + 1, len(records))) + list(range(0, max(0, current)))
    return next((row for row in order if needs_label(records[row])), None)


def existing_class(store: ProjectStore, name: str) -> str | None:
    """The project's class that ``name`` would duplicate: names compare without surrounding spaces and case.

    Parameters
    ----------
    store
        The project.
    name
        A class name as typed.

    Returns
    -------
    str or None
        The existing class's own spelling, or ``None`` when ``name`` is new.
    """
    existing = {normal_class_name(c).casefold(): c for c in store.class_names()}
    return existing.get(normal_class_name(name).casefold())


def relabel_targets(
    ids: Iterable[int],
    doubted: Mapping[int, tuple[str | None, str | None]],
    labels: Mapping[int, str | None],
) -> dict[str, list[int]]:
    """Which suspected label errors to give their suggested class, by class.

    An image is relabelled only while it still carries the label that was doubted: one relabelled (or
    unlabelled) by hand since keeps the user's word.

    Parameters
    ----------
    ids
        The images to relabel.
    doubted
        Per image, the doubted label and the suggested class.
    labels
        Each image's label now.

    Returns
    -------
    dict
        ``{suggested class: [image ids]}``, in the order of ``ids``.
    """
    targets: dict[str, list[int]] = {}
    for image_id in ids:
        given, suggested = doubted.get(image_id, (None, None))
        if suggested is not None and labels.get(image_id) == given:
            targets.setdefault(suggested, []).append(image_id)
    return targets


class LabelEditor:
    """Assigns labels and changes classes through a store, and keeps the history to undo and redo labels.

    The history lives for the session; what is on disk is always the state after the last committed action. An
    undo or redo changes only the images that still carry the labels it expects: a label changed since by another
    window or a command is never set back (:attr:`changed_elsewhere`).
    Every labelling (assign, undo, redo) gives newly labelled images without a split one at once, keeping each
    class's proportions; :attr:`split_warnings` holds that assignment's warnings (``None`` after an action that
    needed none). Renaming, merging or deleting classes forgets the history, whose actions name classes that may
    no longer exist; adding a class or changing its colour keeps it.
    """

    def __init__(self, store: ProjectStore, limit: int = 1000) -> None:
        self.store = store
        self.limit = limit
        self._undo: list[LabelAction] = []
        self._redo: list[LabelAction] = []
        self.split_warnings: tuple[str, ...] | None = None
        #: The images the last undo or redo left as they were: changed elsewhere since the action.
        self.changed_elsewhere: tuple[int, ...] = ()

    def _set_labels(self, labels: dict[int, str | None], before: Mapping[int, str | None]) -> None:
        """Store ``labels`` over ``before`` (the labels they replace, as the caller read them)."""
        self.store.set_labels(labels)
        self.split_warnings = None
        # The items labelled now, and those whose label was taken off (they had one).
        records = self.store.images_by_id(
            [i for i, label in labels.items() if label is not None or before.get(i)]
        )
        if any(labels[record.id] is not None and record.split is None for record in records):
            self.split_warnings = tuple(assign_splits(self.store).warnings)
        # A label taken off by hand stays off whatever an import's folder or column says (h35); labelled again, not.
        mark_taken_off(
            self.store,
            [r.sha256 for r in records if labels[r.id] is None],
            [r.sha256 for r in records if labels[r.id] is not None],
        )

    def assign(self, image_ids: Sequence[int], class_name: str | None) -> LabelAction | None:
        """Label ``image_ids`` as ``class_name`` (``None`` unlabels). Returns the action, or ``None`` if nothing
        changed."""
        class_name = normal_class_name(class_name) if class_name else None
        before = self.store.labels_of(list(image_ids))
        after = {image_id: class_name for image_id in before}
        items = "text(s)" if self.store.kind == "text" else "image(s)"
        what = (
            f"label {len(after)} {items} as {class_name}" if class_name else f"unlabel {len(after)} {items}"
        )
        return self.apply(after, what)

    def apply(self, labels: Mapping[int, str | None], description: str) -> LabelAction | None:
        """Give each image its own label (``None`` unlabels) as one action that can be undone, with the same
        rules as :meth:`assign`: names in NFC form, newly labelled images get a split. The caller leaves out
        problem files (:func:`can_label`).

        Returns
        -------
        LabelAction or None
            The action, or ``None`` if nothing changed.

        Raises
        ------
        ProjectError
            A label cannot be a class name.
        """
        after = {image_id: normal_class_name(name) if name else None for image_id, name in labels.items()}
        before = self.store.labels_of(list(after))
        if before == after:
            return None
        action = LabelAction(description, before, after)
        self._set_labels(action.after, before)
        self._undo.append(action)
        del self._undo[: -self.limit]
        self._redo.clear()
        return action

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> LabelAction | None:
        """Undo the last action on the images that still carry the labels it gave; see :meth:`_replay`."""
        return self._replay(self._undo, self._redo, back=True)

    def redo(self) -> LabelAction | None:
        """Redo the last undone action on the images that still carry the labels its undo gave (:meth:`_replay`)."""
        return self._replay(self._redo, self._undo, back=False)

    def _replay(self, source: list[LabelAction], target: list[LabelAction], back: bool) -> LabelAction | None:
        """Take the last action of ``source``, undo it (``back``) or redo it, and move what was done to ``target``.

        Another window or a command may have labelled, renamed or removed some of its images since: those are
        left as they are now, never set back over the other change, and listed in :attr:`changed_elsewhere`.

        Returns
        -------
        LabelAction or None
            ``None`` when ``source`` is empty; else the part of the action that was done (its ``before`` and
            ``after`` hold only those images, empty when all had changed elsewhere: nothing was done, and the
            action leaves the history).
        """
        self.changed_elsewhere = ()
        if not source:
            return None
        action = source.pop()
        expected, wanted = (action.after, action.before) if back else (action.before, action.after)
        current = self.store.labels_of(list(expected))
        done = [i for i in expected if i in current and current[i] == expected[i]]
        self.changed_elsewhere = tuple(i for i in expected if i not in done)
        part = LabelAction(
            action.description, {i: action.before[i] for i in done}, {i: action.after[i] for i in done}
        )
        self.split_warnings = None
        if done:
            self._set_labels({i: wanted[i] for i in done}, current)
            target.append(part)
        return part

    def forget(self, image_ids: Sequence[int]) -> None:
        """Take the items ``image_ids`` (removed from the project) out of every action of the history; an action
        left with no item goes. The rest of the history stays undoable (a removal cleared all of it, h35)."""
        gone = set(image_ids)
        for stack in (self._undo, self._redo):
            kept = []
            for a in stack:
                after = {i: v for i, v in a.after.items() if i not in gone}
                removed = len(a.after) - len(after)
                # Its description counted the items it changed then ("label 5 image(s)"): said, as it changes fewer.
                description = f"{a.description} ({removed} since removed)" if removed else a.description
                kept.append(
                    LabelAction(description, {i: v for i, v in a.before.items() if i not in gone}, after)
                )
            stack[:] = [a for a in kept if a.after]

    def clear_history(self) -> None:
        """Forget the history (after class renames/merges/deletes, whose names it would refer to)."""
        self._undo.clear()
        self._redo.clear()

    def _renaming(self, change: Callable[[], T]) -> T:
        result = change()  # a refused change (ProjectError) keeps the history
        self.clear_history()
        return result

    def rename_class(self, old: str, new: str) -> None:
        """Rename a class and forget the label history.

        Raises
        ------
        ProjectError
            ``new`` is not a valid name, or another class has it.
        """
        if new == old:
            return  # nothing changes: the history stays
        self._renaming(lambda: self.store.rename_class(old, new))

    def merge_classes(self, sources: Sequence[str], target: str) -> int:
        """Move the images of ``sources`` into ``target``, delete ``sources`` and forget the label history.

        Returns
        -------
        int
            The number of images moved.

        Raises
        ------
        ProjectError
            ``target`` is not a valid class name.
        """
        return self._renaming(lambda: self.store.merge_classes(sources, target))

    def delete_class(self, name: str) -> int:
        """Delete a class (its images become unlabelled, no file is deleted) and forget the label history.

        Returns
        -------
        int
            The number of images unlabelled.
        """
        return self._renaming(lambda: self.store.delete_class(name))
