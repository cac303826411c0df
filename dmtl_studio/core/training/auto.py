"""The *Auto* transfer strategy of an image project: the linear probe first, then the partial fine-tune when the
time budget allows it, keeping the better of the two.

Why: on the benchmark sets (20 images per class, 224 px, 3 seeds; docs/quality.md, "Fine-tuning") the partial
fine-tune default — the top backbone stages and the head — is ahead of the frozen default (the linear probe) by
+9.7 points of balanced accuracy on the mean, and of the full fine-tune default by +4.4, at 5–8 times the probe's
wall time on a 2-core CPU where the full one takes 12–39 times; the probe is a usable model in seconds. So Auto:

1. trains the frozen default (the linear probe) as a run of its own (``auto-probe-…``): its model is written at
   once, and the run is usable whatever happens next;
2. starts the partial fine-tune default (:data:`~dmtl_studio.core.training.settings.AUTO_FINETUNE`) as a second
   run (``auto-finetune-…``), its head initialised from the probe's (LP-FT: Kumar et al., "Fine-Tuning can
   Distort Pretrained Features and Underperform Out-of-Distribution", ICLR 2022). After its first
   :data:`CHECK_STEPS` training steps the whole run's time is estimated — the time spent so far (pauses left out),
   the fine-tune's remaining steps at the rate of those steps (image decoding, augmentation, forward and backward
   pass, all measured), and its validation passes at a quarter of a training image's cost each (a forward pass
   against forward and backward; :data:`FORWARD_SHARE`), and again from its first epoch's whole time. Above
   ``time_budget`` minutes the fine-tune is stopped and its run removed: the probe is the result;
3. keeps the better on the validation images when both models were scored on the same ones, neither fitted them,
   and there are at least :data:`~dmtl_studio.core.training.held_out.MIN_VALIDATION_PER_CLASS` per class (balanced
   accuracy; the fine-tune wins a tie). When the probe fitted them (a project with test images), its out-of-fold
   predictions of them stand in for its scores (:mod:`~dmtl_studio.core.training.out_of_fold`): each from a fold
   model that did not see the image, a slightly pessimistic estimate, as the fine-tune's is slightly optimistic
   (its best epoch was picked on the same images). Otherwise the fine-tune is kept, the benchmark's evidence, and the notes say
   why. Stopped during the fine-tune, the probe is kept and the run is complete.

Both runs stay in the project's history; the summary returned is the kept one's, and its ``metrics["auto"]`` holds
both scores and the choice.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from dmtl_studio.core.base.cancel import ShouldStop
from dmtl_studio.core.base.durations import spoken_duration
from dmtl_studio.core.models.checkpoint import WEIGHTS_NAME
from dmtl_studio.core.models.run_notes import NOT_KEPT, add_run_notes
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.callbacks import RunClock
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult, PhaseStarted, RunNotice, RunSummary, StepProgress
from dmtl_studio.core.training.held_out import MIN_VALIDATION_PER_CLASS
from dmtl_studio.core.training.out_of_fold import held_out_confusion
from dmtl_studio.core.training.settings import AUTO_FINETUNE
from dmtl_studio.core.training.setup import EventCallback, RunParts

#: Training steps of the fine-tune measured before its cost is estimated.
CHECK_STEPS = 2
#: A validation image's cost as a share of a training image's: a forward pass in eval mode against a training
#: step's forward and backward pass. Measured once on the 2-core CPU of docs/quality.md: a training step of 16
#: images at 112 px took 4.3 times a validation forward pass of the same images (efficientnet_lite0, medians of 6
#: interleaved repeats; docs/transfer.md "Auto").
FORWARD_SHARE = 1 / 4
#: The largest weight (on the raw features, standardisation folded in) of a probe head a fine-tune starts from;
#: well-behaved probes of the benchmark sets stay below 2.5 (see ``start_head_from_probe``).
MAX_START_WEIGHT = 10.0
PROBE_PREFIX = "auto-probe-"
FINETUNE_PREFIX = "auto-finetune-"

#: Runs one phase: (its configuration, its events, its stop test, its run-name prefix, a hook on its built parts).
PhaseRunner = Callable[
    [TrainConfig, EventCallback, ShouldStop, str, Callable[[RunParts], None] | None], RunSummary
]


def refuse_auto(kind: str, resuming: bool, folds: bool, distributed: bool) -> None:
    """Refuse an Auto run where it cannot be one.

    Raises
    ------
    TrainingError
        A text project (its frozen encoder has its own contrastive fine-tuning), a resumed run (each phase is an
        ordinary run, continued with its own settings), cross-validation folds or a distributed run.
    """
    if kind == "text":
        raise TrainingError(
            "the Auto transfer is for image projects; a text project's frozen encoder is already adapted to the "
            "labels by its contrastive step. Choose frozen, partial or full transfer"
        )
    if resuming:
        raise TrainingError(
            "an Auto run is made of two ordinary runs (auto-probe-… and auto-finetune-…); continue one of them "
            "with its own settings instead of --transfer auto"
        )
    if folds or distributed:
        what = "cross-validation" if folds else "a distributed run"
        raise TrainingError(f"{what} trains one strategy: choose frozen, partial or full transfer, not Auto")


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean recall over the classes that have items (rows: true class, columns: predicted)."""
    support = confusion.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(confusion)[present] / support[present])) if present.any() else 0.0


def start_head_from_probe(model: torch.nn.Module, probe_weights: dict[str, torch.Tensor]) -> tuple[bool, str]:
    """Copy a probe checkpoint's head into ``model``'s head (LP-FT), where the two heads have the same parameters
    and the probe's weights are moderate.

    The probe's standardisation is folded into its linear layer, which applies to the backbone's raw pooled
    features, so the copied head gives the probe's logits on the same features. A feature that barely varies over
    the training images gets its weight divided by its tiny spread: harmless while the features are fixed, but a
    fine-tune moves every feature, and such a head's logits explode (seen on grayscale solar-cell images at 112 px:
    weights up to 134, first-epoch losses of 20–29 against 1.1 from a new head, and balanced accuracy 0.25 against
    0.54 for the plain fine-tune). A head with a weight above :data:`MAX_START_WEIGHT` is therefore not copied.

    Returns
    -------
    tuple[bool, str]
        Whether the head was copied (``False``: ``model`` is left as it was), and what was done, for the notes.
    """
    head = {k.removeprefix("head."): v for k, v in probe_weights.items() if k.startswith("head.")}
    own = model.head.state_dict()
    if set(head) != set(own) or any(head[k].shape != own[k].shape for k in own):
        return False, "the fine-tune's head differs from the probe's and starts from its default"
    largest = max(float(v.abs().max()) for k, v in head.items() if k.endswith("weight"))
    if largest > MAX_START_WEIGHT:
        return False, (
            f"the fine-tune's head starts from its default, not the linear probe's: the probe leans on features "
            f"that barely vary over these images (a weight of {largest:.0f} on the raw features, above "
            f"{MAX_START_WEIGHT:.0f}), which a fine-tune would make explode"
        )
    with torch.no_grad():
        model.head.load_state_dict({k: v.to(own[k].device, own[k].dtype) for k, v in head.items()})
    return True, "the fine-tune's head starts from the linear probe's (LP-FT)"


class _Phase:
    """One phase's events passed on, its validation confusions kept, and (the fine-tune) its budget watched."""

    def __init__(self, emit: EventCallback, budget: _Budget | None = None) -> None:
        self.emit, self.budget = emit, budget
        self.confusions: dict[int, np.ndarray | None] = {}

    def __call__(self, event: object) -> None:
        if isinstance(event, EpochResult):
            self.confusions[event.epoch] = event.confusion
            if self.budget is not None:
                self.budget.epoch_ended(event)
        self.emit(event)
        budget = self.budget
        # The estimate, once made, is said here when it fits (over the budget, the phase's end says so).
        if isinstance(event, StepProgress) and budget is not None and budget(event) and not budget.over:
            self.emit(
                RunNotice(
                    f"Auto: the fine-tune goes on, estimated {spoken_duration(budget.estimate_s or 0.0)} for the whole "
                    f"run, within the budget of {spoken_duration(budget.budget_s)} (measured on its first "
                    f"{budget.steps} step(s))"
                )
            )


class _RunClock(RunClock):
    """The Auto run's working time: wall time since it began, less the waits inside ``should_stop`` (a paused
    run waits there), so that a pause never counts against the budget."""

    def __init__(self, should_stop: ShouldStop) -> None:
        super().__init__(should_stop)
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.waited


class _Budget:
    """Stops the fine-tune after :data:`CHECK_STEPS` steps when the whole run's estimate exceeds the budget."""

    def __init__(self, elapsed: Callable[[], float], budget_s: float, val_images: int, views: int) -> None:
        self.elapsed, self.budget_s, self.val_images, self.views = elapsed, budget_s, val_images, views
        self.steps = 0
        self.estimate_s: float | None = None
        self.over = False
        self.started_s = elapsed()  # the fine-tune's start on the run's clock (its set-up comes first)
        self.first_step: tuple[float, int] | None = None  # when its first step ended, and steps per epoch
        self.after_epoch = False  # the estimate was made again at the end of the first epoch

    def epoch_ended(self, event: EpochResult) -> None:
        """After the fine-tune's first epoch, estimate again from that epoch's whole time — the steps, the
        validation pass (with flip TTA) and the checkpoint, which the first steps do not show — and stop it then
        when the run would go over the budget."""
        if event.epoch != 1 or event.epochs <= 1 or self.over:
            return
        now = self.elapsed()
        first, steps = self.first_step or (self.started_s, 1)
        # From the first step on (the set-up left out), scaled to the whole epoch; else from the start.
        epoch_s = (now - first) * steps / (steps - 1) if steps > 1 else now - self.started_s
        self.estimate_s = now + (event.epochs - 1) * epoch_s
        self.after_epoch = True
        self.over = self.estimate_s > self.budget_s

    def made_on(self) -> str:
        """What the estimate was made on, for the notes."""
        return "first epoch" if self.after_epoch else f"first {self.steps} step(s)"

    def __call__(self, event: StepProgress) -> bool:
        """Count the step; after :data:`CHECK_STEPS` of them make the estimate. True when this step made it."""
        self.steps += 1
        if self.first_step is None:
            self.first_step = (self.elapsed(), event.steps)
        total = event.epochs * event.steps
        if self.estimate_s is not None or (self.steps < CHECK_STEPS and self.steps < total):
            return False
        steps_left = total - ((event.epoch - 1) * event.steps + event.step)
        per_image = 1.0 / event.images_per_second if event.images_per_second > 0 else 0.0
        validation = (
            (event.epochs - event.epoch + 1) * self.val_images * self.views * per_image * FORWARD_SHARE
        )
        training = (event.eta_seconds or 0.0) if steps_left else 0.0
        self.estimate_s = self.elapsed() + training + validation
        self.over = self.estimate_s > self.budget_s
        return True


def _val_count(confusion: np.ndarray | None) -> int:
    return int(confusion.sum()) if confusion is not None else 0


def _discard(store: ProjectStore, summary: RunSummary) -> None:
    """Remove a fine-tune stopped for the budget (kept only if it had saved an epoch: a one-step epoch)."""
    if summary.removed or summary.run_id < 0:
        return
    store.delete_run(summary.run_id)
    shutil.rmtree(summary.run_dir, ignore_errors=True)


def _with_choice(store: ProjectStore, summary: RunSummary, choice: dict, emit: EventCallback) -> RunSummary:
    emit(RunNotice(choice["note"]))
    store.add_run_metrics(summary.run_id, {"auto": choice})  # which run lost, known after a reopening too
    add_run_notes(summary.run_dir, [choice["note"]])  # the kept run's report says why it was kept
    lost = choice.get("finetune_run") if choice["kept"] == "probe" else None  # left in the history, not kept
    if lost:
        add_run_notes(lost, [f"{NOT_KEPT} {Path(summary.run_dir).name}: {choice['note']}"])
    return dataclasses.replace(summary, metrics={**summary.metrics, "auto": choice})


def train_auto(
    store: ProjectStore,
    config: TrainConfig,
    emit: EventCallback,
    should_stop: ShouldStop,
    run_phase: PhaseRunner,
    run_prefix: str = "",
) -> RunSummary:
    """Run the Auto strategy (see the module docstring) on the open image project ``store``.

    Parameters
    ----------
    config
        The run's settings, ``transfer`` ``"auto"``: the probe runs them with ``transfer="frozen"``, the fine-tune
        with ``transfer="partial"`` (its ``unfreeze_stages``); ``time_budget`` is in minutes.
    run_phase
        Trains one phase as a run of its own and returns its summary (given by
        :func:`~dmtl_studio.core.training.run.train`).

    Returns
    -------
    RunSummary
        The kept run's, ``metrics["auto"]`` saying both scores (``probe``, ``finetune``: balanced accuracy on the
        validation images or ``None``), ``kept`` (``"probe"`` or ``"finetune"``) and the ``note``. A probe stopped
        or interrupted is returned as it is, with no fine-tune.

    Raises
    ------
    TrainingError, WeightsError
        As :func:`~dmtl_studio.core.training.run.train` raises them, from the probe (a fine-tune that cannot go on
        leaves the probe as the result, with a note saying why).
    RunInterrupted
        Ctrl-C in either phase, naming that phase's run.
    """
    clock = _RunClock(should_stop)
    budget_s = config.time_budget * 60
    emit(PhaseStarted(1, 2, "linear probe (frozen backbone)"))
    probe_phase = _Phase(emit)

    def phase_of_auto(parts: RunParts) -> None:
        parts.strategy = config  # its time budget is Auto's: used, not an option of another strategy

    probe = run_phase(
        # The strategy is a linear probe, then a fine-tune from its head, whatever the frozen strategy's own
        # settings say (an unticked box, an mlp head made its first phase a head trained by epochs under the
        # probe's name in its notes, the history and the report).
        config.with_changes(transfer="frozen", linear_probe=True, head="linear"),
        probe_phase,
        clock.should_stop,
        run_prefix + PROBE_PREFIX,
        phase_of_auto,
    )
    if probe.status != "completed" or probe.removed:
        return probe
    probe_confusion = probe_phase.confusions.get(max(probe_phase.confusions, default=0))
    base = {"probe_run": probe.run_dir, "finetune_run": None, "probe": None, "finetune": None}

    def probe_kept(note: str) -> RunSummary:
        return _with_choice(store, probe, {**base, "kept": "probe", "note": note}, emit)

    spent = clock.elapsed()
    if budget_s <= 0:
        return probe_kept("Auto kept the linear probe: the time budget is 0 min, so no fine-tune was tried")
    if spent >= budget_s:
        return probe_kept(
            f"Auto kept the linear probe: fine-tune skipped, the probe alone took {spoken_duration(spent)} of the "
            f"{spoken_duration(budget_s)} budget"
        )
    finetune_config = config.with_changes(transfer=AUTO_FINETUNE, head="linear")  # the probe's head, tuned
    budget = _Budget(
        clock.elapsed, budget_s, _val_count(probe_confusion), 2 if finetune_config.tta_flip else 1
    )
    weights = load_file(str(Path(probe.run_dir) / WEIGHTS_NAME))
    head_note: list[str] = []

    def from_probe(parts: RunParts) -> None:
        phase_of_auto(parts)
        head_note.append(start_head_from_probe(parts.model, weights)[1])

    emit(PhaseStarted(2, 2, f"{AUTO_FINETUNE} fine-tune"))
    finetune_phase = _Phase(emit, budget)
    try:
        finetune = run_phase(
            finetune_config,
            finetune_phase,
            lambda: budget.over or clock.should_stop(),
            run_prefix + FINETUNE_PREFIX,
            from_probe,
        )
    except TrainingError as exc:  # the probe's run is complete: it stays the result
        return probe_kept(f"Auto kept the linear probe: the fine-tune could not go on ({exc})")
    if head_note:
        emit(RunNotice(f"Auto: {head_note[0]}"))
    if budget.over:
        _discard(store, finetune)
        what = "stopped after its first epoch" if budget.after_epoch else "skipped"
        return probe_kept(
            f"Auto kept the linear probe: fine-tune {what}, the whole run would take about "
            f"{spoken_duration(budget.estimate_s or 0.0)}, over the {spoken_duration(budget_s)} budget (estimated on the "
            f"fine-tune's {budget.made_on()})"
        )
    base["finetune_run"] = None if finetune.removed else finetune.run_dir
    if finetune.status != "completed" or finetune.removed:
        kept = (
            "nothing of it was saved"
            if finetune.removed
            else "its run stays in the history and can be continued"
        )
        return probe_kept(
            f"Auto kept the linear probe, whose run is complete: the fine-tune was stopped ({kept})"
        )
    best_epoch = int(finetune.metrics.get("best", {}).get("epoch", 0) or 0)
    finetune_confusion = finetune_phase.confusions.get(best_epoch)
    classes = len(probe.classes)
    out_of_fold = False
    if probe_confusion is None:  # the probe fitted the validation images: its out-of-fold predictions of them
        probe_confusion = held_out_confusion(probe.run_dir, probe.classes)
        out_of_fold = probe_confusion is not None
    if probe_confusion is None and store.split_counts().get("test", 0) > 0:
        why = "the linear probe fitted the validation images (they join its fit when the project has test images)"
    elif probe_confusion is None:
        why = "the project has no validation images"
    elif finetune_confusion is None or _val_count(finetune_confusion) != _val_count(probe_confusion):
        why = "the fine-tune trained on the validation images"
    elif _val_count(probe_confusion) < MIN_VALIDATION_PER_CLASS * classes:
        why = (
            f"{_val_count(probe_confusion)} validation image(s) for {classes} classes are too few to compare on "
            f"(fewer than {MIN_VALIDATION_PER_CLASS} per class)"
        )
    else:
        why = ""
    if why:
        choice = {
            **base,
            "kept": "finetune",
            "note": f"Auto kept the fine-tune without a comparison, as {why}; on the benchmark sets it is "
            "ahead of the linear probe (docs/quality.md)",
        }
        return _with_choice(store, finetune, choice, emit)
    scores = {"probe": balanced_accuracy(probe_confusion), "finetune": balanced_accuracy(finetune_confusion)}
    kept = "probe" if scores["probe"] > scores["finetune"] else "finetune"
    other = "finetune" if kept == "probe" else "probe"
    words = {"probe": "the linear probe", "finetune": "the fine-tune"}
    how = "; the probe's score is out of fold: it fitted them, each is predicted by a fold model that did not see it"
    note = (
        f"Auto kept {words[kept]}: balanced accuracy {scores[kept]:.3f} vs {scores[other]:.3f} for "
        f"{words[other]} on the {_val_count(probe_confusion)} validation images"
        + (" (a tie goes to the fine-tune)" if scores["probe"] == scores["finetune"] else "")
        + (how if out_of_fold else "")
    )
    chosen = finetune if kept == "finetune" else probe
    return _with_choice(store, chosen, {**base, **scores, "kept": kept, "note": note}, emit)
