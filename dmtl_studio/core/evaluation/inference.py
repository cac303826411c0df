"""Running a trained run over a project's images: evaluation on held-out images and label suggestions.

No Qt and no threads: callers pass ``progress(done, total)`` and ``should_stop``. Results are plain numpy data
(:class:`~dmtl_studio.core.evaluation.results.EvaluationResult`, :class:`~dmtl_studio.core.project.suggestions.SuggestionSet`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.evaluation.names_now import model_named_now
from dmtl_studio.core.evaluation.names_now import project_of_run as project_of_run
from dmtl_studio.core.evaluation.predict import predict_paths
from dmtl_studio.core.evaluation.results import EvaluationResult, evaluation_images
from dmtl_studio.core.evaluation.run_state import run_state_note
from dmtl_studio.core.evaluation.text_inference import (
    evaluate_text_run,
    is_text_run,
    suggest_text_labels,
    text_probabilities_for,
)
from dmtl_studio.core.models.checkpoint import LoadedModel, load_checkpoint
from dmtl_studio.core.models.run_folder import read_fitted_hashes
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.file_changes import current_hashes
from dmtl_studio.core.project.perceptual import HashStore, kept_hashes, near_copies_of
from dmtl_studio.core.project.runs_table import CROSSVAL_PREFIX
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.suggestions import SuggestionSet, build_suggestions

Progress = Callable[[int, int], None]


def refuse_other_kind(
    project_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str], text_run: bool
) -> None:
    """Refuse to score a project of images with a text run, or a project of texts with an image run.

    Raises
    ------
    ProjectError
        The project holds the other kind of items (the message names both and what to do).
    """
    with ProjectStore.open(project_dir, read_only=True) as store:
        kind = store.kind
    if (kind == "text") != text_run:
        run_kind, project_kind = ("texts", "images") if text_run else ("images", "texts")
        raise ProjectError(
            f"the run {run_dir} classifies {run_kind}, but the project {project_dir} holds {project_kind}: "
            f"use it with the project of {run_kind} it was trained on"
        )


def _frozen_feature_store(loaded: LoadedModel, project_dir: Path, hashes: dict[str, str]) -> object | None:
    """The project's feature cache for a frozen run's backbone, or ``None`` for a fine-tuned run."""
    config = loaded.sidecar.get("config") or {}
    if config.get("transfer") != "frozen" or not config.get("backbone") or not hashes:
        return None
    from dmtl_studio.core.models.features import FeatureStore

    device = next(loaded.model.parameters()).device
    return FeatureStore.for_backbone(
        project_dir,
        config["backbone"],
        loaded.model.backbone,
        loaded.preprocessing,
        device,
        device.type == "cuda" and bool(config.get("channels_last", False)),
        hashes.__getitem__,
    )


def probabilities_for(
    loaded: LoadedModel,
    paths: Sequence[str],
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    batch_size: int = 32,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    hashes: dict[str, str] | None = None,
) -> tuple[list[int], np.ndarray, tuple[tuple[str, str], ...], int]:
    """Class probabilities of the readable files.

    Returns ``(positions in paths, probabilities (N, C) float64, problems, reused)``. For a frozen run inside a
    project (``project_dir`` and the files' content ``hashes`` given), the backbone's clean-view features come
    from the project's feature cache where training, the LR finder, cross-validation, the data-quality checks
    or an earlier evaluation stored them, and the features computed here are stored for the next one: a frozen
    run's backbone is the pretrained one, unchanged, and its inputs are prepared exactly as training prepared
    them (:mod:`dmtl_studio.core.models.preprocess`). ``reused`` counts the images that took their features from it.
    """
    import torch

    from dmtl_studio.core.evaluation.predict import predict_files
    from dmtl_studio.core.models.feature_engine import engine_for

    if is_text_run(loaded):  # the paths are a text project's source keys
        return text_probabilities_for(loaded, paths, project_dir, progress=progress, should_stop=should_stop)
    paths = list(paths)
    position = {path: i for i, path in enumerate(paths)}
    cache = (
        _frozen_feature_store(loaded, Path(project_dir), hashes or {}) if project_dir is not None else None
    )
    if cache is None:
        summary = predict_paths(
            loaded, paths, batch_size=batch_size, progress=progress, should_stop=should_stop
        )
        rows = [position[p.path] for p in summary.predictions]
        probs = np.asarray([p.probabilities for p in summary.predictions], dtype=np.float64)
        return rows, probs.reshape(len(rows), len(loaded.classes)), summary.problems, 0
    device = next(loaded.model.parameters()).device
    found = {p: v for p in paths if p in hashes and (v := cache.read(hashes[p], "clean")) is not None}
    computed: list[np.ndarray] = []

    @torch.no_grad()
    def head_probabilities(features: torch.Tensor) -> np.ndarray:
        return loaded.model.scaled_head(features).softmax(1).cpu().numpy()

    def probabilities(batch: np.ndarray) -> np.ndarray:
        # The frozen backbone where it runs fastest (onnxruntime on the CPU), as in the run's own feature pass.
        engine = engine_for(loaded.model.backbone, device, tuple(batch.shape[1:]))
        features = engine(torch.from_numpy(batch)).to(device)
        computed.append(features.cpu().numpy())
        return head_probabilities(features)

    misses = [p for p in paths if p not in found]
    summary = predict_files(
        misses,
        loaded.classes,
        loaded.preprocessing,
        probabilities,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )
    vectors = np.concatenate(computed) if computed else np.zeros((0, 0), np.float32)
    for prediction, vector in zip(summary.predictions, vectors, strict=True):
        if prediction.path in hashes:
            cache.write(hashes[prediction.path], "clean", vector)
    by_path = {p.path: np.asarray(p.probabilities, dtype=np.float64) for p in summary.predictions}
    if found:
        reused = list(found)
        stacked = torch.from_numpy(np.stack([found[p] for p in reused]).astype(np.float32)).to(device)
        by_path.update(zip(reused, head_probabilities(stacked).astype(np.float64), strict=True))
    rows = sorted(position[p] for p in by_path)
    probs = np.asarray([by_path[paths[k]] for k in rows], dtype=np.float64)
    return rows, probs.reshape(len(rows), len(loaded.classes)), summary.problems, len(found)


def evaluate_run(
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    *,
    device: str = "cpu",
    progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    loaded: LoadedModel | None = None,
) -> EvaluationResult:
    """Predict the test split (or the validation split when there is no test image) with a run.

    A text run scores the project's texts (:func:`~dmtl_studio.core.evaluation.text_inference.evaluate_text_run`).

    A frozen run reads and fills the project's feature cache (:func:`probabilities_for`); the result counts the
    images whose features were reused in ``reused_features``.

    Raises
    ------
    ProjectError
        A text run with a project of images, or an image run with a project of texts.
    CheckpointError
        The run cannot be loaded.
    """
    loaded = loaded or load_checkpoint(run_dir, device=device)
    refuse_other_kind(project_dir, run_dir, is_text_run(loaded))
    loaded, renamed = model_named_now(run_dir, loaded, project_dir)
    if is_text_run(loaded):
        result = evaluate_text_run(project_dir, run_dir, loaded, progress=progress, should_stop=should_stop)
    else:
        result = _evaluate_image_run(project_dir, run_dir, loaded, progress, should_stop)
    if renamed:
        result = replace(result, note=" ".join(part for part in (result.note, renamed) if part))
    result = _with_fitted_note(result, project_dir, run_dir)
    state = run_state_note(project_dir, run_dir)  # a run still training, or stopped part-way
    return replace(result, note=" ".join(part for part in (state, result.note) if part)) if state else result


def _with_fitted_note(
    result: EvaluationResult, project_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str]
) -> EvaluationResult:
    """``result`` with a note when some of its items hold the content of items the run was fitted on (its list,
    ``fitted-items.txt``): identical copies in two splits, or splits or files changed since; and, in an image
    project, when some are near-copies of them (resized, re-encoded, slightly cropped, mirrored or turned, grey,
    brighter or darker) by the perceptual hashes
    the last duplicate check kept (:class:`~dmtl_studio.core.project.perceptual.HashStore`; none is computed
    here). Either way its scores are optimistic."""
    fitted = read_fitted_hashes(run_dir)
    if not fitted or not len(result.image_ids):
        return result
    scored = {int(i) for i in result.image_ids}
    with ProjectStore.open(project_dir, read_only=True) as store:
        every = store.images()  # read once: for another project's run, then for the items scored
        if Path(run_dir).resolve().parent.parent != Path(project_dir).resolve() and not any(
            im.sha256 in fitted for im in every
        ):  # another project's run: said, as its figures then read as those of its own data
            noun = "texts" if store.kind == "text" else "images"
            external = (
                f"This run was trained in another project, and none of the {len(fitted)} {noun} it was fitted on "
                f"are in {Path(project_dir).name}: these figures are on {noun} it never saw."
            )
            return replace(result, note=" ".join(part for part in (result.note, external) if part))
        records = [im for im in every if im.id in scored]
        # As the files are now: a read-only project cannot record a file overwritten since its import.
        now = current_hashes(store, records)[0] if store.kind == "images" else {}
        contents = [now.get(im.path, im.sha256) for im in records]
        images = store.kind == "images"
    seen = sum(1 for content in contents if content in fitted)
    noun = f"{result.noun}s"
    notes = [result.note] if result.note else []
    if seen and result.run_name.startswith(
        CROSSVAL_PREFIX
    ):  # not a leak: a fold run trains on the test split
        notes.append(
            f"{seen} of the {len(scored)} {noun} scored were in the training part of this cross-validation fold "
            f"run (a fold run trains on every labelled {result.noun} outside its fold, test {noun} included), so "
            f"these scores are optimistic; the fold's own held-out score is its line in the cross-validation's "
            f"output. Evaluate a run trained without --folds to score the {result.split_title}."
        )
        return replace(result, note=" ".join(notes))
    near = _near_copies(project_dir, [c for c in contents if c and c not in fitted], fitted) if images else 0
    if seen:
        notes.append(
            f"{seen} of the {len(scored)} {noun} scored hold the content of {noun} this run was fitted on "
            f"(identical copies in two splits, or splits or files changed after it was trained), so these scores "
            f"are optimistic; keep identical {noun} in one split (Labels ▸ Find duplicates and leaks; "
            f"dmtl-studio duplicates PROJECT --keep-in-one-split), then train a new run to score it on held-out "
            f"{noun}."
        )
    if near:
        notes.append(
            f"{near} of the {len(scored)} {noun} scored {'is a near-copy' if near == 1 else 'are near-copies'} "
            f"(resized, re-encoded, cropped, mirrored, turned, grey or of another exposure) of {noun} this run "
            "was fitted on, as the last duplicate check saw them, so these scores are optimistic; keep each group "
            "of look-alikes in one split (Labels ▸ Find duplicates and leaks; dmtl-studio duplicates PROJECT "
            "--keep-in-one-split), then train a new run."
        )
    return replace(result, note=" ".join(notes)) if seen or near else result


def _near_copies(project_dir: str | os.PathLike[str], contents: Sequence[str], fitted: frozenset[str]) -> int:
    """How many of ``contents`` (scored images' sha256, none of them in ``fitted``) are near-copies of a fitted
    image, among the images whose hashes the project keeps."""
    kept = HashStore(project_dir)
    if not kept.root.is_dir():  # no duplicate check has run: nothing to read
        return 0
    hashes, thumbnails, _found = kept_hashes(kept, contents)
    if not len(hashes):
        return 0
    other_hashes, other_thumbnails, _ = kept_hashes(kept, sorted(fitted))
    return int(near_copies_of(hashes, thumbnails, other_hashes, other_thumbnails).sum())


def _evaluate_image_run(
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    loaded: LoadedModel,
    progress: Progress | None,
    should_stop: ShouldStop,
) -> EvaluationResult:
    with ProjectStore.open(project_dir) as store:
        chosen = evaluation_images(store, loaded.classes)
        hashes, changes = current_hashes(
            store, chosen.records
        )  # a file changed since the import: new features
    index = {name: i for i, name in enumerate(loaded.classes)}
    records = list(chosen.records)
    rows, probs, problems, reused = probabilities_for(
        loaded,
        [r.path for r in records],
        progress=progress,
        should_stop=should_stop,
        project_dir=project_dir,
        hashes=hashes,
    )
    kept = [records[k] for k in rows]
    return EvaluationResult(
        run_dir=str(run_dir),
        run_name=Path(run_dir).name,
        split=chosen.split,
        note=" ".join(part for part in (chosen.note, changes.notice() and f"{changes.notice()}.") if part),
        classes=tuple(loaded.classes),
        image_ids=np.asarray([r.id for r in kept], dtype=np.int64),
        paths=tuple(r.path for r in kept),
        targets=np.asarray([index[r.label] for r in kept], dtype=np.int64),
        probabilities=probs,
        skipped=chosen.skipped,
        unreadable=problems,
        reused_features=reused,
        calibration=loaded.sidecar.get("calibration"),
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
    refuse_other_kind(project_dir, run_dir, is_text_run(loaded))
    loaded, _ = model_named_now(run_dir, loaded, project_dir)  # a suggestion names a class the project has
    if is_text_run(loaded):
        return suggest_text_labels(
            project_dir, run_dir, loaded, method=method, progress=progress, should_stop=should_stop
        )
    with ProjectStore.open(project_dir) as store:
        records = [im for im in store.images(usable_only=True) if im.label is None]
        hashes, _ = current_hashes(store, records)
    rows, probs, problems, _ = probabilities_for(
        loaded,
        [r.path for r in records],
        progress=progress,
        should_stop=should_stop,
        project_dir=project_dir,
        hashes=hashes,
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
