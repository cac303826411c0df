"""What the validation images of a run are for: picking the best epoch, or — when no pick needs them — training.

A held-out pick is only as good as the images it is made on. A linear probe chooses its L2 strength by
cross-validation on the training images, so the validation images pick nothing and, when a test split keeps an
honest held-out set, they join the fit. An epoch-based run on a validation split smaller than
:data:`MIN_VALIDATION_PER_CLASS` images per class picks its "best epoch" on noise (with 5 labels per class one
image per class is left: its accuracy jumps between 0.17 and 0.5 from epoch to epoch), so such a run keeps its
last epoch — the cosine schedule ends it at a near-zero learning rate, a schedule that needs no pick — and stops
no earlier; with a test split the validation images then train too. Each change is said in the run's notes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.labelled import LabelledSplit

#: Fewer validation images than this per class (on average) make a best-epoch pick noise.
MIN_VALIDATION_PER_CLASS = 5


def uses_linear_probe(config: TrainConfig) -> bool:
    """Whether a run fits its head as a linear probe: asked for (the recommended frozen fit), frozen backbone and
    a linear head. With unlabelled images to learn from, the probe also fits their class-balanced pseudo-labels
    (:mod:`dmtl_studio.core.training.pseudo_labels`)."""
    return config.fits_linear_probe


def learns_from_unlabelled(config: TrainConfig) -> bool:
    """Whether the run reads the project's unlabelled images (the consistency term, or the probe's pseudo-labels)."""
    return config.consistency_weight > 0 and config.use_unlabelled


#: How a run's notes name the L2 strength of a linear probe that could not cross-validate it (a class with a
#: single labelled item): such a run has no fold models, so it keeps no out-of-fold predictions. The note goes on
#: with :func:`fixed_strength_note`'s reason; runs read back are matched on this prefix alone.
FIXED_STRENGTH = "a fixed value (too few"


def fixed_strength_note(kind: str) -> str:
    """The words after "L2 strength C = … by" for a probe with a fixed C, naming ``kind``'s items (images, texts)."""
    return f"{FIXED_STRENGTH} {'texts' if kind == 'text' else 'images'} per class)"


@dataclass(frozen=True)
class HeldOutPlan:
    """The split a run trains on, whether it picks its best epoch on the validation images, and why (a note).

    ``joined`` counts the validation items that joined the fit: they are the last ``joined`` items of
    ``split.train`` (a linear probe scores them out of fold: :mod:`~dmtl_studio.core.training.out_of_fold`).
    """

    split: LabelledSplit
    pick_on_validation: bool = True
    notice: str | None = None
    joined: int = 0


def plan_held_out(
    split: LabelledSplit,
    config: TrainConfig,
    has_test: bool,
    folds: bool = False,
    kind: str = "images",
    content_of: Callable[[str], str] | None = None,
) -> HeldOutPlan:
    """Decide what the validation images of ``split`` do in a run of ``config``.

    Parameters
    ----------
    split
        The run's labelled images.
    config
        The run's settings.
    has_test
        Whether the project holds test images (which then stay the held-out set of the evaluation).
    folds
        ``split`` is a cross-validation fold: its validation images are the fold's held-out part and stay so.
    kind
        The project's kind, ``"images"`` or ``"text"``: what the note calls the items.
    content_of
        An item's content hash from its path: identical copies count once, as in the probe's folds
        (:func:`~dmtl_studio.core.training.probe_fit.content_groups`). ``None``: every item counts.
    """
    noun = "text" if kind == "text" else "image"
    val = len(split.val)
    if folds or val == 0:
        return HeldOutPlan(split)
    joined = LabelledSplit(split.classes, split.train + split.val, ())
    if uses_linear_probe(config):
        if not has_test:
            return HeldOutPlan(split)
        content = content_of or (lambda path: path)
        sizes = Counter(index for _path, index in set((content(p), i) for p, i in joined.train))
        items = Counter(index for _path, index in joined.train)
        smallest = min(range(len(split.classes)), key=lambda i: (sizes[i], i))
        copies = f" ({items[smallest]} copies of one {noun})" if items[smallest] > sizes[smallest] else ""
        why = (
            f"its L2 strength is fixed: the class {split.classes[smallest]} has {sizes[smallest]} distinct "
            f"labelled {noun}{copies}, too few for cross-validation or a held-out pick, so every labelled {noun} "
            "counts"
            if sizes[smallest] < 2
            else "its L2 strength is chosen by cross-validation, so no held-out pick needs them"
        )
        return HeldOutPlan(
            joined,
            notice=f"linear probe: the {val} validation {noun}(s) joined the fit ({why}); the test {noun}s stay "
            "held out for evaluation",
            joined=val,
        )
    if val >= MIN_VALIDATION_PER_CLASS * len(split.classes):
        return HeldOutPlan(split)
    counts = Counter(index for _path, index in split.val)
    short = sorted(
        (counts[i], name) for i, name in enumerate(split.classes) if counts[i] < MIN_VALIDATION_PER_CLASS
    )
    fewest = ", ".join(f"{name} {count}" for count, name in short[:3]) + (", …" if len(short) > 3 else "")
    few = (
        f"{val} validation {noun}(s) for {len(split.classes)} classes are too few to pick an epoch on (a pick "
        f"needs {MIN_VALIDATION_PER_CLASS * len(split.classes)}, {MIN_VALIDATION_PER_CLASS} per class on "
        f"average; fewest: {fewest}): the last epoch is kept (no best-epoch pick, no early stopping)"
    )
    if has_test:
        return HeldOutPlan(
            joined,
            False,
            few + f" and the validation {noun}s joined the training {noun}s; the test {noun}s stay "
            "held out for evaluation",
            joined=val,
        )
    return HeldOutPlan(split, False, few + f"; the validation {noun}s still report each epoch")


def plan_for_project(
    store: ProjectStore,
    split: LabelledSplit,
    config: TrainConfig,
    emit: Callable[[object], None],
    folds: bool = False,
    content_of: Callable[[str], str] | None = None,
) -> HeldOutPlan:
    """:func:`plan_held_out` for a run on ``store``'s images or texts (whether it holds test items decides), its
    notice sent to ``emit`` as a :class:`RunNotice`. ``content_of(path)`` is an item's content hash (default: the
    project's, or the path itself for an item without one), so copies count as one item."""
    if content_of is None:
        known = {im.path: im.sha256 for im in store.images() if im.sha256}
        content_of = lambda path: known.get(path, path)  # noqa: E731
    has_test = store.split_counts().get("test", 0) > 0
    plan = plan_held_out(split, config, has_test, folds, store.kind, content_of)
    if plan.notice:
        emit(RunNotice(plan.notice))
    nouns = "texts" if store.kind == "text" else "images"
    if (
        not folds and (imbalance := imbalance_notice(split, config, nouns)) is not None
    ):  # (folds: the summary says)
        emit(RunNotice(imbalance))
    return plan


#: Largest class over smallest (labelled items) from which a run without ``--imbalance`` says so.
IMBALANCE_RATIO = 5


def imbalance_notice(split: LabelledSplit, config: TrainConfig, nouns: str = "images") -> str | None:
    """A note when the labelled classes are :data:`IMBALANCE_RATIO` to 1 or more apart and the run does nothing
    about it: plain accuracy then flatters the large class (80 ``ok`` and 8 ``defect`` noise images scored 0.898,
    under the 0.909 of always answering ``ok``); ``None`` otherwise."""
    if config.imbalance != "none":
        return None
    counts = Counter(index for _path, index in split.train + split.val)
    if len(counts) < 2:
        return None
    large, small = max(counts, key=counts.get), min(counts, key=counts.get)
    if counts[large] < IMBALANCE_RATIO * counts[small]:
        return None
    return (
        f"the classes are imbalanced ('{split.classes[large]}' {counts[large]} {nouns}, '{split.classes[small]}' "
        f"{counts[small]}: {counts[large] / counts[small]:.0f} to 1): plain accuracy flatters the large class, so "
        "judge by the balanced accuracy (evaluate gives both), and consider weighting the loss by class (Class "
        "imbalance in the window's Learning settings; --imbalance weighted_loss on the command line)"
    )
