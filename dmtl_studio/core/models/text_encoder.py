"""A pretrained sentence encoder as a torch module: token ids -> transformer -> pooling -> embedding.

The encoder is read from a local folder with ``transformers`` (``AutoModel`` / ``AutoTokenizer``,
``local_files_only=True``, the hubs forced offline), and pools the last hidden states as the folder's
sentence-transformers files say (``modules.json``, ``1_Pooling/config.json``: mean over the real tokens for
all-MiniLM-L6-v2, then L2 normalisation). Its embeddings equal sentence-transformers' ``SentenceTransformer(folder)
.encode`` on the same texts (``tests/core/models/test_text_encoder.py``).

The module takes token ids ``(B, L)`` int64 padded on the right with the tokenizer's pad id; the attention mask is
``ids != pad_id``. Each item carries a fixed length (the encoder's maximum) so the training loop's default collation,
``.to(device)`` and stacking work as for images; the padding columns a batch does not need are cut before the
transformer runs. A text longer than the maximum sequence length (256 tokens for all-MiniLM-L6-v2) is truncated;
:meth:`TextEncoder.tokenize` says which were.

References
----------
- Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks", EMNLP 2019 (pooling).
- Wang et al., "MiniLM: Deep Self-Attention Distillation for Task-Agnostic Compression of Pre-Trained
  Transformers", NeurIPS 2020; the sentence-transformers model card of all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from dmtl_studio.core.base.paths import force_offline
from dmtl_studio.core.models.text_catalog import TextEncoderError, check_encoder_folder, resolve_text_encoder

log = logging.getLogger(__name__)

POOLING_MODES = ("mean", "cls", "max")
#: Used when a folder says nothing of its maximum length (the common BERT limit).
FALLBACK_MAX_LENGTH = 512


@dataclass(frozen=True)
class TextPreprocessing:
    """How text becomes model input: the encoder's tokenizer, its maximum length, pad id and pooling.

    ``input_size`` is the maximum sequence length in tokens (the name the training loop reads for images).
    """

    encoder: str
    max_length: int
    pad_id: int
    pooling: str = "mean"
    normalize: bool = True

    @property
    def input_size(self) -> int:
        return self.max_length

    def to_dict(self) -> dict:
        return {"kind": "text", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> TextPreprocessing:
        return cls(
            encoder=str(data["encoder"]),
            max_length=int(data["max_length"]),
            pad_id=int(data["pad_id"]),
            pooling=str(data.get("pooling", "mean")),
            normalize=bool(data.get("normalize", True)),
        )


def _read_json(path: Path) -> dict | list | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TextEncoderError(f"{path} cannot be read: {exc}") from None


def pooling_of(folder: Path) -> tuple[str, bool]:
    """``(pooling, normalize)`` from the folder's sentence-transformers modules; plain folders: mean, no norm."""
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list):
        return "mean", False
    pooling, normalize = "mean", False
    for module in modules:
        kind = str(module.get("type", ""))
        if kind.endswith("Pooling"):
            config = _read_json(folder / str(module.get("path", "")) / "config.json") or {}
            if config.get("pooling_mode_cls_token"):
                pooling = "cls"
            elif config.get("pooling_mode_max_tokens"):
                pooling = "max"
            elif config.get("pooling_mode_mean_sqrt_len_tokens"):
                raise TextEncoderError(f"{folder}: the pooling mode mean_sqrt_len is not supported")
        elif kind.endswith("Normalize"):
            normalize = True
    return pooling, normalize


def max_length_of(folder: Path, tokenizer: object, model_config: object) -> int:
    """The maximum sequence length: sentence-transformers' ``max_seq_length``, else the tokenizer's and the
    position embeddings' limits."""
    st_config = _read_json(folder / "sentence_bert_config.json")
    if isinstance(st_config, dict) and st_config.get("max_seq_length"):
        return int(st_config["max_seq_length"])
    limits = [FALLBACK_MAX_LENGTH]
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and model_max < 1_000_000:
        limits.append(model_max)
    positions = getattr(model_config, "max_position_embeddings", None)
    if isinstance(positions, int):
        limits.append(positions)
    return min(limits)


@dataclass(frozen=True)
class Tokenized:
    """Token ids ``(N, max_length)`` int64 padded with the pad id, and how many texts were truncated."""

    ids: torch.Tensor
    truncated: int


class TextEncoder(nn.Module):
    """Token ids ``(B, L)`` -> sentence embeddings ``(B, num_features)`` float32 (see the module docstring).

    Built by :func:`load_text_encoder`. ``num_features`` is the embedding size (384 for all-MiniLM-L6-v2).
    """

    def __init__(self, transformer: nn.Module, tokenizer: object, preprocessing: TextPreprocessing) -> None:
        super().__init__()
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.preprocessing = preprocessing
        self.num_features = int(transformer.config.hidden_size)

    @property
    def max_length(self) -> int:
        return self.preprocessing.max_length

    def tokenize(self, texts: list[str]) -> Tokenized:
        """Token ids ``(N, max_length)`` for ``texts``, truncated to the maximum length (counted)."""
        encoded = self.tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_overflowing_tokens=False,
            return_length=False,
        )
        ids = torch.tensor(encoded["input_ids"], dtype=torch.long)
        pad = self.preprocessing.pad_id
        full = int(((ids != pad).sum(1) >= self.max_length).sum())
        truncated = 0
        if full:  # only texts that fill the window can have been cut: count them exactly
            lengths = self.tokenizer(
                [t for t, row in zip(texts, ids, strict=True) if int((row != pad).sum()) >= self.max_length],
                truncation=False,
                return_length=True,
                verbose=False,  # counting only: the "longer than the maximum" warning is this count's job
            )["length"]
            truncated = sum(1 for n in lengths if n > self.max_length)
        return Tokenized(ids, truncated)

    def parameter_stages(self) -> list[list[str]]:
        """Parameter names grouped input to output: the embeddings, then each transformer layer; anything else
        (a pooler that mean pooling never uses) joins the last stage. ``partial`` unfreezes the last stages."""
        names = [name for name, _ in self.named_parameters()]
        embeddings = [n for n in names if ".embeddings." in f".{n}"]
        layers: dict[int, list[str]] = {}
        rest = []
        for name in names:
            if name in embeddings:
                continue
            parts = name.split(".")
            index = next(
                (
                    int(parts[i + 1])
                    for i in range(len(parts) - 1)
                    if parts[i] == "layer" and parts[i + 1].isdigit()
                ),
                None,
            )
            if index is None:
                rest.append(name)
            else:
                layers.setdefault(index, []).append(name)
        stages = [embeddings] + [layers[i] for i in sorted(layers)]
        stages = [s for s in stages if s]
        if rest:
            stages[-1] = stages[-1] + rest
        return stages

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != self.preprocessing.pad_id
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            # Cut the padding columns no text of this batch needs (a fixed-length item is mostly padding).
            length = max(1, int(mask.sum(1).max()))
            ids, mask = ids[:, :length], mask[:, :length]
        hidden = self.transformer(
            input_ids=ids, attention_mask=mask.long(), token_type_ids=torch.zeros_like(ids)
        ).last_hidden_state
        pooling = self.preprocessing.pooling
        if pooling == "cls":
            pooled = hidden[:, 0]
        elif pooling == "max":
            pooled = hidden.masked_fill(~mask.unsqueeze(-1), torch.finfo(hidden.dtype).min).max(1).values
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        pooled = pooled.float()
        if self.preprocessing.normalize:
            pooled = functional.normalize(pooled, p=2, dim=1)
        return pooled

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """Embeddings ``(N, num_features)`` float32 on the CPU, in eval mode (for tools and tests)."""
        self.eval()
        device = next(self.parameters()).device
        out = []
        for start in range(0, len(texts), batch_size):
            ids = self.tokenize(texts[start : start + batch_size]).ids.to(device)
            out.append(self(ids).cpu())
        return torch.cat(out) if out else torch.empty(0, self.num_features)


def load_text_encoder(name: str, pretrained: bool = True) -> TextEncoder:
    """The encoder ``name`` (see :mod:`dmtl_studio.core.models.text_catalog`) read offline.

    Parameters
    ----------
    name
        ``all-MiniLM-L6-v2``, an imported ``text/<name>`` or a folder path.
    pretrained
        Read the folder's weights; ``False`` builds the architecture from its ``config.json`` with untrained
        weights (a checkpoint's weights are loaded over it).

    Raises
    ------
    TextEncoderError
        The folder is missing, incomplete, holds pickle weights only, or transformers cannot read it.
    """
    folder = resolve_text_encoder(name)
    return load_encoder_folder(folder, name, pretrained)


def load_encoder_folder(folder: str | os.PathLike[str], name: str, pretrained: bool = True) -> TextEncoder:
    """:func:`load_text_encoder` for a folder, recorded under ``name``."""
    folder = check_encoder_folder(folder)
    force_offline()
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no console bars from a library inside the product
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        if pretrained:
            transformer = AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
        else:
            config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
            transformer = AutoModel.from_config(config)
    except (OSError, ValueError, KeyError) as exc:
        raise TextEncoderError(f"{folder} cannot be read as a text encoder: {exc}") from None
    pooling, normalize = pooling_of(folder)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        raise TextEncoderError(f"{folder}: the tokenizer has no padding token")
    preprocessing = TextPreprocessing(
        encoder=name,
        max_length=max_length_of(folder, tokenizer, transformer.config),
        pad_id=int(pad_id),
        pooling=pooling,
        normalize=normalize,
    )
    transformer.eval()
    log.info("text encoder %s read from %s (%s pooling)", name, folder, pooling)
    return TextEncoder(transformer, tokenizer, preprocessing)
