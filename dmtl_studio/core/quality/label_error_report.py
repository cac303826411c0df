"""What the label-error check (:mod:`dmtl_studio.core.quality.label_errors`) found: its suspects and report."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SuspectedLabel:
    """One image whose given label is doubted; ``score`` is ``1 - self-confidence`` (higher: more suspect)."""

    image_id: int
    path: str
    given: str
    suggested: str
    score: float
    split: str | None

    def to_dict(self) -> dict:
        return {
            "image_id": self.image_id,
            "path": self.path,
            "given": self.given,
            "suggested": self.suggested,
            "score": round(self.score, 6),
            "split": self.split,
        }


#: Labelled items a class, on average, below which the list comes with a caveat (:meth:`LabelErrorReport.caveat`):
#: at 22 a class a third to a half of the suspects were right labels (bench/bench_data_quality.py), with every
#: image of the sets (100 to 180 a class) a tenth or less.
FEW_PER_CLASS = 50


@dataclass(frozen=True)
class LabelErrorReport:
    """The suspects of a project (most suspect first) and what the check looked at."""

    suspects: tuple[SuspectedLabel, ...]
    classes: tuple[str, ...]
    images: int
    folds: int
    thresholds: dict[str, float] = field(default_factory=dict)
    feature_seconds: float = 0.0
    check_seconds: float = 0.0

    #: Labelled items left out because their files are gone since the import (paths).
    gone: tuple[str, ...] = ()
    #: What the items are: "image" or "text".
    noun: str = "image"

    def caveat(self, noun: str | None = None) -> str:
        """A caution when labels were flagged among classes of under :data:`FEW_PER_CLASS` items on average."""
        noun = noun or self.noun
        per_class = self.images / max(1, len(self.classes))
        if not self.suspects or per_class >= FEW_PER_CLASS:
            return ""
        return (
            f"with {per_class:.0f} labelled {noun}(s) a class on average, lists like this one often hold right "
            "labels too, some with a score near 1: look at each before relabelling it"
        )

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "gone": list(self.gone),
            "caveat": self.caveat(),
            "folds": self.folds,
            "classes": list(self.classes),
            "thresholds": {name: round(value, 6) for name, value in self.thresholds.items()},
            "suspects": [s.to_dict() for s in self.suspects],
            "feature_seconds": round(self.feature_seconds, 3),
            "check_seconds": round(self.check_seconds, 3),
        }
