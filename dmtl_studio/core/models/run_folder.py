"""A trained model's folder as files (``model.safetensors`` and its ``model.json`` sidecar), read without PyTorch.

:mod:`dmtl_studio.core.models.checkpoint` writes and loads the model; this module only names the files and reads
the sidecar, so prediction through onnxruntime never needs to import PyTorch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from dmtl_studio.core.base.paths import RUN_SIDECAR_NAME

WEIGHTS_NAME = "model.safetensors"
SIDECAR_NAME = RUN_SIDECAR_NAME
SIDECAR_FORMAT = 1
#: The content hashes of the items a run's final model was fitted on, one a line (written by the training).
FITTED_NAME = "fitted-items.txt"
#: The key, in a run's stored configuration, of the settings the run did not use: ``{setting: why}``.
UNUSED_KEY = "unused_settings"


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
        exported = sorted(Path(folder).glob("*.onnx")) + sorted(Path(folder).glob("*.pt"))
        hint = f"; to use the exported model in it, give the file: {exported[0]}" if exported else ""
        raise CheckpointError(f"{folder} holds no trained model ({SIDECAR_NAME} is missing){hint}")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} cannot be read: {exc}") from exc
    if int(sidecar.get("format", 0)) > SIDECAR_FORMAT:
        raise CheckpointError(f"{path} was written by a newer DMTL Studio; update to use it")
    return sidecar


def flips_views(sidecar: Mapping[str, object]) -> bool:
    """Whether a trained model predicts with flip test-time augmentation (the mean of its probabilities for an image
    and its mirror image), from its sidecar: an image model whose run asked for it (``tta_flip``) and fine-tuned
    its backbone. A frozen run's head learns and is scored on cached features of the image alone, so it never
    averages views; a text model has no mirror image."""
    config = sidecar.get("config")
    if not isinstance(config, Mapping):
        return False
    asked = bool(config.get("tta_flip", False)) and config.get("transfer", "frozen") != "frozen"
    return asked and sidecar.get("kind") != "text"


def used_and_unused(config: Mapping[str, object]) -> tuple[dict, dict[str, str]]:
    """A run's stored configuration split in two: the settings it used (``recipe`` and the rest, as stored), and
    ``{setting: why}`` for those it did not (epoch settings of a linear probe, a fine-tune's rates in a frozen run…),
    which the training records under :data:`UNUSED_KEY`. A run stored before runs recorded them uses every one."""
    used = dict(config)
    recorded = used.pop(UNUSED_KEY, None)
    unused = {str(k): str(v) for k, v in recorded.items()} if isinstance(recorded, Mapping) else {}
    for name in unused:
        used.pop(name, None)
    return used, unused


def read_fitted_hashes(run_dir: str | os.PathLike[str]) -> frozenset[str] | None:
    """The content hashes a run was fitted on (:data:`FITTED_NAME`), or ``None`` when the run has no readable list
    (a run trained before runs kept it, or a damaged file)."""
    try:
        text = (Path(run_dir) / FITTED_NAME).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    return frozenset(line.strip() for line in text.splitlines() if line.strip())
