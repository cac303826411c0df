"""A run's notes: what the training said about how it trained (the validation split joined the fit, no
calibration, the contrastive step, a device fallback…), kept in the run folder so that the report and anyone
reading the run later see them, not only the window or the terminal that trained it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes

#: The run folder's notes file: a JSON list of strings, in the order they were said.
RUN_NOTES_NAME = "run-notes.json"
#: The start of the note of an Auto fine-tune that lost to its probe (its run stays in the history).
NOT_KEPT = "Auto did not keep this fine-tune but the linear probe"


def read_run_notes(run_dir: str | os.PathLike[str]) -> list[str]:
    """The notes kept in ``run_dir`` (empty when there are none, or the file is unreadable or not a list)."""
    try:
        notes = json.loads((Path(run_dir) / RUN_NOTES_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(n) for n in notes] if isinstance(notes, list) else []


def add_run_notes(run_dir: str | os.PathLike[str], notes: Iterable[str]) -> None:
    """Add ``notes`` to those kept in ``run_dir`` (a resumed run adds its own), each note once, in order.

    Raises
    ------
    FileWriteError
        The run folder refuses the write; the notes kept before are unchanged.
    """
    kept = read_run_notes(run_dir)
    added = [n for n in dict.fromkeys(notes) if n not in kept]
    if added:
        data = json.dumps(kept + added, ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write_bytes(Path(run_dir) / RUN_NOTES_NAME, data)


def not_kept_note(run_dir: str | os.PathLike[str]) -> str:
    """The note saying an Auto run kept another phase than this run (:data:`NOT_KEPT`), or ``""``."""
    return next((note for note in read_run_notes(run_dir) if note.startswith(NOT_KEPT)), "")
