"""Typed events: one handler per event kind, chosen by the event's type."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from dmtl_studio.core.training import crossval
from dmtl_studio.core.training.events import (
    EpochResult,
    EventHandlers,
    FoldResult,
    PhaseStarted,
    PreparationProgress,
    RunNotice,
    StepProgress,
)

EVENTS = {
    "step": StepProgress(1, 2, 1, 3, 0.5, 1e-3, 10.0),
    "preparation": PreparationProgress(done=1, total=4, seconds=0.1),
    "epoch": EpochResult(1, 2, 0.5, 0.8, 0.6, 0.7, 1e-3, confusion=np.eye(2)),
    "notice": RunNotice("resumed"),
    "fold": FoldResult(1, 2, 10, 5, 0.9, "/runs/cv-1"),
    "phase": PhaseStarted(2, 2, "full fine-tune"),
}


def test_every_event_reaches_only_the_handler_of_its_kind() -> None:
    assert set(EVENTS) == {f.name for f in fields(EventHandlers)}  # a handler for every kind
    seen: list[tuple[str, object]] = []
    handlers = EventHandlers(**{kind: (lambda e, k=kind: seen.append((k, e))) for kind in EVENTS})
    for event in EVENTS.values():
        handlers(event)
    assert seen == list(EVENTS.items())


def test_a_kind_without_a_handler_and_an_unknown_event_are_ignored() -> None:
    seen: list[object] = []
    handlers = EventHandlers(notice=seen.append)
    for event in (*EVENTS.values(), "not an event", None):
        handlers(event)
    assert seen == [EVENTS["notice"]]


def test_a_variant_adds_a_handler_and_keeps_the_others() -> None:
    seen: list[object] = []
    base = EventHandlers(step=seen.append)
    with_folds = replace(base, fold=seen.append)
    with_folds(EVENTS["fold"])
    with_folds(EVENTS["step"])
    base(EVENTS["fold"])
    assert seen == [EVENTS["fold"], EVENTS["step"]]


def test_cross_validation_reports_the_same_fold_result_type() -> None:
    assert crossval.FoldResult is FoldResult
