"""Thumbnails cached on disk inside the project, keyed by content hash, so a big folder opens fast twice."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.project.imaging import thumbnail

CACHE_DIR = ".thumbnails"


class ThumbnailCache:
    """``get(path, sha256)`` returns an RGB thumbnail, decoding the image only when it is not cached."""

    def __init__(self, project_dir: str | os.PathLike[str], size: int = 128) -> None:
        self.folder = Path(project_dir) / CACHE_DIR / str(size)
        self.size = size

    def _file(self, path: str, sha256: str | None) -> Path:
        key = sha256 or hashlib.sha256(os.fsencode(path)).hexdigest()
        return self.folder / key[:2] / f"{key}.jpg"

    def get(self, path: str, sha256: str | None) -> np.ndarray:
        """The thumbnail of ``path``; raises :class:`~dmtl_studio.core.project.image_problems.ImageProblem` for bad files."""
        cached = self._file(path, sha256)
        if cached.is_file():
            data = cv2.imread(str(cached), cv2.IMREAD_COLOR)
            if data is not None:
                return np.ascontiguousarray(data[:, :, ::-1])
        image = thumbnail(path, self.size)
        self._write(cached, image)
        return image

    def _write(self, target: Path, image: np.ndarray) -> None:
        ok, encoded = cv2.imencode(
            ".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        if not ok:
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, encoded.tobytes(), durable=False)  # a cache: made again if lost
        except OSError:
            # A read-only project still browses; it just decodes again next time.
            pass
