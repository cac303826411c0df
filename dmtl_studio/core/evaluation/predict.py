"""Prediction with a trained run or an exported model over a folder of images, written as CSV.

On the CPU a run folder predicts through onnxruntime: its model is exported to ONNX once (checked against
PyTorch, :func:`~dmtl_studio.core.evaluation.export.export_run`) and kept in the product's cache folder under a hash
of its weights (:func:`~dmtl_studio.core.evaluation.exported_model.run_onnx_cache_path`); later predictions load
that file and never import PyTorch. It costs about what a plain onnxruntime script over an exported model costs
(``bench/bench_predict.py``, ``docs/performance.md``). When the export fails, PyTorch predicts, with a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.evaluation.exported_model import (
    ExportError,
    Predictor,
    load_exported,
    prune_run_onnx_cache,
    run_onnx_cache_path,
    sidecar_path,
)
from dmtl_studio.core.evaluation.names_now import predictions_named_now
from dmtl_studio.core.evaluation.predictions import (  # noqa: F401 (part of this API)
    ERROR_COLUMN,
    NOTE_COLUMN,
    Prediction,
    PredictSummary,
    write_predictions_csv,
)
from dmtl_studio.core.models.preprocess import Preprocessing, prepare_file
from dmtl_studio.core.models.run_folder import CheckpointError, read_sidecar
from dmtl_studio.core.project.folder_scan import scan_folder
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.image_shape import file_shape_note
from dmtl_studio.core.project.imaging import inspect_image
from dmtl_studio.core.project.project_kind import is_table_file, is_text_file_name

if TYPE_CHECKING:
    from dmtl_studio.core.models.checkpoint import LoadedModel

log = logging.getLogger(__name__)


class NoImagesError(ValueError):
    """What was given to predict on is not there, or holds no image files."""


def prediction_inputs(target: str | os.PathLike[str]) -> list[str]:
    """The files to predict: every image file below a folder, or the one file given (see :func:`prediction_scan`)."""
    return prediction_scan(target)[0]


def prediction_scan(target: str | os.PathLike[str]) -> tuple[list[str], tuple[str, ...]]:
    """The files to predict — every image file below a folder, or the one file given — and the files of the folder
    that are not images (skipped), from one walk of it.

    Raises
    ------
    NoImagesError
        ``target`` does not exist, is a folder without image files, or is a table or ``.txt`` file that is not an
        image (texts are predicted with a text model).
    """
    path = Path(target)
    if path.is_file():
        if is_table_file(path) or is_text_file_name(path):
            try:
                inspect_image(path)  # images are images by content, whatever their name
            except ImageProblem:
                what = "a table" if is_table_file(path) else "a text file"
                raise NoImagesError(
                    f"{path.name} is {what}, not an image, and this is an image model: give a folder of images or "
                    "one image file (a list of image paths is not read: copy or link the images into a folder; "
                    "texts are predicted with a text project's run)"
                ) from None
        return [str(path)], ()
    if not path.is_dir():
        raise NoImagesError(f"{path} does not exist (give a folder of images or one image file)")
    scan = scan_folder(path)
    if not scan.files:
        raise NoImagesError(f"{path} holds no image files (looked in its sub-folders too)")
    return [str(p) for p in scan.files], tuple(str(p) for p in scan.skipped)


def predict_files(
    paths: list[str],
    classes: list[str] | tuple[str, ...],
    preprocessing: Preprocessing,
    probabilities: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop = never_stop,
) -> PredictSummary:
    """Class probabilities for each readable file, in batches; unreadable ones are listed with their reason.

    ``probabilities`` maps a preprocessed batch (N, 3, H, W, float32) to an (N, classes) array: a trained run in
    PyTorch or any exported model runs through the same loop. ``progress(done, total)`` counts files finished
    (predicted or found unreadable), never files merely read: the last batch's model pass is part of the work.
    """
    predictions: list[Prediction] = []
    problems: list[tuple[str, str]] = []
    notes: list[tuple[str]] = []  # one per prediction: what the import would note of the image's shape
    batch_paths: list[str] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        if not batch:
            return
        for path, row in zip(batch_paths, probabilities(np.stack(batch)), strict=True):
            best = int(np.argmax(row))
            predictions.append(
                Prediction(path, classes[best], float(row[best]), tuple(float(p) for p in row))
            )
        batch_paths.clear()
        batch.clear()

    def report() -> None:
        if progress is not None:
            progress(len(predictions) + len(problems), len(paths))

    for path in paths:
        check(should_stop)
        try:
            inputs = prepare_file(path, preprocessing)  # exactly as training saw its images
        except ImageProblem as exc:
            problems.append((path, str(exc)))
            report()
        else:
            notes.append((file_shape_note(path) or "",))  # a 1 x 1 placeholder, a thin strip
            batch_paths.append(path)
            batch.append(inputs)
            if len(batch) >= batch_size:
                flush()
                report()
    flush()
    report()
    return PredictSummary(
        tuple(classes),
        tuple(predictions),
        tuple(problems),
        order=tuple(paths),
        extra_columns=(NOTE_COLUMN,),
        extra_predictions=tuple(notes),
    )


def predict_paths(
    loaded: LoadedModel,
    paths: list[str],
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop = never_stop,
) -> PredictSummary:
    """:func:`predict_files` with a trained run's model in PyTorch (on its device)."""
    import torch

    device = next(loaded.model.parameters()).device

    @torch.no_grad()
    def probabilities(batch: np.ndarray) -> np.ndarray:
        return loaded.model(torch.from_numpy(batch).to(device)).softmax(1).cpu().numpy()

    return predict_files(
        paths,
        loaded.classes,
        loaded.preprocessing,
        probabilities,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )


def reject_unsure(summary: PredictSummary, reject_below: float | None) -> PredictSummary:
    """The summary with ``unsure`` as the label of every image whose top probability is below ``reject_below``.

    Confidence and probabilities are kept as they were, so the CSV still shows what the model thought. ``None``
    returns the summary unchanged.

    Raises
    ------
    ValueError
        When ``reject_below`` is outside ``[0, 1]``.
    """
    if reject_below is None:
        return summary
    if not 0.0 <= reject_below <= 1.0:
        raise ValueError(f"the reject threshold must be a probability between 0 and 1, not {reject_below}")
    from dmtl_studio.core.models.calibration import UNSURE

    kept = tuple(replace(p, label=UNSURE) if p.confidence < reject_below else p for p in summary.predictions)
    return replace(summary, predictions=kept)


def run_predictor(run_dir: str | os.PathLike[str]) -> Predictor:
    """A run's model in onnxruntime (CPU), from the product's cache; exported there on first use.

    Raises
    ------
    CheckpointError
        When the run folder cannot be used (no sidecar or weights, weights that do not match it).
    ExportError
        When the model cannot be exported to ONNX or the export differs from PyTorch.
    """
    sidecar = read_sidecar(run_dir)
    path = run_onnx_cache_path(run_dir, sidecar)
    if path.is_file() and sidecar_path(path).is_file():
        try:
            os.utime(path)  # recently used: removed last
            return load_exported(path)
        except (CheckpointError, OSError) as exc:  # a damaged cache entry: exported again below
            log.warning("cached ONNX model %s is not usable (%s); exporting the run again", path.name, exc)
    from dmtl_studio.core.evaluation.export import export_run  # PyTorch: only when the cache has no file

    export_run(run_dir, "onnx", path)
    prune_run_onnx_cache(path.parent)
    return load_exported(path)


def predict_folder(
    run_dir: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    *,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop = never_stop,
    reject_below: float | None = None,
    loaded: LoadedModel | None = None,
) -> PredictSummary:
    """Predict every image below ``images_dir`` with a run and write the CSV.

    On the CPU (and without ``loaded``) the run's model runs in onnxruntime (:func:`run_predictor`); on CUDA, with
    ``loaded``, or when the ONNX export fails (a logged warning), in PyTorch. Both give the same labels; the
    probabilities agree within the export's check. Probabilities are calibrated when the run is (its sidecar's
    temperature). With ``reject_below``, images whose top probability is below it are labelled ``unsure``
    (:func:`reject_unsure`).
    """
    paths, skipped = prediction_scan(images_dir)
    predictor = None
    if loaded is None and device == "cpu":
        try:
            predictor = run_predictor(run_dir)
        except ExportError as exc:
            log.warning("the run predicts in PyTorch (slower): %s", exc)
    if predictor is not None:
        summary = predict_files(
            paths,
            predictor.classes,
            predictor.preprocessing,
            predictor.probabilities,
            progress=progress,
            should_stop=should_stop,
        )
    else:
        from dmtl_studio.core.models.checkpoint import load_checkpoint

        loaded = loaded or load_checkpoint(run_dir, device=device)
        summary = predict_paths(loaded, paths, progress=progress, should_stop=should_stop)
    summary, note = predictions_named_now(summary, run_dir)
    summary = replace(reject_unsure(summary, reject_below), skipped=skipped, note=note)
    write_predictions_csv(summary, Path(out_csv))
    return summary


def predict_with(
    model_path: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop = never_stop,
    reject_below: float | None = None,
) -> PredictSummary:
    """Predict every image of a folder with any model :func:`load_exported` accepts; write the CSV.

    With ``reject_below``, images whose top probability is below it are labelled ``unsure``.
    """
    predictor = load_exported(model_path)
    paths, skipped = prediction_scan(images_dir)
    summary = predict_files(
        paths,
        predictor.classes,
        predictor.preprocessing,
        predictor.probabilities,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )
    summary = replace(reject_unsure(summary, reject_below), skipped=skipped)
    write_predictions_csv(summary, Path(out_csv))
    return summary
