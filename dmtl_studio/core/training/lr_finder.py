"""Learning-rate range test: train briefly while the learning rate grows exponentially, and watch the loss.

The loss first barely moves (rate too low), then falls fastest, then explodes (rate too high). The suggested
rate is where the smoothed loss falls fastest, which is the usual choice (Smith, "Cyclical learning rates",
2017; fastai's ``lr_find``). The test is a callback, :class:`LRRangeTest`, on the same parts and loop as
training (:func:`~dmtl_studio.core.training.setup.build_run`, :class:`~dmtl_studio.core.training.engine.Trainer`):
the same model, transfer strategy, data, precision and objective — class weights, label smoothing, batch mixing
and the consistency term at its full weight. It stores nothing: the model is built fresh and thrown away. A frozen
backbone runs on the project's cached features, so the test takes seconds once they exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import Cancelled, ShouldStop, never_stop
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Callback, Trainer
from dmtl_studio.core.training.errors import NonFiniteLoss
from dmtl_studio.core.training.outputs import BatchOutput
from dmtl_studio.core.training.settings import AUTO, AUTO_FINETUNE
from dmtl_studio.core.training.text_setup import build_project_run

Progress = Callable[[int, int], None]
#: The frozen backbone's feature pass before the first step: (views done, views planned, seconds so far).
PreparationCallback = Callable[[int, int, float], None]


@dataclass(frozen=True)
class LRFinderResult:
    """Learning rates tried (head rates as the Learning rate box sets them), the smoothed loss at each, and the
    suggested head rate."""

    learning_rates: tuple[float, ...]
    losses: tuple[float, ...]
    suggestion: float
    transfer: str


def suggest_learning_rate(learning_rates: np.ndarray, losses: np.ndarray) -> float:
    """The rate where the smoothed loss falls fastest (per unit of log rate), before its minimum."""
    if len(losses) < 4:
        return float(learning_rates[int(np.argmin(losses))]) / 10.0
    lowest = int(np.argmin(losses))
    end = max(lowest, 3)
    slopes = np.gradient(losses[: end + 1], np.log10(learning_rates[: end + 1]))
    steepest = int(np.argmin(slopes[1:])) + 1  # the first point's one-sided slope is noisy
    return float(learning_rates[steepest])


class LRRangeTest(Callback):
    """Grow the head's rate from ``start_lr`` to ``end_lr`` over ``steps`` steps (the backbone's follows it times
    ``backbone_lr_factor``), record the bias-corrected exponential average of the step loss, and end the fit
    after ``steps`` steps or once that average exceeds ``divergence`` times its best value. Rates are the head's as
    set (a frozen text encoder's head runs ``sqrt(d)`` times them in the optimizer, :mod:`.text_head_rate`), so the
    suggestion is what the Learning rate box takes.

    ``raw_losses`` keeps each step's objective as the loop computed it; ``on_point`` receives each (rate,
    smoothed loss) as it is measured, so the curve can be drawn while the test runs.
    """

    def __init__(
        self,
        start_lr: float,
        end_lr: float,
        steps: int,
        smoothing: float = 0.9,
        divergence: float = 4.0,
        on_point: Callable[[float, float], None] | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self.start_lr, self.steps = start_lr, steps
        self.ratio = (end_lr / start_lr) ** (1.0 / max(1, steps - 1))
        self.smoothing, self.divergence = smoothing, divergence
        self.on_point, self.on_progress = on_point, on_progress
        self._scaled = 1.0
        self.rates: list[float] = []
        self.smoothed: list[float] = []
        self.raw_losses: list[float] = []
        self._average, self._best = 0.0, math.inf

    def on_fit_start(self, trainer: Trainer) -> None:
        head_base = (
            trainer.parts.config.learning_rate
        )  # the head group's base rate; the backbone's is a factor of it
        # The optimizer's head rate over the rate as set (a frozen text encoder's head runs sqrt(d) times it,
        # text_head_rate): the rates are reported as set, so the suggestion is what the Learning rate box takes.
        self._scaled = trainer.parts.optimizer.param_groups[-1]["base_lr"] / head_base
        trainer.learning_rate_factor = lambda _, step: self.start_lr * self.ratio**step / head_base
        trainer.consistency_ramp = lambda _: 1.0  # the objective the run trains at once lambda has ramped up

    def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
        index = len(self.rates)
        self.raw_losses.append(batch.loss)
        self._average = self.smoothing * self._average + (1.0 - self.smoothing) * batch.loss
        value = self._average / (1.0 - self.smoothing ** (index + 1))  # bias-corrected
        rate = batch.learning_rate / self._scaled
        self.rates.append(rate)
        self.smoothed.append(value)
        self._best = min(self._best, value)
        if self.on_point is not None:
            self.on_point(rate, value)
        if self.on_progress is not None:
            self.on_progress(index + 1, self.steps)
        if index + 1 >= self.steps:
            trainer.stop_reason = "the range test tried every planned rate"
        elif index > 5 and value > self.divergence * self._best:
            trainer.stop_reason = "the loss diverged"


def find_learning_rate(
    project_dir: str | Path,
    config: TrainConfig,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    steps: int = 80,
    on_progress: Progress | None = None,
    should_stop: ShouldStop = never_stop,
    on_point: Callable[[float, float], None] | None = None,
    on_preparing: PreparationCallback | None = None,
) -> LRFinderResult:
    """Run a learning-rate range test for ``config`` on a project's training images (see :class:`LRRangeTest`).

    Parameters
    ----------
    start_lr, end_lr
        The head's first and last rate as set (per step, exponentially spaced); the backbone's rate is
        ``config.backbone_lr_factor`` times the head's, as in training.
    steps
        Training steps planned (the test ends earlier when the loss diverges).
    on_progress
        Called with (steps done, steps planned) after each step of the test.
    should_stop
        Polled between batches of the feature pass and between steps; when true, :class:`Cancelled` is raised.
    on_point
        Called with each (rate, smoothed loss) as it is measured.
    on_preparing
        With a frozen backbone, called during the feature pass before the first step with (image views done,
        views planned, seconds so far): that pass is most of the test's time.

    Raises
    ------
    Cancelled
        ``should_stop`` became true.
    TrainingError
        The project cannot train (see :func:`~dmtl_studio.core.training.setup.build_run`).
    ValueError
        The loss was not finite even at the smallest rate.
    """
    with ProjectStore.open(project_dir) as store:
        # The head's rate is measured on the pretrained encoder's embeddings: a text encoder's contrastive
        # fine-tuning would cost minutes before a search of seconds, for a rate the head would hardly change.
        # An Auto run's learning rate serves its fine-tune (its linear probe has none): measured on that.
        transfer = AUTO_FINETUNE if config.transfer == AUTO else config.transfer
        searched = config.with_changes(contrastive_steps=0, transfer=transfer)
        parts = build_project_run(store, searched, should_stop=should_stop, on_preparing=on_preparing)
    test = LRRangeTest(start_lr, end_lr, steps, on_point=on_point, on_progress=on_progress)
    trainer = Trainer(parts, [test], should_stop)
    trainer.epochs = math.ceil(steps / max(1, len(parts.train_loader))) + 1
    try:
        if trainer.fit(validate=False) == "stopped":
            raise Cancelled()
    except NonFiniteLoss:
        pass  # the rates tried so far are the curve
    if not test.rates:
        raise ValueError("the loss was not finite even at the smallest learning rate")
    rates, losses = np.asarray(test.rates), np.asarray(test.smoothed)
    return LRFinderResult(
        learning_rates=tuple(float(v) for v in rates),
        losses=tuple(float(v) for v in losses),
        suggestion=suggest_learning_rate(rates, losses),
        transfer=config.transfer,
    )
