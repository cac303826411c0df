"""Using an exported text model: a run folder, a safetensors export folder, or an ONNX / TorchScript file with
its sidecar and the tokenizer files beside it, as one :class:`TextPredictor` that turns texts into logits.

An exported file is tokenised with the ``tokenizers`` library from the ``tokenizer.json`` beside it (truncation to
the sidecar's ``max_length``, padding to the longest text of a batch with its pad id): no ``transformers`` import.
Its token ids equal those the encoder's own tokenizer gives in training (the same file, the same settings); a run
folder uses the encoder's tokenizer directly.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dmtl_studio.core.evaluation.exported_model import _first_line, _read_export_sidecar, onnxruntime_module
from dmtl_studio.core.evaluation.exported_model import is_text_model as is_text_model
from dmtl_studio.core.models.checkpoint import CheckpointError, load_checkpoint

Tokenize = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


class TextPredictor:
    """Logits of texts from a text model, whatever its format (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        classes: Sequence[str],
        max_length: int,
        run: Callable[[np.ndarray, np.ndarray], np.ndarray],
        tokenize: Tokenize | None,
    ) -> None:
        self.kind = kind
        self.classes = list(classes)
        self.max_length = int(max_length)
        self._run = run
        self._tokenize = tokenize

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)`` int64 ``(N, L)`` of ``texts``, ``L`` at most ``max_length``."""
        if self._tokenize is None:
            raise CheckpointError(f"the {self.kind} model was loaded without its tokenizer")
        return self._tokenize(list(texts))

    def logits(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Logits ``(N, classes)`` float64 of token ids and their attention mask.

        Raises
        ------
        CheckpointError
            The model fails on the batch or returns another shape than one score per class.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        mask = np.ascontiguousarray(mask, dtype=np.int64)
        try:
            result = np.asarray(self._run(ids, mask), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - any runtime's failure is the model's, said in one line
            raise CheckpointError(
                f"the {self.kind} text model cannot run on token ids of shape {ids.shape}: {_first_line(exc)}"
            ) from exc
        if result.shape != (ids.shape[0], len(self.classes)):
            raise CheckpointError(
                f"the {self.kind} model returns scores of shape {result.shape} but its sidecar names "
                f"{len(self.classes)} classes; the model and its sidecar do not belong together"
            )
        return result

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, classes)`` float64 of ``texts`` (softmax of the logits)."""
        logits = self.logits(*self.tokenize(texts))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)


class TextLogits(nn.Module):
    """A text classifier as ``(input_ids, attention_mask) -> logits``: masked positions are set to the pad id,
    which is how the encoder itself tells padding from text."""

    def __init__(self, model: nn.Module, pad_id: int) -> None:
        super().__init__()
        self.model = model
        self.pad_id = int(pad_id)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids = torch.where(attention_mask.bool(), input_ids, torch.full_like(input_ids, self.pad_id))
        return self.model(ids)


def file_tokenizer(folder: Path, max_length: int, pad_id: int) -> Tokenize:
    """A tokenize function from ``folder/tokenizer.json`` (the ``tokenizers`` library), truncating to
    ``max_length`` and padding each batch to its longest text with ``pad_id``.

    Raises
    ------
    CheckpointError
        ``tokenizer.json`` is missing or cannot be read.
    """
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no tokenizer.json beside the model (an export puts it there)")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - the library raises its own exception for damaged files
        raise CheckpointError(f"{path} cannot be read: {_first_line(exc)}") from exc
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=tokenizer.id_to_token(pad_id) or "[PAD]")

    def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64).reshape(len(texts), -1)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64).reshape(len(texts), -1)
        return ids, mask

    return tokenize


def text_file_predictor(
    source: Path | bytes, kind: str, sidecar: dict, path: Path, tokenizer: Tokenize | None
) -> TextPredictor:
    """A :class:`TextPredictor` for an ONNX or TorchScript text model given as a file or its bytes."""
    classes = sidecar.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(f"the sidecar of {path} has no list of class names")
    max_length = int(sidecar.get("max_length") or 512)
    if kind == "onnx":
        ort = onnxruntime_module()
        try:
            session = ort.InferenceSession(
                source if isinstance(source, bytes) else str(source), providers=["CPUExecutionProvider"]
            )
            names = [i.name for i in session.get_inputs()]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own classes for every kind of damage
            raise CheckpointError(f"{path} is not a usable ONNX model: {_first_line(exc)}") from exc
        if len(names) != 2:
            raise CheckpointError(
                f"{path} takes {len(names)} inputs; a text model takes token ids and a mask"
            )

        def run_onnx(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return session.run(None, {names[0]: ids, names[1]: mask})[0]

        return TextPredictor(kind, classes, max_length, run_onnx, tokenizer)
    if kind == "torchscript":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stream = io.BytesIO(source) if isinstance(source, bytes) else str(source)
                module = torch.jit.load(stream, map_location="cpu").eval()
        except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError and others for damaged archives
            raise CheckpointError(f"{path} is not a usable TorchScript model: {_first_line(exc)}") from exc

        def run_script(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

        return TextPredictor(kind, classes, max_length, run_script, tokenizer)
    raise CheckpointError(f"{path}: unknown exported format {kind!r}")


def load_text_predictor(path: str | os.PathLike[str], device: str = "cpu") -> TextPredictor:
    """A :class:`TextPredictor` for a text run folder, a safetensors export of one, or an exported file.

    Raises
    ------
    CheckpointError
        The model, its sidecar or its tokenizer is missing, damaged, or not a text model.
    """
    path = Path(path)
    if path.is_dir():
        loaded = load_checkpoint(path, device=device)
        if loaded.sidecar.get("kind") != "text":
            raise CheckpointError(f"{path} is an image model, not a text model")
        encoder = loaded.model.backbone
        model_device = next(loaded.model.parameters()).device

        def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
            ids = encoder.tokenize(texts).ids
            length = max(1, int((ids != encoder.preprocessing.pad_id).sum(1).max())) if len(ids) else 1
            ids = ids[:, :length]
            return ids.numpy(), (ids != encoder.preprocessing.pad_id).long().numpy()

        def run_torch(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                module = TextLogits(loaded.model, encoder.preprocessing.pad_id)
                return (
                    module(torch.from_numpy(ids).to(model_device), torch.from_numpy(mask).to(model_device))
                    .cpu()
                    .numpy()
                )

        return TextPredictor("run", loaded.classes, encoder.max_length, run_torch, tokenize)
    if not path.is_file():
        raise CheckpointError(f"{path} is neither a run folder nor an exported model file")
    sidecar = _read_export_sidecar(path)
    if sidecar.get("modality") != "text":
        raise CheckpointError(f"{path} is an image model, not a text model")
    tokenizer = file_tokenizer(path.parent, int(sidecar["max_length"]), int(sidecar["tokenizer"]["pad_id"]))
    kind = sidecar.get("export_format") or ("onnx" if path.suffix.lower() == ".onnx" else "torchscript")
    return text_file_predictor(path, kind, sidecar, path, tokenizer)
