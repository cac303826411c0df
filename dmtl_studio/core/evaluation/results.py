"""What a trained run gets right and wrong on held-out images: plain numpy data, free of torch and Qt.

The images come from the project's test split. A project imported with the defaults has no test split; then
the validation split is used instead, and :attr:`EvaluationResult.note` says so, because the validation images
chose the best epoch and so give an optimistic figure. The model itself runs in
:mod:`dmtl_studio.core.evaluation.inference`; this module holds the result so the window can show it without torch.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np

from dmtl_studio.core.evaluation.metrics import (
    NOT_DEFINED,
    ClassMetrics,
    format_score,
    nothing_scored,
    per_class_metrics,
)
from dmtl_studio.core.models.calibration import Reliability, reliability, softmax, temperature_of
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.store import ProjectStore

#: Below this top-class probability an image counts as "low confidence" in the browser filter.
LOW_CONFIDENCE = 0.6

#: Why the validation split was scored, and what that means for its figures.
FALLBACK_REASON = (
    "This project has no test images, so the validation split was used instead. A run that picked its best "
    "epoch on those images (trained by epochs, with enough of them for a pick) has optimistic figures there (a "
    "linear probe's, chosen by cross-validation on the training images, are not)"
)
FALLBACK_NOTE = (
    f"{FALLBACK_REASON}; move some images to the test split (Labels ▸ Reassign splits… in the window, or "
    "dmtl-studio splits PROJECT --test-fraction 0.15) for an unbiased estimate."
)
#: Distinct items a class needs for a split at the default shares (validation 20 %, test 10 %) to give it a
#: validation item, and a test item (a share is rounded: 10 % of 5 items is none).
FOR_VALIDATION, FOR_TEST = 2, 6


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (CJK, most emoji) characters two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def _largest_class(labelled: list[ImageRecord]) -> tuple[str, int] | None:
    """The labelled class with the most distinct items (by content) and that count: when even it is too small
    for a split to hold an item out, no reassignment can make a test (or validation) split."""
    distinct: dict[str, set[str]] = {}
    for im in labelled:
        distinct.setdefault(im.label, set()).add(im.sha256 or im.path)
    if not distinct:
        return None
    name = max(distinct, key=lambda label: (len(distinct[label]), label))
    return name, len(distinct[name])


def _too_small_note(noun: str, name: str, count: int, want: int, held: str) -> str:
    return (
        f"no class has {want} distinct {noun}s (the largest, {name}, has {count}), too few for a split to hold one "
        f"out as {held}; label more {noun}s (at least {want} distinct of each class), then Reassign splits "
        f"(Labels ▸ Reassign splits… in the window, dmtl-studio splits PROJECT on the command line)"
    )


@dataclass(frozen=True)
class EvaluationImages:
    """The labelled images a run is evaluated on, with the split they came from."""

    split: str  # "test" or "val"
    records: tuple[ImageRecord, ...]
    note: str  # empty when the test split was used
    skipped: int  # labelled images of a class the run does not know


def evaluation_images(store: ProjectStore, classes: list[str] | tuple[str, ...]) -> EvaluationImages:
    """Usable labelled images of the test split, or of the validation split when the test split is empty.

    Images labelled with a class the run was not trained on cannot be scored and are counted in ``skipped``.
    """
    known = set(classes)
    labelled = [im for im in store.images(usable_only=True) if im.label is not None]
    noun = "text" if store.kind == "text" else "image"
    largest = _largest_class(labelled)
    for split, note in (("test", ""), ("val", FALLBACK_NOTE)):
        chosen = [im for im in labelled if im.split == split]
        if chosen:
            if split == "val" and largest is not None and largest[1] < FOR_TEST:  # no reassignment makes one
                note = f"{FALLBACK_REASON}; {_too_small_note(noun, *largest, FOR_TEST, f'a test {noun}')}."
            usable = tuple(im for im in chosen if im.label in known)
            return EvaluationImages(split, usable, note, len(chosen) - len(usable))
    if largest is not None and largest[1] < FOR_VALIDATION:
        note = (
            f"This project has no test or validation {noun}s: "
            + _too_small_note(noun, *largest, FOR_VALIDATION, f"a validation {noun}")
            + "."
        )
    else:
        note = (
            f"This project has no test or validation {noun}s: assign splits first (Labels ▸ Reassign splits… in "
            "the window, dmtl-studio splits PROJECT on the command line)."
        )
    return EvaluationImages("none", (), note, 0)


@dataclass(frozen=True)
class EvaluationResult:
    """Predictions of one run on one split, and the metrics derived from them.

    Arrays are row-aligned: ``image_ids[k]`` has true class ``targets[k]`` and class probabilities
    ``probabilities[k]``. The confusion matrix has true classes as rows and predictions as columns.
    """

    run_dir: str
    run_name: str
    split: str
    note: str
    classes: tuple[str, ...]
    image_ids: np.ndarray
    paths: tuple[str, ...]
    targets: np.ndarray
    probabilities: np.ndarray
    skipped: int = 0
    unreadable: tuple[tuple[str, str], ...] = ()
    #: Images whose frozen-backbone features came from the project's feature cache (no backbone pass).
    reused_features: int = 0
    #: The run's calibration entry (its sidecar's ``calibration``); ``probabilities`` are already calibrated
    #: with its temperature. ``None`` for a run without one (temperature 1).
    calibration: dict | None = None
    #: What was scored: ``"images"``, or ``"text"`` (then ``paths`` are the texts' source keys).
    kind: str = "images"
    confusion: np.ndarray = field(init=False, compare=False)
    metrics: ClassMetrics = field(init=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.classes)
        confusion = np.zeros((n, n), dtype=np.int64)
        if len(self.targets):
            np.add.at(confusion, (self.targets, self.predicted), 1)
        object.__setattr__(self, "confusion", confusion)
        object.__setattr__(self, "metrics", per_class_metrics(confusion))

    @property
    def predicted(self) -> np.ndarray:
        if not len(self.probabilities):
            return np.zeros(0, dtype=np.int64)
        return self.probabilities.argmax(1)

    @property
    def confidence(self) -> np.ndarray:
        if not len(self.probabilities):
            return np.zeros(0)
        return self.probabilities.max(1)

    @property
    def noun(self) -> str:
        """``"image"`` or ``"text"``: what the result counts, for sentences."""
        return "text" if self.kind == "text" else "image"

    @property
    def split_title(self) -> str:
        return {
            "test": "test split",
            "val": f"validation split (no test {self.noun}s)",
            "none": f"project (no test or validation {self.noun}s)",
        }.get(self.split, self.split)

    def unscored_classes(self) -> list[str]:
        """The run's classes with no item scored: balanced accuracy is the mean recall of the others alone."""
        return [name for name, count in zip(self.classes, self.metrics.support, strict=True) if count == 0]

    def balanced_scope(self) -> str:
        """What follows the balanced accuracy when some classes were not scored, e.g. `` over 1 of 3 classes
        (single, small: none in the test split)``; empty when every class was."""
        missing = self.unscored_classes()
        if not missing or not self.scored:
            return ""
        named = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        split = {"test": "test split", "val": "validation split"}.get(self.split, "project")
        return f" over {len(self.classes) - len(missing)} of {len(self.classes)} classes ({named}: none in the {split})"

    def misclassified_ids(self) -> list[int]:
        """Wrongly predicted images, the most confidently wrong first."""
        wrong = np.flatnonzero(self.predicted != self.targets)
        order = wrong[np.argsort(-self.confidence[wrong], kind="stable")]
        return [int(self.image_ids[k]) for k in order]

    def low_confidence_ids(self, threshold: float = LOW_CONFIDENCE) -> list[int]:
        """Images whose top-class probability is below ``threshold``, the least confident first."""
        low = np.flatnonzero(self.confidence < threshold)
        order = low[np.argsort(self.confidence[low], kind="stable")]
        return [int(self.image_ids[k]) for k in order]

    def cell_ids(self, true_index: int, predicted_index: int) -> list[int]:
        """The images counted in one confusion-matrix cell."""
        hits = np.flatnonzero((self.targets == true_index) & (self.predicted == predicted_index))
        return [int(self.image_ids[k]) for k in hits]

    def per_image(self) -> dict[int, tuple[str, str, float]]:
        """``{image id: (true class, predicted class, confidence)}`` for the browser."""
        predicted, confidence = self.predicted, self.confidence
        return {
            int(image_id): (self.classes[int(t)], self.classes[int(p)], float(c))
            for image_id, t, p, c in zip(self.image_ids, self.targets, predicted, confidence, strict=True)
        }

    @property
    def temperature(self) -> float:
        """The temperature the probabilities were calibrated with (1.0 without calibration)."""
        return temperature_of({"calibration": self.calibration})

    def reliability(self, calibrated: bool = True) -> Reliability:
        """Reliability-diagram bins (15) of the evaluated images; ``calibrated=False`` undoes the temperature.

        Undoing needs no new pass: ``softmax(T * log p)`` recovers the uncalibrated probabilities exactly.
        """
        probabilities = self.probabilities
        if not calibrated and self.temperature != 1.0 and len(probabilities):
            probabilities = softmax(np.log(np.clip(probabilities, 1e-300, None)), 1.0 / self.temperature)
        return reliability(probabilities, self.targets)

    def calibration_summary(self) -> dict | None:
        """ECE on the evaluated images, with the temperature and without it; ``None`` when nothing was scored."""
        if not self.scored:
            return None
        after = self.reliability()
        return {
            "temperature": self.temperature,
            "calibrated": self.calibration is not None,
            "ece": after.ece,
            "ece_uncalibrated": self.reliability(calibrated=False).ece,
            "bins": after.to_dict(),
            "fitted": self.calibration,
            # The temperature makes these items' confidences worse by more than one point of ECE (few validation
            # items to fit it on): said by evaluate and the window's Calibration tab alike.
            "worse": isinstance(self.calibration, dict)
            and after.ece > self.reliability(calibrated=False).ece + 0.01,
        }

    @property
    def scored(self) -> bool:
        """Whether any image was scored; without one there is no accuracy (``None``), not 0."""
        return len(self.image_ids) > 0

    def to_dict(self) -> dict:
        """A JSON-ready summary (``dmtl-studio evaluate --json``, the report). Metrics of nothing are ``null``."""
        m = self.metrics
        return {
            "run_dir": self.run_dir,
            "split": self.split,
            "kind": self.kind,
            "note": self.note,
            "images": len(self.image_ids),  # the items scored, texts too (the key kept for scripts)
            "items": len(self.image_ids),
            "skipped": self.skipped,
            "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
            "reused_features": self.reused_features,
            "accuracy": m.accuracy,
            "balanced_accuracy": m.balanced_accuracy,
            "unscored_classes": self.unscored_classes(),  # left out of the balanced accuracy: none scored
            "classes": list(self.classes),
            "confusion": self.confusion.tolist(),
            "calibration": self.calibration_summary(),
            "per_class": {
                name: {
                    **dict(zip(("precision", "recall", "f1"), m.defined(i), strict=True)),
                    "support": int(m.support[i]),
                }
                for i, name in enumerate(self.classes)
            },
        }

    def describe(self) -> str:
        """A few lines of plain text (the CLI's output)."""
        m = self.metrics
        lines = [f"run {self.run_name}: {len(self.image_ids)} {self.noun}(s) of the {self.split_title}"]
        if not self.scored:  # why comes first: the split's note, if any, is about the scores there are not
            if self.skipped:
                lines.append(
                    f"{self.skipped} {self.noun}(s) of classes the run does not know were left out: "
                    f"the run knows {', '.join(map(repr, self.classes))}"
                )
            lines.append(f"{nothing_scored(self.noun)}: no accuracy to report")
            lines += self._unreadable_lines()
            return "\n".join(lines + ([f"note: {self.note}"] if self.note else []))
        if self.note:
            lines.insert(0, f"note: {self.note}")
        lines.append(
            f"accuracy {format_score(m.accuracy, noun=self.noun)}, balanced accuracy "
            f"{format_score(m.balanced_accuracy, noun=self.noun)}{self.balanced_scope()}"
        )
        width = max([display_width(c) for c in self.classes] + [5])
        lines.append(f"{'class':{width}}  precision  recall     f1  {self.noun + 's':>6}")
        for i, name in enumerate(self.classes):
            precision, recall, f1 = (NOT_DEFINED if v is None else f"{v:.3f}" for v in m.defined(i))
            padded = name + " " * (width - display_width(name))
            lines.append(f"{padded}  {precision:>9}  {recall:>6}  {f1:>5}  {int(m.support[i]):6d}")
        summary = self.calibration_summary()
        if summary is not None and summary["calibrated"]:
            worse = (
                f"; the temperature, fitted on {summary['fitted'].get('images', 'the')} validation "
                f"{self.noun}(s), makes these {self.noun}s' confidences worse: more validation {self.noun}s "
                "would fit it better"
                if summary["worse"]
                else ""
            )
            lines.append(
                f"expected calibration error {summary['ece']:.4f} with temperature {summary['temperature']:.3f} "
                f"({summary['ece_uncalibrated']:.4f} without){worse}"
            )
        elif summary is not None:
            lines.append(f"expected calibration error {summary['ece']:.4f} (the run is not calibrated)")
        lines += self._unreadable_lines()
        if self.skipped:
            lines.append(f"{self.skipped} {self.noun}(s) of classes the run does not know were left out")
        if self.reused_features:
            lines.append(f"reused {self.reused_features} cached feature vector(s) of the frozen backbone")
        return "\n".join(lines)

    def _unreadable_lines(self, shown: int = 5) -> list[str]:
        """How many of the split could not be read (left out of every score), the first ``shown`` by name."""
        if not self.unreadable:
            return []
        lines = [f"{len(self.unreadable)} {self.noun}(s) could not be read and were left out of the scores:"]
        lines += [f"  {path}: {reason}" for path, reason in self.unreadable[:shown]]
        if len(self.unreadable) > shown:
            lines.append(f"  … and {len(self.unreadable) - shown} more (all of them: --json)")
        return lines
