"""k-fold cross-validation of a training configuration over a project's labelled images.

With few images one validation split is a noisy judge: two configurations can swap places by chance. Here every
labelled image is held out exactly once; each fold trains with the given configuration on the other folds and
is scored on its own, and the result is the mean ± standard deviation of the fold accuracies and balanced
accuracies (the mean recall of the classes, which a model that always answers the largest class cannot lift
above 1 / classes), with what always answering the largest class would score. Folds are
stratified by class and seeded; images with identical content (the same hash) always share a fold, so a
duplicate never sits on both sides. Fold runs are stored with a ``cv-`` name prefix, apart from normal runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import Cancelled, ShouldStop, never_stop
from dmtl_studio.core.base.confusion import balanced_accuracy
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult, FoldResult
from dmtl_studio.core.training.labelled import LabelledSplit
from dmtl_studio.core.training.run import CROSSVAL_PREFIX, train

RUN_PREFIX = CROSSVAL_PREFIX


@dataclass(frozen=True)
class CrossValidation:
    folds: tuple[FoldResult, ...]

    @property
    def accuracies(self) -> list[float]:
        return [f.accuracy for f in self.folds]

    @property
    def mean(self) -> float:
        return statistics.mean(self.accuracies)

    @property
    def std(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.folds) > 1 else 0.0

    @property
    def balanced(self) -> tuple[float, float] | None:
        """Mean and standard deviation of the folds' balanced accuracies (``None`` when a fold lacks one)."""
        values = [f.balanced_accuracy for f in self.folds]
        if not values or any(v is None for v in values):
            return None
        return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def majority_rate(self) -> float | None:
        """The mean over folds of the largest class's share of the held-out items (``None`` when unknown)."""
        values = [f.majority_rate for f in self.folds]
        return statistics.mean(values) if values and all(v is not None for v in values) else None

    def majority_warning(self) -> str:
        """What always answering the largest class would score, when the classes are unequal (the largest
        holds at least 1.5 times its equal share) and that comes within 5 points of the mean accuracy, with what
        to do; empty otherwise (a weak model on equal classes is not an imbalance)."""
        majority, classes = self.majority_rate, max((f.classes for f in self.folds), default=0)
        if majority is None or classes < 2 or majority < 1.5 / classes or majority < self.mean - 0.05:
            return ""
        return (
            f"always answering the largest class would score {majority:.3f}: judge by the balanced accuracy, "
            "and consider weighting the loss by class (Class imbalance; --imbalance weighted_loss)"
        )

    def to_dict(self) -> dict:
        balanced = self.balanced
        return {
            "folds": len(self.folds),
            "mean_accuracy": self.mean,
            "std_accuracy": self.std,
            "mean_balanced_accuracy": balanced[0] if balanced else None,
            "std_balanced_accuracy": balanced[1] if balanced else None,
            "majority_rate": self.majority_rate,
            "majority_warning": self.majority_warning(),
            "per_fold": _per_fold(self.folds),
        }

    def describe(self) -> str:
        """The summary line: accuracy and balanced accuracy, mean ± sd over the folds, and
        :meth:`majority_warning` when it has something to say."""
        line = f"{len(self.folds)}-fold accuracy: {self.mean:.3f} ± {self.std:.3f}"
        if self.balanced is not None:
            line += f", balanced accuracy {self.balanced[0]:.3f} ± {self.balanced[1]:.3f}"
        warning = self.majority_warning()
        return f"{line}; {warning}" if warning else line


def _per_fold(folds: tuple[FoldResult, ...]) -> list[dict]:
    return [
        {
            "fold": f.fold,
            "train_images": f.train_images,
            "test_images": f.test_images,
            "accuracy": f.accuracy,
            "balanced_accuracy": f.balanced_accuracy,
            "majority_rate": f.majority_rate,
            "run_dir": f.run_dir,
        }
        for f in folds
    ]


class CrossValidationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a cross-validation: the folds that finished (their runs are kept, ``completed``), the fold
    that was training (``fold`` of ``folds``) and, when it had begun, its run's
    :class:`~dmtl_studio.core.training.events.RunSummary` (``summary``: kept as ``"interrupted"`` once an epoch
    was saved). A cross-validation is not continued: the command is run again for all folds."""

    def __init__(self, folds: int, fold: int, completed: tuple[FoldResult, ...], summary: object) -> None:
        super().__init__("the cross-validation was interrupted")
        self.folds, self.fold, self.completed, self.summary = folds, fold, completed, summary

    @property
    def fold_run_dir(self) -> str | None:
        """The interrupted fold's run folder, when it is kept."""
        if self.summary is None or self.summary.removed or not self.summary.run_dir:
            return None
        return self.summary.run_dir

    def to_dict(self) -> dict:
        return {
            "status": "interrupted",
            "folds": self.folds,
            "interrupted_fold": self.fold,
            "interrupted_fold_run_dir": self.fold_run_dir,
            "completed": _per_fold(self.completed),  # (no mean: none may have finished)
            "resumable": False,
        }


def make_folds(store: ProjectStore, k: int, seed: int = 0) -> list[LabelledSplit]:
    """``k`` train/held-out splits of the usable labelled images: stratified, seeded, duplicates together."""
    if k < 2:
        raise TrainingError("cross-validation needs at least 2 folds")
    images = [im for im in store.images(usable_only=True) if im.label is not None]
    classes = tuple(name for name in store.class_names() if any(im.label == name for im in images))
    if len(classes) < 2:
        raise TrainingError("cross-validation needs labelled images of at least 2 classes")
    index = {name: i for i, name in enumerate(classes)}
    groups: dict[str, list] = {}
    for im in images:  # identical content -> one group, which goes to one fold
        groups.setdefault(im.sha256 or im.path, []).append(im)
    by_class: dict[str, list[list]] = {name: [] for name in classes}
    for group in sorted(groups.values(), key=lambda g: g[0].path):
        by_class[group[0].label].append(group)
    sizes = {name: len(g) for name, g in by_class.items()}  # distinct images: copies share a fold
    small = [f"{name} ({sizes[name]})" for name in classes if sizes[name] < k]
    if small:
        fewest = min(sizes.values())
        shared = [name for name in classes if not sizes[name]]  # every picture of it is also another class's
        advice = (
            f"--folds {fewest} (the most the smallest class allows), or label more images of those classes"
            if fewest >= 2
            else f"give {', '.join(shared)} pictures of their own: each of theirs is also labelled as another "
            "class, and a picture goes to one fold with its first label (resolve the label conflicts)"
            if shared
            else "label at least one more image of each class that has only one (2 folds are the fewest)"
        )
        raise TrainingError(
            f"{k} folds need at least {k} distinct labelled images per class; too few in: {', '.join(small)}. "
            "To go on, "
            f"{advice}"
        )
    rng = np.random.default_rng(seed)
    assignment: list[list] = [[] for _ in range(k)]
    offset = 0
    for name in classes:  # deal each class's groups round-robin, continuing where the last class ended
        for position in rng.permutation(len(by_class[name])):
            assignment[offset % k].extend(by_class[name][position])
            offset += 1
    folds = []
    for held in range(k):
        test = tuple((im.path, index[im.label]) for im in assignment[held])
        rest = tuple((im.path, index[im.label]) for f in range(k) if f != held for im in assignment[f])
        folds.append(LabelledSplit(classes, rest, test))
    return folds


def _counting_scored(emit: Callable[[object], None], scored: list) -> Callable[[object], None]:
    """``emit``, keeping in ``scored`` the confusion matrix of the held-out images each epoch scored (the
    latest's only)."""

    def on_event(event: object) -> None:
        if isinstance(event, EpochResult) and event.confusion is not None:
            scored[:] = [np.asarray(event.confusion)]
        emit(event)

    return on_event


def cross_validate(
    project_dir: str | Path,
    config: TrainConfig,
    k: int,
    on_event: Callable[[object], None] | None = None,
    should_stop: ShouldStop = never_stop,
) -> CrossValidation:
    """Train and score ``config`` on each of ``k`` folds (see the module docstring).

    ``on_event`` receives the engine's events of every fold and a :class:`FoldResult` after each fold. The
    score of a fold is its last epoch's accuracy on the held-out images (no choice of epoch by those images); its
    counts are of the images the fold's run used: those scored, and those trained on, without any left out as
    gone from disk.
    A stop request raises :class:`~dmtl_studio.core.base.cancel.Cancelled`.

    Raises
    ------
    CrossValidationInterrupted
        Ctrl-C (a ``KeyboardInterrupt``) during a fold: the finished folds' runs are kept, and the fold's own
        run as ``"interrupted"`` when an epoch of it was saved.
    """
    emit = on_event or (lambda event: None)
    with ProjectStore.open(project_dir) as store:
        folds = make_folds(store, k, config.seed)
    results: list[FoldResult] = []
    for number, split in enumerate(folds, start=1):
        scored: list[np.ndarray] = []  # the confusion of the held-out images the fold's last epoch scored
        try:
            summary = train(
                project_dir,
                config,
                _counting_scored(emit, scored),
                should_stop,
                split=split,
                run_prefix=f"{RUN_PREFIX}{number}of{k}-",
            )
        except KeyboardInterrupt as exc:  # RunInterrupted carries the fold run's summary
            raise CrossValidationInterrupted(
                k, number, tuple(results), getattr(exc, "summary", None)
            ) from None
        if summary.status != "completed":
            raise Cancelled()
        with ProjectStore.open(project_dir) as store:  # the run left out the files it found gone
            usable = {im.path for im in store.images(usable_only=True)}
        confusion = scored[0] if scored else None
        result = FoldResult(
            number,
            k,
            sum(path in usable for path, _ in split.train),
            int(confusion.sum()) if confusion is not None else sum(path in usable for path, _ in split.val),
            float(summary.metrics["last"]["val_accuracy"]),
            summary.run_dir,
            *_balanced_and_majority(confusion),
        )
        results.append(result)
        emit(result)
    return CrossValidation(tuple(results))


def _balanced_and_majority(confusion: np.ndarray | None) -> tuple[float | None, float | None, int]:
    """A fold's balanced accuracy (mean recall of the classes it held out), largest-class share and number of
    classes held out."""
    if confusion is None or not confusion.sum():
        return None, None, 0
    support = confusion.sum(axis=1)
    return balanced_accuracy(confusion), float(support.max() / support.sum()), int((support > 0).sum())
