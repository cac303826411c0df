"""Running a trained text run over texts: class probabilities, evaluation of a text project, label suggestions.

The text counterpart of :mod:`dmtl_studio.core.evaluation.inference`: the items of a text project are rows of the
same table as images, so the result is the same :class:`~dmtl_studio.core.evaluation.results.EvaluationResult`
(``paths`` are the texts' source keys, ``image_ids`` their item ids) and the window, the confusion matrix and the
report read it unchanged. Texts are tokenised by the run's own encoder (its tokenizer, truncation to its maximum
length) and scored shortest first, so a batch carries little padding. No Qt and no threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.evaluation.results import EvaluationResult, evaluation_images
from dmtl_studio.core.models.checkpoint import LoadedModel
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.suggestions import SuggestionSet, build_suggestions

Progress = Callable[[int, int], None]
#: Texts scored per model pass.
TEXT_BATCH = 32


def is_text_run(loaded: LoadedModel) -> bool:
    """Whether a loaded run classifies texts (its sidecar's ``kind`` is ``"text"``)."""
    return loaded.sidecar.get("kind") == "text"


@torch.no_grad()
def text_logits(loaded: LoadedModel, texts: Sequence[str]) -> np.ndarray:
    """Logits ``(N, C)`` float32 (divided by the run's calibration temperature) of one batch of texts."""
    model = loaded.model.eval()
    device = next(model.parameters()).device
    ids = model.backbone.tokenize(list(texts)).ids.to(device)
    return model(ids).float().cpu().numpy()


def text_probabilities(
    loaded: LoadedModel,
    texts: Sequence[str],
    *,
    batch_size: int = TEXT_BATCH,
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
) -> np.ndarray:
    """Calibrated class probabilities ``(N, C)`` float64 of ``texts``, in their order.

    Raises
    ------
    Cancelled
        When ``should_stop()`` turns true (checked between batches).
    """
    texts = list(texts)
    out = np.zeros((len(texts), len(loaded.classes)), dtype=np.float64)
    order = sorted(range(len(texts)), key=lambda k: len(texts[k]))
    for start in range(0, len(order), batch_size):
        check(should_stop)
        rows = order[start : start + batch_size]
        logits = torch.from_numpy(text_logits(loaded, [texts[k] for k in rows]))
        out[rows] = logits.double().softmax(1).numpy()
        if progress is not None:
            progress(min(start + batch_size, len(order)), len(order))
    if progress is not None and not texts:
        progress(0, 0)
    return out


def evaluate_text_run(
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    loaded: LoadedModel,
    *,
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
) -> EvaluationResult:
    """Score the test split (the validation split when there is no test text) of a text project with a run."""
    with ProjectStore.open(project_dir) as store:
        chosen = evaluation_images(store, loaded.classes)
        records = list(chosen.records)
        bodies = store.texts([r.id for r in records]) if records else {}
    index = {name: i for i, name in enumerate(loaded.classes)}
    kept = [r for r in records if bodies.get(r.id, "").strip()]
    missing = tuple((r.path, "the text is empty or missing") for r in records if r not in kept)
    probs = text_probabilities(
        loaded, [bodies[r.id] for r in kept], progress=progress, should_stop=should_stop
    )
    return EvaluationResult(
        run_dir=str(run_dir),
        run_name=Path(run_dir).name,
        split=chosen.split,
        note=chosen.note,
        classes=tuple(loaded.classes),
        image_ids=np.asarray([r.id for r in kept], dtype=np.int64),
        paths=tuple(r.path for r in kept),
        targets=np.asarray([index[r.label] for r in kept], dtype=np.int64),
        probabilities=probs.reshape(len(kept), len(loaded.classes)),
        skipped=chosen.skipped,
        unreadable=missing,
        reused_features=0,
        calibration=loaded.sidecar.get("calibration"),
        kind="text",
    )


def suggest_text_labels(
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    loaded: LoadedModel,
    *,
    method: str = "entropy",
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
) -> SuggestionSet:
    """Predict every usable unlabelled text of a project; the suggestions come uncertain first."""
    with ProjectStore.open(project_dir) as store:
        records = [im for im in store.images(usable_only=True) if im.label is None]
        bodies = store.texts([r.id for r in records]) if records else {}
    kept = [r for r in records if bodies.get(r.id, "").strip()]
    probs = text_probabilities(
        loaded, [bodies[r.id] for r in kept], progress=progress, should_stop=should_stop
    )
    return build_suggestions(
        str(run_dir),
        Path(run_dir).name,
        loaded.classes,
        [r.id for r in kept],
        probs.reshape(len(kept), len(loaded.classes)),
        method=method,
        unreadable=tuple((r.path, "the text is empty or missing") for r in records if r not in kept),
    )


def text_probabilities_for(
    loaded: LoadedModel,
    keys: Sequence[str],
    project_dir: str | os.PathLike[str] | None,
    *,
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
) -> tuple[list[int], np.ndarray, tuple[tuple[str, str], ...], int]:
    """:func:`~dmtl_studio.core.evaluation.inference.probabilities_for` for a text run: ``keys`` are the source
    keys of a project's texts. Returns ``(positions in keys, probabilities (N, C), problems, 0)``."""
    keys = list(keys)
    if project_dir is None:
        problems = tuple((k, "a text run reads its texts from a project") for k in keys)
        return [], np.zeros((0, len(loaded.classes))), problems, 0
    with ProjectStore.open(project_dir) as store:
        ids = {r.path: r.id for r in store.images()}
        bodies = store.texts([ids[k] for k in keys if k in ids]) if keys else {}
    rows = [k for k, key in enumerate(keys) if bodies.get(ids.get(key, -1), "").strip()]
    problems = tuple(
        (key, "no text of this key in the project") for k, key in enumerate(keys) if k not in set(rows)
    )
    probs = text_probabilities(
        loaded, [bodies[ids[keys[k]]] for k in rows], progress=progress, should_stop=should_stop
    )
    return rows, probs.reshape(len(rows), len(loaded.classes)), problems, 0
