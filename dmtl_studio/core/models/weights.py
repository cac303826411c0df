"""Pretrained weights from files: safe reading, checking against an architecture, importing, resolving.

Files are read with safetensors, or with ``torch.load(weights_only=True)``; a file that would need pickle to run
code is refused and never retried unsafely. A file is checked against the architecture before anything is
loaded or stored: missing and unexpected tensors and shape mismatches are reported in plain words, and a file
that does not fit is rejected as a whole, never half-loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from dmtl_studio.core.base.fileio import atomic_write_bytes, file_sha256
from dmtl_studio.core.models import catalog, weight_store
from dmtl_studio.core.models.architectures import (
    WeightsError,
    classifier_prefix,
    create_imagenet_model,
    describe_architecture,
)
from dmtl_studio.core.models.backbone_specs import CATALOG

log = logging.getLogger(__name__)

SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")


def _unwrap(loaded: object, path: Path) -> OrderedDict[str, torch.Tensor]:
    """The tensors of a state dict, from the common wrappings ({'state_dict': …}, {'model': …}, 'module.')."""
    if isinstance(loaded, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in loaded and isinstance(loaded[key], dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not loaded:
        raise WeightsError(f"{path.name} holds no named tensors (it is not a model state dict)")
    tensors: OrderedDict[str, torch.Tensor] = OrderedDict()
    skipped = 0
    for name, value in loaded.items():
        if not isinstance(value, torch.Tensor):
            skipped += 1
            continue
        tensors[name[len("module.") :] if name.startswith("module.") else name] = value
    if not tensors:
        raise WeightsError(f"{path.name} holds no tensors")
    if skipped:
        log.info("%s: ignored %d non-tensor entries", path.name, skipped)
    return tensors


def read_state_dict(path: str | os.PathLike[str]) -> OrderedDict[str, torch.Tensor]:
    """Tensors of a weights file, read without ever executing code from it.

    Raises
    ------
    WeightsError
        For an unreadable file, or one that needs pickle code execution (refused, with the reason).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path} does not exist")
    if path.suffix.lower() == ".safetensors":
        try:
            return _unwrap(load_file(str(path)), path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path.name} is not a readable .safetensors file: {exc}") from exc
    try:
        with warnings.catch_warnings():
            # torch's note on the file's pickle protocol, printed before its refusal below: noise to a user
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any pickle that would import or call code; that refusal is final.
        raise WeightsError(
            f"refused {path.name}: loading it would run Python code embedded in the file (a pickle that calls "
            "functions or builds arbitrary objects). DMTL Studio only reads plain tensors and never loads such "
            "files unsafely. Ask for a .safetensors version, or convert the file on a machine you trust."
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise WeightsError(f"{path.name} cannot be read as PyTorch weights: {exc}") from exc
    return _unwrap(loaded, path)


@dataclass(frozen=True)
class WeightsCheck:
    """How a weights file fits an architecture. The ImageNet classifier may differ: it is replaced anyway."""

    backbone: str
    matched: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # name, in file, expected
    classifier_ignored: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 5) -> str:
        """Plain sentences saying what fits and what does not."""

        def listed(names: tuple[str, ...]) -> str:
            more = f" and {len(names) - limit} more" if len(names) > limit else ""
            return ", ".join(names[:limit]) + more

        lines = [f"{self.matched} tensor(s) fit {self.backbone}."]
        if self.missing:
            lines.append(
                f"{len(self.missing)} tensor(s) the architecture needs are not in the file: {listed(self.missing)}."
            )
        if self.unexpected:
            lines.append(
                f"{len(self.unexpected)} tensor(s) in the file do not belong to it: {listed(self.unexpected)}."
            )
        if self.mismatched:
            shown = [
                f"{n} is {list(a)} in the file but {list(b)} in the model"
                for n, a, b in self.mismatched[:limit]
            ]
            more = f" and {len(self.mismatched) - limit} more" if len(self.mismatched) > limit else ""
            lines.append(
                f"{len(self.mismatched)} tensor(s) have the wrong shape: " + "; ".join(shown) + more + "."
            )
        if self.classifier_ignored:
            lines.append(
                f"{len(self.classifier_ignored)} tensor(s) of the original classifier are ignored (a new head is trained)."
            )
        if not self.ok:
            lines.append("The file does not fit this architecture; nothing was loaded.")
        return " ".join(lines)


def check_state_dict(
    backbone: str, state: dict[str, torch.Tensor], model: nn.Module | None = None
) -> WeightsCheck:
    """Compare ``state`` with the ImageNet model of ``backbone`` (built with random weights if not given)."""
    model = model if model is not None else create_imagenet_model(backbone)
    expected = model.state_dict()
    prefixes = classifier_prefix(backbone, model)

    def is_classifier(name: str) -> bool:
        return name.startswith(prefixes)

    missing, unexpected, mismatched, ignored = [], [], [], []
    matched = 0
    for name, tensor in expected.items():
        if name not in state:
            if not is_classifier(name):
                missing.append(name)
            continue
        if tuple(state[name].shape) != tuple(tensor.shape):
            if is_classifier(name):
                ignored.append(name)
            else:
                mismatched.append((name, tuple(state[name].shape), tuple(tensor.shape)))
            continue
        matched += 1
    for name in state:
        if name not in expected:
            (ignored if is_classifier(name) else unexpected).append(name)
    return WeightsCheck(
        backbone, matched, tuple(missing), tuple(unexpected), tuple(mismatched), tuple(ignored)
    )


def load_checked(backbone: str, state: dict[str, torch.Tensor], source: str) -> nn.Module:
    """The ImageNet model of ``backbone`` with ``state`` loaded, after a full check (all or nothing)."""
    model = create_imagenet_model(backbone)
    check = check_state_dict(backbone, state, model)
    if not check.ok:
        raise WeightsError(f"{source} does not fit {backbone}. {check.describe()}")
    expected = model.state_dict()
    usable = {k: v for k, v in state.items() if k in expected and tuple(v.shape) == tuple(expected[k].shape)}
    result = model.load_state_dict(usable, strict=False)
    prefixes = classifier_prefix(backbone, model)
    leftover = [k for k in result.missing_keys if not k.startswith(prefixes)]
    if leftover or result.unexpected_keys:  # cannot happen after the check; kept as a guard
        raise WeightsError(f"{source} did not load completely into {backbone}: {leftover[:5]}")
    return model.eval()


def _stored_name(backbone: str, digest: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in backbone)
    return f"{safe}-{digest[:16]}.safetensors"


def import_weights(
    path: str | os.PathLike[str], backbone: str
) -> tuple[weight_store.StoredWeights, WeightsCheck]:
    """Check a weights file against ``backbone`` and keep a safetensors copy in the weight store.

    Raises
    ------
    WeightsError
        When the file cannot be read safely or does not fit; nothing is stored then.
    """
    path = Path(path)
    try:
        catalog.split_name(backbone)
    except catalog.UnknownBackbone as exc:
        raise WeightsError(
            f"'{backbone}' is not a backbone name (use a catalog name, torchvision/NAME or timm/NAME)"
        ) from exc
    if path.suffix.lower() not in SUFFIXES:
        raise WeightsError(f"{path.name}: weights files end in {', '.join(SUFFIXES)}")
    source_digest = file_sha256(path)
    state = read_state_dict(path)
    model = create_imagenet_model(backbone)
    check = check_state_dict(backbone, state, model)
    if not check.ok:
        raise WeightsError(f"{path.name} does not fit {backbone}. {check.describe()}")
    expected = model.state_dict()
    keep = {
        k: v.detach().contiguous() for k, v in state.items() if k in expected and v.shape == expected[k].shape
    }
    data = save(keep, metadata={"format": "dmtl-studio-weights", "backbone": backbone})
    digest = hashlib.sha256(data).hexdigest()
    target = weight_store.store_dir() / _stored_name(backbone, digest)
    atomic_write_bytes(target, data)
    info = {} if backbone in {i.name for i in CATALOG} else describe_architecture(backbone)
    entry = weight_store.StoredWeights(
        backbone=backbone,
        file=target.name,
        sha256=digest,
        source_name=path.name,
        source_sha256=source_digest,
        imported_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        tensors=len(keep),
        info=info,
    )
    weight_store.add_to_index(entry)
    return entry, check
