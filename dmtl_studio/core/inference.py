"""Running a trained run over a project's images: evaluation on held-out images and label suggestions.

No Qt and no threads: callers pass ``progress(done, total)`` and ``should_stop``. Results are plain numpy data
(:class:`~dmtl_studio.core.evaluation.EvaluationResult`, :class:`~dmtl_studio.core.suggestions.SuggestionSet`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dmtl_studio.core.cancel import ShouldStop, never_stop
from dmtl_studio.core.checkpoint import LoadedModel, load_checkpoint
from dmtl_studio.core.evaluation import EvaluationResult, evaluation_images
from dmtl_studio.core.predict import predict_paths
from dmtl_studio.core.store import ProjectStore
from dmtl_studio.core.suggestions import SuggestionSet, build_suggestions

Progress = Callable[[int, int], None]


def project_of_run(run_dir: str | os.PathLike[str]) -> Path | None:
    """The project folder a run folder belongs to (``PROJECT/runs/<name>``), or ``None``."""
    from dmtl_studio.core.store import is_project

    candidate = Path(run_dir).resolve().parent.parent
    return candidate if is_project(candidate) else None


def probabilities_for(
    loaded: LoadedModel,
    paths: Sequence[str],
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    batch_size: int = 32,
) -> tuple[list[int], np.ndarray, tuple[tuple[str, str], ...]]:
    """Class probabilities of the readable files: (their positions in ``paths``, probabilities, problems)."""
    summary = predict_paths(
        loaded, list(paths), batch_size=batch_size, progress=progress, should_stop=should_stop
    )
    position = {path: i for i, path in enumerate(paths)}
    rows = [position[p.path] for p in summary.predictions]
    probs = np.asarray([p.probabilities for p in summary.predictions], dtype=np.float64)
    return rows, probs.reshape(len(rows), len(loaded.classes)), summary.problems


def evaluate_run(
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    *,
    device: str = "cpu",
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    loaded: LoadedModel | None = None,
) -> EvaluationResult:
    """Predict the test split (or the validation split when there is no test image) with a run."""
    loaded = loaded or load_checkpoint(run_dir, device=device)
    with ProjectStore.open(project_dir) as store:
        chosen = evaluation_images(store, loaded.classes)
    index = {name: i for i, name in enumerate(loaded.classes)}
    records = list(chosen.records)
    rows, probs, problems = probabilities_for(
        loaded, [r.path for r in records], progress=progress, should_stop=should_stop
    )
    kept = [records[k] for k in rows]
    return EvaluationResult(
        run_dir=str(run_dir),
        run_name=Path(run_dir).name,
        split=chosen.split,
        note=chosen.note,
        classes=tuple(loaded.classes),
        image_ids=np.asarray([r.id for r in kept], dtype=np.int64),
        paths=tuple(r.path for r in kept),
        targets=np.asarray([index[r.label] for r in kept], dtype=np.int64),
        probabilities=probs,
        skipped=chosen.skipped,
        unreadable=problems,
    )


def suggest_labels(
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    *,
    method: str = "entropy",
    device: str = "cpu",
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
) -> SuggestionSet:
    """Predict every usable unlabelled image of a project; the suggestions come uncertain first."""
    loaded = load_checkpoint(run_dir, device=device)
    with ProjectStore.open(project_dir) as store:
        records = [im for im in store.images(usable_only=True) if im.label is None]
    rows, probs, problems = probabilities_for(
        loaded, [r.path for r in records], progress=progress, should_stop=should_stop
    )
    return build_suggestions(
        str(run_dir),
        Path(run_dir).name,
        loaded.classes,
        [records[k].id for k in rows],
        probs,
        method=method,
        unreadable=problems,
    )
