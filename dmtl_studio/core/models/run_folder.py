"""A trained model's folder as files (``model.safetensors`` and its ``model.json`` sidecar), read without PyTorch.

:mod:`dmtl_studio.core.models.checkpoint` writes and loads the model; this module only names the files and reads
the sidecar, so prediction through onnxruntime never needs to import PyTorch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

WEIGHTS_NAME = "model.safetensors"
SIDECAR_NAME = "model.json"
SIDECAR_FORMAT = 1


class CheckpointError(Exception):
    """A model folder that cannot be used; the message says why."""


def read_sidecar(folder: str | os.PathLike[str]) -> dict:
    """The sidecar of a model folder as a dict.

    Raises
    ------
    CheckpointError
        When it is missing, cannot be read, or was written by a newer DMTL Studio.
    """
    path = Path(folder) / SIDECAR_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder} holds no trained model ({SIDECAR_NAME} is missing)")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} cannot be read: {exc}") from exc
    if int(sidecar.get("format", 0)) > SIDECAR_FORMAT:
        raise CheckpointError(f"{path} was written by a newer DMTL Studio; update to use it")
    return sidecar
