"""Dataset map benchmark: the PCA layout of 20,000 feature vectors, the first drawn frame, panning, selection.

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_map.py [--points 20000] [--dims 1280] [--tsne 2000]

The features are synthetic (10 Gaussian clusters, the size of EfficientNet-B0's pooled features): the drawing
does not depend on where the points come from. Measured:

- ``pca``: :func:`dmtl_studio.core.quality.embedding_map.project` on ``points x dims`` float32;
- ``first frame``: from ``DatasetMapView.show_points`` (``setData`` of the one scatter item with per-point brushes)
  to the end of the first rendering of the plot (``QWidget.grab``, the same painting a screen update does), at
  1280x720;
- ``pan``: the view range moved in 40 steps of 2 % of its width, one rendering each: median and 95th percentile;
- ``recolour``, ``rectangle``, ``lasso`` and ``hover``: switching the colouring to splits, a rectangle and a
  lasso selection of about a quarter of the points, and the nearest-point look-up of a hover;
- ``tsne`` (with ``--tsne N``): t-SNE of the first ``N`` vectors.

Results are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def features(count: int, dims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(10, dims)).astype(np.float32)
    labels = rng.integers(0, 10, size=count)
    return centres[labels] + rng.normal(0.0, 1.0, size=(count, dims)).astype(np.float32), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=1280)
    parser.add_argument("--tsne", type=int, default=0, help="also time t-SNE on this many points")
    args = parser.parse_args()

    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from dmtl_studio.core.quality.embedding_map import project
    from dmtl_studio.ui.dataset_map import DatasetMapView

    rows: list[tuple[str, str]] = []
    vectors, labels = features(args.points, args.dims)
    started = time.perf_counter()
    points = project(vectors, "pca")
    rows.append((f"PCA of {args.points:,} x {args.dims} float32", f"{time.perf_counter() - started:.2f} s"))

    app = QApplication.instance() or QApplication([])
    view = DatasetMapView()
    view.resize(1280, 720)
    view.show()
    app.processEvents()
    names = [f"class_{k}" for k in labels]
    splits = np.array(["train", "val", "test"])[np.random.default_rng(1).integers(0, 3, args.points)].tolist()
    ids = np.arange(args.points)

    started = time.perf_counter()
    view.show_points(points, ids, labels=names, splits=splits)
    view.plot.grab()
    first = time.perf_counter() - started
    rows.append((f"setData of {args.points:,} points to the first drawn frame (1280x720)", f"{first:.2f} s"))

    box = view.view_box
    (x0, x1), _ = box.viewRange()
    step = (x1 - x0) * 0.02
    frames = []
    for _ in range(40):
        started = time.perf_counter()
        box.translateBy(x=step)
        view.plot.grab()
        frames.append((time.perf_counter() - started) * 1000)
    frames.sort()
    p95 = frames[int(round(0.95 * (len(frames) - 1)))]
    rows.append(
        ("pan frame (40 steps of 2 %), median / p95", f"{statistics.median(frames):.0f} / {p95:.0f} ms")
    )

    started = time.perf_counter()
    view.color_by.setCurrentIndex(view.color_by.findData("split"))
    view.plot.grab()
    rows.append(("recolour by split, to the drawn frame", f"{(time.perf_counter() - started) * 1000:.0f} ms"))

    lo, hi = points.min(axis=0), points.max(axis=0)
    mid = (lo + hi) / 2
    started = time.perf_counter()
    chosen = view.select_rect(lo[0], lo[1], mid[0], mid[1])
    rows.append(
        (f"rectangle selection ({len(chosen):,} points)", f"{(time.perf_counter() - started) * 1000:.0f} ms")
    )
    circle = [
        (mid[0] + (hi[0] - lo[0]) / 3 * np.cos(t), mid[1] + (hi[1] - lo[1]) / 3 * np.sin(t))
        for t in np.linspace(0, 2 * np.pi, 200)
    ]
    started = time.perf_counter()
    chosen = view.select_lasso(circle)
    rows.append(
        (
            f"lasso selection, 200-vertex path ({len(chosen):,} points)",
            f"{(time.perf_counter() - started) * 1000:.0f} ms",
        )
    )
    box.autoRange()
    scene = box.mapViewToScene(QPointF(float(points[0, 0]), float(points[0, 1])))
    started = time.perf_counter()
    for _ in range(100):
        view.point_near(scene)
    rows.append(("hover look-up (nearest point)", f"{(time.perf_counter() - started) * 10:.1f} ms"))

    if args.tsne:
        started = time.perf_counter()
        project(vectors[: args.tsne], "tsne")
        rows.append((f"t-SNE of {args.tsne:,} x {args.dims}", f"{time.perf_counter() - started:.1f} s"))

    print(
        f"Dataset map benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Qt platform {app.platformName()}\n"
    )
    print("| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    view.close()


if __name__ == "__main__":
    main()
