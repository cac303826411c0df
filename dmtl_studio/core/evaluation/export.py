"""Using a trained run outside DMTL Studio: ONNX, TorchScript, or safetensors with a JSON sidecar.

Every export goes with a JSON sidecar (classes, preprocessing, model spec, training configuration, augmentation
recipe, library versions) so that ``dmtl-studio predict`` — or any other program — can prepare images the way
training did and name the classes; its ``preprocessing`` is the exact description of
:mod:`dmtl_studio.core.models.preprocess`, the steps the product itself follows. The model takes normalised float images ``(batch, 3, size, size)`` and
returns logits ``(batch, classes)``; apply softmax for probabilities. A calibrated run's temperature
(``calibration`` in the run's sidecar) is divided out inside the exported graph, so that softmax gives calibrated
probabilities; the sidecar repeats the entry and names the temperature applied (``output.temperature_applied``).
A run trained with flip test-time augmentation (``tta_flip``, fine-tuned) has it inside the graph too: the model
runs each image and its mirror image and returns the log of their mean probabilities, so softmax gives the same
probabilities as the run predicts with (``output.flip_averaged``).

- ``onnx``: ``PATH`` (e.g. ``model.onnx``) with a dynamic batch dimension, checked after writing with
  onnxruntime against PyTorch on a batch size different from the one traced; sidecar ``PATH.json``
  (``model.onnx.json``).
- ``torchscript``: ``PATH`` (e.g. ``model.pt``), traced and checked the same way; same sidecar naming.
- ``safetensors``: a folder ``PATH`` holding ``model.safetensors`` and ``model.json``, loadable like a run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dmtl_studio.core.base.fileio import FileWriteError, atomic_copy, atomic_write_bytes
from dmtl_studio.core.evaluation.exported_model import (
    EXPORT_SIDECAR_FORMAT,
    ONNX_OPSET,
    TOLERANCE,
    ExportError,
    onnxruntime_module,
    sidecar_path,
    single_file_predictor,
)
from dmtl_studio.core.evaluation.names_now import model_named_now, run_names_now
from dmtl_studio.core.models.architectures import Preprocessing
from dmtl_studio.core.models.calibration import temperature_of
from dmtl_studio.core.models.checkpoint import (
    SIDECAR_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    LoadedModel,
    load_checkpoint,
)
from dmtl_studio.core.models.preprocess import describe_preprocessing
from dmtl_studio.core.models.run_folder import flips_views

FORMATS = ("onnx", "torchscript", "safetensors")


@dataclass(frozen=True)
class ExportResult:
    format: str
    path: Path
    sidecar: Path
    seconds: float
    max_abs_difference: float | None  # against PyTorch on the check batch; None for safetensors
    check_batch: int
    #: The classes renamed or merged in the project since the run was trained, and what the export did with them.
    note: str = ""


def _export_sidecar(run_sidecar: dict, fmt: str, file_name: str, check: dict) -> dict:
    return {
        "format": EXPORT_SIDECAR_FORMAT,
        "kind": "dmtl-studio-export",
        "export_format": fmt,
        "file": file_name,
        "input": {"name": "images", "layout": "NCHW", "dtype": "float32", "batch": "dynamic"},
        "output": {
            "name": "logits",
            "apply": "softmax over classes for probabilities",
            # The graph already divides by the calibration temperature: softmax gives calibrated probabilities.
            "temperature_applied": temperature_of(run_sidecar),
            # Flip test-time augmentation inside the graph: the output is log((p(x) + p(mirrored x)) / 2).
            "flip_averaged": flips_views(run_sidecar),
        },
        "calibration": run_sidecar.get("calibration"),
        "classes": run_sidecar["classes"],
        # Written from the one definition the product follows (not copied), so old runs are described right too.
        "preprocessing": describe_preprocessing(Preprocessing.from_dict(run_sidecar["preprocessing"])),
        "model": run_sidecar["model"],
        "recipe": run_sidecar.get("augmentation"),
        "config": run_sidecar.get("config", {}),
        "metrics": run_sidecar.get("metrics", {}),
        "versions": run_sidecar.get("versions", {}),
        "check": check,
    }


#: The file endings of the single-file formats; the first is what a name without one gets.
FILE_SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".torchscript")}


def export_file_path(out: Path, fmt: str) -> Path:
    """Where a single-file export goes: into ``out`` when it is a folder (``model.onnx``, ``model.pt``), with
    the format's ending added to a name that has none; an ending of another format is refused."""
    suffixes = FILE_SUFFIXES[fmt]
    if out.is_dir():
        return out / f"model{suffixes[0]}"
    if not out.suffix:
        return out.with_name(out.name + suffixes[0])
    if out.suffix.lower() not in suffixes:
        raise ExportError(
            f"{out.name} ends in {out.suffix} but the format is {fmt}; name the file *{suffixes[0]}"
        )
    return out


def _refuse_file_name_for_folder(out: Path) -> None:
    """A safetensors export is a folder: a name with a model file's ending made a folder named ``model.onnx``."""
    model_endings = {suffix for suffixes in FILE_SUFFIXES.values() for suffix in suffixes}
    if out.suffix.lower() in model_endings and not out.is_dir():
        raise ExportError(
            f"a safetensors export is a folder (weights and description); {out.name} names a file of another "
            "format: give a folder, e.g. --out export-folder"
        )


def export_targets(run_dir: str | os.PathLike[str], fmt: str, out: str | os.PathLike[str]) -> list[Path]:
    """Every file :func:`export_run` would write for these arguments, the model file first, without loading the
    model: a single-file export's model and sidecar, and a text run's tokenizer files beside them; a
    safetensors export's two files in its folder.

    Raises
    ------
    ExportError
        An unknown format, or a file name whose ending belongs to another format.
    CheckpointError
        The run's sidecar cannot be read.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; formats are {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "safetensors":
        _refuse_file_name_for_folder(out)
        return [out / WEIGHTS_NAME, out / SIDECAR_NAME]
    path = export_file_path(out, fmt)
    targets = [path, sidecar_path(path)]
    try:
        run_sidecar = json.loads((Path(run_dir) / SIDECAR_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{run_dir} has no readable {SIDECAR_NAME}: {exc}") from exc
    if isinstance(run_sidecar, dict) and run_sidecar.get("kind") == "text":
        from dmtl_studio.core.models.text_catalog import (
            TextEncoderError,
            resolve_text_encoder,
            tokenizer_files,
        )

        names = {"tokenizer.json"}  # always written, by the encoder's tokenizer when its folder has none
        # An encoder that cannot be found: the export itself says so, before it writes anything.
        with contextlib.suppress(TextEncoderError, KeyError, TypeError):
            encoder = resolve_text_encoder(run_sidecar["model"]["backbone"])
            names |= {file.name for file in tokenizer_files(encoder)}
        targets += [path.parent / name for name in sorted(names)]
    return targets


def same_tokenizer_files(run_dir: str | os.PathLike[str], paths: list[Path]) -> set[Path]:
    """Those of ``paths`` (tokenizer files a text export of the run would write) that exist already with the
    very bytes it would write: an earlier export of a run on the same encoder, in another format or under
    another name, which this export may share. Empty when the run's encoder cannot be found.
    """
    from dmtl_studio.core.models.text_catalog import TextEncoderError, resolve_text_encoder, tokenizer_files

    try:
        run_sidecar = json.loads((Path(run_dir) / SIDECAR_NAME).read_text(encoding="utf-8"))
        encoder = resolve_text_encoder(run_sidecar["model"]["backbone"])
    except (OSError, ValueError, TextEncoderError, KeyError, TypeError):
        return set()
    sources = {file.name: file for file in tokenizer_files(encoder)}
    same = set()
    for path in paths:
        source = sources.get(path.name)
        with contextlib.suppress(OSError):
            if source is not None and path.is_file() and path.read_bytes() == source.read_bytes():
                same.add(path)
    return same


def export_run(
    run_dir: str | os.PathLike[str],
    fmt: str,
    out: str | os.PathLike[str],
    *,
    check_batch: int = 3,
    seed: int = 0,
) -> ExportResult:
    """Export the run in ``run_dir`` as ``fmt`` to ``out``, and check the result against PyTorch.

    A text run's ONNX or TorchScript model takes token ids and an attention mask, with the tokenizer files
    beside it (:mod:`dmtl_studio.core.evaluation.text_export`); its safetensors export is a run folder as for
    images (it needs the encoder installed to load).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; formats are {', '.join(FORMATS)}")
    if fmt == "safetensors":
        _refuse_file_name_for_folder(Path(out))
    loaded, note = _named_now(run_dir, load_checkpoint(run_dir, device="cpu"), fmt)
    model = loaded.model.eval()
    size = loaded.preprocessing.input_size
    out = Path(out)
    if fmt != "safetensors" and loaded.sidecar.get("kind") == "text":
        from dmtl_studio.core.evaluation.text_export import export_text_run

        path, side, seconds, difference = export_text_run(
            loaded, fmt, export_file_path(out, fmt), check_batch=check_batch, seed=seed
        )
        return ExportResult(fmt, path, side, seconds, difference, check_batch, note)
    started = time.perf_counter()
    if fmt == "safetensors":
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ExportError(f"{out} exists and is not an empty folder; choose a new folder")
        created = not out.exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
            atomic_copy(Path(run_dir) / WEIGHTS_NAME, out / WEIGHTS_NAME)
            sidecar = dict(loaded.sidecar)
            sidecar["export"] = {"from_run": Path(run_dir).name, "exported_at": time.time()}
            atomic_write_bytes(out / SIDECAR_NAME, json.dumps(sidecar, indent=2, sort_keys=True).encode())
            load_checkpoint(out)  # the folder must load exactly as the run did (weights hash checked)
        except (OSError, CheckpointError) as exc:
            _remove_export(out, created)
            raise ExportError(
                f"the safetensors export to {out} failed and was removed: {_reason(exc)}"
            ) from exc
        return ExportResult(fmt, out, out / SIDECAR_NAME, time.perf_counter() - started, None, 0, note)

    out = export_file_path(out, fmt)
    side = sidecar_path(out)
    example = torch.zeros(1, 3, size, size)
    # The model is serialised in memory first: torch's own file writer aborts the whole process when the disk
    # fills under it. The bytes then reach the disk through the one atomic writer (temp file, fsync, rename).
    buffer = io.BytesIO()
    try:
        # The exporters warn about their own deprecations; the files they write are what is checked below.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                torch.onnx.export(
                    model,
                    (example,),
                    buffer,
                    dynamo=False,
                    input_names=["images"],
                    output_names=["logits"],
                    dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=ONNX_OPSET,
                )
            else:
                traced = torch.jit.trace(model, example, check_trace=False)
                torch.jit.save(traced, buffer)
    except Exception as exc:
        raise ExportError(f"the {fmt} export failed: {exc}") from exc
    data = buffer.getvalue()
    seconds = time.perf_counter() - started
    # Checked from the bytes, before anything reaches the disk: a model that differs is never written.
    generator = torch.Generator().manual_seed(seed)
    batch = torch.randn(check_batch, 3, size, size, generator=generator)
    with torch.no_grad():
        expected = model(batch).numpy()
    check_sidecar = _export_sidecar(loaded.sidecar, fmt, out.name, {})
    got = single_file_predictor(data, fmt, check_sidecar, out).logits(batch.numpy())
    difference = float(np.abs(got - expected).max())
    # Relative to the logits' size: a calibrated run (a temperature well below 1) or a linear probe fitted to
    # convergence has logits in the hundreds, where float32 rounding alone exceeds an absolute 1e-3.
    allowed = TOLERANCE * max(1.0, float(np.abs(expected).max()))
    if not difference <= allowed:
        raise ExportError(
            f"the {fmt} model differs from PyTorch by {difference:.2e} (tolerance {allowed:.1e}); not kept"
        )
    check_info = {
        "against": "pytorch",
        "batch_size": check_batch,
        "traced_batch_size": 1,
        "max_abs_difference": difference,
        "tolerance": allowed,
    }
    if fmt == "onnx":
        check_info["runtime"] = "onnxruntime " + onnxruntime_module().__version__
        check_info["opset"] = ONNX_OPSET
    existed = out.exists()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, data)
        atomic_write_bytes(
            side, json.dumps(_export_sidecar(loaded.sidecar, fmt, out.name, check_info), indent=2).encode()
        )
    except OSError as exc:
        if not existed:  # a model without its sidecar cannot be used: keep neither
            out.unlink(missing_ok=True)
        raise ExportError(f"the {fmt} export to {out} failed: {_reason(exc)}") from exc
    return ExportResult(fmt, out, side, seconds, difference, check_batch, note)


def _named_now(run_dir: str | os.PathLike[str], loaded: LoadedModel, fmt: str) -> tuple[LoadedModel, str]:
    """The run's model under its project's class names of now (a renamed class's output takes its new name;
    classes merged since are one output, the sum of their probabilities), as ``predict RUN_DIR`` gives them, and
    the note saying so. A safetensors export is the run's own weights: it keeps one output per class of the run
    when classes were merged (renamed ones take their new names)."""
    names = run_names_now(run_dir, loaded.classes) or loaded.classes  # the project is read once
    named, note = model_named_now(run_dir, loaded, names=names)
    if not note:
        return loaded, ""
    if len(named.classes) != len(loaded.classes) and fmt == "safetensors":
        merges = [
            f"{' and '.join(repr(old) for old, now in zip(loaded.classes, names, strict=True) if now == new)} are "
            f"'{new}' now"
            for new in dict.fromkeys(names)
            if list(names).count(new) > 1
        ]
        return loaded, (
            f"Classes were merged in the project since the run was trained ({'; '.join(merges)}): a safetensors "
            "export keeps one output per class of the run, under the run's names; an ONNX or TorchScript export "
            "sums the merged classes."
        )
    return replace(named, sidecar={**named.sidecar, "classes": list(named.classes)}), note


def _reason(exc: BaseException) -> str:
    """The plain part of a write error (the path is already named by the caller's message)."""
    if isinstance(exc, FileWriteError):
        return f"{exc.reason} while writing {exc.path.name}; nothing was kept"
    return str(exc)


def _remove_export(folder: Path, created: bool) -> None:
    """Remove what a failed folder export wrote (the folder too when the export made it)."""
    for name in (WEIGHTS_NAME, SIDECAR_NAME):
        (folder / name).unlink(missing_ok=True)
    if created:
        shutil.rmtree(folder, ignore_errors=True)
