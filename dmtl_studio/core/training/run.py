"""A training run of a project: its parts (:func:`~dmtl_studio.core.training.setup.build_run`), its folder and row
in the project, its callbacks, and the loop (:class:`~dmtl_studio.core.training.engine.Trainer`).

Callers pass ``on_event`` (receives :mod:`dmtl_studio.core.training.events` objects) and ``should_stop``; a stop
request is honoured at the next batch boundary and the run ends with status ``"stopped"``, keeping the best
checkpoint written so far.

In a distributed run (``world``, see :mod:`~dmtl_studio.core.training.distributed`) rank 0 runs all of this; the
other ranks open the project read-only to prepare their parts, then only train, with rank 0's saved state when
resuming.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch.nn import Module

from dmtl_studio.core.base.cancel import Cancelled, ShouldStop, never_stop
from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, CheckpointError, checkpoint_files
from dmtl_studio.core.models.run_notes import add_run_notes
from dmtl_studio.core.project import run_lock
from dmtl_studio.core.project.imaging import FileProblem
from dmtl_studio.core.project.runs_table import CROSSVAL_PREFIX as CROSSVAL_PREFIX
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import run_state
from dmtl_studio.core.training.auto import refuse_auto, train_auto
from dmtl_studio.core.training.averaging import WeightAverage
from dmtl_studio.core.training.callbacks import (
    Checkpointing,
    EarlyStopping,
    ProgressEvents,
    RankAgreement,
    RunClock,
    StoreRecorder,
)
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.distributed import World, broadcast, clean_state_keys
from dmtl_studio.core.training.engine import Trainer
from dmtl_studio.core.training.errors import RunInterrupted, TrainingError
from dmtl_studio.core.training.events import RunNotice, RunSummary
from dmtl_studio.core.training.fitted_items import write_fitted_items
from dmtl_studio.core.training.held_out import uses_linear_probe
from dmtl_studio.core.training.labelled import LabelledSplit
from dmtl_studio.core.training.out_of_fold import write_held_out_logits
from dmtl_studio.core.training.settings import AUTO
from dmtl_studio.core.training.setup import EventCallback, RunParts, build_run
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


def _start_new(
    store: ProjectStore, run_config: dict, prefix: str, fitted: Sequence[tuple[str, int]], read_at: float
) -> tuple[int, Path]:
    run_dir = None
    try:
        name, run_dir = _new_run_dir(store, prefix)
        # The lock first: a "running" row is never without the process that answers for it.
        run_lock.write_lock(run_dir)
        write_fitted_items(store, run_dir, fitted)  # what a threshold chosen later must not be chosen on
    except OSError as exc:
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise TrainingError(
            f"cannot create a run folder in {store.runs_dir}: {exc.strerror or exc}; nothing was changed"
        ) from None
    return store.create_run(name, run_dir, run_config, created_at=read_at), run_dir


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


def refuse_resuming_fold(name: str) -> None:
    """Refuse to continue the run ``name`` when it is a cross-validation fold's.

    Raises
    ------
    TrainingError
        It is: it trained on its fold's split, which resuming cannot restore.
    """
    if re.match(rf"{CROSSVAL_PREFIX}\d+of\d+-", name):
        raise TrainingError(
            f"{name} is a cross-validation fold's run: it trained on its fold's split, which --resume "
            "cannot restore (it would go on with the project's own split); run the cross-validation again"
        )


def _resume(
    store: ProjectStore, trainer: Trainer, checkpoints: Checkpointing, run_dir: Path, emit: EventCallback
) -> tuple[int, dict, dict]:
    """Restore a run's weights and training state; returns its id, the state and the weights. Epochs recorded
    after the saved one (a kill before their checkpoint was committed) are trained again."""
    record = store.run_at(run_dir)
    if record is None:
        raise TrainingError(f"{run_dir} is not a run of this project")
    refuse_resuming_fold(record.name)
    state_bytes, last_weights, checkpoints.best_files = _saved_state(run_dir, emit)
    state = torch.load(io.BytesIO(state_bytes), map_location="cpu", weights_only=True)
    trainer.load_state_dict(state)  # checks the classes first
    weights = clean_state_keys(load_file(str(last_weights)))
    trainer.parts.model.load_state_dict(weights, strict=True)
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
    return record.id, state, weights


def _train(
    store: ProjectStore,
    config: TrainConfig,
    emit: EventCallback,
    should_stop: ShouldStop,
    resume_from: Path | None,
    split: LabelledSplit | None,
    run_prefix: str,
    world: World | None = None,
    on_parts: Callable[[RunParts], None] | None = None,
) -> RunSummary:
    notes: list[str] = []  # what the run said of how it trained: kept in its folder (run-notes.json)
    said = emit

    def emit(event: object) -> None:
        if isinstance(event, RunNotice):
            notes.append(event.message)
        said(event)

    clock = RunClock(should_stop)
    progress = ProgressEvents(emit, clock)
    read_at = time.time()  # a class renamed after it (in the feature pass, say) is mapped to its name now
    if world is None:
        try:
            parts = build_project_run(
                store, config, emit, clock.should_stop, split, on_preparing=progress.preparing
            )
        except Cancelled:
            # Stopped while the parts were built (a text encoder's contrastive step): no run was made yet.
            return RunSummary(
                run_id=-1, run_dir="", status="stopped", epochs_completed=0, classes=(), device="", metrics={}
            )
    else:
        if store.kind == "text":
            raise TrainingError(
                "a distributed run trains an image project; train a text project in one process"
            )
        parts = build_run(store, config, emit, clock.should_stop, split, progress.preparing, world)
        emit(RunNotice(world.describe(parts.batch_size)))
    if on_parts is not None:
        on_parts(parts)
    run_config = parts.run_config()

    def files_for(metrics: dict, calibration: dict | None, model: Module | None = None) -> dict[str, bytes]:
        return checkpoint_files(
            model if model is not None else parts.model,
            spec=parts.spec,
            preprocessing=parts.preprocessing,
            classes=list(parts.classes),
            config=run_config,
            augmentation=run_config["recipe"],
            metrics=metrics,
            calibration=calibration,
        )

    if resume_from is None:
        run_id, run_dir = _start_new(store, run_config, run_prefix, parts.split.train, read_at)
    else:
        run_id, run_dir = -1, Path(resume_from)
    pick = parts.pick_on_validation
    item = "text" if store.kind == "text" else "image"
    checkpoints = Checkpointing(
        run_dir, files_for, pick, item, parts.joined_validation, probe=parts.config.fits_linear_probe
    )
    recorder = StoreRecorder(store, run_id, run_dir, checkpoints.final_metrics)
    patience = config.early_stopping_patience if pick else 0
    callbacks = [recorder, EarlyStopping(patience), checkpoints, progress]
    if config.ema_decay > 0 and not uses_linear_probe(config):
        callbacks.insert(0, WeightAverage(config.ema_decay))
    trainer = Trainer(parts, callbacks + ([RankAgreement(world)] if world else []), clock.should_stop, emit)
    if resume_from is not None:
        recorder.run_id, state, weights = _resume(store, trainer, checkpoints, run_dir, emit)
        run_id = recorder.run_id
        broadcast((state, weights), world)  # the other ranks continue from the same state
    try:
        status = trainer.fit()
    except (
        KeyboardInterrupt
    ):  # Ctrl-C: the caller learns which run to continue (kept unless nothing was saved)
        _keep_notes(run_dir, notes, recorder.removed)
        status = "interrupted"
        summary = RunSummary(
            removed=recorder.removed,
            run_id=run_id,
            run_dir=str(run_dir),
            status=status,
            epochs_completed=trainer.saved_epoch,
            classes=parts.classes,
            device=str(parts.device),
            metrics={} if recorder.removed else checkpoints.final_metrics(),
        )
        raise RunInterrupted(summary) from None
    if trainer.held_out is not None and not recorder.removed:
        try:  # what predict --target-accuracy chooses its threshold on for these items
            write_held_out_logits(store, run_dir, trainer.held_out, parts.classes)
        except OSError as exc:
            log.warning("the out-of-fold logits of %s could not be written: %s", run_dir.name, exc)
    _keep_notes(run_dir, notes, recorder.removed)
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


def _keep_notes(run_dir: Path, notes: list[str], removed: bool) -> None:
    """Keep the run's notes in its folder, for its report and anyone reading the run later (not when the run
    was removed: nothing of it is kept)."""
    if removed or not notes:
        return
    try:
        add_run_notes(run_dir, notes)
    except OSError as exc:
        log.warning("the notes of %s could not be written: %s", run_dir.name, exc)


def _follow(
    project_dir: str | Path, config: TrainConfig, world: World, should_stop: ShouldStop, resumed: bool
) -> RunSummary:
    """A distributed run's rank other than 0: read the project, then train; nothing is written.

    Rank 0 sends its split once it has written what the preparation writes (files gone from disk); the project is
    opened after that, and closed once the parts are built (their last step, DDP's start, meets rank 0 again).
    """
    split = broadcast(None, world)
    with ProjectStore.open(project_dir, read_only=True) as store:
        parts = build_run(store, config, should_stop=should_stop, split=split, world=world)
    callbacks = [EarlyStopping(config.early_stopping_patience), RankAgreement(world)]
    trainer = Trainer(parts, callbacks, should_stop)
    if resumed:
        state, weights = broadcast(None, world)
        trainer.load_state_dict(state)
        parts.model.load_state_dict(weights, strict=True)
    status = trainer.fit()
    done = max(trainer.saved_epoch, trainer.epoch if status == "completed" else trainer.first_epoch - 1)
    return RunSummary(-1, "", status, done, parts.classes, str(parts.device), {})


def train(
    project_dir: str | Path,
    config: TrainConfig,
    on_event: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    resume_from: str | Path | None = None,
    split: LabelledSplit | None = None,
    run_prefix: str = "",
    world: World | None = None,
) -> RunSummary:
    """Train a classifier on a project's labelled images and store the run in the project.

    Parameters
    ----------
    project_dir
        The project folder; the engine opens its own connection (safe in any thread).
    config
        What to train and how. When resuming, pass the run's own configuration (``epochs`` may be raised).
        ``transfer="auto"`` makes two runs, the linear probe then the partial fine-tune within ``time_budget``
        (:mod:`~dmtl_studio.core.training.auto`), and returns the kept one's summary.
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
    world
        This process's place in a distributed run (its process group joined); rank 0 returns the run's summary,
        the other ranks one without a run (``run_id`` -1) and emit no event.

    Returns
    -------
    RunSummary
        Status ``"completed"`` or ``"stopped"``, epochs completed, the best and last epoch's metrics, and
        ``removed`` when the run ended before saving an epoch (it is then gone from the project); stopped while
        its parts were built (a text encoder's contrastive step), no run was made: ``run_id`` -1, ``run_dir`` "".

    Raises
    ------
    TrainingError
        The run cannot start or go on (too few labelled classes, no run folder, a file changed on disk, a
        non-finite loss, out of GPU memory at the smallest batch), or an Auto run where there can be none (a
        text project, a resumed run, folds, a distributed run); the message says what to do.
    WeightsError
        The backbone's pretrained weights cannot be found offline.
    RunInterrupted
        Ctrl-C (a ``KeyboardInterrupt``) during the epochs: the run is stored as ``"interrupted"`` (removed when
        no epoch was saved); the exception's ``summary`` names it.
    """
    emit = on_event or (lambda event: None)
    if config.transfer == AUTO and world is not None:
        refuse_auto("images", False, False, True)
    if world is not None and not world.is_main:
        return _follow(project_dir, config, world, should_stop, resume_from is not None)
    with ProjectStore.open(project_dir) as store:
        try:
            if config.transfer == AUTO:
                refuse_auto(store.kind, resume_from is not None, split is not None, world is not None)
                return train_auto(
                    store,
                    config,
                    emit,
                    should_stop,
                    lambda phase, on_event, stop, prefix, on_parts: _train(
                        store, phase, on_event, stop, None, None, prefix, None, on_parts
                    ),
                    run_prefix,
                )
            return _train(
                store,
                config,
                emit,
                should_stop,
                Path(resume_from) if resume_from else None,
                split,
                run_prefix,
                world,
            )
        except FileProblem as exc:
            # A file changed on disk since the import: say which, keep it out of the next run, lose nothing else.
            if exc.path:
                store.mark_problems([(exc.path, f"cannot be read any more: {exc.reason}")])
            raise TrainingError(
                f"{exc} — the file changed on disk after the import. It is now listed among the problem files "
                "and left out of the next run; start the run again."
            ) from None
