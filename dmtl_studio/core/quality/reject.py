"""A run's "not sure" threshold chosen on its own project's validation split."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dmtl_studio.core.models.calibration import RejectThreshold, threshold_for_accuracy

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
    that the run was not fitted on (:mod:`~dmtl_studio.core.training.fitted_items`) are used; the threshold's ``coverage`` is the share of those images it keeps (what to expect on new images).

    Raises
    ------
    RejectError
        When the run is not inside a project, the project has no usable validation image of the run's classes
        or the run was fitted on all of them, or ``target_accuracy`` is outside ``(0, 1]``.
    """
    from dmtl_studio.core.evaluation.inference import probabilities_for, project_of_run
    from dmtl_studio.core.models.checkpoint import load_checkpoint
    from dmtl_studio.core.project.file_changes import current_hashes
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.training.fitted_items import fitted_hashes

    if not 0.0 < target_accuracy <= 1.0:
        raise RejectError(f"the target accuracy must be between 0 and 1 (e.g. 0.95), not {target_accuracy}")
    project = project_of_run(run_dir)
    if project is None:
        raise RejectError(
            f"{run_dir} is not inside a project (PROJECT/runs/NAME), so it has no validation images to choose "
            "a threshold on; give --reject-below P instead"
        )
    loaded = loaded or load_checkpoint(run_dir, device=device)
    index = {name: i for i, name in enumerate(loaded.classes)}
    with ProjectStore.open(project) as store:
        records = [im for im in store.images(usable_only=True) if im.split == "val" and im.label in index]
        # Items the run was fitted on would make the threshold optimistic: only held-out ones choose it.
        fitted = fitted_hashes(run_dir, store, loaded.sidecar.get("config") or {}, records)
        held_out = [im for im in records if im.sha256 not in fitted]
        hashes, _ = current_hashes(store, held_out) if store.kind == "images" else ({}, None)
    if not records:
        raise RejectError(f"the project {project} has no labelled validation image to choose a threshold on")
    if not held_out:
        raise RejectError(
            f"the run {Path(run_dir).name} was fitted on the validation items of {project} (a linear probe takes "
            "them into its fit when the project has a test split), so none is left to choose a threshold on "
            "without an optimistic bias; give --reject-below P instead, or train a run that keeps its validation "
            "items held out (a project without a test split keeps them out of the fit)"
        )
    records = held_out
    rows, probs, _, _ = probabilities_for(
        loaded,
        [r.path for r in records],
        project_dir=project,
        hashes=hashes,
    )
    if not rows:
        raise RejectError(f"none of the validation images of {project} could be read")
    targets = np.asarray([index[records[k].label] for k in rows], dtype=np.int64)
    return threshold_for_accuracy(probs, targets, target_accuracy)
