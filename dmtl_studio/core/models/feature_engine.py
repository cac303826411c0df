"""Where a frozen backbone's features are computed fastest on the device at hand: the feature pass's engine.

- **CPU**: an onnxruntime ``InferenceSession`` over the backbone exported once by ``torch.onnx.export`` (eval
  mode, TorchScript exporter, opset 17, dynamic batch). The file is kept in the product's cache folder
  (``<app data>/cache/onnx``), named by a hash of the backbone's weights and the input shape, written atomically,
  and checked against PyTorch on a random batch when it is written and when a process first loads it. The
  session uses the threads PyTorch may use (:func:`torch.get_num_threads`, which follows ``OMP_NUM_THREADS`` and
  :func:`torch.set_num_threads`). Measured on a 2-core CPU it computes the same features about 3x faster than
  the PyTorch pass did (``bench/bench_feature_pass.py``, ``docs/performance.md``).
- **CPU fallback**: when the export, the check or onnxruntime fails, PyTorch with ``channels_last`` under
  ``torch.inference_mode``, with a warning that says why (never silently another result).
- **CUDA**: PyTorch with ``channels_last`` and float16 autocast (AMP); features are returned as float32.
- Anything else (MPS): plain PyTorch.

bfloat16 autocast is never chosen on the CPU: without native bfloat16 it is many times slower there.
``DMTL_STUDIO_FEATURE_ENGINE=torch`` asks for PyTorch on the CPU (``auto``, the default, chooses as above).

Features of the onnxruntime and PyTorch paths agree within :data:`TOLERANCE` of the largest feature magnitude
(``tests/core/models/test_feature_engine.py``), so a project's feature cache is shared by both on the CPU.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
import os
import threading
import warnings
import weakref
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.base.paths import app_data_dir

log = logging.getLogger(__name__)

ENGINE_ENV = "DMTL_STUDIO_FEATURE_ENGINE"
ONNXRUNTIME, TORCH, TORCH_CUDA_AMP = "onnxruntime", "torch", "torch-cuda-amp"
#: Largest difference allowed between the onnxruntime and the PyTorch features, relative to the largest magnitude.
TOLERANCE = 1e-4
ONNX_OPSET = 17
_FILE_FORMAT = 1  # part of the cached file's name: a change of the export below makes new files


class FeatureEngineError(Exception):
    """An engine that cannot be used (export, check or runtime failed); the message says why."""


def choose_engine(
    device_type: str, requested: str | None = None, onnxruntime_available: bool | None = None
) -> str:
    """The engine for a device: ``"onnxruntime"``, ``"torch-cuda-amp"`` or ``"torch"``.

    Parameters
    ----------
    device_type
        ``torch.device.type``: ``"cpu"``, ``"cuda"``, ``"mps"``...
    requested
        ``"auto"``, ``"onnxruntime"`` or ``"torch"``; ``None`` reads ``DMTL_STUDIO_FEATURE_ENGINE`` (default auto).
        It only chooses between the CPU engines: a GPU always runs PyTorch.
    onnxruntime_available
        Whether onnxruntime can be imported (``None``: try it).
    """
    requested = (requested or os.environ.get(ENGINE_ENV) or "auto").strip().lower()
    if device_type == "cuda":
        return TORCH_CUDA_AMP
    if device_type != "cpu" or requested == TORCH:
        return TORCH
    if onnxruntime_available is None:
        onnxruntime_available = _onnxruntime() is not None
    return ONNXRUNTIME if onnxruntime_available else TORCH


def _onnxruntime():  # noqa: ANN202 - the module or None
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - a dependency of the application
        return None
    return onnxruntime


def onnx_cache_dir() -> Path:
    """``<app data>/cache/onnx``: exported backbones, one file per weights and input shape."""
    return app_data_dir() / "cache" / "onnx"


class FeatureEngine:
    """Pooled features ``(B, F)`` float32 on ``device`` from images ``(B, 3, H, W)`` float32.

    ``name`` is the engine used; ``notice`` says why it is not the one chosen for the device (else ``None``).
    """

    name = TORCH
    notice: str | None = None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class TorchEngine(FeatureEngine):
    """The backbone in PyTorch: ``channels_last`` on CPU and CUDA, float16 autocast on CUDA (``amp``)."""

    def __init__(
        self, backbone: nn.Module, device: torch.device, amp: bool, notice: str | None = None
    ) -> None:
        self.backbone, self.device, self.notice = backbone.eval(), device, notice
        self.channels_last = device.type in ("cpu", "cuda")
        self.amp = amp and device.type == "cuda"
        self.name = TORCH_CUDA_AMP if self.amp else TORCH
        if self.channels_last:
            backbone.to(memory_format=torch.channels_last)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            features = self.backbone(images).float()
        return features.clone()  # a normal tensor: the head trains on it (inference tensors cannot be saved)


class OnnxEngine(FeatureEngine):
    """The backbone exported to ONNX and run by an onnxruntime CPU session."""

    name = ONNXRUNTIME

    def __init__(self, session: object, path: Path) -> None:
        self.session, self.path = session, path
        self.input_name = session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        batch = np.ascontiguousarray(images.detach().to("cpu").numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: batch})[0]).float()


def weights_hash(module: nn.Module) -> str:
    """sha256 over a module's parameters and buffers (names, dtypes, shapes and bytes), in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{value.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cpu_threads() -> int:
    """Threads the product may use on the CPU: PyTorch's setting (``OMP_NUM_THREADS``, ``set_num_threads``)."""
    return max(1, torch.get_num_threads())


def session_for(model: bytes | Path, threads: int | None = None) -> object:
    """An onnxruntime CPU session over an ONNX model (bytes or file) with ``threads`` intra-op threads.

    Raises
    ------
    FeatureEngineError
        When onnxruntime is missing or cannot load the model.
    """
    ort = _onnxruntime()
    if ort is None:
        raise FeatureEngineError("onnxruntime is not installed")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            model if isinstance(model, bytes) else str(model), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own classes for every kind of damage
        raise FeatureEngineError(f"onnxruntime cannot load the backbone: {str(exc).strip()[:200]}") from exc


def export_backbone(backbone: nn.Module, image_shape: tuple[int, int, int]) -> bytes:
    """The backbone in eval mode as ONNX bytes (input ``images (batch, C, H, W)``, output ``features``).

    Raises
    ------
    FeatureEngineError
        When ``torch.onnx.export`` fails.
    """
    # A copy: exporting must not change the caller's module (its memory format, its mode).
    model = copy.deepcopy(backbone).to("cpu", memory_format=torch.contiguous_format).eval()
    model._forward_hooks.clear()  # noqa: SLF001 - hooks of the caller (counters) must not see the trace
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's own deprecation notes
            torch.onnx.export(
                model,
                (torch.zeros(1, *image_shape),),
                buffer,
                dynamo=False,
                input_names=["images"],
                output_names=["features"],
                dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                opset_version=ONNX_OPSET,
            )
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds for unsupported operators
        raise FeatureEngineError(
            f"the backbone cannot be exported to ONNX: {str(exc).strip()[:200]}"
        ) from exc
    return buffer.getvalue()


def check_session(session: object, backbone: nn.Module, image_shape: tuple[int, int, int]) -> float:
    """Largest difference between the session's and PyTorch's features on a random batch of 2, relative to the
    largest feature magnitude; :class:`FeatureEngineError` beyond :data:`TOLERANCE`."""
    batch = torch.rand(2, *image_shape, generator=torch.Generator().manual_seed(0)) * 4 - 2
    model = copy.deepcopy(backbone).to("cpu", memory_format=torch.contiguous_format).eval()
    model._forward_hooks.clear()  # noqa: SLF001 - as in export_backbone
    with torch.no_grad():
        expected = model(batch).float()
    got = OnnxEngine(session, Path())(batch)
    scale = max(float(expected.abs().max()), 1e-12)
    difference = float((got - expected).abs().max()) / scale if got.shape == expected.shape else float("inf")
    if not difference <= TOLERANCE:
        raise FeatureEngineError(
            f"the exported backbone differs from PyTorch by {difference:.1e} of the largest feature "
            f"(tolerance {TOLERANCE:.0e})"
        )
    return difference


_SESSIONS: OrderedDict[tuple[str, int], object] = (
    OrderedDict()
)  # the last few sessions, by file name and threads
_KEPT_SESSIONS = 4
#: Exported backbones kept on disk (the least recently used beyond this are removed).
KEPT_FILES = 8


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("backbone-*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEPT_FILES:]:
        old.unlink(missing_ok=True)


def onnx_engine(backbone: nn.Module, image_shape: tuple[int, int, int], digest: str) -> OnnxEngine:
    """The onnxruntime engine for a backbone whose weights hash is ``digest`` (exported and cached when new).

    Raises
    ------
    FeatureEngineError
        When the export, its check or onnxruntime fails.
    """
    channels, height, width = image_shape
    path = onnx_cache_dir() / f"backbone-{digest[:32]}-{channels}x{height}x{width}-v{_FILE_FORMAT}.onnx"
    threads = cpu_threads()
    key = (path.name, threads)  # the name says everything the model depends on, whatever the cache folder
    if key in _SESSIONS:
        _SESSIONS.move_to_end(key)
        return OnnxEngine(_SESSIONS[key], path)
    session = None
    if path.is_file():
        try:
            os.utime(path)  # recently used: removed last
            session = session_for(path, threads)
            check_session(session, backbone, image_shape)  # a file changed on disk is never trusted
        except (FeatureEngineError, OSError) as exc:  # exported again below
            log.warning("cached backbone %s is not usable (%s); exporting it again", path.name, exc)
            session = None
    if session is None:
        data = export_backbone(backbone, image_shape)
        session = session_for(data, threads)
        check_session(session, backbone, image_shape)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data, durable=False)
            _prune(path.parent)
        except OSError as exc:  # without the file, the next process exports again: slower, not wrong
            log.warning("exported backbone not cached at %s: %s", path, exc)
    _SESSIONS[key] = session
    while len(_SESSIONS) > _KEPT_SESSIONS:
        _SESSIONS.popitem(last=False)
    return OnnxEngine(session, path)


def _fingerprint(module: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is replaced or changed in place (storage and version counter)."""
    return tuple(
        (name, tensor.data_ptr(), tensor._version, tensor.device.type)  # noqa: SLF001 - torch's in-place counter
        for name, tensor in module.state_dict(keep_vars=True).items()
    )


#: The engine made for each backbone, with the fingerprint and input shape it was made for.
_ENGINES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, tuple, str, FeatureEngine]] = (
    weakref.WeakKeyDictionary()
)


def engine_for(
    backbone: nn.Module, device: torch.device, image_shape: tuple[int, int, int], requested: str | None = None
) -> FeatureEngine:
    """The engine that computes ``backbone``'s features on ``device`` for images of ``image_shape`` (C, H, W).

    Made once per backbone, weights, shape and choice, then reused; on the CPU the onnxruntime engine falls back
    to PyTorch with a logged warning (the engine's ``notice``) when it cannot be made.
    """
    with _LOCK:  # the window may run a feature pass and an evaluation at once
        return _engine_for(backbone, device, tuple(int(v) for v in image_shape), requested)


_LOCK = threading.RLock()


def _engine_for(
    backbone: nn.Module, device: torch.device, shape: tuple[int, int, int], requested: str | None
) -> FeatureEngine:
    choice = choose_engine(device.type, requested)
    if choice == TORCH and device.type == "cpu":
        backbone.to(memory_format=torch.channels_last)  # before the fingerprint: it replaces the storages
    known = _ENGINES.get(backbone)
    fingerprint = _fingerprint(backbone)
    if known is not None and known[:3] == (fingerprint, shape, choice):
        return known[3]
    engine: FeatureEngine
    if choice == ONNXRUNTIME:
        try:
            engine = onnx_engine(backbone, shape, weights_hash(backbone))
        except FeatureEngineError as exc:
            notice = f"the feature pass runs in PyTorch (slower): {exc}"
            log.warning(notice)
            engine = TorchEngine(backbone, device, amp=False, notice=notice)
    else:
        engine = TorchEngine(backbone, device, amp=choice == TORCH_CUDA_AMP)
    _ENGINES[backbone] = (_fingerprint(backbone), shape, choice, engine)
    return engine
