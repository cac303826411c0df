"""A run whose unlabelled items never passed the confidence asked of them says so when it ends."""

from __future__ import annotations

from types import SimpleNamespace

from dmtl_studio.core.base.cancel import never_stop
from dmtl_studio.core.training.callbacks import ProgressEvents, RunClock
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.outputs import EpochOutput


def _notices(masks: list[float | None], unlabelled: object = (1, 2), rule: str = "fixmatch") -> list[str]:
    said: list[object] = []
    events = ProgressEvents(said.append, RunClock(never_stop))
    config = TrainConfig(unlabelled_rule=rule, pseudo_label_threshold=0.95, consistency_threshold=0.5)
    trainer = SimpleNamespace(
        parts=SimpleNamespace(unlabelled_set=unlabelled, config=config, classes=("a", "b")), stop_reason=None
    )
    for epoch, mask in enumerate(masks, start=1):
        events.on_epoch_end(
            trainer, EpochOutput(epoch, len(masks), 0.5, 0.8, 0.6, 0.7, 1e-3, consistency_mask=mask)
        )
    events.on_fit_end(trainer, "completed")
    return [event.message for event in said if isinstance(event, RunNotice)]


def test_unlabelled_items_that_never_took_part_are_said_when_the_run_ends() -> None:
    """The plot showed 0 after every epoch and the finish line said nothing (h28)."""
    (said,) = _notices([0.0, 0.0])
    assert said.startswith("the unlabelled items took no part in this run: none was predicted with the 95%")
    assert "'Pseudo-label confidence'" in said
    assert "the consistency confidence threshold" in _notices([0.0], rule="consistency")[0]
    assert not _notices([0.0, 0.1])  # they took part in one epoch
    assert not _notices([0.0], unlabelled=None)  # a run without unlabelled items: nothing to say
    assert not _notices([None, None])
