"""From texts to token ids: the text datasets of a run, with the augmentation ``T(x)`` drawn reproducibly.

A text item is ``(ids (max_length,) int64, target, index)``: the encoder's token ids padded to its maximum length
with the pad id, so the loaders, the training loop, the consistency term and the feature pass handle text exactly
as they handle images (the encoder cuts the padding a batch does not need). ``augment(text, rng)`` is a text
augmentation (word deletion, swap, synonyms…); its randomness comes from a generator seeded by
``(seed, epoch, index)``, so a run is reproducible whatever the number of loader workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from dmtl_studio.core.augment.recipe import Recipe
from dmtl_studio.core.augment.registry import BatchMixer, MixSample
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.models.text_encoder import TextEncoder

#: A text augmentation: ``augment(text, rng) -> text`` (``rng`` a ``numpy.random.Generator``).
TextAugment = Callable[[str, np.random.Generator], str]


def text_hash(text: str) -> str:
    """sha256 hex of a text's UTF-8 bytes: what a cached embedding of it is keyed by."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def no_text_augmentation() -> dict:
    """The recipe stored with a text run that changes no text: a complete recipe (``schema_version``, name, kind,
    no steps), so that the run's settings read back like any other's."""
    return Recipe((), "none", "text").to_dict()


@dataclass(frozen=True)
class TextAugmentation:
    """A run's text augmentation: ``augment`` changes the texts, ``mixers`` mix their sentence embeddings.

    Stands where an image run keeps its recipe: :meth:`compile` returns itself, :meth:`draw_mix` draws a batch's
    mixing weight as the image recipe's does, and :meth:`to_dict` is the recipe stored with the run (it keys the
    cached views). Token ids are never mixed: the training mixes the embeddings (cached ones, or the encoder's
    output before the head).
    """

    augment: TextAugment | None = None
    description: dict = field(default_factory=no_text_augmentation)
    mixers: tuple[tuple[float, BatchMixer], ...] = ()

    kind: ClassVar[str] = "text"

    @classmethod
    def of(
        cls, augment: TextAugment | CompiledTextRecipe | None, description: dict | None
    ) -> TextAugmentation:
        """The augmentation of ``augment``: a compiled text recipe (its word and character steps change the
        texts, its mixing steps mix the embeddings) or any ``augment(text, rng) -> text`` function."""
        description = description or no_text_augmentation()
        if isinstance(augment, CompiledTextRecipe):
            # A recipe of mixing steps only leaves the texts as they are: no augmented views are made for it.
            changes_text = bool(augment.text_steps)
            return cls(augment if changes_text else None, description, augment.mixers)
        return cls(augment, description)

    def compile(self) -> TextAugmentation:
        return self

    def draw_mix(self, rng: np.random.Generator, height: int = 0, width: int = 0) -> MixSample | None:
        """At most one mixing draw for a batch (see :meth:`CompiledTextRecipe.draw_mix`)."""
        return CompiledTextRecipe((), self.mixers).draw_mix(rng, height, width)

    def to_dict(self) -> dict:
        return dict(self.description)


class TextDataset(Dataset):
    """Texts with integer targets (``-1`` for unlabelled), tokenised by ``encoder``, optionally augmented.

    Parameters
    ----------
    texts, targets
        The texts and their class indices.
    encoder
        Its tokenizer and maximum length make the ids.
    augmentation
        With an ``augment`` function, :meth:`__getitem__` returns augmented views (``augment`` is then true).
    keys
        Each text's identity in the project (its source key); defaults to its position.

    Attributes
    ----------
    truncated : int
        How many texts are longer than the encoder's maximum length (the model sees their beginning).
    """

    def __init__(
        self,
        texts: Sequence[str],
        targets: Sequence[int],
        encoder: TextEncoder,
        augmentation: TextAugmentation | None = None,
        seed: int = 0,
        keys: Sequence[str] | None = None,
    ) -> None:
        if len(texts) != len(targets):
            raise ValueError("texts and targets differ in length")
        self.texts = list(texts)
        self.targets = list(targets)
        self.paths = list(keys) if keys is not None else [str(i) for i in range(len(texts))]
        self.encoder = encoder
        self.recipe = augmentation or TextAugmentation()
        self.augment = self.recipe.augment is not None
        self.seed = seed
        self.epoch = 0
        tokens = encoder.tokenize(self.texts) if self.texts else None
        self._clean = (
            tokens.ids if tokens is not None else torch.empty(0, encoder.max_length, dtype=torch.long)
        )
        self.truncated = tokens.truncated if tokens is not None else 0
        self.hashes = [text_hash(t) for t in self.texts]

    def __len__(self) -> int:
        return len(self.texts)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def clean_ids(self) -> torch.Tensor:
        """Token ids ``(N, max_length)`` of the texts as they are (no augmentation), padded with the pad id."""
        return self._clean

    def lengths(self) -> np.ndarray:
        """Tokens per text ``(N,)`` (without padding; truncated texts count the maximum)."""
        return (self._clean != self.encoder.preprocessing.pad_id).sum(1).numpy()

    def view(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """Token ids ``(max_length,)`` of the text ``index`` augmented with ``rng``."""
        text = self.recipe.augment(self.texts[index], rng) if self.recipe.augment else self.texts[index]
        return self.encoder.tokenize([text]).ids[0]

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        """``(ids, target, index)`` of item ``key``: an index, or ``(epoch, index)``."""
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        if not self.augment:
            return self._clean[index], self.targets[index], index
        return self.view(index, np.random.default_rng((self.seed, epoch, index))), self.targets[index], index

    def clean_item(self, index: int) -> tuple[torch.Tensor, int, int]:
        """The item without augmentation: the clean view that the consistency term takes as its target."""
        return self._clean[index], self.targets[index], index
