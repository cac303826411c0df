"""Threads for the evaluation view, label suggestions, Grad-CAM and run reports: thin adapters over core.

Each thread calls one core function and emits its plain-data result (numpy arrays, floats, tuples — never
tensors), or a ``failed`` message. Stop is ``requestInterruption()``, polled by core as ``should_stop``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject

from dmtl_studio.workers.registry import CoreThread

log = logging.getLogger(__name__)

_MODEL_LOCK = threading.Lock()
_MODEL_CACHE: dict[str, object] = {}  # the last run loaded for Grad-CAM: run folder -> LoadedModel


class EvaluationThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.inference.evaluate_run`; emits an ``EvaluationResult``."""

    what = "the evaluation"

    def __init__(self, project_dir: Path, run_dir: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir, self.run_dir = Path(project_dir), run_dir

    def work(self) -> object:
        from dmtl_studio.core.evaluation.inference import evaluate_run

        return evaluate_run(
            self.project_dir,
            self.run_dir,
            progress=self._on_progress,
            should_stop=self.isInterruptionRequested,
        )


class SuggestionThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.inference.suggest_labels`; emits a ``SuggestionSet``."""

    what = "the label suggestion"

    def __init__(self, project_dir: Path, run_dir: str, method: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir, self.run_dir, self.method = Path(project_dir), run_dir, method

    def work(self) -> object:
        from dmtl_studio.core.evaluation.inference import suggest_labels

        return suggest_labels(
            self.project_dir,
            self.run_dir,
            method=self.method,
            progress=self._on_progress,
            should_stop=self.isInterruptionRequested,
        )


def _cached_model(run_dir: str) -> object:
    """The run's loaded model, kept between explanation requests (one run at a time); call under _MODEL_LOCK."""
    from dmtl_studio.core.models.checkpoint import load_checkpoint

    loaded = _MODEL_CACHE.get(run_dir)
    if loaded is None:
        _MODEL_CACHE.clear()
        loaded = _MODEL_CACHE[run_dir] = load_checkpoint(run_dir)
    return loaded


class GradCamThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.gradcam.explain_image` for one image; emits ``(image id, CamResult)``.

    The run's model stays loaded between requests (reloading it would cost more than the map itself).
    """

    what = "the Grad-CAM map"

    def __init__(self, run_dir: str, image_id: int, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir, self.image_id, self.path = run_dir, image_id, path

    def work(self) -> object:
        from dmtl_studio.core.evaluation.gradcam import explain_image
        from dmtl_studio.core.evaluation.names_now import run_names_now

        with _MODEL_LOCK:
            loaded = _cached_model(self.run_dir)
            cam = explain_image(loaded, self.path)
        names = run_names_now(
            self.run_dir, tuple(loaded.classes)
        )  # a class renamed or merged since: its name now
        if names is not None:
            cam = replace(cam, class_name=names[cam.class_index])
        return (self.image_id, cam)


class ReportThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.report.write_report`; emits the report's path as a string."""

    what = "the report"

    def __init__(
        self, project_dir: Path, run_dir: str, result: object | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project_dir, self.run_dir, self.result = Path(project_dir), run_dir, result

    def work(self) -> object:
        from dmtl_studio.core.evaluation.report import write_report

        path, _ = write_report(
            self.run_dir,
            project_dir=self.project_dir,
            result=self.result,
            should_stop=self.isInterruptionRequested,
        )
        return str(path)


class ExportThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.export.export_run`; emits the :class:`ExportResult`."""

    what = "the export"

    def __init__(self, run_dir: str, fmt: str, out: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir, self.fmt, self.out = run_dir, fmt, out

    def work(self) -> object:
        from dmtl_studio.core.evaluation.export import export_run

        return export_run(self.run_dir, self.fmt, self.out)


class PredictThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.predict.predict_folder` (images) or
    :func:`~dmtl_studio.core.evaluation.text_predict.predict_text_inputs` (texts; ``columns`` gives a table's
    ``text_column`` and ``id_column``) into a CSV file; emits the :class:`PredictSummary`.

    With ``target_accuracy`` the "unsure" threshold is chosen first on the run's validation split
    (:func:`~dmtl_studio.core.quality.reject.validation_threshold`, as ``predict --target-accuracy`` does);
    :attr:`threshold_note` then says in one line what it chose, :attr:`threshold_detail` in a paragraph. With
    ``reject_below`` the threshold is that fixed confidence (``predict --reject-below``). A threshold that cannot
    be chosen fails with the reason in the window's words (its choices, not the command line's options)."""

    what = "the prediction"

    def __init__(
        self,
        run_dir: str,
        images: str,
        out_csv: str,
        columns: dict | None = None,
        target_accuracy: float | None = None,
        parent: QObject | None = None,
        reject_below: float | None = None,
    ) -> None:
        super().__init__(parent)
        self.run_dir, self.images, self.out_csv = run_dir, images, out_csv
        self.columns = dict(columns or {})
        self.target_accuracy = target_accuracy
        self.reject_below = reject_below
        self.threshold_note = ""  # one line for the summary
        self.threshold_detail = ""  # the whole paragraph, for its tooltip

    def work(self) -> object:
        from dmtl_studio.core.evaluation.exported_model import is_text_model
        from dmtl_studio.core.evaluation.predict import predict_folder
        from dmtl_studio.core.evaluation.text_predict import predict_text_inputs

        text = is_text_model(self.run_dir)
        reject_below = self.reject_below
        if reject_below is not None:
            self.threshold_note = f"'Unsure' below {reject_below:.0%} confidence"
        if self.target_accuracy is not None:
            from dmtl_studio.core.quality.reject import (
                RejectError,
                describe_threshold,
                describe_threshold_briefly,
                in_window_words,
                validation_threshold,
            )

            try:
                chosen = validation_threshold(self.run_dir, self.target_accuracy)
            except RejectError as exc:
                raise RejectError(in_window_words(str(exc))) from None
            reject_below = chosen.threshold
            noun = "text" if text else "image"
            note = describe_threshold_briefly(chosen, self.target_accuracy, noun)
            self.threshold_note = note[0].upper() + note[1:]
            detail = describe_threshold(chosen, self.target_accuracy, noun)
            self.threshold_detail = detail[0].upper() + detail[1:] + "."
        predict = predict_text_inputs if text else predict_folder
        summary = predict(
            self.run_dir,
            self.images,
            self.out_csv,
            progress=self._on_progress,
            should_stop=self.isInterruptionRequested,
            reject_below=reject_below,
            **(self.columns if text else {}),
        )
        if reject_below is not None:
            self.threshold_note += (
                f"; here {summary.unsure} of {len(summary.predictions)} were written as 'unsure'"
            )
        return summary


class TextExplainThread(CoreThread):
    """:func:`dmtl_studio.core.evaluation.text_attribution.explain_text` for one text; emits
    ``(item id, words, class name, probability, unread)`` with ``words`` a tuple of ``(start, end, word, score)``
    and ``unread`` the number of words past what the model reads.

    The run's model stays loaded between requests, shared with Grad-CAM's cache.
    """

    what = "the explanation"

    def __init__(self, run_dir: str, item_id: int, text: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir, self.item_id, self.text = run_dir, item_id, text

    def work(self) -> object:
        from dmtl_studio.core.evaluation.text_attribution import explain_text

        with _MODEL_LOCK:
            found = explain_text(_cached_model(self.run_dir), self.text)
        return (self.item_id, found.words, found.target_name, found.probability, found.unread)
