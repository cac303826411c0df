"""Keeping the images' shape: padded against stretched inputs to a frozen backbone, on real images.

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/bench_resize.py [--datasets gcompris clipart textures] [--seeds 5]
        [--max-per-class 60] [--cache /tmp/dmtl-quality] [--threads 2]

For each dataset (``bench/datasets.py``, at most ``--max-per-class`` images a class, the same fixed subset as
``bench_quality.py``) the clean EfficientNet-Lite0 features of every image are computed once per image shape —
the product's :func:`~dmtl_studio.core.models.preprocess.fit_to_input` with ``resize_mode`` ``"stretch"`` (each
side scaled to 224 px, what every run did before the setting) and ``"pad"`` (the longer side scaled to 224 px,
centred on white: the default now) — then, for each seed, the images are split 80 / 20 (stratified) and the
product's linear probe (:func:`~dmtl_studio.core.training.linear_probe.fit_linear_probe`, C by cross-validation)
is fitted on the 80 % and scored on the 20 %: balanced accuracy, mean ± sd over seeds, and the paired difference
per seed. A square image is fitted identically by both shapes, so the sets of square images (``emoji``, ``elpv``,
``digits``) are left out: their figures cannot move.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.bench_quality import scores as balanced_scores  # noqa: E402
from bench.datasets import load_dataset  # noqa: E402
from dmtl_studio.core.augment.resize import RESIZE_MODES  # noqa: E402
from dmtl_studio.core.models.architectures import preprocessing_for  # noqa: E402
from dmtl_studio.core.models.classifier import create_backbone  # noqa: E402
from dmtl_studio.core.models.preprocess import fit_to_input, normalise  # noqa: E402
from dmtl_studio.core.project.image_problems import ImageProblem  # noqa: E402
from dmtl_studio.core.project.imaging import load_rgb  # noqa: E402
from dmtl_studio.core.training.linear_probe import fit_linear_probe  # noqa: E402

BACKBONE = "efficientnet_lite0"


def images_of(folder: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Decoded RGB images of the class folders under ``folder`` and their class indices."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder)
    classes = sorted({p.parent.name for p in paths})
    images, targets = [], []
    for path in paths:
        try:
            images.append(load_rgb(path))
        except ImageProblem:
            continue
        targets.append(classes.index(path.parent.name))
    return images, np.asarray(targets)


def features(backbone: torch.nn.Module, images: list[np.ndarray], mode: str) -> np.ndarray:
    """Clean ``(N, F)`` features of ``images`` fitted into the square by ``mode``."""
    preprocessing = preprocessing_for(backbone, None, mode)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(images), 32):
            batch = np.stack(
                [
                    normalise(fit_to_input(image, preprocessing), preprocessing)
                    for image in images[start : start + 32]
                ]
            )
            rows.append(
                backbone(torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)).numpy()
            )
    return np.concatenate(rows)


def split(targets: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified 80 / 20 row indices ``(fit, test)``."""
    rng = np.random.default_rng(seed)
    fit, test = [], []
    for cls in np.unique(targets):
        rows = rng.permutation(np.flatnonzero(targets == cls))
        held = max(1, round(0.2 * len(rows)))
        test += rows[:held].tolist()
        fit += rows[held:].tolist()
    return np.asarray(fit), np.asarray(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["gcompris", "clipart", "textures"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-per-class", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dmtl-quality")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backbone = create_backbone(BACKBONE, pretrained=True).eval().to(memory_format=torch.channels_last)
    print(f"Command: PYTHONPATH=$PWD .venv/bin/python bench/bench_resize.py {' '.join(sys.argv[1:])}")
    print("| dataset | images (not square) | stretch | pad | pad − stretch per seed | mean |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets:
        folder = load_dataset(name, args.cache / "datasets", args.max_per_class, seed=0)
        images, targets = images_of(folder)
        not_square = sum(image.shape[0] != image.shape[1] for image in images)
        started = time.perf_counter()
        scores: dict[str, list[float]] = {}
        for mode in RESIZE_MODES:
            x = features(backbone, images, mode)
            scores[mode] = []
            for seed in range(args.seeds):
                fit, test = split(targets, seed)
                probe = fit_linear_probe(x[fit], targets[fit], num_classes=int(targets.max()) + 1, seed=seed)
                scores[mode].append(balanced_scores(targets[test], probe.predict(x[test]))[1])
        gains = [100 * (p - s) for p, s in zip(scores["pad"], scores["stretch"], strict=True)]
        cells = [
            f"{statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}"
            for v in (scores["stretch"], scores["pad"])
        ]
        print(
            f"| {name} | {len(images)} ({not_square}) | {cells[0]} | {cells[1]} | "
            f"{' '.join(f'{g:+.1f}' for g in gains)} | **{statistics.mean(gains):+.1f}** |",
            flush=True,
        )
        print(f"  ({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
