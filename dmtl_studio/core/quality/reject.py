"""A run's "not sure" threshold chosen on its own project's validation split."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dmtl_studio.core.models.calibration import RejectThreshold, threshold_for_accuracy
from dmtl_studio.core.models.run_notes import read_run_notes
from dmtl_studio.core.quality.model_card import wilson_interval

if TYPE_CHECKING:
    from dmtl_studio.core.models.checkpoint import LoadedModel


class RejectError(ValueError):
    """No threshold can be chosen (no project beside the run, no validation image); one plain sentence."""


def validation_threshold(
    run_dir: str | os.PathLike[str],
    target_accuracy: float,
    *,
    loaded: LoadedModel | None = None,
    device: str = "cpu",
) -> RejectThreshold:
    """The lowest confidence threshold at which the run reaches ``target_accuracy`` on its validation split.

    The run's own probabilities (calibrated when the run is) of the project's usable labelled validation images
    are used: for the items the run was not fitted on (:mod:`~dmtl_studio.core.training.fitted_items`), the model's;
    for those a linear probe took into its fit, their out-of-fold probabilities, kept with the run
    (:mod:`~dmtl_studio.core.training.out_of_fold`), so the threshold is never chosen on the model's own training
    data. The threshold's ``coverage`` is the share of those images it keeps (what to expect on new images).

    Raises
    ------
    RejectError
        When the run is not inside a project, the project has no usable validation image of the run's classes
        or the run was fitted on all of them without keeping out-of-fold logits for them (an epoch run) or with
        its file of them unreadable (damaged), or ``target_accuracy`` is outside ``(0, 1]``.
    """
    from dmtl_studio.core.evaluation.inference import probabilities_for, project_of_run
    from dmtl_studio.core.evaluation.names_now import run_names_now
    from dmtl_studio.core.models.calibration import softmax, temperature_of
    from dmtl_studio.core.models.checkpoint import load_checkpoint
    from dmtl_studio.core.project.file_changes import current_hashes
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.training.fitted_items import fitted_hashes
    from dmtl_studio.core.training.held_out import FIXED_STRENGTH
    from dmtl_studio.core.training.out_of_fold import HELD_OUT_NAME, held_out_logits

    if not 0.0 < target_accuracy <= 1.0:
        raise RejectError(f"the target accuracy must be between 0 and 1 (e.g. 0.95), not {target_accuracy}")
    project = project_of_run(run_dir)
    if project is None:
        raise RejectError(
            f"{run_dir} is not inside a project (PROJECT/runs/NAME), so it has no validation images to choose "
            "a threshold on; give --reject-below P instead"
        )
    loaded = loaded or load_checkpoint(run_dir, device=device)
    # Classes renamed or merged since the run was trained are scored under their names now, as evaluate does:
    # a merged class's probability is the sum of its former classes'.
    names = run_names_now(run_dir, loaded.classes, project) or list(loaded.classes)
    index = {name: i for i, name in enumerate(dict.fromkeys(names))}
    with ProjectStore.open(project) as store:
        records = [im for im in store.images(usable_only=True) if im.split == "val" and im.label in index]
        # Items the run was fitted on would make the threshold optimistic: held-out ones choose it, and fitted
        # ones only through the logits of the fold models that did not see them.
        fitted = fitted_hashes(run_dir, store, loaded.sidecar.get("config") or {}, records)
        hashes, _ = current_hashes(store, records) if store.kind == "images" else ({}, None)
        content = {im.path: hashes.get(im.path, im.sha256) for im in records}  # as the files are now
        held_out = [im for im in records if content[im.path] not in fitted]
        out_of_fold = held_out_logits(run_dir, loaded.classes) if len(held_out) < len(records) else {}
        cross = [im for im in records if content[im.path] in fitted and content[im.path] in out_of_fold]
    if not records:
        raise RejectError(
            f"the project {project} has no labelled validation image to choose a threshold on; give --reject-below "
            "P instead"
        )
    if not held_out and not cross and not out_of_fold and (Path(run_dir) / HELD_OUT_NAME).exists():
        raise RejectError(
            f"the run {Path(run_dir).name} was fitted on the validation items of {project}, and the out-of-fold "
            f"predictions it keeps for them ({HELD_OUT_NAME} in its folder) cannot be read: the file is damaged "
            "or not this run's. Give --reject-below P instead, or train the run again to make the file anew"
        )
    if not held_out and not cross:
        fixed = any(FIXED_STRENGTH in note for note in read_run_notes(run_dir))
        why = (
            "a linear probe whose L2 strength was fixed, as a class had a single labelled item, too few for "
            "cross-validation, has no fold models to make them"
            if fixed
            else "an epoch run that trained on them, or a run from before they were kept"
        )
        instead = (
            "label more items of the smallest classes and train again"
            if fixed
            else "train a linear probe, which keeps out-of-fold predictions for them"
        )
        raise RejectError(
            f"the run {Path(run_dir).name} was fitted on the validation items of {project} and keeps no "
            f"out-of-fold predictions for them ({why}), so none is left to choose a threshold on without an "
            "optimistic bias; give --reject-below P instead, train a run that keeps its validation items held "
            f"out (a project without a test split keeps them out of the fit), or {instead}"
        )
    probs = np.zeros((0, len(loaded.classes)))
    labels: list[str] = []
    if held_out:
        rows, probs, _, _ = probabilities_for(
            loaded, [r.path for r in held_out], project_dir=project, hashes=hashes
        )
        labels = [held_out[k].label for k in rows]
    if cross:  # out of fold: the fold model's logits, scaled by the run's temperature as predict scales them
        logits = np.stack([out_of_fold[content[im.path]] for im in cross])
        probs = np.concatenate(
            [probs.reshape(-1, len(loaded.classes)), softmax(logits, temperature_of(loaded.sidecar))]
        )
        labels += [im.label for im in cross]
    if not labels:
        raise RejectError(f"none of the validation images of {project} could be read")
    targets = np.asarray([index[label] for label in labels], dtype=np.int64)
    merge = np.zeros((len(names), len(index)))
    merge[np.arange(len(names)), [index[name] for name in names]] = 1.0  # each class into its name now
    return threshold_for_accuracy(probs @ merge, targets, target_accuracy)


#: What the command line's messages advise, and the window's choice that does the same.
_COMMAND_ADVICE = "give --reject-below P instead"
_WINDOW_ADVICE = "choose one of the \"'Unsure' below … confidence\" entries beside Predict instead"


def in_window_words(message: str) -> str:
    """A :class:`RejectError` message with its command-line advice (``--reject-below P``) in the window's words."""
    message = message.replace(_COMMAND_ADVICE, _WINDOW_ADVICE)
    return message.replace(
        _COMMAND_ADVICE[0].upper() + _COMMAND_ADVICE[1:], _WINDOW_ADVICE[0].upper() + _WINDOW_ADVICE[1:]
    )


def _threshold(chosen: RejectThreshold) -> str:
    """The threshold with enough digits to tell one just below 1 from 1 itself."""
    digits = 4
    while digits < 8 and chosen.threshold < 1.0 and round(chosen.threshold, digits) >= 1.0:
        digits += 1
    return f"{chosen.threshold:.{digits}f}"


def _kept(chosen: RejectThreshold) -> tuple[int, int, float, float]:
    """``(kept, right, low, high)``: the validation items the threshold keeps, how many of them are right, and the
    95 % Wilson interval of that accuracy."""
    kept = max(1, round(chosen.coverage * chosen.images))
    right = round(chosen.accuracy * kept)
    return (kept, right, *wilson_interval(right, kept))


def describe_threshold_briefly(chosen: RejectThreshold, target_accuracy: float, noun: str = "image") -> str:
    """:func:`describe_threshold` in one line, for a window's summary (the full paragraph goes in its tooltip)."""
    if not chosen.reached and chosen.coverage == 0.0:
        return (
            f"{target_accuracy:.0%} is not reached at any threshold (on the {chosen.images} validation {noun}s every "
            f"threshold keeps only wrong answers): every {noun} is written as 'unsure'"
        )
    kept, right, low, high = _kept(chosen)
    missed = "; the target is not reached" if not chosen.reached else ""
    weak = f"; not yet evidence of {target_accuracy:.0%}" if chosen.reached and low < target_accuracy else ""
    return (
        f"threshold {_threshold(chosen)} for {target_accuracy:.0%}: it keeps {kept} of {chosen.images} "
        f"validation {noun}s, {right} right (95 % interval {low:.1%} – {high:.1%}{weak}{missed})"
    )


def describe_threshold(chosen: RejectThreshold, target_accuracy: float, noun: str = "image") -> str:
    """One paragraph for the user: the threshold chosen for ``target_accuracy``, whether the validation split
    reached it, what it keeps there, and the 95 % Wilson interval of the accuracy on the kept ``noun``\\ s (few
    validation items make a wide one: the target is then met on them, not shown to hold on new items)."""
    if not chosen.reached and chosen.coverage == 0.0:
        return (
            f"accuracy {target_accuracy:.1%} is not reached on the validation split at any threshold: on the "
            f"{chosen.images} validation {noun}(s), every threshold keeps only wrong answers, so every {noun} is "
            "written as 'unsure'"
        )
    kept, right, low, high = _kept(chosen)
    reached = (
        "" if chosen.reached else " (not reached on the validation split; the most accurate threshold found)"
    )
    text = (
        f"threshold {_threshold(chosen)} for accuracy {target_accuracy:.1%}{reached}: on the {chosen.images} "
        f"validation {noun}(s) it keeps {kept} ({chosen.coverage:.1%}, the expected coverage) at accuracy "
        f"{chosen.accuracy:.1%} ({right} of {kept} right; 95 % interval {low:.1%} – {high:.1%}, Wilson); the rest "
        "are written as 'unsure'"
    )
    if chosen.reached and low < target_accuracy:
        text += (
            f". With {kept} kept {noun}(s) that is not yet evidence of {target_accuracy:.0%} on new {noun}s: the "
            f"accuracy may be as low as {low:.1%}; label more validation {noun}s to narrow it"
        )
    return text
