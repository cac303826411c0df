"""Whether a project's image files still hold what was imported.

Everything keyed by an image's content hash (its cached features, thumbnail, duplicate and label-conflict
groups) is only right while the file holds the content that was hashed. Checking costs a ``stat`` per file: the
size and modification time recorded when the file was hashed are compared with the file's, and only a file whose
stamp differs (or was recorded before stamps were) is hashed again. A file whose content did change gets its new
hash, size, dimensions and stamp recorded, so every cache keyed by the hash misses and is filled from the new
content; a file that changed into one that can no longer be used becomes a problem file (its label and split stay).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.base.missing_files import missing_files
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.imaging import inspect_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileChanges:
    """What a check found: ``hashes`` maps each changed, still usable file to its new content hash."""

    hashes: dict[str, str] = field(default_factory=dict)
    #: ``(path, reason)`` of files that changed into something that cannot be used.
    unusable: tuple[tuple[str, str], ...] = ()
    #: False when the project is read-only: what changed is used now, but not recorded in it.
    recorded: bool = True

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(self.hashes) + tuple(path for path, _ in self.unusable)

    def notice(self) -> str | None:
        """One sentence for the user (``None`` when nothing changed)."""
        if not self.changed:
            return None
        first = self.changed[0]
        more = f" and {len(self.changed) - 1} more" if len(self.changed) > 1 else ""
        recorded = (
            "the project now records their new content"
            if self.recorded
            else "their new content is used (not recorded: the project is read-only)"
        )
        text = (
            f"{len(self.changed)} image(s) changed on disk since the import ({first}{more}); {recorded}, and "
            "their features were computed again from it"
        )
        if self.unusable:
            text += (
                f"; {len(self.unusable)} of them can no longer be used and were left out (listed among the "
                "problem files)"
            )
        return text


def check_image_files(store: object, records: Sequence[ImageRecord] | None = None) -> FileChanges:
    """Find the images of ``records`` (default: the project's usable images) whose file changed since it was
    hashed, and record what they hold now (nothing is written to a read-only project: the result still says).

    Missing files are left to the callers (they are reported as missing, not as changed).

    Parameters
    ----------
    store
        The open :class:`~dmtl_studio.core.project.store.ProjectStore`.
    records
        The images to check.
    """
    records = store.images(usable_only=True) if records is None else records
    stamps: list[tuple[int, object]] = []  # same content, new stamp: recorded so the next check is a stat
    updates: list[tuple[int, object]] = []
    hashes: dict[str, str] = {}
    unusable: list[tuple[str, str]] = []
    for record in records:
        if not record.usable or not record.sha256:
            continue
        try:
            stat = os.stat(record.path)
        except OSError:
            continue
        if record.mtime_ns == stat.st_mtime_ns and record.size_bytes == stat.st_size:
            continue
        try:
            same = stat.st_size == record.size_bytes and file_sha256(record.path) == record.sha256
        except OSError:
            continue  # unreadable now: the reader of the file reports it
        if same:
            stamps.append((record.id, _stamped(record, stat.st_mtime_ns)))
            continue
        try:
            info = inspect_image(record.path)
        except ImageProblem as exc:
            unusable.append((record.path, f"changed on disk since the import and cannot be used: {exc}"))
            continue
        updates.append((record.id, info))
        hashes[record.path] = info.sha256
    if not getattr(store, "read_only", False):
        if stamps or updates:
            store.update_file_records(stamps + updates)
        if unusable:
            store.mark_problems(unusable)
    if hashes or unusable:
        log.info("%d image file(s) changed on disk since the import", len(hashes) + len(unusable))
    return FileChanges(hashes, tuple(unusable), recorded=not getattr(store, "read_only", False))


def current_hashes(store: object, records: Sequence[ImageRecord]) -> tuple[dict[str, str], FileChanges]:
    """``{path: content hash}`` of ``records`` as their files are now (:func:`check_image_files` first): what
    to look cached features up by. A file that changed into an unusable one, or that is no longer there, has no hash
    (nothing cached is used: reading it then reports it, as for any run).
    """
    # A gone folder's files: one stat, not one each.
    missing = set(missing_files(r.path for r in records).paths)
    changes = check_image_files(store, [r for r in records if r.path not in missing])
    gone = {path for path, _ in changes.unusable} | missing
    hashes = {r.path: r.sha256 for r in records if r.sha256 and r.path not in gone}
    hashes.update(changes.hashes)
    return hashes, changes


@dataclass(frozen=True)
class _Stamp:
    """An unchanged file's record with its new modification time (the fields ``update_file_records`` writes)."""

    sha256: str
    size_bytes: int | None
    width: int | None
    height: int | None
    note: str | None
    mtime_ns: int


def _stamped(record: ImageRecord, mtime_ns: int) -> _Stamp:
    return _Stamp(record.sha256 or "", record.size_bytes, record.width, record.height, record.note, mtime_ns)
