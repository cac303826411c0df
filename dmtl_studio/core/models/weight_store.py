"""The application's store of imported backbone weights: files plus a JSON index, free of torch.

Imported weights live in ``<app data>/weights/`` as ``.safetensors`` files (whatever format they were imported
from), each recorded in ``index.json`` with the architecture it was checked against and the sha256 of both the
original file and the stored one. The UI reads this index through :mod:`dmtl_studio.core.models.catalog`, so this module
must never import torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.base.paths import app_data_dir

INDEX_NAME = "index.json"
INDEX_SCHEMA = 1


class WeightStoreError(Exception):
    """An index that cannot be read or written; the message says which file."""


@dataclass(frozen=True)
class StoredWeights:
    """One imported weights file, checked against ``backbone`` when it was imported."""

    backbone: str
    file: str  # name inside the store folder
    sha256: str  # of the stored .safetensors file
    source_name: str  # the imported file's name, for the user's benefit
    source_sha256: str  # of the imported file as it was given
    imported_at: str  # ISO 8601, UTC
    tensors: int
    info: dict = field(default_factory=dict)  # plain metadata of the architecture (parameters, input size…)

    def path(self) -> Path:
        return store_dir() / self.file

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StoredWeights:
        return cls(
            backbone=str(data["backbone"]),
            file=str(data["file"]),
            sha256=str(data["sha256"]),
            source_name=str(data.get("source_name", "")),
            source_sha256=str(data.get("source_sha256", "")),
            imported_at=str(data.get("imported_at", "")),
            tensors=int(data.get("tensors", 0)),
            info=dict(data.get("info", {})),
        )


def store_dir() -> Path:
    """The folder of imported weights, created on first use."""
    folder = app_data_dir() / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_index() -> list[StoredWeights]:
    """Every imported file, oldest first; a missing index is an empty store."""
    path = store_dir() / INDEX_NAME
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightStoreError(f"the weights index {path} cannot be read: {exc}") from exc
    if int(data.get("schema_version", 0)) > INDEX_SCHEMA:
        raise WeightStoreError(f"the weights index {path} was written by a newer DMTL Studio")
    return [StoredWeights.from_dict(entry) for entry in data.get("weights", [])]


def latest_for(backbone: str) -> StoredWeights | None:
    """The most recently imported file for ``backbone`` whose file is still present, if any."""
    try:
        entries = read_index()
    except WeightStoreError:
        return None
    for entry in reversed(entries):
        if entry.backbone == backbone and entry.path().is_file():
            return entry
    return None


def add_to_index(entry: StoredWeights) -> None:
    """Record ``entry``, replacing an entry with the same stored file; the index is written atomically."""
    entries = [e for e in read_index() if e.file != entry.file]
    entries.append(entry)
    payload = {"schema_version": INDEX_SCHEMA, "weights": [e.to_dict() for e in entries]}
    atomic_write_bytes(
        store_dir() / INDEX_NAME, json.dumps(payload, indent=2, sort_keys=True).encode("utf-8")
    )
