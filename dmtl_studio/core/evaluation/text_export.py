"""Exporting a text run: ONNX or TorchScript taking token ids and an attention mask, the tokenizer beside it.

The exported graph maps ``input_ids`` and ``attention_mask`` (both int64, ``(batch, sequence)``, dynamic on both
axes; right padding) to ``logits`` ``(batch, classes)``: the encoder, its pooling and normalisation, the head (a
linear probe's standardisation is already folded into its weights, as for images) and the calibration
temperature. The tokenizer's files (``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json``,
``vocab.txt`` — those the encoder's folder has) are copied beside the model, so a program needs only the
``tokenizers`` library and onnxruntime to use it (:mod:`dmtl_studio.core.evaluation.text_exported`). The sidecar
(``model.onnx.json``) names the classes, the maximum length, the pad id and the tokenizer files, with
``"modality": "text"``. The export is checked with its runtime against PyTorch on texts of several lengths
(a batch size and a sequence length other than the traced ones) before it is written.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.evaluation.exported_model import (
    ONNX_OPSET,
    TOLERANCE,
    ExportError,
    onnxruntime_module,
    sidecar_path,
)
from dmtl_studio.core.evaluation.text_exported import TextLogits, text_file_predictor
from dmtl_studio.core.models.calibration import temperature_of
from dmtl_studio.core.models.checkpoint import LoadedModel
from dmtl_studio.core.models.text_catalog import TextEncoderError, resolve_text_encoder, tokenizer_files

#: The names of the exported graph's inputs and output.
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"


def check_inputs(vocab_size: int, pad_id: int, batch: int, length: int, seed: int) -> tuple[np.ndarray, ...]:
    """``(input_ids, attention_mask)`` int64 ``(batch, length)``: random tokens, rows of falling length."""
    rng = np.random.default_rng(seed)
    low = min(1000, vocab_size // 2)
    ids = rng.integers(low, vocab_size, size=(batch, length), dtype=np.int64)
    mask = np.zeros((batch, length), dtype=np.int64)
    for row in range(batch):
        mask[row, : max(2, length - 3 * row)] = 1
    ids[mask == 0] = pad_id
    return ids, mask


def _tokenizer_payload(loaded: LoadedModel) -> dict[str, bytes]:
    """The tokenizer files to put beside the model, by name (``tokenizer.json`` always among them)."""
    try:
        folder = resolve_text_encoder(loaded.spec.backbone)
    except TextEncoderError as exc:
        raise ExportError(f"the run's text encoder cannot be found: {exc}") from exc
    files = {path.name: path.read_bytes() for path in tokenizer_files(folder)}
    if "tokenizer.json" not in files:  # a folder with vocab.txt only: the fast tokenizer writes its own
        backend = getattr(loaded.model.backbone.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ExportError(f"{folder} has no tokenizer.json and its tokenizer cannot write one")
        files["tokenizer.json"] = backend.to_str().encode("utf-8")
    return files


def _sidecar(loaded: LoadedModel, fmt: str, file_name: str, tokenizer: list[str], check: dict) -> dict:
    from dmtl_studio.core.evaluation.exported_model import EXPORT_SIDECAR_FORMAT

    run = loaded.sidecar
    preprocessing = loaded.preprocessing.to_dict()
    return {
        "format": EXPORT_SIDECAR_FORMAT,
        "kind": "dmtl-studio-export",
        "modality": "text",
        "export_format": fmt,
        "file": file_name,
        "input": {
            "names": list(INPUT_NAMES),
            "dtype": "int64",
            "layout": "batch x sequence, padded on the right",
            "batch": "dynamic",
            "sequence": "dynamic",
        },
        "output": {
            "name": OUTPUT_NAME,
            "apply": "softmax over classes for probabilities",
            "temperature_applied": temperature_of(run),
        },
        "tokenizer": {
            "files": sorted(tokenizer),
            "max_length": preprocessing["max_length"],
            "pad_id": preprocessing["pad_id"],
            "truncation": "longest texts cut at max_length tokens (special tokens included)",
        },
        "max_length": preprocessing["max_length"],
        "calibration": run.get("calibration"),
        "classes": run["classes"],
        "preprocessing": preprocessing,
        "model": run["model"],
        "recipe": run.get("augmentation"),
        "config": run.get("config", {}),
        "metrics": run.get("metrics", {}),
        "versions": run.get("versions", {}),
        "check": check,
    }


def export_text_run(
    loaded: LoadedModel, fmt: str, out: Path, *, check_batch: int = 3, seed: int = 0
) -> tuple[Path, Path, float, float]:
    """Export a text run as ``fmt`` (``onnx`` or ``torchscript``) to the file ``out``, checked against PyTorch.

    Returns ``(model path, sidecar path, seconds, max abs difference of the logits)``.

    Raises
    ------
    ExportError
        The export failed, its logits differ from PyTorch's by more than the tolerance, or a file cannot be
        written (nothing is kept then).
    """
    encoder = loaded.model.backbone
    pad_id = encoder.preprocessing.pad_id
    module = TextLogits(loaded.model.eval(), pad_id).eval()
    vocab = int(encoder.transformer.config.vocab_size)
    example = tuple(torch.from_numpy(a) for a in check_inputs(vocab, pad_id, 2, 8, seed + 1))
    started = time.perf_counter()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                axes = {0: "batch", 1: "sequence"}
                torch.onnx.export(
                    module,
                    example,
                    buffer,
                    dynamo=False,
                    input_names=list(INPUT_NAMES),
                    output_names=[OUTPUT_NAME],
                    dynamic_axes={INPUT_NAMES[0]: axes, INPUT_NAMES[1]: axes, OUTPUT_NAME: {0: "batch"}},
                    opset_version=ONNX_OPSET,
                )
            else:
                from transformers.utils import logging as transformers_logging

                # Tracing reads every attribute of the encoder, among them a language model's loss, and
                # transformers then warns of a loss type a sentence encoder never has.
                verbosity = transformers_logging.get_verbosity()
                transformers_logging.set_verbosity_error()
                try:
                    torch.jit.save(torch.jit.trace(module, example, check_trace=False), buffer)
                finally:
                    transformers_logging.set_verbosity(verbosity)
    except Exception as exc:
        raise ExportError(f"the {fmt} export of the text model failed: {exc}") from exc
    data = buffer.getvalue()
    seconds = time.perf_counter() - started
    ids, mask = check_inputs(vocab, pad_id, check_batch, 13, seed)
    with torch.no_grad():
        expected = module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    tokenizer = _tokenizer_payload(loaded)
    draft = _sidecar(loaded, fmt, out.name, list(tokenizer), {})
    got = text_file_predictor(data, fmt, draft, out, tokenizer=None).logits(ids, mask)
    difference = float(np.abs(got - expected).max())
    if not difference <= TOLERANCE:
        raise ExportError(
            f"the {fmt} text model differs from PyTorch by {difference:.2e} (tolerance {TOLERANCE:.0e}); not kept"
        )
    check = {
        "against": "pytorch",
        "batch_size": check_batch,
        "sequence_length": int(ids.shape[1]),
        "traced_batch_size": 2,
        "traced_sequence_length": 8,
        "max_abs_difference": difference,
        "tolerance": TOLERANCE,
    }
    if fmt == "onnx":
        check["runtime"] = "onnxruntime " + onnxruntime_module().__version__
        check["opset"] = ONNX_OPSET
    side = sidecar_path(out)
    written: list[Path] = []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for path, content in [(out.parent / n, c) for n, c in tokenizer.items()] + [(out, data)]:
            existed = path.exists()
            atomic_write_bytes(path, content)
            if not existed:  # only what this export created is removed when a later write fails
                written.append(path)
        sidecar = _sidecar(loaded, fmt, out.name, list(tokenizer), check)
        atomic_write_bytes(side, json.dumps(sidecar, indent=2).encode())
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ExportError(f"the {fmt} export to {out} failed: {exc}; nothing was kept") from exc
    return out, side, seconds, difference
