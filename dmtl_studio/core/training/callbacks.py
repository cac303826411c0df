"""The side duties of a training run, one callback each (see :mod:`dmtl_studio.core.training.engine`).

In the order :func:`dmtl_studio.core.training.run.train` lists them:

- :class:`StoreRecorder` records each epoch's scores in the project, and at the end finishes the run's row (or
  removes a run that saved no epoch);
- :class:`EarlyStopping` counts epochs without a better validation loss and ends the fit after ``patience``;
- :class:`Checkpointing` writes each epoch's checkpoint unit — latest and best model, and the whole training
  state (the loop's and every callback's) — so Stop or a crash at any moment resumes from one consistent epoch;
- :class:`ProgressEvents` turns the run into the events the window and the CLI show;
- :class:`RankAgreement` (a distributed run only, on every rank) keeps the ranks in step.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dmtl_studio.core.base.cancel import ShouldStop
from dmtl_studio.core.models.calibration import MIN_IMAGES, calibrate
from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME
from dmtl_studio.core.project import run_lock
from dmtl_studio.core.project.store import EpochMetrics, ProjectStore
from dmtl_studio.core.training import run_state
from dmtl_studio.core.training.distributed import World, broadcast
from dmtl_studio.core.training.engine import Callback, Trainer
from dmtl_studio.core.training.events import EpochResult, PreparationProgress, RunNotice, StepProgress
from dmtl_studio.core.training.out_of_fold import FITTED_ON
from dmtl_studio.core.training.outputs import BatchOutput, EpochOutput

log = logging.getLogger(__name__)


def uncalibrated_notice(count: int, item: str = "image", joined: int = 0, probe: bool = False) -> str:
    """The run's note when no temperature could be fitted on its ``count`` held-out validation items (``item``:
    ``"image"`` or ``"text"``; ``joined``: validation items that joined the training instead; ``probe``: the
    head is a linear probe), and what it means for the confidences and predict's "not sure" choices (the
    command line's options and the window's)."""
    fixed = "a fixed confidence (predict --reject-below P; in the window, \"'Unsure' below … confidence\")"
    if count == 0:
        few = (
            f"the {joined} validation {item}(s) joined the training (above) and none is held out to fit a "
            "temperature on"
            if joined
            else f"no held-out validation {item} to fit a temperature on"
        )
        threshold = (
            "a target accuracy (predict --target-accuracy; in the window, \"'Unsure' to reach …\") has none to "
            f"choose a threshold on either and is refused: give {fixed}"
        )
    else:
        scored = (
            " (scored by the models of the folds that left them out, as they joined the fit)"
            if joined
            else ""
        )
        few = f"{count} validation {item}(s){scored}, fewer than the {MIN_IMAGES} needed to fit a temperature"
        threshold = (
            f"a target-accuracy threshold would be chosen on those {count} {item}(s) alone: prefer {fixed}"
        )
    if joined and count == 0 and probe:
        # A linear probe's joined items are scored out of fold (count > 0) unless a class has a single labelled
        # item: no folds can be made, and more validation items would join the fit too.
        more = (
            f"label a second, different {item} of each class that has only one (the class named above; the "
            f"probe's cross-validation needs two distinct {item}s of every class), or remove that class, and train "
            "again"
        )
    elif joined and count == 0:
        more = f"add validation {item}s until they are too many to join the training, and train again"
    else:
        more = f"add validation {item}s (at least {MIN_IMAGES}) and train again"
    return (
        f"no calibration: {few}, so the model's confidences are uncalibrated (its plain softmax, often "
        f"over-confident); {threshold}, or {more}"
    )


class RunClock:
    """``should_stop`` wrapped to time the waits inside it (a paused run waits there), for the ETA."""

    def __init__(self, should_stop: ShouldStop) -> None:
        self._should_stop = should_stop
        self.waited = 0.0  # seconds

    def should_stop(self) -> bool:
        started = time.perf_counter()
        try:
            return self._should_stop()
        finally:
            self.waited += time.perf_counter() - started


class ProgressEvents(Callback):
    """:class:`StepProgress` after each batch, :class:`EpochResult` after each epoch, the feature pass as
    :class:`PreparationProgress`, and a :class:`RunNotice` when a callback ends the fit early.

    The ETA counts the training phase's own rate: the feature pass and pauses are left out of it.
    """

    def __init__(self, emit: Callable[[object], None], clock: RunClock) -> None:
        self.emit, self.clock = emit, clock
        self.trainer: Trainer | None = None
        self._started: float | None = None
        self._excluded_at_start = 0.0
        self._steps = 0
        self._kept: list[float] = []  # each epoch's share of views confident enough for the consistency term

    def _excluded(self) -> float:
        cache = self.trainer.parts.cache if self.trainer is not None else None
        return self.clock.waited + (cache.seconds if cache is not None else 0.0)

    def preparing(self, done: int, total: int, seconds: float) -> None:
        """The feature cache's progress callback (given to :func:`~dmtl_studio.core.training.setup.build_run`)."""
        cache = self.trainer.parts.cache if self.trainer is not None else None
        self.emit(
            PreparationProgress(
                done,
                total,
                seconds,
                reused=cache.reused if cache is not None else 0,
                eta_seconds=cache.eta_seconds() if cache is not None else None,
                epochs_completed=self.trainer.saved_epoch if self.trainer is not None else 0,
            )
        )

    def on_fit_start(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
        if self._started is None:  # after the feature pass, computed as the loader starts
            self._started, self._excluded_at_start = batch.fetched_at, self._excluded()
        self._steps += 1
        spent = time.perf_counter() - self._started - (self._excluded() - self._excluded_at_start)
        steps_left = trainer.epochs * batch.steps - ((batch.epoch - 1) * batch.steps + batch.step)
        self.emit(
            StepProgress(
                epoch=batch.epoch,
                epochs=batch.epochs,
                step=batch.step,
                steps=batch.steps,
                loss=batch.supervised_loss,
                learning_rate=batch.learning_rate,
                images_per_second=batch.seen / batch.epoch_seconds if batch.epoch_seconds > 0 else 0.0,
                consistency_loss=batch.consistency_loss,
                eta_seconds=max(0.0, spent) / self._steps * steps_left,
                epochs_completed=trainer.saved_epoch,
                phase=batch.phase,
            )
        )

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        self.emit(
            EpochResult(
                epoch=epoch.epoch,
                epochs=epoch.epochs,
                train_loss=epoch.train_loss,
                train_accuracy=epoch.train_accuracy,
                val_loss=epoch.val_loss,
                val_accuracy=epoch.val_accuracy,
                learning_rate=epoch.learning_rate,
                confusion=epoch.confusion,
                classes=trainer.parts.classes,
                consistency_loss=epoch.consistency_loss,
                consistency_mask=epoch.consistency_mask,
                probe_c=epoch.probe_c,
            )
        )
        if trainer.stop_reason is not None:
            self.emit(RunNotice(trainer.stop_reason))
        if epoch.consistency_mask is not None and trainer.parts.unlabelled_set is not None:
            self._kept.append(epoch.consistency_mask)

    def on_fit_end(self, trainer: Trainer, status: str) -> None:
        # The unlabelled items never took part: said, not left to a plot.
        if self._kept and max(self._kept) == 0:
            config = trainer.parts.config
            fixmatch = config.unlabelled_rule == "fixmatch"
            threshold = config.pseudo_label_threshold if fixmatch else config.consistency_threshold
            what = "'Pseudo-label confidence'" if fixmatch else "the consistency confidence threshold"
            self.emit(
                RunNotice(
                    f"the unlabelled items took no part in this run: none was predicted with the {threshold:.0%} "
                    f"confidence asked of them, in any epoch (a lower {what}, or more epochs, lets them in)"
                )
            )


class EarlyStopping(Callback):
    """End the fit after ``patience`` epochs without a validation loss lower by more than 1e-6 (0: never).

    Runs with no validation images never stop early.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_val_loss = math.inf
        self.stale_epochs = 0

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        if epoch.val_loss is not None and epoch.val_loss < self.best_val_loss - 1e-6:
            self.best_val_loss, self.stale_epochs = epoch.val_loss, 0
        else:
            self.stale_epochs += 1
        if (
            self.patience
            and epoch.val_loss is not None
            and self.stale_epochs >= self.patience
            and epoch.epoch < trainer.epochs
        ):
            trainer.stop_reason = f"stopped early after epoch {epoch.epoch}: no better validation loss for {self.patience} epochs"

    def state_dict(self) -> dict:
        return {"best_val_loss": self.best_val_loss, "stale_epochs": self.stale_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best_val_loss = float(state["best_val_loss"])
        self.stale_epochs = int(state["stale_epochs"])


def serialise(state: dict) -> bytes:
    """The training state as bytes (written by the caller; never streamed to disk by torch's own writer)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


class Checkpointing(Callback):
    """Each epoch's checkpoint unit in ``run_dir`` (see :mod:`dmtl_studio.core.training.run_state`).

    The best epoch is the one with the highest validation accuracy, a tie to the lower validation loss (training
    accuracy without validation images); with ``pick_best`` false (too few for a pick) it is always the latest.
    ``files_for(metrics, calibration, model)`` gives a model's files (weights and sidecar) as bytes (``model``
    ``None``: the run's trained classifier); the temperature is fitted on the epoch's validation logits. With too
    few of them to fit one (fewer than :data:`~dmtl_studio.core.models.calibration.MIN_IMAGES`), the run's notes
    say so once (:func:`uncalibrated_notice`; ``item`` names what the project holds: ``"image"`` or ``"text"``).

    With a weight average (:attr:`Trainer.averaged`) the best model is the average's; the latest weights, what a
    resumed run trains on from, stay the trained ones (the average itself travels in the training state).
    """

    def __init__(
        self,
        run_dir: Path,
        files_for: Callable[[dict, dict | None, torch.nn.Module | None], dict[str, bytes]],
        pick_best: bool = True,
        item: str = "image",
        joined: int = 0,
        probe: bool = False,
    ) -> None:
        self.run_dir, self.files_for, self.pick_best, self.item = run_dir, files_for, pick_best, item
        self.joined = joined  # validation items that joined the training: why none is held out
        self.probe = probe  # a linear probe: its joined items are scored out of fold when folds can be made
        self.uncalibrated_noted = False
        self.best_score = -math.inf
        self.best_metrics: dict = {}
        self.last_metrics: dict = {}
        self.best_files: dict[str, bytes] = {}

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        kept_before = (self.best_score, self.best_metrics, self.last_metrics, self.best_files)
        try:
            self._save(trainer, epoch)
        except BaseException:  # (Ctrl-C during the save) the run reports the epoch it keeps, not this one
            self.best_score, self.best_metrics, self.last_metrics, self.best_files = kept_before
            raise

    def _save(self, trainer: Trainer, epoch: EpochOutput) -> None:
        self.last_metrics = epoch.metrics()
        score = epoch.val_accuracy if epoch.val_accuracy is not None else epoch.train_accuracy
        best_loss, loss = self.best_metrics.get("val_loss"), epoch.val_loss  # a tie: the lower loss (h28)
        tied = score == self.best_score and None not in (loss, best_loss) and loss < best_loss
        improved = score > self.best_score or tied or not self.pick_best
        if improved:
            self.best_score, self.best_metrics = score, dict(self.last_metrics)
        averaged = trainer.averaged
        calibration, count = self._calibration(epoch)
        if calibration is None and not self.uncalibrated_noted and count < MIN_IMAGES:
            trainer.notify(RunNotice(uncalibrated_notice(count, self.item, self.joined, self.probe)))
            self.uncalibrated_noted = True
        kept = self.files_for(self.last_metrics, calibration, averaged)
        last = kept if averaged is None else self.files_for(self.last_metrics, None, None)
        if improved or not self.best_files:
            self.best_files = kept if improved else self.files_for(self.best_metrics, None, averaged)
        run_state.save_epoch(
            self.run_dir,
            epoch.epoch,
            {
                run_state.LAST_WEIGHTS: last[WEIGHTS_NAME],
                run_state.LAST_SIDECAR: last[SIDECAR_NAME],
                run_state.BEST_WEIGHTS: self.best_files[WEIGHTS_NAME],
                run_state.BEST_SIDECAR: self.best_files[SIDECAR_NAME],
                run_state.STATE_NAME: serialise(trainer.state_dict()),
            },
        )
        trainer.saved_epoch = epoch.epoch

    def _calibration(self, epoch: EpochOutput) -> tuple[dict | None, int]:
        """Temperature scaling fitted on the validation logits just computed (None with too few images); when the
        validation items joined a linear probe's fit, on their out-of-fold logits (never the in-fit ones). With it,
        how many validation items it was fitted on (or would have been)."""
        scores, fitted_on = epoch.val_scores, "validation"
        if not scores and epoch.held_out is not None:
            scores, fitted_on = [(epoch.held_out.logits, epoch.held_out.targets)], FITTED_ON
        logits = np.concatenate([s[0] for s in scores]) if scores else np.zeros((0, 1))
        targets = np.concatenate([s[1] for s in scores]) if scores else np.zeros(0, np.int64)
        fitted = calibrate(logits, targets, fitted_on=fitted_on)
        if fitted is None and len(targets) >= MIN_IMAGES:
            log.warning(
                "%s: the validation scores are not finite; no temperature was fitted", self.run_dir.name
            )
        return fitted, len(targets)

    def final_metrics(self) -> dict:
        return {"best": self.best_metrics, "last": self.last_metrics}

    def state_dict(self) -> dict:
        return {
            "best_score": self.best_score,
            "best_metrics": self.best_metrics,
            "last_metrics": self.last_metrics,
        }

    def load_state_dict(self, state: dict) -> None:
        self.best_score = float(state["best_score"])
        self.best_metrics = dict(state["best_metrics"])
        self.last_metrics = dict(state["last_metrics"])


class StoreRecorder(Callback):
    """Each epoch's scores into the project's record of the run; at the end, the run's status.

    A run that ended before saving any epoch is removed, row and folder: no empty runs in the history. The
    features it computed stay in the project's feature cache, so the next run starts from them.
    """

    def __init__(
        self, store: ProjectStore, run_id: int, run_dir: Path, final_metrics: Callable[[], dict]
    ) -> None:
        self.store, self.run_id, self.run_dir, self.final_metrics = store, run_id, run_dir, final_metrics
        self.removed = False

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        self.store.record_epoch(
            self.run_id,
            EpochMetrics(
                epoch.epoch,
                epoch.train_loss,
                epoch.train_accuracy,
                epoch.val_loss,
                epoch.val_accuracy,
                epoch.learning_rate,
            ),
        )

    def on_fit_end(self, trainer: Trainer, status: str) -> None:
        if not trainer.saved_epoch and not run_lock.has_checkpoint(self.run_dir):
            self.store.delete_run(self.run_id)
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.removed = True
            log.info("run %s ended before its first epoch was saved and was removed", self.run_dir.name)
            return
        if (
            status == "interrupted"
        ):  # an epoch recorded but not saved (Ctrl-C during its save) is not the run's
            self.store.forget_epochs_after(self.run_id, trainer.saved_epoch)
        final = self.final_metrics()
        self.store.finish_run(self.run_id, status, final["last"] if status == "failed" else final)
        run_lock.remove_lock(self.run_dir)


class RankAgreement(Callback):
    """What keeps the ranks of a distributed run in step (the last callback, on every rank).

    The frozen backbone's feature pass is shared by all ranks, so every part of it is computed before the first
    batch by all of them (a single process computes them lazily, which one rank alone could not); after each
    epoch every rank takes rank 0's decision to stop (rank 0 alone validates).
    """

    def __init__(self, world: World) -> None:
        self.world = world

    def on_fit_start(self, trainer: Trainer) -> None:
        cache = trainer.parts.cache
        if cache is not None:
            cache.train()
            cache.val()
            if cache.unlabelled_set is not None:
                cache.unlabelled()

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        trainer.stop_reason = broadcast(trainer.stop_reason, self.world)
