"""Benchmark: frozen-backbone head training per epoch, on cached features vs recomputing them every epoch.

    python bench/bench_feature_cache.py [--per-class 40] [--size 224] [--epochs 3] [--views 4]

Both sides train the same new head with the same optimizer on the same generated images (EfficientNet-Lite0,
bundled weights, frozen, augmentation on). "Recompute" runs the frozen backbone on every augmented batch each
epoch, as training did before the cache; "cached" computes ``views`` augmented feature vectors per image once,
then trains the head on them. Prints the machine, both per-epoch times, the one-off cost of filling the cache,
and the speed-up; exits 1 when the speed-up is under 10x.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from dmtl_studio.core.models.architectures import preprocessing_for
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
from dmtl_studio.core.models.transfer import configure_transfer, forward, set_train_mode
from dmtl_studio.core.project.demo import CLASSES, write_shapes_folder
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.data import ImageDataset
from dmtl_studio.core.training.feature_cache import FeatureCache


def _epoch(model: nn.Module, loader: object, optimizer: torch.optim.Optimizer, run: object) -> int:
    criterion = nn.CrossEntropyLoss()
    seen = 0
    for inputs, targets, _ in loader:
        loss = criterion(run(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(targets)
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-class", type=int, default=40, help="generated images per class (3 classes)")
    parser.add_argument("--size", type=int, default=224, help="input size in pixels")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed on each side")
    parser.add_argument("--views", type=int, default=4, help="augmented views cached per image")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device("cpu")
    config = TrainConfig(transfer="frozen", learning_rate=3e-3, feature_views=args.views, device="cpu")
    with tempfile.TemporaryDirectory() as temp:
        folder = write_shapes_folder(Path(temp) / "images", args.per_class, seed=7, size=args.size)
        paths = sorted(str(p) for p in folder.rglob("*.png"))
        targets = [CLASSES.index(Path(p).parent.name) for p in paths]
        model = build_classifier(ModelSpec("efficientnet_lite0", len(CLASSES)), pretrained=True)
        preprocessing = preprocessing_for(model.backbone, args.size)
        dataset = ImageDataset(paths, targets, preprocessing, augment=True, seed=0)
        for index in range(len(dataset)):
            dataset.resized(index)  # decode once up front: both sides then start from the same memory cache
        optimizer = torch.optim.AdamW(configure_transfer(model, config), weight_decay=0.01)

        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True)
        recompute, recompute_cpu = [], []
        for epoch in range(1, args.epochs + 1):
            dataset.set_epoch(epoch)
            set_train_mode(model)
            started, cpu = time.perf_counter(), time.process_time()
            _epoch(model, loader, optimizer, lambda x: forward(model, x, config))
            recompute.append(time.perf_counter() - started)
            recompute_cpu.append(time.process_time() - cpu)

        cache = FeatureCache(model.backbone, dataset, dataset, device, views=args.views, batch_size=64)
        started = time.perf_counter()
        cache.train()
        fill = time.perf_counter() - started
        cached_loader = cache.train_loader(args.batch_size, seed=0)
        cached, cached_cpu = [], []
        for _ in range(max(10, args.epochs)):
            set_train_mode(model)
            started, cpu = time.perf_counter(), time.process_time()
            _epoch(model, cached_loader, optimizer, model.head)
            cached.append(time.perf_counter() - started)
            cached_cpu.append(time.process_time() - cpu)

    per_recompute, per_cached = sum(recompute) / len(recompute), sum(cached) / len(cached)
    cpu_recompute, cpu_cached = sum(recompute_cpu) / len(recompute_cpu), sum(cached_cpu) / len(cached_cpu)
    speedup, cpu_speedup = per_recompute / per_cached, cpu_recompute / cpu_cached
    images = len(paths)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch {torch.__version__} on CPU, "
        f"{torch.get_num_threads()} thread(s), Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"data: {images} generated images, {args.size} px, EfficientNet-Lite0 frozen, batch {args.batch_size}"
    )
    print()
    print("| head training, per epoch | wall seconds | CPU seconds | images per second (wall) |")
    print("|---|---:|---:|---:|")
    print(
        f"| recomputing features (mean of {len(recompute)} epochs) | {per_recompute:.3f} | {cpu_recompute:.3f} "
        f"| {images / per_recompute:,.0f} |"
    )
    print(
        f"| cached features (mean of {len(cached)} epochs) | {per_cached:.4f} | {cpu_cached:.4f} "
        f"| {images / per_cached:,.0f} |"
    )
    print()
    print(f"filling the cache once: {fill:.2f} s for {args.views} augmented view(s) of {images} images")
    print(f"break-even after {fill / max(1e-9, per_recompute - per_cached):.1f} epoch(s)")
    print(f"speed-up per epoch: {speedup:.0f}x wall clock, {cpu_speedup:.0f}x CPU time")
    return 0 if speedup >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
