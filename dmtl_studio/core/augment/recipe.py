"""Recipes: ordered, switchable augmentation steps; JSON files with a schema version; the one apply path.

A recipe has a kind, ``"images"`` or ``"text"`` (a file without ``kind`` is an image recipe, as every file was
before text projects), and holds operations of its kind only. An image recipe compiles to
:class:`CompiledRecipe`, a text recipe to :class:`dmtl_studio.core.augment.text_recipe.CompiledTextRecipe`. An
image recipe may also hold ``one_of`` steps, each image getting one operation of a list
(:mod:`dmtl_studio.core.augment.choice`; recipe format version 2).

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

# Imported for their registrations: the built-in operations of each family.
from dmtl_studio.core.augment import erasing_ops, mixing_ops, pixel_ops, text_ops, tone_ops  # noqa: F401
from dmtl_studio.core.augment.choice import ONE_OF, OPTION_FAMILIES, OneOf
from dmtl_studio.core.augment.image_recipe import CompiledRecipe, image_seed, mix_pair
from dmtl_studio.core.augment.registry import (
    BatchMixer,
    GeometricTransform,
    Operation,
    ParamValue,
    PixelTransform,
    RecipeError,
    TextTransform,
    get_operation,
)
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.base.text_checks import has_control_character

#: The newest recipe format: version 2 adds the ``one_of`` step (:mod:`dmtl_studio.core.augment.choice`).
SCHEMA_VERSION = 2
#: What a recipe augments.
KINDS = ("images", "text")
#: Longest recipe name, in characters (it is shown in lists, run notes and proposed file names).
MAX_NAME_CHARS = 200
_STEP_KEYS = {"operation", "enabled", "probability", "params"}
_ONE_OF_KEYS = {"operation", "enabled", "probability", "options"}


@dataclass(frozen=True)
class Step:
    """One operation of a recipe, with its probability and parameter values (sorted ``(name, value)``).

    A ``one_of`` step (``operation`` :data:`~dmtl_studio.core.augment.choice.ONE_OF`, made by :meth:`one_of`)
    has no parameters: its ``options`` are the steps one of which each image gets.
    """

    operation: str
    probability: float = 0.5
    params: tuple[tuple[str, ParamValue], ...] = ()
    enabled: bool = True
    options: tuple[Step, ...] = ()

    @classmethod
    def of(
        cls, operation: str, probability: float | None = None, enabled: bool = True, **params: ParamValue
    ) -> Step:
        """A step of ``operation`` with its default parameters, overridden by ``params``."""
        op = get_operation(operation)
        values = {**op.defaults(), **params}
        p = op.default_probability if probability is None else probability
        return cls(operation, float(p), tuple(sorted(values.items())), enabled)

    @classmethod
    def one_of(cls, *options: Step, probability: float = 1.0, enabled: bool = True) -> Step:
        """A ``one_of`` step over ``options`` (per-image operations; checked by :meth:`Recipe.from_dict`)."""
        return cls(ONE_OF, float(probability), (), enabled, tuple(options))

    @property
    def values(self) -> dict[str, ParamValue]:
        """The parameter values by name."""
        return dict(self.params)

    def with_param(self, name: str, value: ParamValue) -> Step:
        """This step with one parameter changed (not checked: :meth:`Recipe.from_dict` checks)."""
        return replace(self, params=tuple(sorted({**self.values, name: value}.items())))

    def to_dict(self) -> dict:
        """The step as stored in a recipe file."""
        data = {"operation": self.operation, "enabled": self.enabled, "probability": self.probability}
        if self.operation == ONE_OF:
            return {**data, "options": [option.to_dict() for option in self.options]}
        return {**data, "params": self.values}


@dataclass(frozen=True)
class Recipe:
    """An ordered list of steps of one kind (``"images"`` or ``"text"``); disabled steps are kept (and saved)
    but do nothing."""

    steps: tuple[Step, ...] = ()
    name: str = "custom"
    kind: str = "images"

    @property
    def mirrors(self) -> bool:
        """Whether the recipe mirrors images left to right: an enabled ``hflip`` step, on its own or as an
        enabled option of an enabled ``one_of`` step. A run whose recipe never mirrors is taken to care which
        side is which (a document, a handed part), so nothing else in the run mirrors its images either."""

        def mirrors(step: Step) -> bool:
            if not step.enabled or step.probability <= 0:
                return False
            return step.operation == "hflip" or any(mirrors(option) for option in step.options)

        return any(mirrors(step) for step in self.steps)

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

        An image recipe is written without ``kind`` (its default), as before text recipes existed, and with the
        oldest ``schema_version`` that holds its steps (2 with a ``one_of`` step, else 1), so that its file, and
        what a run or a feature cache stores of it, stays the same, and older versions still read it.
        """
        version = 2 if any(step.operation == ONE_OF for step in self.steps) else 1
        data = {"schema_version": version, "name": self.name}
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
            raise RecipeError(f"the recipe's 'name' must be text, not {str(name)[:60]!r}")
        if len(name) > MAX_NAME_CHARS or has_control_character(name):
            raise RecipeError(
                f"the recipe's 'name' ({name[:40]!r}…, {len(name):,} characters) must be one line of at most "
                f"{MAX_NAME_CHARS} characters"
                if len(name) > MAX_NAME_CHARS
                else f"the recipe's 'name' {name!r} holds a control character or a line break"
            )
        kind = data.get("kind", "images")
        if kind not in KINDS:
            raise RecipeError(f"the recipe's 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
        return cls(tuple(_read_step(i, raw, kind) for i, raw in enumerate(steps_data, start=1)), name, kind)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Read a recipe file's text; see :meth:`from_dict`."""
        try:
            data = json.loads(text.removeprefix("\ufeff"))  # a byte-order mark, as Windows Notepad writes
        except json.JSONDecodeError as exc:
            raise RecipeError(
                f"not a valid JSON file: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from exc
        except (ValueError, RecursionError) as exc:  # nested too deeply, or an integer too long to convert
            detail = (
                "a number in it has thousands of digits"
                if "integer string conversion" in str(exc)
                else "it is nested too deeply"
                if isinstance(exc, RecursionError)
                else str(exc).splitlines()[0][:200]
            )
            raise RecipeError(f"not a usable JSON file ({detail})") from None
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
        steps: list[tuple[float, GeometricTransform | PixelTransform | TextTransform | OneOf]] = []
        mixers: list[tuple[float, BatchMixer]] = []
        for number, step in enumerate(self.steps, start=1):
            if step.operation == ONE_OF:
                options = _check_options(number, step.options, self.kind)
                if step.enabled and options:
                    steps.append((step.probability, OneOf(options)))
                continue
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

    Version 2 only adds the ``one_of`` step, so a version-1 recipe reads as it is; each later version adds a
    ``_from_vN`` function here. A text recipe without ``schema_version`` (stored by older text runs) is version 1.
    """
    version = data.get("schema_version")
    if version is None and data.get("kind") == "text":
        # Text recipes came after schema_version; one without it is what a text run trained without WordNet stored
        # (kind and an empty step list only) before this was fixed: it reads as version 1, so those runs open.
        version = 1
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecipeError(
            f"the recipe has no valid 'schema_version' (found {version!r}): is it a DMTL Studio recipe? Save one "
            "from the window's Augmentation recipe editor, or give a preset's name instead (light, heavy, …)"
        )
    if version > SCHEMA_VERSION:
        raise RecipeError(
            f"this recipe was written by a newer DMTL Studio (schema_version {version}; this version reads up to "
            f"{SCHEMA_VERSION}). Open it with the newer version."
        )
    if version < 1:
        raise RecipeError(f"schema_version {version} is not a recipe format this program knows")
    return {**data, "schema_version": SCHEMA_VERSION}


def _check_options(number: int, options: tuple[Step, ...], kind: str) -> tuple:
    """The ``(probability, transform)`` of a ``one_of`` step's enabled options; :class:`RecipeError` for a
    text recipe, no options, or an option that is not a per-image operation."""
    if kind != "images":
        raise RecipeError(f"step {number} (one_of) is for image recipes only")
    if not options:
        raise RecipeError(f"step {number} (one_of) has no operations to pick from")
    built = []
    for option in options:
        op = get_operation(option.operation) if option.operation != ONE_OF else None
        if op is None or op.kind != kind or op.family not in OPTION_FAMILIES:
            raise RecipeError(
                f"step {number} (one_of): {option.operation} cannot be one of its operations (only geometry, "
                "pixel and erasing operations can)"
            )
        if option.enabled:
            built.append((option.probability, op.build(option.values)))
    return tuple(built)


def _check_kind(number: int, op: Operation, kind: str) -> None:
    if op.kind != kind:
        what = {"images": "an image", "text": "a text"}
        raise RecipeError(
            f"step {number} ({op.name}) is {what[op.kind]} operation and cannot be used in {what[kind]} recipe"
        )


def _read_step(number: int | str, raw: object, kind: str = "images") -> Step:
    if not isinstance(raw, Mapping):
        raise RecipeError(f"step {number} must be a JSON object, not {raw!r}")
    name = raw.get("operation")
    if not isinstance(name, str):
        raise RecipeError(f"step {number}: field 'operation' is missing or not text")
    if name == ONE_OF:
        return _read_one_of(number, raw, kind)
    try:
        op = get_operation(name)
    except RecipeError:
        raise RecipeError(f"step {number}: unknown operation {name!r}") from None
    _check_kind(number, op, kind)
    where = f"step {number} ({name})"
    enabled, probability = _switch(where, raw, _STEP_KEYS, op.default_probability)
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
    return Step(name, probability, tuple(sorted(values.items())), enabled)


def _switch(where: str, raw: Mapping, keys: set[str], default_probability: float) -> tuple[bool, float]:
    """A step's ``enabled`` and ``probability`` fields, checked (and its fields against ``keys``)."""
    unknown = set(raw) - keys
    if unknown:
        raise RecipeError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RecipeError(f"{where}: field 'enabled' must be true or false, not {enabled!r}")
    probability = raw.get("probability", default_probability)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        raise RecipeError(f"{where}: field 'probability' must be a number, not {probability!r}")
    if not 0.0 <= probability <= 1.0:
        raise RecipeError(
            f"{where}: field 'probability' = {probability:g} is outside the allowed range [0, 1]"
        )
    return enabled, float(probability)


def _read_one_of(number: int | str, raw: Mapping, kind: str) -> Step:
    where = f"step {number} ({ONE_OF})"
    enabled, probability = _switch(where, raw, _ONE_OF_KEYS, 1.0)
    options = raw.get("options")
    if not isinstance(options, list) or not options:
        raise RecipeError(f"{where}: field 'options' must be a non-empty list of steps")
    step = Step.one_of(
        *(_read_step(f"{number}.{k}", option, kind) for k, option in enumerate(options, start=1)),
        probability=probability,
        enabled=enabled,
    )
    _check_options(number, step.options, kind)  # per-image operations of an image recipe only
    return step


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a recipe file; a bad file raises :class:`RecipeError` whose message starts with its name."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # with or without a byte-order mark
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


__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "CompiledRecipe",
    "Recipe",
    "Step",
    "image_seed",
    "load_recipe",
    "migrate",
    "mix_pair",
    "save_recipe",
]
