"""A run folder's saved state: one epoch's checkpoint written as a unit, and who is running the run.

Each completed epoch is saved as one folder, ``checkpoints/epoch-NNNNNN``: the latest weights and sidecar, the
best weights and sidecar so far, the training state (optimiser, scaler, random state, epoch) and a manifest
with the size and sha256 of each of them. The folder is written under a temporary name, every file flushed to
disk, the manifest last, and only then renamed into place; the rename is the commit. A kill at any moment
therefore leaves either the previous epoch's unit or the new one, never a mix. The best model is then
published as ``model.safetensors`` + ``model.json`` in the run folder (what evaluation, export and colleagues
read); :func:`latest_checkpoint` rolls that copy forward or back to the unit it resumes from.

Everything is serialised in memory before it is written; a write that fails (a full disk, a read-only folder)
removes what it wrote and raises :class:`CheckpointWriteError`, which names the path and what was kept.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes, file_sha256
from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, CheckpointError
from dmtl_studio.core.project.run_lock import CHECKPOINTS_DIR, unit_folders

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
STATE_NAME = "state.pt"
LAST_WEIGHTS = "last.safetensors"
LAST_SIDECAR = "last.json"
BEST_WEIGHTS = "best.safetensors"
BEST_SIDECAR = "best.json"
MANIFEST_FORMAT = 1

#: Called with the name of each write point of an epoch's save (tests inject a kill or a fault here).
fault_hook: Callable[[str], None] | None = None


class CheckpointWriteError(CheckpointError):
    """An epoch's checkpoint could not be written; the message names the path and what was kept."""


def _point(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":  # directories cannot be opened for fsync there; NTFS journals the rename
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _plain_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EROFS,):
        return "the folder is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def save_epoch(run_dir: Path, epoch: int, files: dict[str, bytes]) -> Path:
    """Write one epoch's checkpoint unit and publish its best model; returns the unit's folder.

    Parameters
    ----------
    run_dir
        The run folder.
    epoch
        The completed epoch (1-based).
    files
        ``{name: bytes}`` for :data:`LAST_WEIGHTS`, :data:`LAST_SIDECAR`, :data:`BEST_WEIGHTS`,
        :data:`BEST_SIDECAR` and :data:`STATE_NAME`, all serialised already.

    Raises
    ------
    CheckpointWriteError
        When a file cannot be written (full disk, read-only folder, permission). Nothing of this epoch is left
        behind; the previous epoch's unit is kept and the message says so.
    """
    root = run_dir / CHECKPOINTS_DIR
    name = f"epoch-{epoch:06d}"
    final, temp = root / name, root / f".{name}.partial"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for stale in (temp, final):
            if stale.exists():
                shutil.rmtree(stale)
        temp.mkdir()
        manifest = {"format": MANIFEST_FORMAT, "epoch": epoch, "files": {}}
        for file_name, data in files.items():
            _point(f"write {file_name}")
            _write_synced(temp / file_name, data)
            manifest["files"][file_name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        _point(f"write {MANIFEST_NAME}")
        _write_synced(temp / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True).encode())
        _fsync_dir(temp)
        _point("commit")
        os.rename(temp, final)
        _fsync_dir(root)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        kept = unit_folders(root)
        what = (
            f"the checkpoint of epoch {kept[0][0]} is kept and the run can be continued from it"
            if kept
            else "no earlier epoch had been saved"
        )
        raise CheckpointWriteError(
            f"could not save epoch {epoch} in {temp.parent}: {_plain_reason(exc)}; {what}"
        ) from None
    try:
        _publish(run_dir, final)
        _point("prune")
        for older, folder in unit_folders(root):
            if older != epoch:
                shutil.rmtree(folder, ignore_errors=True)
    except OSError as exc:
        raise CheckpointWriteError(
            f"epoch {epoch} was saved in {final}, but the best model could not be copied to {run_dir}: "
            f"{_plain_reason(exc)}; continuing the run copies it again"
        ) from None
    return final


def _publish(run_dir: Path, unit: Path) -> None:
    """Copy the unit's best model to ``run_dir/model.*`` (weights first: the sidecar names their hash)."""
    for source, target in ((BEST_WEIGHTS, WEIGHTS_NAME), (BEST_SIDECAR, SIDECAR_NAME)):
        _point(f"publish {target}")
        destination = run_dir / target
        data = (unit / source).read_bytes()
        same_size = destination.is_file() and destination.stat().st_size == len(data)
        if same_size and destination.read_bytes() == data:
            continue  # already published (a resume after a kill that came later)
        atomic_write_bytes(destination, data)


def verify_unit(unit: Path) -> dict:
    """The manifest of a checkpoint unit whose files are all present and intact.

    Raises
    ------
    CheckpointError
        Naming what is missing or does not match.
    """
    try:
        manifest = json.loads((unit / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{unit / MANIFEST_NAME} cannot be read ({exc})") from None
    for required in (LAST_WEIGHTS, LAST_SIDECAR, BEST_WEIGHTS, BEST_SIDECAR, STATE_NAME):
        if required not in listed:
            raise CheckpointError(f"{unit} lacks {required}")
    for file_name, expected in listed.items():
        path = unit / file_name
        if not path.is_file() or path.stat().st_size != expected["bytes"]:
            raise CheckpointError(f"{path} is missing or has the wrong size")
        if file_sha256(path) != expected["sha256"]:
            raise CheckpointError(f"{path} does not match its manifest (damaged)")
    return manifest


@dataclass(frozen=True)
class SavedUnit:
    """The checkpoint a run resumes from."""

    epoch: int
    folder: Path
    notes: tuple[str, ...]  # what was rolled back or forward, for the user


def latest_checkpoint(run_dir: Path) -> SavedUnit | None:
    """The newest intact epoch unit; damaged or half-written newer ones are removed (rolled back).

    The published best model is made to match the chosen unit. Returns ``None`` when the run has no unit.

    Raises
    ------
    CheckpointError
        When units exist but none is intact: the run is refused rather than continued from a mix.
    """
    root = run_dir / CHECKPOINTS_DIR
    notes: list[str] = []
    if root.is_dir():
        for leftover in root.glob(".epoch-*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
            notes.append(f"a half-written checkpoint ({leftover.name}) was removed")
    units = unit_folders(root)
    if not units:
        return None
    problems = []
    for epoch, folder in units:
        try:
            verify_unit(folder)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        for newer, bad in units:
            if newer > epoch:
                shutil.rmtree(bad, ignore_errors=True)
                notes.append(
                    f"the checkpoint of epoch {newer} was damaged and set aside; continuing from {epoch}"
                )
        _publish(run_dir, folder)
        return SavedUnit(epoch, folder, tuple(notes))
    raise CheckpointError(
        f"{run_dir} cannot be continued: no saved epoch is intact ({'; '.join(problems)}). "
        "Start a new run instead."
    )
