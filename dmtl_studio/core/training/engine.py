"""The training loop: epochs, batches, precision, the learning-rate schedule and running out of memory.

Everything else a run does — progress events, the project's record, checkpoints and the resume state, early
stopping, the learning-rate range test — is a :class:`Callback`, called in list order at four moments: the fit
starts, a batch ends, an epoch ends (after validation), the fit ends. A callback may ask the loop to stop after
the current batch or epoch by setting :attr:`Trainer.stop_reason`. No Qt and no threads: a stop request from
outside is ``should_stop``, polled at each batch boundary, which ends the fit with status ``"stopped"``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from dmtl_studio.core.base.cancel import Cancelled, ShouldStop, check, never_stop
from dmtl_studio.core.models.transfer import set_train_mode
from dmtl_studio.core.training.consistency import rampup_factor
from dmtl_studio.core.training.device import rng_state, set_rng_state
from dmtl_studio.core.training.errors import NonFiniteLoss, TrainingError
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.held_out import fixed_strength_note
from dmtl_studio.core.training.objective import step_loss, unlabelled_batches
from dmtl_studio.core.training.out_of_fold import HeldOutLogits
from dmtl_studio.core.training.outputs import BatchOutput, EpochOutput
from dmtl_studio.core.training.probe_fit import MIXING_UNUSED_BY_PROBE, fit_probe_head, uses_linear_probe
from dmtl_studio.core.training.schedule import schedule_factor
from dmtl_studio.core.training.settings import MIN_TRAINING_BATCH
from dmtl_studio.core.training.setup import RunParts
from dmtl_studio.core.training.text_head_rate import resumed_rate_notice

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    num_classes: int,
    should_stop: ShouldStop = never_stop,
    scores: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and confusion matrix of ``model`` over ``loader``, in eval mode.

    Parameters
    ----------
    model
        Maps a batch ``(B, ...)`` to logits ``(B, num_classes)``.
    loader
        Yields ``(inputs, targets (B,), index (B,))``.
    scores
        When given, each batch's ``(logits (B, C) float32, targets (B,))`` is appended to it (for calibration).

    Returns
    -------
    tuple
        ``(loss, accuracy, confusion)``: loss in nats per image, accuracy in [0, 1], confusion ``(C, C)`` int64
        with true classes as rows and predictions as columns.

    Raises
    ------
    Cancelled
        ``should_stop`` became true between batches.
    """
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    total_loss, count = 0.0, 0
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for images, targets, _ in loader:
        check(should_stop)
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        total_loss += float(criterion(logits, targets).item())
        predicted = logits.argmax(1)
        if scores is not None:
            scores.append((logits.float().cpu().numpy(), targets.cpu().numpy()))
        np.add.at(confusion, (targets.cpu().numpy(), predicted.cpu().numpy()), 1)
        count += len(targets)
    accuracy = float(np.trace(confusion)) / max(1, count)
    return total_loss / max(1, count), accuracy, confusion


class Callback:
    """A side duty of a run. Override the hooks it needs; ``state_dict`` keys must not collide across callbacks
    (they are stored together, flat, in the run's training state)."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, epoch: EpochOutput) -> None:
        pass

    def on_fit_end(self, trainer: Trainer, status: str) -> None:
        """``status``: ``"completed"``, ``"stopped"`` (a stop request or a callback's :attr:`stop_reason`),
        ``"interrupted"`` (Ctrl-C) or ``"failed"`` (an exception); both re-raised after every callback was told."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Trainer:
    """Runs :meth:`fit` over a run's parts; see the module docstring.

    ``learning_rate_factor(progress, global_step)`` and ``consistency_ramp(progress)`` are the schedule's two
    policies; a callback may replace them in :meth:`Callback.on_fit_start` (the range test does).
    """

    def __init__(
        self,
        parts: RunParts,
        callbacks: Sequence[Callback] = (),
        should_stop: ShouldStop = never_stop,
        notify: Callable[[object], None] | None = None,
    ) -> None:
        self.parts = parts
        self.callbacks = list(callbacks)
        self.should_stop = should_stop
        self.notify = notify or (lambda event: None)
        config = parts.config
        self.epochs = config.epochs
        self.first_epoch = 1
        self.epoch = 0
        self.global_step = 0
        self.saved_epoch = 0  # the newest epoch whose checkpoint is on disk (set by the checkpoint callback)
        self.stop_reason: str | None = None
        self.probe_c: float | None = None  # the L2 strength a linear probe's cross-validation chose
        self.held_out: HeldOutLogits | None = None  # a probe's out-of-fold logits of joined validation items
        #: The moving average of the weights that validation, the checkpoints and the export use instead of the
        #: trained weights (set by :class:`~dmtl_studio.core.training.averaging.WeightAverage`), or ``None``.
        self.averaged: nn.Module | None = None
        self.learning_rate_factor: Callable[[float, int], float] = lambda progress, _: schedule_factor(
            config.schedule, progress, config.warmup_fraction
        )
        self.consistency_ramp: Callable[[float], float] = lambda progress: rampup_factor(
            progress, config.consistency_rampup
        )

    # ------------------------------------------------------------------ the loop
    def fit(self, validate: bool = True) -> str:
        """Train epochs :attr:`first_epoch` .. :attr:`epochs`; returns ``"completed"`` or ``"stopped"``.

        Raises
        ------
        NonFiniteLoss
            The objective became NaN or infinite (no weights of that step are kept).
        TrainingError
            The GPU ran out of memory even with the smallest batch.
        """
        status = "completed"
        try:
            self._each("on_fit_start")
            probe = uses_linear_probe(self.parts.config)
            if probe:  # the head is fitted once, to convergence: one "epoch"
                self.epochs = 1
            for epoch in range(self.first_epoch, self.epochs + 1):
                self.epoch = epoch
                train_loss, train_accuracy, consistency = (
                    self._fit_probe() if probe else self._train_epoch(epoch)
                )
                if self.stop_reason is not None and not validate:
                    break
                self._each(
                    "on_epoch_end",
                    self._end_epoch(epoch, train_loss, train_accuracy, consistency, validate),
                )
                if self.stop_reason is not None:
                    break
        except Cancelled:
            status = "stopped"
        except KeyboardInterrupt:  # Ctrl-C: the run is kept as it was at its last saved epoch, to continue
            self._each("on_fit_end", "interrupted")
            raise
        except BaseException:
            self._each("on_fit_end", "failed")
            raise
        self._each("on_fit_end", status)
        return status

    def _each(self, hook: str, *args: object) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def _end_epoch(
        self,
        epoch: int,
        train_loss: float,
        train_accuracy: float,
        consistency: tuple | None,
        validate: bool,
    ) -> EpochOutput:
        parts = self.parts
        val_loss = val_accuracy = confusion = None
        scores: list[tuple[np.ndarray, np.ndarray]] = []
        if validate and len(parts.val_set) and parts.is_main:  # rank 0 validates and decides for all
            val_loss, val_accuracy, confusion = evaluate(
                self.validated(), parts.val_loader, parts.device, parts.num_classes, self.should_stop, scores
            )
        return EpochOutput(
            epoch=epoch,
            epochs=self.epochs,
            train_loss=train_loss,
            train_accuracy=train_accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            learning_rate=parts.optimizer.param_groups[-1]["lr"],
            confusion=confusion,
            val_scores=scores,
            consistency_loss=consistency[0] if consistency else None,
            consistency_mask=consistency[1] if consistency else None,
            probe_c=self.probe_c,  # set only by a linear probe's fit
            held_out=self.held_out,
        )

    def validated(self) -> nn.Module:
        """What validation runs: :attr:`RunParts.scored`, or the same part of the weight average."""
        averaged, parts = self.averaged, self.parts
        if averaged is None:
            return parts.scored
        return averaged.head if parts.cache is not None else averaged

    def _fit_probe(self) -> tuple[float, float, None]:
        """The head as a linear probe; each cross-validated L2 strength is reported as a step (loss: its held-out
        log-loss, rate: the strength C)."""
        started, count = time.perf_counter(), len(self.parts.train_set)

        def on_c(done: int, total: int, c: float, score: float) -> None:
            now = time.perf_counter()
            step = BatchOutput(1, 1, done, total, -score, -score, c, None, count, now - started, now, "probe")
            self._each("on_batch_end", step)

        loss, accuracy, probe, pseudo, self.held_out = fit_probe_head(self.parts, self.should_stop, on_c)
        self.probe_c = float(probe.c)
        how = probe.search_how() if probe.folds else fixed_strength_note(self.parts.compiled.kind)
        said = "; ".join(filter(None, [f"C = {probe.c:.3g} by {how}", probe.search_note()]))
        self.notify(RunNotice(f"linear probe: the head was fitted to convergence, L2 strength {said}"))
        if pseudo is not None:
            self.notify(RunNotice(pseudo))
        if self.parts.compiled.mixers:
            self.notify(RunNotice(MIXING_UNUSED_BY_PROBE))
        return loss, accuracy, None

    def _train_epoch(self, epoch: int) -> tuple[float, float, tuple[float, float] | None]:
        """One epoch; on running out of GPU memory, halve the batch and train the epoch again."""
        parts = self.parts
        while True:
            try:
                return self._train_epoch_once(epoch)
            except torch.OutOfMemoryError:
                parts.optimizer.zero_grad(set_to_none=True)
                if parts.device.type == "cuda":
                    torch.cuda.empty_cache()
                # Never below what the modules in training mode take (BatchNorm needs 2 images).
                smallest = 1 if parts.cache is not None else MIN_TRAINING_BATCH
                if parts.world is not None:  # ranks take the same steps: none may halve its batch alone
                    raise TrainingError(
                        f"rank {parts.world.rank} ran out of GPU memory with a batch of {parts.batch_size}; "
                        "start the run again with a smaller --batch-size"
                    ) from None
                if parts.batch_size <= smallest:
                    raise TrainingError(
                        f"the GPU ran out of memory even with a batch of {parts.batch_size} image(s); choose a "
                        "smaller backbone or input size, or train on the CPU"
                    ) from None
                parts.batch_size = max(smallest, parts.batch_size // 2)
                parts.build_loaders()
                self.notify(
                    RunNotice(
                        f"out of GPU memory: the batch size is now {parts.batch_size}; epoch {epoch} restarts"
                    )
                )
                log.warning("out of memory; batch size halved to %d", parts.batch_size)

    def _train_epoch_once(self, epoch: int) -> tuple[float, float, tuple[float, float] | None]:
        parts, config = self.parts, self.parts.config
        parts.train_set.set_epoch(epoch)
        if parts.unlabelled_set is not None and parts.cache is None:
            parts.unlabelled_set.set_epoch(epoch)
        parts.generator.manual_seed(config.seed * 1_000_003 + epoch)  # shuffling depends on the epoch alone
        if parts.cache is not None:
            parts.train_loader.epoch = epoch - 1  # the cache loader numbers its epochs itself
        set_train_mode(parts.model)
        loss_sum, correct, seen = 0.0, 0, 0
        consistency_sum = kept_sum = 0.0
        started = time.perf_counter()
        steps = len(parts.train_loader)
        unlabelled = (
            unlabelled_batches(parts, epoch) if parts.dmtl and parts.unlabelled_set is not None else None
        )
        for step, (images, targets, index) in enumerate(parts.train_loader, start=1):
            fetched_at = time.perf_counter()
            check(self.should_stop)
            progress = (epoch - 1 + (step - 1) / steps) / self.epochs
            learning_rate = self._set_learning_rate(progress)
            images = images.to(parts.device, non_blocking=True)
            targets = targets.to(parts.device, non_blocking=True)
            weight = config.consistency_weight * self.consistency_ramp(progress)
            result = step_loss(parts, images, targets, index, epoch, step, weight, unlabelled)
            if not torch.isfinite(result.loss):
                raise NonFiniteLoss(
                    f"the loss became {result.loss.item()} at epoch {epoch}, step {step}; the run was stopped "
                    "and no non-finite weights were saved. Try a lower learning rate."
                )
            parts.optimizer.zero_grad(set_to_none=True)
            parts.scaler.scale(result.loss).backward()
            parts.scaler.step(parts.optimizer)
            parts.scaler.update()
            self.global_step += 1
            batch = len(targets)
            loss_sum += result.supervised * batch
            correct += int((result.logits.argmax(1) == result.truth).sum().item())
            seen += batch
            if result.consistency is not None:
                consistency_sum += result.consistency * batch
                kept_sum += result.kept * batch
            self._each(
                "on_batch_end",
                BatchOutput(
                    epoch=epoch,
                    epochs=self.epochs,
                    step=step,
                    steps=steps,
                    loss=float(result.loss.item()),
                    supervised_loss=result.supervised,
                    learning_rate=learning_rate,
                    consistency_loss=result.consistency,
                    seen=seen,
                    epoch_seconds=time.perf_counter() - started,
                    fetched_at=fetched_at,
                ),
            )
            if self.stop_reason is not None:
                break
        consistency = (consistency_sum / max(1, seen), kept_sum / max(1, seen)) if parts.dmtl else None
        return loss_sum / max(1, seen), correct / max(1, seen), consistency

    def _set_learning_rate(self, progress: float) -> float:
        factor = self.learning_rate_factor(progress, self.global_step)
        for group in self.parts.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        return self.parts.optimizer.param_groups[-1]["lr"]

    # ------------------------------------------------------------------ the resume state
    def state_dict(self) -> dict:
        """The loop's state and every callback's, flat (the run's ``state.pt``, read with ``weights_only``)."""
        parts = self.parts
        state = {
            "epoch": self.epoch,
            "classes": list(parts.split.classes),
            "optimizer": parts.optimizer.state_dict(),
            "base_lrs": [group["base_lr"] for group in parts.optimizer.param_groups],
            "lr_factor": parts.world.lr_factor if parts.world is not None else 1.0,
            "scaler": parts.scaler.state_dict(),
            "rng": rng_state(),
            "batch_size": parts.batch_size,
        }
        for callback in self.callbacks:
            state.update(callback.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue after the epoch ``state`` was saved at (weights are restored by the caller)."""
        parts = self.parts
        if state["classes"] != list(parts.split.classes):
            raise TrainingError(
                "the project's classes changed since this run was saved "
                f"({', '.join(state['classes'])} -> {', '.join(parts.split.classes)}); start a new run instead"
            )
        built = parts.optimizer.param_groups[-1]["base_lr"]  # the head's, as a run started now takes it
        parts.optimizer.load_state_dict(state["optimizer"])
        # Saved by a run on another number of processes: its rates scaled for that many, rescaled for this one.
        rescale = (parts.world.lr_factor if parts.world is not None else 1.0) / state.get("lr_factor", 1.0)
        for group, base in zip(parts.optimizer.param_groups, state["base_lrs"], strict=True):
            group["base_lr"] = base * rescale
        kept = parts.optimizer.param_groups[-1]["base_lr"]
        if not math.isclose(kept, built, rel_tol=1e-6):  # started before a frozen text head's rate was scaled
            self.notify(RunNotice(resumed_rate_notice(kept, built)))
        parts.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        parts.batch_size = int(state["batch_size"])
        parts.build_loaders()
        self.first_epoch = int(state["epoch"]) + 1
        self.saved_epoch = int(state["epoch"])
        for callback in self.callbacks:
            callback.load_state_dict(state)
