"""Trained-model files: ``model.safetensors`` plus a ``model.json`` sidecar, both written atomically.

The sidecar carries what is needed to use the weights elsewhere: classes, the model spec, preprocessing, the
training configuration, the augmentation and library versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from dmtl_studio import __version__
from dmtl_studio.core.base.fileio import atomic_write_bytes, file_sha256  # noqa: F401 - also imported from here by others
from dmtl_studio.core.models.architectures import Preprocessing
from dmtl_studio.core.models.calibration import temperature_of
from dmtl_studio.core.models.classifier import Classifier, ModelSpec, build_classifier
from dmtl_studio.core.models.preprocess import describe_preprocessing
from dmtl_studio.core.models.run_folder import (  # noqa: F401 - also imported from here by others
    SIDECAR_FORMAT,
    SIDECAR_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    flips_views,
    read_sidecar,
)
from dmtl_studio.core.models.text_classifier import build_text_classifier
from dmtl_studio.core.models.text_encoder import TextPreprocessing


def library_versions() -> dict[str, str]:
    import cv2
    import numpy
    import timm
    import torchvision

    return {
        "dmtl_studio": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
    }


def checkpoint_files(
    model: Classifier,
    *,
    spec: ModelSpec,
    preprocessing: Preprocessing | TextPreprocessing,
    classes: list[str],
    config: dict,
    augmentation: list[dict] | dict,
    metrics: dict,
    calibration: dict | None = None,
) -> dict[str, bytes]:
    """Weights and sidecar serialised in memory: ``{WEIGHTS_NAME: bytes, SIDECAR_NAME: bytes}``.

    ``calibration`` (temperature scaling fitted on the validation split, see
    :mod:`dmtl_studio.core.models.calibration`) is written as the sidecar's ``calibration`` entry when given. A
    text classifier (``preprocessing`` a :class:`TextPreprocessing`) gets ``"kind": "text"``; its ``model.backbone``
    names the encoder, whose folder holds the tokenizer.

    Nothing touches the disk here, so a full disk can only fail the plain file write that follows.

    Raises
    ------
    CheckpointError
        When a weight is not finite (such weights are never written).
    """
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise CheckpointError(f"refusing to save non-finite weights ({len(bad)} tensors, first: {bad[0]})")
    data = save(tensors, metadata={"format": "dmtl-studio", "sidecar": SIDECAR_NAME})
    sidecar = {
        "format": SIDECAR_FORMAT,
        "classes": list(classes),
        "model": spec.to_dict(),
        "preprocessing": (
            preprocessing.to_dict()
            if isinstance(preprocessing, TextPreprocessing)
            else describe_preprocessing(preprocessing)
        ),
        "config": config,
        "augmentation": augmentation,
        "metrics": metrics,
        "versions": library_versions(),
        "weights_sha256": hashlib.sha256(data).hexdigest(),
    }
    if isinstance(preprocessing, TextPreprocessing):
        sidecar["kind"] = "text"
    if calibration is not None:
        sidecar["calibration"] = calibration
    return {WEIGHTS_NAME: data, SIDECAR_NAME: json.dumps(sidecar, indent=2, sort_keys=True).encode()}


def save_checkpoint(
    folder: Path,
    model: Classifier,
    *,
    spec: ModelSpec,
    preprocessing: Preprocessing,
    classes: list[str],
    config: dict,
    augmentation: list[dict] | dict,
    metrics: dict,
) -> None:
    """Save weights and sidecar into ``folder``. Non-finite weights are refused, never written."""
    files = checkpoint_files(
        model,
        spec=spec,
        preprocessing=preprocessing,
        classes=classes,
        config=config,
        augmentation=augmentation,
        metrics=metrics,
    )
    folder.mkdir(parents=True, exist_ok=True)
    # Serialised in memory: one atomic write each (temporary file, fsync, rename), weights before the sidecar.
    atomic_write_bytes(folder / WEIGHTS_NAME, files[WEIGHTS_NAME])
    atomic_write_bytes(folder / SIDECAR_NAME, files[SIDECAR_NAME])


@dataclass
class LoadedModel:
    model: Classifier
    spec: ModelSpec
    preprocessing: Preprocessing | TextPreprocessing
    classes: list[str]
    sidecar: dict

    @property
    def temperature(self) -> float:
        """The calibration temperature the model's outputs are divided by (1.0 for an uncalibrated run)."""
        return temperature_of(self.sidecar)


def load_checkpoint(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild a trained classifier from a run folder (no pretrained weights are needed for that)."""
    folder = Path(folder)
    sidecar = read_sidecar(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{folder} has a sidecar but no {WEIGHTS_NAME}")
    expected = sidecar.get("weights_sha256")
    if expected and file_sha256(weights) != expected:
        raise CheckpointError(
            f"{weights} does not match its sidecar {SIDECAR_NAME} (damaged or replaced); copy the run folder "
            "again from where it came, or train the run again"
        )
    spec = ModelSpec.from_dict(sidecar["model"])
    text = sidecar.get("kind") == "text"
    try:
        preprocessing = (TextPreprocessing if text else Preprocessing).from_dict(sidecar["preprocessing"])
    except ValueError as exc:  # e.g. a way of fitting images that a newer version added
        raise CheckpointError(
            f"the sidecar {folder / SIDECAR_NAME} describes a preprocessing this version cannot apply ({exc}); "
            "it was probably written by a newer DMTL Studio: update to use it"
        ) from exc
    if text:  # the encoder's architecture and tokenizer come from its folder, the weights from the run
        model = build_text_classifier(spec, pretrained=False)
    else:
        model = build_classifier(spec, pretrained=False)
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as exc:
        # torch's message is a header line, then one line per tensor that differs: the first of those says most
        lines = [line.strip().rstrip(".") for line in str(exc).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        raise CheckpointError(
            f"{weights} does not fit the model its sidecar {SIDECAR_NAME} describes (damaged, or from another "
            f"run or version): {detail}; copy the run folder again from where it came, "
            "or train the run again"
        ) from exc
    # Calibrated probabilities wherever the model is used (predict, evaluation, suggestions, exports)
    model.temperature.fill_(temperature_of(sidecar))
    model.flip_views = flips_views(sidecar)
    model.to(device).eval()
    return LoadedModel(
        model=model,
        spec=spec,
        preprocessing=preprocessing,
        classes=list(sidecar["classes"]),
        sidecar=sidecar,
    )
