"""An exponential moving average of the weights (Polyak averaging), kept beside the trained model.

After every optimiser step the average ``a`` moves toward the weights ``w``: ``a <- d * a + (1 - d) * w`` with
``d = min(decay, (1 + n) / (10 + n))`` after ``n`` earlier updates. The warm-up term lets the average follow the
fast early changes of a short run (a few hundred steps, where a fixed 0.999 would still hold mostly the
pretrained weights at the end) and approach ``decay`` only later. Floating-point buffers (BatchNorm's running
statistics) are averaged the same way; integer ones (the batch counter) are copied.

With it, the average is what the run validates (the loss and accuracy of each epoch, early stopping, the best
epoch's pick, the calibration's logits) and what it keeps and exports (the published model); the weights that
train go on unchanged, and a resumed run takes both back.

References
----------
- Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging", SIAM J. Control Optim. 1992.
- TensorFlow's ``tf.train.ExponentialMovingAverage`` (``num_updates``: the ``(1 + n) / (10 + n)`` warm-up).
- timm's ``ModelEmaV3`` (buffers averaged too); torchvision's reference recipe's ``ExponentialMovingAverage``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from dmtl_studio.core.training.engine import Callback, Trainer
from dmtl_studio.core.training.outputs import BatchOutput

#: The keys this callback's state takes in a run's training state.
WEIGHTS_KEY = "averaged_weights"
UPDATES_KEY = "averaged_updates"


def averaging_decay(decay: float, updates: int) -> float:
    """The decay of the update after ``updates`` earlier ones: ``min(decay, (1 + updates) / (10 + updates))``."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class WeightAverage(Callback):
    """Keeps :attr:`model`, the moving average of the run's classifier, and hands it to the trainer as
    :attr:`Trainer.averaged` (what validation, the checkpoints and the export use).

    Parameters
    ----------
    decay
        The largest decay per step, in (0, 1) (the run's ``ema_decay``).
    """

    def __init__(self, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay must be in (0, 1), not {decay}")
        self.decay = decay
        self.updates = 0
        self.model: nn.Module | None = None
        self._pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._saved: dict[str, torch.Tensor] | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        trained = trainer.parts.model
        if self.model is None:
            self.model = copy.deepcopy(trained).eval()
            for parameter in self.model.parameters():
                parameter.requires_grad_(False)
        if self._saved is not None:  # a resumed run: its average as saved
            self.model.load_state_dict(self._saved, strict=True)
            self._saved = None
        ours, theirs = self.model.state_dict(), trained.state_dict()
        self._pairs = [(ours[name], theirs[name]) for name in ours]
        trainer.averaged = self.model

    @torch.no_grad()
    def update(self) -> None:
        """Move the average one step toward the trained weights."""
        weight = 1.0 - averaging_decay(self.decay, self.updates)
        for average, current in self._pairs:
            if average.is_floating_point():
                average.lerp_(current.to(average.dtype), weight)
            else:
                average.copy_(current)
        self.updates += 1

    def on_batch_end(self, trainer: Trainer, batch: BatchOutput) -> None:
        self.update()

    def state_dict(self) -> dict:
        if self.model is None:
            return {}
        weights = {name: t.detach().to("cpu").clone() for name, t in self.model.state_dict().items()}
        return {WEIGHTS_KEY: weights, UPDATES_KEY: self.updates}

    def load_state_dict(self, state: dict) -> None:
        if WEIGHTS_KEY not in state:  # saved before the run averaged its weights: start from the weights
            return
        self._saved = dict(state[WEIGHTS_KEY])
        self.updates = int(state[UPDATES_KEY])
