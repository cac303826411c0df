"""Loading a model made by DMTL Studio — a run folder, a safetensors export folder, or an ONNX or TorchScript file
with its JSON sidecar — as one :class:`Predictor` that turns normalised images into logits.

An ONNX model runs in onnxruntime without importing PyTorch (PyTorch is imported for run folders and TorchScript
files only), with as many threads as the process may use (:func:`cpu_threads`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cores import usable_cores
from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.base.paths import app_data_dir
from dmtl_studio.core.models.preprocess import Preprocessing
from dmtl_studio.core.models.run_folder import (
    SIDECAR_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    flips_views,
    read_sidecar,
)

EXPORT_SIDECAR_FORMAT = 1
#: Exported outputs must match PyTorch's within this absolute tolerance on the logits.
TOLERANCE = 1e-3
ONNX_OPSET = 17
SIDECAR_SUFFIX = ".json"


class ExportError(Exception):
    """An export that failed or did not match PyTorch; the message says what happened."""


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.onnx.json`` (the sidecar of an exported single-file model)."""
    path = Path(model_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def onnxruntime_module():  # noqa: ANN202 - the module
    """The onnxruntime module; :class:`ExportError` when it is not installed."""
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a dependency of the application
        raise ExportError("onnxruntime is not installed; it is needed to use .onnx models") from exc
    return onnxruntime


def cpu_threads() -> int:
    """CPU threads this process may use: ``OMP_NUM_THREADS`` when set, else the cores it may run on."""
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        wanted = 0
    return wanted if wanted > 0 else usable_cores()


def onnx_session(source: str | bytes) -> object:
    """An onnxruntime CPU session over a model file or its bytes, with :func:`cpu_threads` intra-op threads.

    The threads sleep between runs instead of spinning (``session.intra_op.allow_spinning`` 0): prediction runs
    a batch at a time with decoding in between, and spinning threads would only burn the CPU meanwhile.
    """
    ort = onnxruntime_module()
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class Predictor:
    """Logits from a run folder, an exported safetensors folder, an ONNX file or a TorchScript file."""

    def __init__(
        self,
        kind: str,
        classes: Sequence[str],
        preprocessing: Preprocessing,
        run: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.kind = kind
        self.classes = list(classes)
        self.preprocessing = preprocessing
        self._run = run

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits ``(batch, classes)`` for normalised float32 images ``(batch, 3, size, size)``.

        Raises
        ------
        CheckpointError
            When the model fails on the batch or returns another shape than one score per class (a model
            that does not fit its sidecar): never a silently malformed result.
        """
        batch = np.ascontiguousarray(images, dtype=np.float32)
        try:
            result = np.asarray(self._run(batch), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - any runtime's failure is the model's, said in one line
            raise CheckpointError(
                f"the {self.kind} model cannot run on images of shape {tuple(batch.shape)}: {_first_line(exc)}"
            ) from exc
        expected = (batch.shape[0], len(self.classes))
        if result.shape != expected:
            raise CheckpointError(
                f"the {self.kind} model returns scores of shape {tuple(result.shape)} but its sidecar names "
                f"{len(self.classes)} classes (expected {expected}); the model and its sidecar do not belong together"
            )
        return result

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        logits = self.logits(images)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _read_export_sidecar(path: Path) -> dict:
    side = sidecar_path(path)
    if not side.is_file():
        raise CheckpointError(
            f"{path} has no sidecar {side.name} beside it (it names the classes and the preprocessing)"
        )
    try:
        sidecar = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{side} cannot be read: {_first_line(exc)}") from exc
    if not isinstance(sidecar, dict):
        raise CheckpointError(f"{side} is not a model sidecar (a JSON object was expected)")
    try:
        newer = int(sidecar.get("format", 0)) > EXPORT_SIDECAR_FORMAT
    except (TypeError, ValueError):
        newer = True
    if newer:
        raise CheckpointError(f"{side} was written by a newer DMTL Studio (or is damaged); update to use it")
    return sidecar


def single_file_predictor(source: Path | bytes, kind: str, sidecar: dict, path: Path) -> Predictor:
    """A :class:`Predictor` for an ONNX or TorchScript model given as a file or as its bytes."""
    classes = sidecar.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(f"the sidecar of {path} has no list of class names")
    try:
        preprocessing = Preprocessing.from_dict(sidecar["preprocessing"])
    except Exception as exc:  # noqa: BLE001 - a damaged sidecar, whatever the field
        raise CheckpointError(
            f"the sidecar of {path} has no usable preprocessing: {_first_line(exc)}"
        ) from exc
    if kind == "onnx":
        try:
            session = onnx_session(source if isinstance(source, bytes) else str(source))
            inputs = session.get_inputs()
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own classes for every kind of damage
            raise CheckpointError(f"{path} is not a usable ONNX model: {_first_line(exc)}") from exc
        if len(inputs) != 1:
            raise CheckpointError(
                f"{path} takes {len(inputs)} inputs; a classifier takes one batch of images"
            )
        input_name = inputs[0].name
        return Predictor(
            kind, classes, preprocessing, lambda batch: session.run(None, {input_name: batch})[0]
        )
    if kind == "torchscript":
        import torch

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stream = io.BytesIO(source) if isinstance(source, bytes) else str(source)
                module = torch.jit.load(stream, map_location="cpu").eval()
        except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError and others for damaged archives
            raise CheckpointError(f"{path} is not a usable TorchScript model: {_first_line(exc)}") from exc

        def run_script(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(batch)).numpy()

        return Predictor(kind, classes, preprocessing, run_script)
    raise CheckpointError(f"{path}: unknown exported format {kind!r}")


def load_exported(path: str | os.PathLike[str], sidecar: dict | None = None) -> Predictor:
    """A :class:`Predictor` for a run folder, a safetensors export folder, or an ``.onnx`` / TorchScript file.

    Single-file models are described by their sidecar next to them (``model.onnx`` -> ``model.onnx.json``).

    Raises
    ------
    CheckpointError
        When the model or its sidecar is missing, damaged or does not fit (one plain sentence).
    """
    path = Path(path)
    if path.is_dir():
        import torch

        from dmtl_studio.core.models.checkpoint import load_checkpoint

        loaded = load_checkpoint(path, device="cpu")

        def run_torch(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return loaded.model(torch.from_numpy(batch)).numpy()

        return Predictor("run", loaded.classes, loaded.preprocessing, run_torch)
    if not path.is_file():
        raise CheckpointError(f"{path} is neither a run folder nor an exported model file")
    if path.suffix.lower() == ".safetensors":  # weights alone: the model is the folder with its model.json
        if path.name == WEIGHTS_NAME and (path.parent / SIDECAR_NAME).is_file():
            return load_exported(path.parent)
        raise CheckpointError(
            f"{path} holds weights only: a safetensors export is a folder with {WEIGHTS_NAME} and its "
            f"sidecar {SIDECAR_NAME} (the classes, the model and the preprocessing), and {SIDECAR_NAME} is not "
            f"beside it; give the export's whole folder, or export the run again (dmtl-studio export RUN_DIR "
            "--format safetensors --out NEW_FOLDER)"
        )
    if sidecar is None:
        sidecar = _read_export_sidecar(path)
    kind = sidecar.get("export_format") or ("onnx" if path.suffix.lower() == ".onnx" else "torchscript")
    return single_file_predictor(path, kind, sidecar, path)


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    try:
        read_sidecar(path)
    except CheckpointError:
        return False
    return True


#: Version of the exported graph of a run kept in the cache; a change makes new files.
_RUN_ONNX_FORMAT = 1
#: Runs' ONNX files kept in the cache (the least recently used beyond this are removed).
KEPT_RUN_FILES = 16


def run_onnx_cache_path(run_dir: str | os.PathLike[str], sidecar: dict | None = None) -> Path:
    """Where the product keeps a run's model exported to ONNX: ``<app data>/cache/onnx/run-<key>.onnx``.

    The key hashes the run's weights file (read each time, so replaced weights never meet an old export), its
    model spec, preprocessing and calibration: whatever the exported graph depends on.

    Raises
    ------
    CheckpointError
        When the run has no sidecar or weights, or the weights do not match the sidecar.
    """
    folder = Path(run_dir)
    sidecar = read_sidecar(folder) if sidecar is None else sidecar
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{folder} has a sidecar but no {WEIGHTS_NAME}")
    digest = file_sha256(weights)
    expected = sidecar.get("weights_sha256")
    if expected and digest != expected:
        raise CheckpointError(
            f"{weights} does not match its sidecar {SIDECAR_NAME} (damaged or replaced); copy the run folder "
            "again from where it came, or train the run again"
        )
    described = {
        "format": _RUN_ONNX_FORMAT,
        "weights": digest,
        "model": sidecar.get("model"),
        "preprocessing": sidecar.get("preprocessing"),
        "calibration": sidecar.get("calibration"),
        **({"flip_averaged": True} if flips_views(sidecar) else {}),  # (absent: older keys stay the same)
    }
    key = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return app_data_dir() / "cache" / "onnx" / f"run-{key}.onnx"


def prune_run_onnx_cache(folder: Path) -> None:
    """Keep the :data:`KEPT_RUN_FILES` most recently used runs' ONNX files (and their sidecars) in ``folder``."""
    files = sorted(folder.glob("run-*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEPT_RUN_FILES:]:
        old.unlink(missing_ok=True)
        sidecar_path(old).unlink(missing_ok=True)


def model_modality(path: str | os.PathLike[str]) -> str | None:
    """What the model at ``path`` (a run or export folder, or an exported file with its sidecar) classifies:
    ``"text"``, ``"images"``, or ``None`` when ``path`` is not a readable model (missing, no sidecar)."""
    path = Path(path)
    if path.name == WEIGHTS_NAME and (path.parent / SIDECAR_NAME).is_file():  # a safetensors export's weights
        path = path.parent
    try:
        sidecar = read_sidecar(path) if path.is_dir() else _read_export_sidecar(path)
    except CheckpointError:
        return None
    return "text" if sidecar.get("kind") == "text" or sidecar.get("modality") == "text" else "images"


def is_text_model(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (a run or export folder, or an exported file with its sidecar) is a text model."""
    return model_modality(path) == "text"
