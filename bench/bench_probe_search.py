"""Benchmark: the linear probe's C search on large sets, the search of every fold and every C against the default.

    PYTHONPATH=$PWD python bench/bench_probe_search.py [--images 2000 4000 12000] [--views 1] [--seed 1]

Features are generated (1280-d, non-negative like pooled CNN features, 6 overlapping classes, ``views``
augmented rows and one clean row per image, as a frozen run caches them): what is measured is the solver's
cost and the C it chooses, not learning quality. For each size both searches run on the same rows, one after the
other: ``every fold`` (``min_held_out=None``: 5 folds, every C of the grid, the search before this change) and
``default`` (only the folds that hold 2,000 held-out images, and the walk up the grid stopped once the held-out
loss has fallen twice in a row). Prints wall seconds, the chosen C and the accuracy on 2,000 fresh images.
Sizes under 2,000 images are searched the same way by both.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from dmtl_studio.core.training.linear_probe import fit_linear_probe


def features(images: int, views: int, seed: int) -> tuple[np.ndarray, ...]:
    """Rows ``(images * (views + 1), 1280)``, their classes and groups, and 2,000 fresh test images."""
    rng = np.random.default_rng(seed)
    classes, latent, width = 6, 48, 1280
    y_all = rng.integers(0, classes, images + 2000)
    z = rng.normal(0, 1, (classes, latent))[y_all] * 0.5 + rng.normal(0, 1, (images + 2000, latent))
    mixing = rng.normal(0, 1, (latent, width)) / 8

    def pooled(codes: np.ndarray) -> np.ndarray:
        return np.maximum(codes @ mixing + rng.normal(0, 0.3, (len(codes), width)), 0).astype(np.float32)

    clean = pooled(z)
    rows = [pooled(z[:images] + rng.normal(0, 0.4, (images, latent))) for _ in range(views)] + [
        clean[:images]
    ]
    x = np.concatenate(rows)
    y = np.tile(y_all[:images], views + 1)
    groups = np.tile(np.arange(images), views + 1)
    scored = np.arange(len(x)) >= views * images  # the clean rows, as a frozen run scores its folds
    return x, y, groups, scored, clean[images:], y_all[images:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[2000, 4000, 12000])
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), torch {torch.__version__}, "
        f"one solver thread; views per image {args.views} + the clean one"
    )
    print("| images | rows | search | seconds | folds fitted | Cs walked | chosen C | test accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    for images in args.images:
        x, y, groups, scored, x_test, y_test = features(images, args.views, args.seed)
        for name, min_held_out in (("every fold", None), ("default", 2000)):
            started = time.perf_counter()
            probe = fit_linear_probe(x, y, groups=groups, scored=scored, min_held_out=min_held_out)
            seconds = time.perf_counter() - started
            accuracy = float((probe.predict(x_test) == y_test).mean())
            print(
                f"| {images:,} | {len(x):,} | {name} | {seconds:.1f} | {probe.folds_scored} of {probe.folds} | "
                f"{len(probe.c_grid)} | {probe.c:g} | {accuracy:.4f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
