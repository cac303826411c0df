"""The text encoders as the selector and ``dmtl-studio weights list`` show them: plain data, never torch.

Each row is read from the encoder's folder (:mod:`dmtl_studio.core.models.text_catalog` says where): its
``config.json`` (embedding width, transformer layers, model type), ``sentence_bert_config.json`` and
``tokenizer_config.json`` (the maximum sequence length) and the headers of its ``*.safetensors`` files (the number
of parameters, counted from the tensors' shapes without reading the weights). An encoder that cannot be used is
still listed, with the sentence that says why (:func:`~dmtl_studio.core.models.text_catalog.check_encoder_folder`).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.models.text_catalog import (
    BUNDLED_PACKAGE,
    DEFAULT_TEXT_ENCODER,
    IMPORTED_PREFIX,
    PICKLE_WEIGHTS,
    TextEncoderError,
    bundled_encoder_folder,
    check_encoder_folder,
    imported_encoders_dir,
    imported_names,
)

#: The sequence length a folder that says nothing of its limit is read with (the common BERT limit; the
#: encoder module uses the same).
FALLBACK_MAX_TOKENS = 512
#: A safetensors header larger than this is not read (a real one is a few hundred kB at most).
MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class TextEncoderRow:
    """One text encoder: its name, where its files are and what its folder says of it.

    ``name`` is what ``TrainConfig.backbone`` takes (``all-MiniLM-L6-v2`` or ``text/<name>``); ``source`` is
    ``"bundled"`` or ``"imported"``; ``folder`` is ``""`` when the files are missing; ``size_mb`` is the folder's
    files in MB (10^6 bytes). ``embedding_width`` (the transformer's hidden size, the length of the mean-pooled
    embedding), ``max_tokens``, ``layers`` and ``parameters`` are ``None`` when the folder does not say.
    ``problem`` is why the encoder cannot be used, ``""`` when it can.
    """

    name: str
    source: str
    folder: str
    size_mb: float
    model_type: str = ""
    embedding_width: int | None = None
    max_tokens: int | None = None
    layers: int | None = None
    parameters: int | None = None
    problem: str = ""

    @property
    def available(self) -> bool:
        return not self.problem

    @property
    def title(self) -> str:
        """The name without the ``text/`` of an imported encoder."""
        return self.name.removeprefix(IMPORTED_PREFIX)

    @property
    def stages(self) -> int | None:
        """What ``partial`` transfer counts its stages in: the embeddings, then each transformer layer
        (``TextEncoder.parameter_stages``)."""
        return None if self.layers is None else self.layers + 1

    @property
    def parameters_text(self) -> str:
        return "? M" if self.parameters is None else f"{self.parameters / 1e6:.1f} M"

    @property
    def description(self) -> str:
        """What the encoder is, in one sentence."""
        if self.source == "bundled":
            return (
                "sentence-transformers' all-MiniLM-L6-v2: English sentences and short paragraphs to one vector "
                "each (mean pooling, Apache-2.0)."
            )
        kind = f"a {self.model_type} model" if self.model_type else "a Hugging Face model"
        return f"Imported from a local folder: {kind}."

    @property
    def reason(self) -> str:
        """One sentence for the user: where the encoder comes from, or why it cannot be used."""
        if self.problem:
            return self.problem
        if self.source == "bundled":
            return f"Bundled with the application (package {BUNDLED_PACKAGE.replace('_', '-')})."
        return f"Imported; its files are in {self.folder}."

    def describe(self) -> str:
        """What the folder says, in one line: ``384-d embeddings, up to 256 tokens, 6 layers, 22.7 M
        parameters, 91.1 MB`` (the parts the folder does not say are left out)."""
        parts = []
        if self.embedding_width is not None:
            parts.append(f"{self.embedding_width}-d embeddings")
        if self.max_tokens is not None:
            parts.append(f"up to {self.max_tokens} tokens")
        if self.layers is not None:
            parts.append(f"{self.layers} layers")
        if self.parameters is not None:
            parts.append(f"{self.parameters_text} parameters")
        parts.append(f"{self.size_mb:.1f} MB")
        return ", ".join(parts)


def _json_object(path: Path) -> dict:
    """The JSON object in ``path``; ``{}`` when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _first_int(config: dict, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def max_tokens_of(folder: Path) -> int:
    """The longest input in tokens: sentence-transformers' ``max_seq_length``, else the smallest of the
    tokenizer's ``model_max_length``, the position embeddings and :data:`FALLBACK_MAX_TOKENS`."""
    declared = _first_int(_json_object(folder / "sentence_bert_config.json"), ("max_seq_length",))
    if declared is not None:
        return declared
    limits = [FALLBACK_MAX_TOKENS]
    tokenizer_limit = _first_int(_json_object(folder / "tokenizer_config.json"), ("model_max_length",))
    if tokenizer_limit is not None and tokenizer_limit < 1_000_000:  # "no limit" is written as a huge number
        limits.append(tokenizer_limit)
    positions = _first_int(_json_object(folder / "config.json"), ("max_position_embeddings",))
    if positions is not None:
        limits.append(positions)
    return min(limits)


def safetensors_parameters(path: Path) -> int | None:
    """The number of parameters in a safetensors file: the values of its floating-point tensors (integer ones,
    such as BERT's ``position_ids``, are buffers), from the header only (8 bytes little-endian length, then JSON
    ``{name: {"dtype", "shape", "data_offsets"}}``); ``None`` when the header cannot be read."""
    try:
        with path.open("rb") as stream:
            (length,) = struct.unpack("<Q", stream.read(8))
            if length > MAX_HEADER_BYTES:
                return None
            header = json.loads(stream.read(length))
    except (OSError, ValueError, struct.error):
        return None
    if not isinstance(header, dict):
        return None
    try:
        return sum(
            math.prod(int(n) for n in entry["shape"])
            for key, entry in header.items()
            if key != "__metadata__" and str(entry["dtype"]).startswith(("F", "BF"))
        )
    except (KeyError, TypeError, ValueError):
        return None


def _folder_mb(folder: Path) -> float:
    """The files the encoder is used with (never its pickle weights, which are not copied or read), in MB."""
    total = 0
    for item in folder.rglob("*"):
        if item.is_file() and item.name not in PICKLE_WEIGHTS:
            try:
                total += item.stat().st_size
            except OSError:
                continue
    return total / 1e6


def encoder_row(name: str, source: str, folder: Path) -> TextEncoderRow:
    """The row of the encoder ``name`` whose files are in ``folder`` (checked; a problem is kept as its
    reason, never raised)."""
    try:
        check_encoder_folder(folder)
        problem = ""
    except TextEncoderError as exc:
        problem = str(exc)
    if not folder.is_dir():
        return TextEncoderRow(name, source, "", 0.0, problem=problem)
    config = _json_object(folder / "config.json")
    weights = sorted(folder.glob("*.safetensors"))
    counts = [safetensors_parameters(path) for path in weights]
    return TextEncoderRow(
        name=name,
        source=source,
        folder=str(folder),
        size_mb=_folder_mb(folder),
        model_type=str(config.get("model_type", "")),
        embedding_width=_first_int(config, ("hidden_size", "dim", "d_model")),
        max_tokens=max_tokens_of(folder) if config else None,
        layers=_first_int(config, ("num_hidden_layers", "n_layers", "num_layers")),
        parameters=sum(c for c in counts if c is not None) if counts and None not in counts else None,
        problem=problem,
    )


def imported_row(name: str) -> TextEncoderRow:
    """The row of the imported encoder ``name`` (``text/<name>``)."""
    return encoder_row(name, "imported", imported_encoders_dir() / name.removeprefix(IMPORTED_PREFIX))


def list_text_encoders() -> list[TextEncoderRow]:
    """The bundled encoder first, then the imported ones by name, each with what its folder says."""
    try:
        bundled = encoder_row(DEFAULT_TEXT_ENCODER, "bundled", bundled_encoder_folder())
    except TextEncoderError as exc:  # the package is not installed
        bundled = TextEncoderRow(DEFAULT_TEXT_ENCODER, "bundled", "", 0.0, problem=str(exc))
    return [bundled] + [imported_row(name) for name in imported_names()]
