"""Predictions of a run under the class names its project has now.

A run's model keeps the class names it was trained with; a class renamed or merged in the project since then is
known to evaluate, the report and the window's suggestions by its name now (``ProjectStore.class_names_now``).
:func:`predictions_named_now` gives predictions the same names, so a prediction never names a class the project
no longer has: a renamed class's column and label take its new name, and the classes merged into one are one
column, the sum of their probabilities (the label is then the largest of the merged columns).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np


def project_of_run(run_dir: str | os.PathLike[str]) -> Path | None:
    """The project folder a run folder belongs to (``PROJECT/runs/<name>``), or ``None``."""
    from dmtl_studio.core.project.store import is_project

    candidate = Path(run_dir).resolve().parent.parent
    return candidate if is_project(candidate) else None


def run_names_now(
    run_dir: str | os.PathLike[str],
    classes: Sequence[str],
    project: str | os.PathLike[str] | None = None,
) -> list[str] | None:
    """The names the run's ``classes`` have in its project now (``project``, by default the one the run folder
    lies in; a name may repeat: classes merged since), or ``None`` when there is no such project, or nothing was
    renamed or merged since the run read its classes (``ProjectStore.class_names_now``)."""
    from dmtl_studio.core.project.store import ProjectStore

    project = project if project is not None else project_of_run(run_dir)
    if project is None:
        return None
    with ProjectStore.open(project, read_only=True) as store:
        run = store.run_at(run_dir)
        names = store.class_names_now(classes, run.created_at) if run is not None else list(classes)
    return names if list(names) != list(classes) else None


def predictions_named_now(summary: Any, run_dir: str | os.PathLike[str]) -> tuple[Any, str]:  # noqa: ANN401
    """``summary`` (a :class:`~dmtl_studio.core.evaluation.predict.PredictSummary`) with its classes under their
    names now (see the module docstring), and a note naming the renames and merges (empty when there were none,
    or the run is not inside its project)."""
    names = run_names_now(run_dir, summary.classes)
    if names is None:
        return summary, ""
    merged = tuple(dict.fromkeys(names))
    columns = np.zeros((len(names), len(merged)))
    columns[np.arange(len(names)), [merged.index(name) for name in names]] = 1.0

    def renamed(prediction: Any) -> Any:  # noqa: ANN401 - a Prediction
        probabilities = np.asarray(prediction.probabilities, dtype=np.float64) @ columns
        best = int(np.argmax(probabilities))
        return replace(
            prediction,
            label=merged[best],
            confidence=float(probabilities[best]),
            probabilities=tuple(float(p) for p in probabilities),
        )

    changes = [
        f"'{old}' is now '{new}'" for old, new in zip(summary.classes, names, strict=True) if old != new
    ]
    note = f"classes renamed or merged since the run was trained are named as they are now ({', '.join(changes)})"
    if len(merged) < len(names):
        note += "; a merged class's probability is the sum of its former classes'"
    return replace(summary, classes=merged, predictions=tuple(renamed(p) for p in summary.predictions)), note


def model_named_now(
    run_dir: str | os.PathLike[str],
    loaded: Any,
    project: str | os.PathLike[str] | None = None,  # noqa: ANN401
    names: Sequence[str] | None = None,
) -> tuple[Any, str]:
    """``loaded`` (a :class:`~dmtl_studio.core.models.checkpoint.LoadedModel`) with its classes under the names
    they have in the project now (classes renamed since the run was trained keep their outputs; classes merged
    since are one output, the sum of their probabilities: ``Classifier.with_merged_classes``), and a note naming
    the renames and merges (empty when none, or the run is not inside its project). ``names``: those of
    :func:`run_names_now`, when the caller has read them already."""
    names = names if names is not None else run_names_now(run_dir, loaded.classes, project) or loaded.classes
    renamed = [
        f"'{old}' is now '{new}'" for old, new in zip(loaded.classes, names, strict=True) if old != new
    ]
    if not renamed:
        return loaded, ""
    note = f"Classes renamed or merged since the run was trained take their names now ({', '.join(renamed)})."
    merged = list(dict.fromkeys(names))  # each name once, in the run's order
    if len(merged) == len(names):
        return replace(loaded, classes=list(names)), note
    groups = [[k for k, name in enumerate(names) if name == kept] for kept in merged]
    note += " A merged class's probability is the sum of its former classes'."
    return replace(loaded, model=loaded.model.with_merged_classes(groups), classes=merged), note
