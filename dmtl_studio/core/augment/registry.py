"""The operation registry: a name maps to a builder and a parameter spec that the recipe editor renders.

Torch-free (numpy and OpenCV only), so the window can list operations and preview them without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Union

import numpy as np

#: A parameter value as stored in a recipe.
ParamValue = Union[float, int, bool, str]  # noqa: UP007 - used at run time, Python 3.10 supports it

#: The families of image operations, in the order the editor lists them.
FAMILIES = ("geometry", "pixel", "erasing", "mixing")
#: The families of text operations: on words, on characters, and mixing (on sentence embeddings).
TEXT_FAMILIES = ("words", "characters", "mixing")
#: What a recipe augments, and the families of each kind.
KIND_FAMILIES = {"images": FAMILIES, "text": TEXT_FAMILIES}


class RecipeError(ValueError):
    """A recipe (or recipe file) that cannot be used; the message names the step and the field."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an operation: what the editor shows and what a recipe file may contain.

    ``kind`` is ``"float"``, ``"int"``, ``"bool"`` or ``"choice"``; numbers must lie in
    ``[minimum, maximum]``; a choice must be one of ``choices``.
    """

    name: str
    label: str
    kind: str
    default: ParamValue
    minimum: float | None = None
    maximum: float | None = None
    step: float = 0.01
    unit: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()

    def check(self, value: object, where: str) -> ParamValue:
        """Return ``value`` as this parameter's type, or raise :class:`RecipeError` naming ``where``.

        Parameters
        ----------
        value
            The value read from a recipe (JSON types).
        where
            Names the step, e.g. ``"step 2 (rotate)"``; it starts every message.
        """
        field_name = f"{where}: field '{self.name}'"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise RecipeError(f"{field_name} must be true or false, not {value!r}")
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise RecipeError(f"{field_name} must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        # bool is an int in Python; a recipe that says "true" for an angle is wrong, not 1 degree.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{field_name} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise RecipeError(f"{field_name} must be a finite number, not {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise RecipeError(f"{field_name} must be a whole number, not {value!r}")
            value = int(value)
        else:
            value = float(value)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise RecipeError(
                f"{field_name} = {value:g} is outside the allowed range [{self.minimum:g}, {self.maximum:g}]"
                f"{' ' + self.unit if self.unit else ''}"
            )
        return value


@dataclass(frozen=True)
class MixSample:
    """One draw of a mixing operation: ``z = lam * x1 + (1 - lam) * x2`` with labels mixed the same way.

    For cut-and-paste mixing ``box`` is ``(top, bottom, left, right)`` of the region of ``x2`` pasted into
    ``x1``, and ``lam`` is the fraction of ``x1`` left visible.
    """

    lam: float
    box: tuple[int, int, int, int] | None = None


class GeometricTransform:
    """A geometry operation: draws a 3x3 homography in pixel coordinates (source to destination).

    Consecutive geometric steps are multiplied into one matrix and warped once, which is faster and
    interpolates the pixels only once.
    """

    border: str = "reflect"

    def homography(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        raise NotImplementedError


class PixelTransform:
    """An operation on the pixels of one uint8 RGB image."""

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class TextTransform:
    """A text operation: changes a tokenised text in place (:class:`dmtl_studio.core.augment.text_tokens.Tokens`)."""

    def __call__(self, tokens: object, rng: np.random.Generator) -> None:
        raise NotImplementedError


class BatchMixer:
    """A mixing operation: draws how two samples are combined (applied to batches in training).

    For images the samples are images or their features; for text they are sentence embeddings.
    """

    def sample(self, rng: np.random.Generator, height: int, width: int) -> MixSample:
        raise NotImplementedError


Transform = Union[GeometricTransform, PixelTransform, TextTransform, BatchMixer]  # noqa: UP007


@dataclass(frozen=True)
class Operation:
    """A registered operation: its name, family, parameters and the builder that makes its transform."""

    name: str
    label: str
    family: str
    builder: Callable[[Mapping[str, ParamValue]], Transform]
    params: tuple[ParamSpec, ...] = ()
    default_probability: float = 0.5
    help: str = ""
    #: ``(low, high)`` parameter pairs that must satisfy ``low <= high`` (a range given as two values).
    ordered: tuple[tuple[str, str], ...] = ()
    #: What the operation augments: ``"images"`` or ``"text"`` (a recipe holds operations of one kind).
    kind: str = "images"
    _index: dict[str, ParamSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.family not in KIND_FAMILIES.get(self.kind, ()):
            raise ValueError(f"unknown family {self.family!r} for {self.kind!r} operations")
        self._index.update({spec.name: spec for spec in self.params})

    def param(self, name: str) -> ParamSpec:
        return self._index[name]

    def defaults(self) -> dict[str, ParamValue]:
        return {spec.name: spec.default for spec in self.params}

    def build(self, params: Mapping[str, ParamValue]) -> Transform:
        """The transform for these parameter values (missing ones take their defaults)."""
        return self.builder({**self.defaults(), **params})


_REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    """Add an operation; a second operation with the same name is refused."""
    if operation.name in _REGISTRY:
        raise ValueError(f"an augmentation operation named {operation.name!r} is already registered")
    _REGISTRY[operation.name] = operation
    return operation


def get_operation(name: str) -> Operation:
    """The registered operation called ``name``; raises :class:`RecipeError` if there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RecipeError(f"unknown operation {name!r}") from None


def operations(kind: str = "images") -> tuple[Operation, ...]:
    """Every registered operation of ``kind`` (``"images"`` or ``"text"``), grouped by family in order."""
    families = KIND_FAMILIES[kind]
    ops = (op for op in _REGISTRY.values() if op.kind == kind)
    return tuple(sorted(ops, key=lambda op: families.index(op.family)))
