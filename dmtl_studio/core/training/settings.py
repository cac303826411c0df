"""The vocabulary of training settings, free of torch: the choices each takes, the :class:`Setting` that describes
a field of :class:`~dmtl_studio.core.training.config.TrainConfig`, and the error a bad value raises."""

from __future__ import annotations

import math
from dataclasses import dataclass

TRANSFER_MODES = ("frozen", "partial", "full", "auto")
#: The strategy that trains a linear probe first, then a fine-tune if the time budget allows (image projects).
AUTO = "auto"
#: The fine-tune Auto's second phase runs: the partial default (the top backbone stages and the head), ahead of the
#: full default on the benchmark sets at half its time (docs/quality.md, "Fine-tuning").
AUTO_FINETUNE = "partial"
HEADS = ("linear", "mlp")
DEVICES = ("auto", "cpu", "cuda")
IMBALANCE = ("none", "weighted_loss", "balanced_sampler")
SCHEDULES = ("cosine", "onecycle")
#: How unlabelled images teach a fine-tuned model: the consistency term, or FixMatch's pseudo-labels.
UNLABELLED_RULES = ("consistency", "fixmatch")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


#: The smallest training batch a backbone in training mode takes: BatchNorm cannot normalise a single image
#: (one value per channel once the image has shrunk to 1 x 1), and its statistics from one image are noise.
MIN_TRAINING_BATCH = 2

#: A text run's recommended cap on its encoder's contrastive fine-tuning (``TrainConfig.contrastive_steps``):
#: SetFit's 20 rounds of pairs for up to 80 labelled texts, the same bounded cost above that (docs/text.md).
CONTRASTIVE_STEPS = 200

BATCH_OF_ONE = (
    "batch size 1 cannot fine-tune a backbone: its BatchNorm layers need at least 2 images in every training "
    "batch. Choose a batch size of 2 or more, or the frozen transfer (only the new head learns)"
)

#: The metadata key under which a field of :class:`TrainConfig` keeps its :class:`Setting`.
SETTING = "setting"
STORED = object()  # a Setting whose new runs start from the stored default


@dataclass(frozen=True)
class Setting:
    """What a form, a command line and the validation need to know about one field of :class:`TrainConfig`.

    Attributes
    ----------
    what
        The setting's plain name, as error messages say it (``"batch size"``).
    help
        One sentence on what it does (the command line's help, the window's tooltip).
    label
        The window's label for it; ``""`` where the window shows no field for it.
    flag
        The command-line option (``"--lr"``); ``""`` derives ``--name-with-dashes`` from the field's name, and a
        boolean that is on by default gets ``--no-name``. ``None``: not on the command line.
    metavar
        The value's name in the command line's help, where the type alone says too little.
    choices
        The allowed values of a text setting.
    low, high
        The valid range (``None``: unbounded on that side); ``low_open`` / ``high_open`` exclude the bound.
    shown_high
        The largest value a form offers where the valid range has no upper bound.
    step, decimals
        A form's step and, for a number with a fraction, its decimals.
    recommended
        What a new run starts with, where it differs from the field's stored default. The stored default stays
        what it was, so that a stored configuration lacking the key means what it meant when it was written.
    rule
        The error message, where "must be between …" says too little.
    off_help
        The help of the ``--no-name`` option of a boolean that is on by default, where "no " and :attr:`help`
        would read wrongly.
    """

    what: str
    help: str = ""
    label: str = ""
    flag: str | None = ""
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    shown_high: float | None = None
    step: float | None = None
    decimals: int | None = None
    recommended: object = STORED
    rule: str = ""
    off_help: str = ""

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is among the choices and inside the range (``None`` always is: "not set").

        Parameters
        ----------
        value
            A value of the field.

        Returns
        -------
        bool
            ``True`` when the value can be used.
        """
        if value is None or isinstance(value, bool):
            return True
        if self.choices and value not in self.choices:
            return False
        if isinstance(value, float) and not math.isfinite(value):  # NaN passes every comparison below
            return False
        if isinstance(value, int | float):
            if self.low is not None and (value <= self.low if self.low_open else value < self.low):
                return False
            if self.high is not None and (value >= self.high if self.high_open else value > self.high):
                return False
        return True

    def describe_rule(self, value: object = None) -> str:
        """The sentence that says which values are allowed (the validation's error message).

        Parameters
        ----------
        value
            The refused value, named when the setting has a list of choices.

        Returns
        -------
        str
            For example ``"dropout must be in [0, 1)"``.
        """
        if isinstance(value, float) and not math.isfinite(value):
            return f"{self.what} must be a number, not {value}"
        if self.rule:
            return self.rule
        if self.choices:
            return f"{self.what} must be one of {', '.join(self.choices)}, not {value!r}"
        low, high = self.low, self.high
        if low is not None and high is None:
            return (
                f"{self.what} must be positive"
                if self.low_open and low == 0
                else f"{self.what} must be at least {low:g}"
            )
        if low is not None and high is not None:
            if self.low_open or self.high_open:
                left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
                return f"{self.what} must be in {left}{low:g}, {high:g}{right}"
            return f"{self.what} must be between {low:g} and {high:g}"
        return f"{self.what} is not valid"


def described(what: str, **details: object) -> dict:
    """A dataclass field's ``metadata`` holding the :class:`Setting` named ``what`` (see :class:`Setting`)."""
    return {SETTING: Setting(what, **details)}  # type: ignore[arg-type]


#: SetFit's rounds of pair sampling in the contrastive step (each labelled text: one same-class and one
#: other-class pair per round; :mod:`~dmtl_studio.core.training.text_contrastive`).
CONTRASTIVE_ITERATIONS = 20
#: Pairs per contrastive step.
CONTRASTIVE_BATCH = 16


def contrastive_step_count(texts: int, max_steps: int) -> int:
    """Steps the contrastive step takes on ``texts`` labelled training texts at the setting ``max_steps``:
    SetFit's ``2 × CONTRASTIVE_ITERATIONS`` pairs a text, ``CONTRASTIVE_BATCH`` a step, at most ``max_steps``
    (0: off)."""
    if max_steps < 1 or texts < 1:
        return 0
    return min(max_steps, -(-2 * CONTRASTIVE_ITERATIONS * texts // CONTRASTIVE_BATCH))
