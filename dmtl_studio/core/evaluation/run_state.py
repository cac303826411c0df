"""What to say of a run that did not complete when its model is evaluated or exported: a run still training (its
model changes as it saves epochs), or one stopped, interrupted or failed part-way (its model is the one it kept
then, not the one its settings asked for)."""

from __future__ import annotations

import os
from pathlib import Path


def run_state_note(project_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str]) -> str:
    """One sentence on the run's state, or ``""`` when it completed (or the project does not know it). An Auto
    fine-tune whose probe was kept instead says so (:func:`~dmtl_studio.core.models.run_notes.not_kept_note`)."""
    from dmtl_studio.core.models.run_notes import not_kept_note
    from dmtl_studio.core.project.run_lock import run_is_orphaned
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(project_dir, read_only=True) as store:
        run = store.run_at(run_dir)
        if run is None or run.status == "completed":
            lost = not_kept_note(run_dir) if run is not None else ""
            return f"{lost}." if lost and not lost.endswith(".") else lost
        epochs = max((m.epoch for m in store.epoch_metrics(run.id)), default=0)
    name = Path(run_dir).name
    if run.status == "running" and not run_is_orphaned(run_dir):
        return (
            f"Run {name} is still training: these figures are of the model it had saved (epoch {epochs}), which "
            "changes as it saves the next epochs."
        )
    planned = run.config.get("epochs")
    of = f" of {planned}" if planned else ""
    status = "interrupted" if run.status == "running" else run.status
    return f"Run {name} was {status} after {epochs}{of} epoch(s): these are the figures of the model it kept then."
