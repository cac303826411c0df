"""Recipes: ordered, switchable augmentation steps; JSON files with a schema version; the one apply path.

A recipe has a kind, ``"images"`` or ``"text"`` (a file without ``kind`` is an image recipe, as every file was
before text projects), and holds operations of its kind only. An image recipe compiles to
:class:`CompiledRecipe`, a text recipe to :class:`dmtl_studio.core.augment.text_recipe.CompiledTextRecipe`.

:func:`CompiledRecipe.augment` is what both the editor's preview and the training loader call, so what is
previewed is what is trained on. Mixing steps (mixup, cutmix) act on pairs of samples: the training loop mixes
batches, the preview mixes pairs of selected images, both drawing their weights with the same code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

# Imported for their registrations: the built-in operations of each family.
from dmtl_studio.core.augment import erasing_ops, mixing_ops, pixel_ops, text_ops  # noqa: F401
from dmtl_studio.core.augment.registry import (
    BatchMixer,
    GeometricTransform,
    MixSample,
    Operation,
    ParamValue,
    PixelTransform,
    RecipeError,
    TextTransform,
    get_operation,
)
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.augment.warping import warp
from dmtl_studio.core.base.fileio import atomic_write_bytes

SCHEMA_VERSION = 1
#: What a recipe augments.
KINDS = ("images", "text")
_STEP_KEYS = {"operation", "enabled", "probability", "params"}


@dataclass(frozen=True)
class Step:
    """One operation of a recipe, with its probability and parameter values (sorted ``(name, value)``)."""

    operation: str
    probability: float = 0.5
    params: tuple[tuple[str, ParamValue], ...] = ()
    enabled: bool = True

    @classmethod
    def of(
        cls, operation: str, probability: float | None = None, enabled: bool = True, **params: ParamValue
    ) -> Step:
        """A step of ``operation`` with its default parameters, overridden by ``params``."""
        op = get_operation(operation)
        values = {**op.defaults(), **params}
        p = op.default_probability if probability is None else probability
        return cls(operation, float(p), tuple(sorted(values.items())), enabled)

    @property
    def values(self) -> dict[str, ParamValue]:
        """The parameter values by name."""
        return dict(self.params)

    def with_param(self, name: str, value: ParamValue) -> Step:
        """This step with one parameter changed (not checked: :meth:`Recipe.from_dict` checks)."""
        return replace(self, params=tuple(sorted({**self.values, name: value}.items())))

    def to_dict(self) -> dict:
        """The step as stored in a recipe file."""
        return {
            "operation": self.operation,
            "enabled": self.enabled,
            "probability": self.probability,
            "params": self.values,
        }


@dataclass(frozen=True)
class Recipe:
    """An ordered list of steps of one kind (``"images"`` or ``"text"``); disabled steps are kept (and saved)
    but do nothing."""

    steps: tuple[Step, ...] = ()
    name: str = "custom"
    kind: str = "images"

    # ------------------------------------------------------------------ editing (each returns a new recipe)
    def with_step(self, index: int, step: Step) -> Recipe:
        """This recipe with the step at ``index`` replaced."""
        steps = list(self.steps)
        steps[index] = step
        return replace(self, steps=tuple(steps))

    def added(self, step: Step) -> Recipe:
        """This recipe with ``step`` appended."""
        return replace(self, steps=(*self.steps, step))

    def removed(self, index: int) -> Recipe:
        """This recipe without the step at ``index``."""
        return replace(self, steps=self.steps[:index] + self.steps[index + 1 :])

    def moved(self, source: int, target: int) -> Recipe:
        """The step at ``source`` moved so that it ends up at index ``target``."""
        steps = list(self.steps)
        step = steps.pop(source)
        steps.insert(target, step)
        return replace(self, steps=tuple(steps))

    def renamed(self, name: str) -> Recipe:
        """This recipe under another name."""
        return replace(self, name=name)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """The recipe as a JSON-ready dict, with ``schema_version`` and, for a text recipe, ``"kind": "text"``.

        An image recipe is written without ``kind`` (its default), as before text recipes existed, so that its
        file, and what a run or a feature cache stores of it, stays the same.
        """
        data = {"schema_version": SCHEMA_VERSION, "name": self.name}
        if self.kind != "images":
            data["kind"] = self.kind
        return {**data, "steps": [step.to_dict() for step in self.steps]}

    def to_json(self) -> str:
        """The recipe file's text."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: object) -> Recipe:
        """Check and read a recipe dict; any problem raises :class:`RecipeError` naming the step and field.

        Everything is checked before anything is returned, so a bad file is never half-loaded.
        """
        if not isinstance(data, Mapping):
            raise RecipeError(f"a recipe must be a JSON object, not {type(data).__name__}")
        data = migrate(data)
        steps_data = data.get("steps")
        if not isinstance(steps_data, list):
            raise RecipeError("the recipe has no 'steps' list")
        name = data.get("name", "custom")
        if not isinstance(name, str):
            raise RecipeError(f"the recipe's 'name' must be text, not {name!r}")
        kind = data.get("kind", "images")
        if kind not in KINDS:
            raise RecipeError(f"the recipe's 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
        return cls(tuple(_read_step(i, raw, kind) for i, raw in enumerate(steps_data, start=1)), name, kind)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Read a recipe file's text; see :meth:`from_dict`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(
                f"not a valid JSON file: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from exc
        except (ValueError, RecursionError) as exc:  # nested too deeply, or an integer too long to convert
            raise RecipeError(f"not a usable JSON file ({str(exc).splitlines()[0][:200]})") from None
        try:
            return cls.from_dict(data)
        except RecipeError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError, OverflowError) as exc:
            raise RecipeError(f"not a recipe ({type(exc).__name__}: {str(exc)[:200]})") from None

    def compile(self) -> CompiledRecipe | CompiledTextRecipe:
        """The enabled steps with their transforms built, ready to apply many times.

        Returns a :class:`CompiledRecipe` for images, a :class:`CompiledTextRecipe` for text. Raises
        :class:`RecipeError` for a step of the other kind, and
        :class:`dmtl_studio.core.augment.wordnet.WordNetMissing` (a ``RecipeError``) for an enabled synonym
        step when WordNet is not installed.
        """
        if self.kind not in KINDS:
            raise RecipeError(f"a recipe's kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        steps: list[tuple[float, GeometricTransform | PixelTransform | TextTransform]] = []
        mixers: list[tuple[float, BatchMixer]] = []
        for number, step in enumerate(self.steps, start=1):
            _check_kind(number, get_operation(step.operation), self.kind)
            if not step.enabled:
                continue
            transform = get_operation(step.operation).build(step.values)
            if isinstance(transform, BatchMixer):
                mixers.append((step.probability, transform))
            else:
                steps.append((step.probability, transform))
        if self.kind == "text":
            return CompiledTextRecipe(tuple(steps), tuple(mixers))  # type: ignore[arg-type]
        return CompiledRecipe(tuple(steps), tuple(mixers))  # type: ignore[arg-type]


def migrate(data: Mapping) -> dict:
    """Bring a recipe dict of any known schema version to :data:`SCHEMA_VERSION` (pure; no I/O).

    There is only version 1 so far; each later version adds a ``_from_vN`` function here.
    """
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecipeError(f"the recipe has no valid 'schema_version' (found {version!r})")
    if version > SCHEMA_VERSION:
        raise RecipeError(
            f"this recipe was written by a newer DMTL Studio (schema_version {version}; this version reads up to "
            f"{SCHEMA_VERSION}). Open it with the newer version."
        )
    if version < 1:
        raise RecipeError(f"schema_version {version} is not a recipe format this program knows")
    return dict(data)


def _check_kind(number: int, op: Operation, kind: str) -> None:
    if op.kind != kind:
        what = {"images": "an image", "text": "a text"}
        raise RecipeError(
            f"step {number} ({op.name}) is {what[op.kind]} operation and cannot be used in {what[kind]} recipe"
        )


def _read_step(number: int, raw: object, kind: str = "images") -> Step:
    if not isinstance(raw, Mapping):
        raise RecipeError(f"step {number} must be a JSON object, not {raw!r}")
    name = raw.get("operation")
    if not isinstance(name, str):
        raise RecipeError(f"step {number}: field 'operation' is missing or not text")
    try:
        op = get_operation(name)
    except RecipeError:
        raise RecipeError(f"step {number}: unknown operation {name!r}") from None
    _check_kind(number, op, kind)
    where = f"step {number} ({name})"
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise RecipeError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RecipeError(f"{where}: field 'enabled' must be true or false, not {enabled!r}")
    probability = raw.get("probability", op.default_probability)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        raise RecipeError(f"{where}: field 'probability' must be a number, not {probability!r}")
    if not 0.0 <= probability <= 1.0:
        raise RecipeError(
            f"{where}: field 'probability' = {probability:g} is outside the allowed range [0, 1]"
        )
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        raise RecipeError(f"{where}: field 'params' must be an object of parameter values")
    names = {spec.name for spec in op.params}
    for key in params:
        if key not in names:
            allowed = ", ".join(sorted(names)) or "none"
            raise RecipeError(f"{where}: unknown parameter '{key}' (allowed: {allowed})")
    values = {spec.name: spec.check(params.get(spec.name, spec.default), where) for spec in op.params}
    for low, high in op.ordered:
        if values[low] > values[high]:
            raise RecipeError(
                f"{where}: '{low}' = {values[low]:g} is larger than '{high}' = {values[high]:g}; "
                "the first must not exceed the second"
            )
    return Step(name, float(probability), tuple(sorted(values.items())), enabled)


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a recipe file; a bad file raises :class:`RecipeError` whose message starts with its name."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read {Path(path).name}: {exc}") from exc
    try:
        return Recipe.from_json(text)
    except RecipeError as exc:
        raise RecipeError(f"{Path(path).name}: {exc}") from None
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        # Deeply nested JSON, integers too long to convert, values of the wrong type: a damaged file.
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise RecipeError(f"{Path(path).name} is not a readable recipe ({detail})") from None


def save_recipe(recipe: Recipe, path: str | os.PathLike[str]) -> None:
    """Write a recipe file atomically (temporary file, then rename)."""
    atomic_write_bytes(Path(path), (recipe.to_json() + "\n").encode("utf-8"))


# ---------------------------------------------------------------------------------------------- applying
@dataclass(frozen=True)
class CompiledRecipe:
    """A recipe's enabled steps with their transforms, applied to uint8 RGB images."""

    kind = "images"

    image_steps: tuple[tuple[float, GeometricTransform | PixelTransform], ...]
    mixers: tuple[tuple[float, BatchMixer], ...]

    def augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The image as the model sees it in training, for this draw of ``rng``.

        Each step draws one number to decide whether it fires (``probability``), whatever the outcome, so
        every draw is reproducible from the seed. Consecutive geometric steps are combined into one warp.
        """
        height, width = image.shape[:2]
        pending: np.ndarray | None = None
        border = "reflect"
        for probability, transform in self.image_steps:
            fires = rng.random() < probability
            if not fires:
                continue
            if isinstance(transform, GeometricTransform):
                matrix = transform.homography(rng, height, width)
                if pending is not None and transform.border != border:
                    image, pending = warp(image, pending, border), None
                border = transform.border
                pending = matrix if pending is None else matrix @ pending
            else:
                if pending is not None:
                    image, pending = warp(image, pending, border), None
                image = transform(image, rng)
        if pending is not None:
            image = warp(image, pending, border)
        return np.ascontiguousarray(image)

    def draw_mix(self, rng: np.random.Generator, height: int, width: int) -> MixSample | None:
        """At most one mixing draw for a batch (or a preview pair): the first mixer that fires, in order.

        Every mixer draws whether it fires, so the draws do not depend on which one did.
        """
        chosen: MixSample | None = None
        for probability, mixer in self.mixers:
            fires = rng.random() < probability
            if fires and chosen is None:
                chosen = mixer.sample(rng, height, width)
        return chosen


def mix_pair(first: np.ndarray, second: np.ndarray, sample: MixSample) -> np.ndarray:
    """``first`` mixed with ``second`` as drawn: blended (``lam``) or with ``box`` pasted from ``second``."""
    if sample.box is None:
        return cv2.addWeighted(first, sample.lam, second, 1.0 - sample.lam, 0.0)
    top, bottom, left, right = sample.box
    out = first.copy()
    out[top:bottom, left:right] = second[top:bottom, left:right]
    return out


def image_seed(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one image of one epoch: reproducible whatever the number of loader workers."""
    return np.random.default_rng((seed, epoch, index))
