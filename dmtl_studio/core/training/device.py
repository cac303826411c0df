"""Where a run computes and how: the device (checked before use), its precision, and the random seeds."""

from __future__ import annotations

import logging
import math
import random

import numpy as np
import torch

from dmtl_studio.core.training.errors import TrainingError

log = logging.getLogger(__name__)


def probe_device(requested: str) -> tuple[torch.device, str | None]:
    """The device to train on, checked with a tiny kernel; a GPU that fails the check gives the CPU.

    ``requested`` is ``"auto"``, ``"cpu"`` or ``"cuda"``. Returns the device and, when the choice differs from
    what was asked, a sentence saying why.

    Raises
    ------
    TrainingError
        ``"cuda"`` was asked for and there is no GPU, or it fails the check.
    """
    if requested == "cpu":
        return torch.device("cpu"), None
    candidates = []
    if torch.cuda.is_available():
        candidates.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if requested == "auto" and mps is not None and mps.is_available():
        candidates.append(torch.device("mps"))
    if not candidates:
        if requested == "cuda":
            raise TrainingError("a CUDA GPU was requested but none is available; choose 'auto' or 'cpu'")
        return torch.device("cpu"), None
    problems = []
    for device in candidates:
        try:
            x = torch.arange(64 * 64, dtype=torch.float32, device=device).reshape(64, 64) / 4096
            value = float((x @ x).sum().item())
            if not math.isclose(value, float((x.cpu() @ x.cpu()).sum()), rel_tol=1e-3):
                raise RuntimeError("it computed a wrong result")
            return device, None
        except Exception as exc:  # a driver fault must not end the run: the CPU can still train
            problems.append(f"{device.type}: {exc}")
    if requested == "cuda":
        raise TrainingError(f"the GPU failed a simple check ({'; '.join(problems)})")
    return torch.device("cpu"), f"the GPU failed a simple check ({'; '.join(problems)}); training on the CPU"


def select_device(requested: str) -> torch.device:
    """:func:`probe_device` for callers that only log the fallback."""
    device, notice = probe_device(requested)
    if notice:
        log.warning(notice)
    return device


def amp_dtype_for(device: torch.device, amp: bool) -> torch.dtype | None:
    """Mixed precision on CUDA: bfloat16 where the GPU supports it, else float16; ``None`` (float32) elsewhere.

    Never on the CPU: bfloat16 autocast is many times slower on a CPU without native bfloat16.
    """
    if device.type != "cuda" or not amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The global generators' state, as tensors and plain data (``torch.load(weights_only=True)`` reads it)."""
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
