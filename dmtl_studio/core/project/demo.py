"""A demo project made offline from generated pictures, so a newcomer can press Train at once.

Three classes of simple shapes (circle, square, triangle) in random colours, sizes and positions, on textured
backgrounds with noise (the demo project's under a soft mottled light, different in each picture), plus some
unlabelled pictures. Every pixel is generated here, so the images carry no
licence of anyone else.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.project.importer import ImportSummary, import_folder
from dmtl_studio.core.project.store import ProjectStore, is_project

CLASSES = ("circle", "square", "triangle")


def draw_shape(kind: str, rng: np.random.Generator, size: int = 160, mottled: bool = False) -> np.ndarray:
    """One RGB picture of a ``kind`` shape on a random textured background; ``mottled``: under a soft light of
    its own (the demo project's pictures)."""
    base = rng.integers(40, 215, size=3)
    gradient = np.linspace(-30, 30, size)[None, :, None] * rng.choice([-1, 1])
    image = np.clip(base[None, None, :] + gradient + rng.normal(0, 10, (size, size, 3)), 0, 255)
    image = image.astype(np.uint8)
    colour = tuple(int(c) for c in (255 - base + rng.integers(-40, 40, 3)).clip(0, 255))
    radius = int(rng.integers(size // 6, size // 3))
    cx, cy = (int(v) for v in rng.integers(radius + 4, size - radius - 4, size=2))
    if kind == "circle":
        cv2.circle(image, (cx, cy), radius, colour, thickness=-1, lineType=cv2.LINE_AA)
    elif kind == "square":
        angle = float(rng.uniform(0, 90))
        box = cv2.boxPoints(((cx, cy), (1.6 * radius, 1.6 * radius), angle)).astype(np.int32)
        cv2.fillPoly(image, [box], colour, lineType=cv2.LINE_AA)
    elif kind == "triangle":
        angle = rng.uniform(0, 2 * np.pi)
        points = [
            (cx + radius * np.cos(angle + k * 2 * np.pi / 3), cy + radius * np.sin(angle + k * 2 * np.pi / 3))
            for k in range(3)
        ]
        cv2.fillPoly(image, [np.array(points, dtype=np.int32)], colour, lineType=cv2.LINE_AA)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    noise = rng.normal(0, 6, image.shape)
    if not mottled:
        return np.clip(image.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    # A soft mottled light over the whole picture, different in each: without it two pictures of one colour with a
    # blob at the same place were alike to a near-duplicate search whatever the blob's shape.
    mottle = cv2.resize(rng.normal(0, 16, (4, 4, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(image.astype(np.float64) + noise + mottle, 0, 255).astype(np.uint8)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """Encode in memory, then write through the atomic writer (``cv2.imwrite`` fails silently on a full disk)."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise OSError(f"cannot encode {path.name} as PNG")
    atomic_write_bytes(path, encoded.tobytes(), durable=False)


def write_shapes_folder(
    folder: Path, per_class: int, unlabelled: int = 0, seed: int = 0, size: int = 160, mottled: bool = False
) -> Path:
    """Write ``folder/<class>/*.png`` for every class, and unlabelled pictures loose in ``folder``. ``mottled`` as
    :func:`draw_shape`'s (the benchmarks' pictures are the plain ones their figures were measured on)."""
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = draw_shape(kind, rng, size, mottled)
            _write_png(folder / kind / f"{kind}_{i:03d}.png", image)
    for i in range(unlabelled):
        image = draw_shape(CLASSES[int(rng.integers(len(CLASSES)))], rng, size, mottled)
        _write_png(folder / f"unlabelled_{i:03d}.png", image)
    return folder


def create_demo_project(project_dir: Path, per_class: int = 40, unlabelled: int = 30) -> ImportSummary | None:
    """Create the demo project in ``project_dir`` unless it already exists (then ``None``)."""
    if is_project(project_dir):
        return None
    images = write_shapes_folder(project_dir / "images", per_class, unlabelled, seed=2026, mottled=True)
    with ProjectStore.create(project_dir) as store:
        summary = import_folder(store, images, val_fraction=0.25, seed=0)
        store.set_meta("demo", "1")
    return summary
