"""A training run of a project: its parts (:func:`~dmtl_studio.core.training.setup.build_run`), its folder and row
in the project, its callbacks, and the loop (:class:`~dmtl_studio.core.training.engine.Trainer`).

Callers pass ``on_event`` (receives :mod:`dmtl_studio.core.training.events` objects) and ``should_stop``; a stop
request is honoured at the next batch boundary and the run ends with status ``"stopped"``, keeping the best
checkpoint written so far.
"""

from __future__ import annotations

import io
import logging
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, CheckpointError, checkpoint_files
from dmtl_studio.core.project import run_lock
from dmtl_studio.core.project.imaging import FileProblem
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import run_state
from dmtl_studio.core.training.callbacks import (
    Checkpointing,
    EarlyStopping,
    ProgressEvents,
    RunClock,
    StoreRecorder,
)
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Trainer
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import RunNotice, RunSummary
from dmtl_studio.core.training.labelled import LabelledSplit
from dmtl_studio.core.training.setup import EventCallback
from dmtl_studio.core.training.text_setup import build_project_run

log = logging.getLogger(__name__)

LEGACY_LAST_DIR = "last"  # where runs saved by older versions keep their latest weights


def _new_run_dir(store: ProjectStore, prefix: str = "") -> tuple[str, Path]:
    stamp = prefix + time.strftime("%Y%m%d-%H%M%S")
    name, suffix = stamp, 1
    while (store.runs_dir / name).exists():
        suffix += 1
        name = f"{stamp}-{suffix}"
    path = store.runs_dir / name
    path.mkdir(parents=True)
    return name, path


def _start_new(store: ProjectStore, run_config: dict, prefix: str) -> tuple[int, Path]:
    run_dir = None
    try:
        name, run_dir = _new_run_dir(store, prefix)
        # The lock first: a "running" row is never without the process that answers for it.
        run_lock.write_lock(run_dir)
    except OSError as exc:
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise TrainingError(
            f"cannot create a run folder in {store.runs_dir}: {exc.strerror or exc}; nothing was changed"
        ) from None
    return store.create_run(name, run_dir, run_config), run_dir


def _saved_state(run_dir: Path, emit: EventCallback) -> tuple[bytes, Path, dict[str, bytes]]:
    """The newest saved training state of a run: its bytes, the latest weights file, the best model's files."""
    try:
        unit = run_state.latest_checkpoint(run_dir)
    except CheckpointError as exc:
        raise TrainingError(str(exc)) from None
    if unit is not None:
        for note in unit.notes:
            emit(RunNotice(note))
        best = {
            WEIGHTS_NAME: (unit.folder / run_state.BEST_WEIGHTS).read_bytes(),
            SIDECAR_NAME: (unit.folder / run_state.BEST_SIDECAR).read_bytes(),
        }
        return (unit.folder / run_state.STATE_NAME).read_bytes(), unit.folder / run_state.LAST_WEIGHTS, best
    if (run_dir / run_lock.LEGACY_STATE).is_file():  # saved by an older version, file by file
        best = {}
        if (run_dir / WEIGHTS_NAME).is_file() and (run_dir / SIDECAR_NAME).is_file():
            best = {
                WEIGHTS_NAME: (run_dir / WEIGHTS_NAME).read_bytes(),
                SIDECAR_NAME: (run_dir / SIDECAR_NAME).read_bytes(),
            }
        return (run_dir / run_lock.LEGACY_STATE).read_bytes(), run_dir / LEGACY_LAST_DIR / WEIGHTS_NAME, best
    raise TrainingError(f"{run_dir} cannot be resumed: it has no saved training state")


def _resume(
    store: ProjectStore, trainer: Trainer, checkpoints: Checkpointing, run_dir: Path, emit: EventCallback
) -> int:
    """Restore a run's weights and training state; returns its id. Epochs recorded after the saved one (a kill
    before their checkpoint was committed) are trained again."""
    record = store.run_at(run_dir)
    if record is None:
        raise TrainingError(f"{run_dir} is not a run of this project")
    state_bytes, last_weights, checkpoints.best_files = _saved_state(run_dir, emit)
    state = torch.load(io.BytesIO(state_bytes), map_location="cpu", weights_only=True)
    trainer.load_state_dict(state)  # checks the classes first
    trainer.parts.model.load_state_dict(load_file(str(last_weights)), strict=True)
    if not checkpoints.best_files:  # a legacy run without a best model: the latest weights are the best known
        checkpoints.best_files = checkpoints.files_for(
            checkpoints.best_metrics or checkpoints.last_metrics, None
        )
    store.forget_epochs_after(record.id, trainer.saved_epoch)
    try:
        run_lock.write_lock(run_dir)
    except OSError as exc:
        raise TrainingError(
            f"cannot write in {run_dir}: {exc.strerror or exc}; the run was left as it was"
        ) from None
    store.set_run_status(record.id, "running")
    emit(RunNotice(f"resumed run {record.name} after epoch {trainer.saved_epoch}"))
    return record.id


def _train(
    store: ProjectStore,
    config: TrainConfig,
    emit: EventCallback,
    should_stop: ShouldStop,
    resume_from: Path | None,
    split: LabelledSplit | None,
    run_prefix: str,
) -> RunSummary:
    clock = RunClock(should_stop)
    progress = ProgressEvents(emit, clock)
    parts = build_project_run(store, config, emit, clock.should_stop, split, on_preparing=progress.preparing)
    run_config = parts.run_config()

    def files_for(metrics: dict, calibration: dict | None) -> dict[str, bytes]:
        return checkpoint_files(
            parts.model,
            spec=parts.spec,
            preprocessing=parts.preprocessing,
            classes=list(parts.classes),
            config=run_config,
            augmentation=run_config["recipe"],
            metrics=metrics,
            calibration=calibration,
        )

    if resume_from is None:
        run_id, run_dir = _start_new(store, run_config, run_prefix)
    else:
        run_id, run_dir = -1, Path(resume_from)
    pick = parts.pick_on_validation
    checkpoints = Checkpointing(run_dir, files_for, pick_best=pick)
    recorder = StoreRecorder(store, run_id, run_dir, checkpoints.final_metrics)
    patience = config.early_stopping_patience if pick else 0
    callbacks = [recorder, EarlyStopping(patience), checkpoints, progress]
    trainer = Trainer(parts, callbacks, clock.should_stop, notify=emit)
    if resume_from is not None:
        recorder.run_id = run_id = _resume(store, trainer, checkpoints, run_dir, emit)
    status = trainer.fit()
    epochs_done = max(trainer.saved_epoch, trainer.first_epoch - 1)
    log.info("run %s %s after %d epoch(s)", run_dir.name, status, epochs_done)
    return RunSummary(
        removed=recorder.removed,
        run_id=run_id,
        run_dir=str(run_dir),
        status=status,
        epochs_completed=epochs_done,
        classes=parts.classes,
        device=str(parts.device),
        metrics=checkpoints.final_metrics(),
    )


def train(
    project_dir: str | Path,
    config: TrainConfig,
    on_event: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    resume_from: str | Path | None = None,
    split: LabelledSplit | None = None,
    run_prefix: str = "",
) -> RunSummary:
    """Train a classifier on a project's labelled images and store the run in the project.

    Parameters
    ----------
    project_dir
        The project folder; the engine opens its own connection (safe in any thread).
    config
        What to train and how. When resuming, pass the run's own configuration (``epochs`` may be raised).
    on_event
        Receives :class:`StepProgress` after each batch, :class:`EpochResult` after each epoch,
        :class:`PreparationProgress` during a frozen backbone's feature pass and :class:`RunNotice` for
        fallbacks (device, memory) and early stopping.
    should_stop
        Polled at each batch boundary; when true the run stops cleanly with status ``"stopped"``.
    resume_from
        A run folder of this project to continue after its last completed epoch: model, optimiser, scaler,
        random state and epoch are restored, so the result is the same as an uninterrupted run.
    split
        Train and validate on these images instead of the project's own split (cross-validation folds).
    run_prefix
        Put before the run's name (``"cv-"`` marks cross-validation runs in the history).

    Returns
    -------
    RunSummary
        Status ``"completed"`` or ``"stopped"``, epochs completed, the best and last epoch's metrics, and
        ``removed`` when the run ended before saving an epoch (it is then gone from the project).

    Raises
    ------
    TrainingError
        The run cannot start or go on (too few labelled classes, no run folder, a file changed on disk, a
        non-finite loss, out of GPU memory at the smallest batch); the message says what to do.
    WeightsError
        The backbone's pretrained weights cannot be found offline.
    """
    emit = on_event or (lambda event: None)
    with ProjectStore.open(project_dir) as store:
        try:
            return _train(
                store,
                config,
                emit,
                should_stop,
                Path(resume_from) if resume_from else None,
                split,
                run_prefix,
            )
        except FileProblem as exc:
            # A file changed on disk since the import: say which, keep it out of the next run, lose nothing else.
            if exc.path:
                store.mark_problems([(exc.path, f"cannot be read any more: {exc.reason}")])
            raise TrainingError(
                f"{exc} — the file changed on disk after the import. It is now listed among the problem files "
                "and left out of the next run; start the run again."
            ) from None
