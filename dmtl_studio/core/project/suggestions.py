"""Model-assisted labelling: suggested classes for unlabelled images, and the order to review them in.

The "uncertain first" order is an active-learning queue: the images the model is least sure about are the ones
whose human label teaches the next run the most. Uncertainty is the entropy of the class probabilities, or
one minus the margin between the two most probable classes. numpy only (no torch, no Qt); the model runs in
:mod:`dmtl_studio.core.evaluation.inference`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dmtl_studio.core.project.labels import LabelAction, LabelEditor

METHODS = ("entropy", "margin")


def uncertainty(probabilities: np.ndarray, method: str = "entropy") -> np.ndarray:
    """Uncertainty per row of class probabilities; larger means less sure.

    ``entropy``: ``-sum p log p`` divided by ``log(classes)``, in [0, 1]. ``margin``: ``1 - (p1 - p2)`` for the
    two largest probabilities, in [0, 1].
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError("probabilities must be a 2-D array (images x classes)")
    if probs.shape[0] == 0:
        return np.zeros(0)
    if method == "entropy":
        clipped = np.clip(probs, 1e-12, 1.0)
        entropy = -(probs * np.log(clipped)).sum(axis=1)
        return entropy / np.log(probs.shape[1]) if probs.shape[1] > 1 else entropy
    if method == "margin":
        if probs.shape[1] < 2:
            return np.zeros(probs.shape[0])
        top2 = np.sort(probs, axis=1)[:, -2:]
        return 1.0 - (top2[:, 1] - top2[:, 0])
    raise ValueError(f"unknown uncertainty method {method!r}; methods are {', '.join(METHODS)}")


def uncertain_first(probabilities: np.ndarray, method: str = "entropy") -> np.ndarray:
    """Row indices ordered from the most to the least uncertain (ties keep their original order)."""
    return np.argsort(-uncertainty(probabilities, method), kind="stable")


@dataclass(frozen=True)
class Suggestion:
    image_id: int
    label: str
    confidence: float
    uncertainty: float


@dataclass(frozen=True)
class SuggestionSet:
    """Suggestions of one run for a project's unlabelled images, in "uncertain first" order."""

    run_dir: str
    run_name: str
    classes: tuple[str, ...]
    method: str
    suggestions: tuple[Suggestion, ...]
    unreadable: tuple[tuple[str, str], ...] = ()

    def by_id(self) -> dict[int, Suggestion]:
        return {s.image_id: s for s in self.suggestions}

    def queue(self) -> list[int]:
        """Image ids, the most uncertain first."""
        return [s.image_id for s in self.suggestions]


def build_suggestions(
    run_dir: str,
    run_name: str,
    classes: Iterable[str],
    image_ids: Iterable[int],
    probabilities: np.ndarray,
    method: str = "entropy",
    unreadable: Iterable[tuple[str, str]] = (),
) -> SuggestionSet:
    """Suggestions from class probabilities (rows aligned with ``image_ids``), uncertain first."""
    classes = tuple(classes)
    ids = list(image_ids)
    probs = np.asarray(probabilities, dtype=np.float64).reshape(len(ids), len(classes))
    scores = uncertainty(probs, method)
    order = uncertain_first(probs, method)
    suggestions = tuple(
        Suggestion(
            image_id=int(ids[k]),
            label=classes[int(probs[k].argmax())],
            confidence=float(probs[k].max()),
            uncertainty=float(scores[k]),
        )
        for k in order
    )
    return SuggestionSet(str(run_dir), run_name, classes, method, suggestions, tuple(unreadable))


def accept_suggestions(editor: LabelEditor, suggestions: Iterable[Suggestion]) -> list[LabelAction]:
    """Record suggested classes as human labels, one undoable action per class.

    Images that were labelled meanwhile keep their label: a suggestion never overwrites a person's decision.
    Accepted images go to the training split: a label a model proposed would flatter that model (and its
    successors) if it were used to score them.
    """
    wanted = list(suggestions)
    current = editor.store.labels_of([s.image_id for s in wanted])
    by_class: dict[str, list[int]] = {}
    for suggestion in wanted:
        if current.get(suggestion.image_id) is None:
            by_class.setdefault(suggestion.label, []).append(suggestion.image_id)
    unassigned = {
        record.id
        for record in editor.store.images_by_id([i for ids in by_class.values() for i in ids])
        if record.split is None
    }
    if unassigned:
        editor.store.set_splits(dict.fromkeys(unassigned, "train"))
    actions = []
    for label, ids in by_class.items():
        action = editor.assign(ids, label)
        if action is not None:
            actions.append(action)
    return actions
