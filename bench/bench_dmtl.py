"""Evidence for the DMTL objective: supervised-only vs DMTL on few-label tasks, over several seeds.

Tasks are built from real data that ships with a registry package (scikit-learn's 8x8 handwritten digits,
written as PNG files) and from generated shapes (:mod:`dmtl_studio.core.project.demo`): a fixed test set and a pool from
which ``k`` images per class are labelled (per seed) and the rest left unlabelled, or every image labelled.

The method is the product's default: a frozen EfficientNet-Lite0 backbone, the default ("light") augmentation
recipe, and a linear head trained on cached features. To fit a shared 2-core machine, the backbone features are
computed once per dataset by the engine's own :class:`~dmtl_studio.core.training.feature_cache.FeatureCache` (a clean
view and 4 augmented views per image, exactly what a run caches) and every task then trains a fresh head with
the engine's frozen-backbone step: AdamW, warm-up + cosine schedule, one random cached view per image and
epoch, cross-entropy on labelled views plus ``lambda x ramp-up x consistency_loss`` (labelled clean vs
augmented, and unlabelled batches at the given ratio). Score: test accuracy after the last epoch.

    .venv/bin/python bench/bench_dmtl.py [--seeds 3] [--out docs/dmtl-bench.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional

from dmtl_studio.core.augment.presets import DEFAULT_PRESET, preset
from dmtl_studio.core.models.architectures import preprocessing_for
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.training.consistency import consistency_loss, rampup_factor
from dmtl_studio.core.training.data import ImageDataset
from dmtl_studio.core.training.feature_cache import FeatureCache
from dmtl_studio.core.training.schedule import schedule_factor


def digits_pool(folder: Path) -> list[tuple[str, str]]:
    """scikit-learn's digits as 64-pixel RGB PNG files; ``(path, class)`` per image."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        gray = (255 - image * (255 / 16)).astype(np.uint8)  # dark strokes on white, like ink
        path = folder / f"digit{i:04d}.png"
        Image.fromarray(gray).resize((64, 64), Image.BILINEAR).convert("RGB").save(path)
        items.append((str(path), f"d{int(target)}"))
    return items


def shapes_pool(folder: Path) -> list[tuple[str, str]]:
    write_shapes_folder(folder, 150, seed=7, size=64)
    return [(str(p), p.parent.name) for p in sorted(folder.rglob("*.png"))]


def split_pool(targets: np.ndarray, labels: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the pool: ``labels`` per class labelled (None: all), the rest unlabelled."""
    rng = np.random.default_rng(1000 + seed)
    labelled, unlabelled = [], []
    for c in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == c))
        cut = len(members) if labels is None else labels
        labelled += list(members[:cut])
        unlabelled += list(members[cut:])
    return np.array(sorted(labelled)), np.array(sorted(unlabelled))


def cache_features(items: list[tuple[str, str]], test_per_class: int, pool_per_class: int, size: int) -> dict:
    """Split into a fixed test set and a pool; the pool's clean + 4 augmented feature views, the test set's."""
    classes = sorted({name for _, name in items})
    by_class: dict[str, list[str]] = {}
    for path, name in items:
        by_class.setdefault(name, []).append(path)
    fixed = np.random.default_rng(0)
    test, pool = [], []
    for name in classes:
        paths = list(fixed.permutation(by_class[name]))
        test += [(p, classes.index(name)) for p in paths[:test_per_class]]
        pool += [(p, classes.index(name)) for p in paths[test_per_class : test_per_class + pool_per_class]]
    spec = ModelSpec(backbone="efficientnet_lite0", num_classes=len(classes))
    model = build_classifier(spec, pretrained=True)
    preprocessing = preprocessing_for(model.backbone, size)
    pool_set = ImageDataset(
        [p for p, _ in pool], [t for _, t in pool], preprocessing, augment=True, recipe=preset(DEFAULT_PRESET)
    )
    test_set = ImageDataset([p for p, _ in test], [t for _, t in test], preprocessing)
    cache = FeatureCache(model.backbone, pool_set, test_set, torch.device("cpu"), views=4, clean_views=True)
    train = cache.train()
    return {
        "head": model.head,
        "views": train.features,
        "clean": train.clean,
        "targets": train.targets,
        "test": cache.val().features[0],
        "test_targets": cache.val().targets,
        "seconds": cache.seconds,
    }


def train_head(data: dict, labelled: np.ndarray, unlabelled: np.ndarray, seed: int, settings: dict) -> float:
    """The engine's frozen-backbone training step on cached features; returns the final test accuracy."""
    epochs, batch_size, lr = settings["epochs"], settings["batch_size"], settings["lr"]
    weight, ratio = settings.get("lambda", 0.0), settings.get("ratio", 3)
    temperature, threshold = settings.get("temperature", 1.0), settings.get("threshold", 0.0)
    use_unlabelled = settings.get("unlabelled", False) and len(unlabelled) > 0
    torch.manual_seed(seed)
    head = copy.deepcopy(data["head"])
    for module in head.modules():  # a fresh head per run, initialised from the run's seed
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    views, clean, targets = data["views"], data["clean"], data["targets"]
    lab = torch.as_tensor(labelled)
    unl = torch.as_tensor(unlabelled)
    count = len(lab)
    steps = count // batch_size if count > batch_size else 1
    for epoch in range(1, epochs + 1):
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = lab[torch.randperm(count, generator=generator)]
        chosen = torch.randint(views.shape[0], (len(views[0]),), generator=generator)
        pending = torch.empty(0, dtype=torch.long)
        size = min(len(unl), batch_size * ratio)
        head.train()
        for step in range(steps):
            progress = (epoch - 1 + step / steps) / epochs
            for group in optimizer.param_groups:
                group["lr"] = lr * schedule_factor("cosine", progress, 0.1)
            index = order[step * batch_size : (step + 1) * batch_size]
            logits = head(views[chosen[index], index])
            loss = functional.cross_entropy(logits, targets[index])
            if weight > 0:
                clean_in, aug_logits = [clean[index]], [logits]
                if use_unlabelled:
                    while len(pending) < size:
                        pending = torch.cat([pending, unl[torch.randperm(len(unl), generator=generator)]])
                    u, pending = pending[:size], pending[size:]
                    clean_in.append(clean[u])
                    aug_logits.append(head(views[chosen[u], u]))
                with torch.no_grad():
                    target_logits = head(torch.cat(clean_in))
                term, _ = consistency_loss(target_logits, torch.cat(aug_logits), temperature, threshold)
                loss = loss + weight * rampup_factor(progress, 0.3) * term
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    head.eval()
    with torch.no_grad():
        predicted = head(data["test"]).argmax(1)
    return float((predicted == data["test_targets"]).float().mean())


METHODS = {
    "supervised": {},
    "DMTL λ=1, labelled only": {"lambda": 1.0},
    "DMTL λ=1 + unlabelled": {"lambda": 1.0, "unlabelled": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--size", type=int, default=64, help="input size of the backbone")
    parser.add_argument("--datasets", default="digits,shapes")
    parser.add_argument("--labels", default="5,20,all")
    parser.add_argument("--out", type=Path, default=Path("docs/dmtl-bench.json"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dmtl-bench-"))
    pools = {
        "digits": lambda: (digits_pool(root / "digits"), 15, 30),  # 10 classes: 150 test, 300 pool
        "shapes": lambda: (shapes_pool(root / "shapes"), 40, 60),  # 3 classes: 120 test, 180 pool
    }
    results = []
    started = time.perf_counter()
    for dataset in args.datasets.split(","):
        items, test_per_class, pool_per_class = pools[dataset]()
        data = cache_features(items, test_per_class, pool_per_class, args.size)
        print(f"{dataset}: features cached in {data['seconds']:.0f} s", flush=True)
        pool_targets = data["targets"].numpy()
        for labels_text in args.labels.split(","):
            labels = None if labels_text == "all" else int(labels_text)
            for method, changes in METHODS.items():
                if labels is None and changes.get("unlabelled"):
                    continue  # nothing is unlabelled
                settings = {"epochs": args.epochs, "batch_size": 16, "lr": 3e-3, **changes}
                scores = []
                for seed in range(args.seeds):
                    labelled, unlabelled = split_pool(pool_targets, labels, seed)
                    scores.append(train_head(data, labelled, unlabelled, seed, settings))
                row = {
                    "dataset": dataset,
                    "labels_per_class": labels_text,
                    "labelled": len(labelled),
                    "unlabelled": len(unlabelled),
                    "test": len(data["test_targets"]),
                    "method": method,
                    "accuracy": scores,
                    "mean": statistics.mean(scores),
                    "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                }
                results.append(row)
                print(
                    f"{dataset:7s} {labels_text:>4s}/class {method:36s} "
                    f"{100 * row['mean']:5.1f} ± {100 * row['std']:4.1f} %  ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    report = {
        "machine": f"{platform.machine()} {platform.system()}, {torch.get_num_threads()} torch threads",
        "seconds": round(time.perf_counter() - started),
        "epochs": args.epochs,
        "input_size": args.size,
        "seeds": args.seeds,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
