"""Compare the three transfer strategies (frozen, partial, full) on one dataset: accuracy and time.

    python bench/compare_strategies.py [--dataset shapes|digits] [--per-class 40] [--size 128] [--epochs 6]

``shapes`` are generated pictures (circle, square, triangle on textured backgrounds, the demo project's
generator); ``digits`` are scikit-learn's bundled 8x8 handwritten digits (real scans, 10 classes) enlarged to
``--size`` pixels, used only when scikit-learn is installed. Each strategy trains EfficientNet-Lite0 (bundled
ImageNet weights) with the training engine itself, same data, same epochs, same seed; the table gives the best
and last validation accuracy, the trainable parameters and the wall-clock time of the whole run (including the
feature cache for ``frozen``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
from dmtl_studio.core.models.transfer import configure_transfer, trainable_summary
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train

#: The same head learning rate for all three; a fine-tuned backbone learns at a tenth of it.
STRATEGIES = (
    ("frozen", {"transfer": "frozen"}),
    ("partial (last 2 stages)", {"transfer": "partial", "unfreeze_stages": 2}),
    ("full", {"transfer": "full"}),
)


def write_digits_folder(folder: Path, per_class: int, size: int) -> Path:
    from sklearn.datasets import load_digits  # optional: only for this data set

    digits = load_digits()
    counts: dict[int, int] = {}
    for image, label in zip(digits.images, digits.target, strict=True):
        label = int(label)
        if counts.get(label, 0) >= per_class:
            continue
        counts[label] = counts.get(label, 0) + 1
        grey = (255 - image * (255 / 16)).astype(np.uint8)  # dark ink on white paper
        big = cv2.resize(grey, (size, size), interpolation=cv2.INTER_CUBIC)
        target = folder / str(label)
        target.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target / f"{label}_{counts[label]:03d}.png"), big)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("shapes", "digits"), default="shapes")
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--size", type=int, default=128, help="input size in pixels")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3, help="head learning rate (backbone: a tenth of it)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        images = Path(temp) / "images"
        if args.dataset == "shapes":
            write_shapes_folder(images, args.per_class, seed=11, size=160)
        else:
            write_digits_folder(images, args.per_class, max(args.size, 64))
        project = Path(temp) / "project"
        with ProjectStore.create(project) as store:
            summary = import_folder(store, images, val_fraction=0.25, seed=0)
            counts = store.class_counts()
        n_train = sum(c["train"] for c in counts.values())
        n_val = sum(c["val"] for c in counts.values())
        for label, changes in STRATEGIES:
            config = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                input_size=args.size,
                device="cpu",
                learning_rate=args.lr,
                backbone_lr_factor=0.1,
                **changes,
            )
            model = build_classifier(ModelSpec(config.backbone, len(counts)), pretrained=False)
            configure_transfer(model, config)
            trainable = sum(trainable_summary(model).values())
            started = time.perf_counter()
            result = train(project, config)
            seconds = time.perf_counter() - started
            best, last = result.metrics["best"], result.metrics["last"]
            rows.append((label, best["val_accuracy"], last["val_accuracy"], trainable, seconds))
            print(f"{label}: best {best['val_accuracy']:.3f} in {seconds:.1f} s", file=sys.stderr, flush=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch {torch.__version__} on CPU, "
        f"Python {platform.python_version()}"
    )
    print(
        f"data: {args.dataset}, {len(counts)} classes, {n_train} training / {n_val} validation images "
        f"({summary.scanned} files), {args.size} px, {args.epochs} epochs, batch {args.batch_size}, "
        f"head LR {args.lr:g} (backbone x0.1), "
        "EfficientNet-Lite0 (bundled ImageNet weights), default augmentation"
    )
    print()
    print("| strategy | best val. accuracy | last val. accuracy | trainable parameters | time (s) |")
    print("|---|---:|---:|---:|---:|")
    for label, best, last, trainable, seconds in rows:
        print(f"| {label} | {best:.3f} | {last:.3f} | {trainable:,} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
