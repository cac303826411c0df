"""Benchmark: label-error ranking and near-duplicate grouping on real images.

    python bench/bench_data_quality.py [--seeds 3] [--flip 0.05] [--input-size 224] [--features]

Real data that ships with the dev dependencies (no download): scikit-image's ``lfw_subset`` (200 grey 25 x 25
pictures, 100 faces and 100 non-faces from Labeled Faces in the Wild) and its sample photographs; scikit-learn's
8 x 8 digits (1,797 images, 10 classes) as well when scikit-learn is installed.

Label errors: each dataset is imported into a project and its frozen features computed once (the feature pass,
timed apart). For each seed, ``--flip`` of the labels are changed to another class at random; out-of-fold
probabilities (5 folds) and confident learning rank the images. Reported: precision and recall of the flipped
images in the top 10 % of the ranking, the same for the flagged issues, and the wall time of the check after the
feature pass.

Near-duplicates: every picture (the sample photographs and the 200 LFW pictures) gets three copies, resized to
2/3, re-encoded as JPEG (quality 60) and cropped by 4 % on each side; all go into one project and
:func:`~dmtl_studio.core.quality.duplicates.find_duplicates` groups them. Reported: recall (copies grouped with
their original) per kind of copy, and the false-group rate (groups joining two different pictures / groups).
Exits 1 when a goal is missed (label errors: recall >= 70 % in the top 10 %; duplicates: recall >= 95 %, false
groups < 1 %).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.duplicates import find_duplicates
from dmtl_studio.core.quality.features import frozen_features
from dmtl_studio.core.quality.label_errors import confident_learning, out_of_fold_probabilities
from dmtl_studio.core.training.config import TrainConfig

PHOTOS = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "horse",
    "immunohistochemistry", "brick", "grass", "gravel", "retina", "cell", "clock", "text", "logo",
    "hubble_deep_field", "colorwheel", "microaneurysms",
)  # fmt: skip


def _uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image.astype(np.float64) * (255.0 / max(1e-9, float(image.max()))), 0, 255).astype(
            np.uint8
        )
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def lfw() -> tuple[list[np.ndarray], list[str]]:
    from skimage import data

    images = data.lfw_subset()
    return [_uint8(im) for im in images], ["face"] * 100 + ["not_face"] * 100


def digits() -> tuple[list[np.ndarray], list[str]] | None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    d = load_digits()
    return [_uint8(im / 16.0) for im in d.images], [str(t) for t in d.target]


def photos(side: int = 256) -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in PHOTOS:
        image = _uint8(getattr(data, name)())
        scale = side / max(image.shape[:2])
        size = (max(8, round(image.shape[1] * scale)), max(8, round(image.shape[0] * scale)))
        out.append(np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)))
    return out


def _project(root: Path, images: list[np.ndarray], labels: list[str | None], names: list[str]) -> Path:
    folder = root / "images"
    for image, label, name in zip(images, labels, names, strict=True):
        target = folder / (label or "") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".jpg"):
            Image.fromarray(image).save(target, quality=60)
        else:
            Image.fromarray(image).save(target)
    project = root / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, folder, val_fraction=0.0, seed=0)
    return project


def bench_label_errors(
    name: str, images: list, labels: list[str], args: argparse.Namespace, root: Path
) -> dict:
    names = [f"{i:05d}.png" for i in range(len(images))]
    project = _project(root / name, images, labels, names)
    config = TrainConfig(input_size=args.input_size, device=args.device)
    with ProjectStore.open(project) as store:
        records = sorted(store.images(usable_only=True), key=lambda im: Path(im.path).name)
        started = time.perf_counter()
        features = frozen_features(store, [im.path for im in records], config)
        feature_seconds = time.perf_counter() - started
    classes = sorted(set(labels))
    truth = np.array([classes.index(im.label) for im in records])
    rows = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        count = max(1, round(args.flip * len(truth)))
        flipped = rng.choice(len(truth), count, replace=False)
        given = truth.copy()
        given[flipped] = (truth[flipped] + rng.integers(1, len(classes), count)) % len(classes)
        started = time.perf_counter()
        probabilities = out_of_fold_probabilities(features, given, len(classes), 5, seed)
        result = confident_learning(given, probabilities)
        seconds = time.perf_counter() - started
        top = set(result.ranking[: max(1, len(truth) // 10)].tolist())
        flagged = set(result.issues.tolist())
        wrong = set(flipped.tolist())
        rows.append(
            {
                "seed": seed,
                "flipped": count,
                "top10_precision": len(top & wrong) / len(top),
                "top10_recall": len(top & wrong) / count,
                "flagged": len(flagged),
                "flagged_precision": len(flagged & wrong) / max(1, len(flagged)),
                "flagged_recall": len(flagged & wrong) / count,
                "check_seconds": seconds,
                "oof_accuracy_vs_truth": float((probabilities.argmax(1) == truth).mean()),
            }
        )
    return {"dataset": name, "images": len(truth), "classes": len(classes), "feature_seconds": feature_seconds,
            "seeds": rows}  # fmt: skip


def _crop(image: np.ndarray, fraction: float) -> np.ndarray:
    h, w = image.shape[:2]
    dy, dx = max(1, round(h * fraction)), max(1, round(w * fraction))
    return image[dy : h - dy, dx : w - dx]


def bench_duplicates(args: argparse.Namespace, root: Path) -> dict:
    originals = photos() + lfw()[0]
    images, names = [], []
    for i, image in enumerate(originals):
        h, w = image.shape[:2]
        small = np.asarray(
            Image.fromarray(image).resize((max(8, w * 2 // 3), max(8, h * 2 // 3)), Image.Resampling.BICUBIC)
        )
        for kind, copy, suffix in (("original", image, "png"), ("resized", small, "png"), ("jpeg", image, "jpg"),
                                   ("cropped", _crop(image, 0.04), "png")):  # fmt: skip
            images.append(copy)
            names.append(f"{i:04d}-{kind}.{suffix}")
    project = _project(root / "duplicates", images, [None] * len(images), names)
    out = {"pictures": len(originals), "copies_per_picture": 3}
    for use_features in (False, True) if args.features else (False,):
        config = TrainConfig(input_size=args.input_size, device=args.device)
        shutil.rmtree(project / "cache" / "perceptual", ignore_errors=True)  # each pass hashes every image
        started = time.perf_counter()
        report = find_duplicates(project, use_features=use_features, config=config)
        seconds = time.perf_counter() - started
        group_of: dict[str, int] = {}
        false_groups = 0
        for number, group in enumerate(report.groups):
            pictures = {Path(m.path).name.split("-")[0] for m in group.members}
            false_groups += len(pictures) > 1
            for m in group.members:
                group_of[Path(m.path).name] = number
        recall = {}
        for kind in ("resized", "jpeg", "cropped"):
            hits = 0
            for i in range(len(originals)):
                suffix = "jpg" if kind == "jpeg" else "png"
                original = group_of.get(f"{i:04d}-original.png")
                hits += original is not None and group_of.get(f"{i:04d}-{kind}.{suffix}") == original
            recall[kind] = hits / len(originals)
        out["features" if use_features else "hash"] = {
            "groups": len(report.groups),
            "false_groups": false_groups,
            "false_group_rate": false_groups / max(1, len(report.groups)),
            "recall": recall,
            "recall_all": sum(recall.values()) / 3,
            "seconds": seconds,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--flip", type=float, default=0.05, help="fraction of labels flipped")
    parser.add_argument("--input-size", type=int, default=None, help="backbone input size (default: its own)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--features", action="store_true", help="also group duplicates with feature cosine")
    parser.add_argument("--skip", choices=("labels", "duplicates"), default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    results: dict = {"label_errors": [], "duplicates": None}
    ok = True
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        if args.skip != "labels":
            sets = [("lfw_subset", *lfw())]
            loaded = digits()
            if loaded is not None:
                sets.append(("sklearn_digits", *loaded))
            for name, images, labels in sets:
                row = bench_label_errors(name, images, labels, args, root)
                results["label_errors"].append(row)
                print(
                    f"\n{name}: {row['images']} images, {row['classes']} classes, feature pass {row['feature_seconds']:.1f} s"
                )
                for r in row["seeds"]:
                    print(
                        f"  seed {r['seed']}: {r['flipped']} flipped; top 10 %: precision {r['top10_precision']:.2f} "
                        f"recall {r['top10_recall']:.2f}; flagged {r['flagged']}: precision "
                        f"{r['flagged_precision']:.2f} recall {r['flagged_recall']:.2f}; check {r['check_seconds']:.2f} s"
                    )
                    ok &= r["top10_recall"] >= 0.7
        if args.skip != "duplicates":
            dup = bench_duplicates(args, root)
            results["duplicates"] = dup
            for mode in ("hash", "features"):
                if mode in dup:
                    d = dup[mode]
                    print(
                        f"\nduplicates ({mode}), {dup['pictures']} pictures x 3 copies: recall "
                        + ", ".join(f"{k} {v:.3f}" for k, v in d["recall"].items())
                        + f"; {d['groups']} groups, {d['false_groups']} false ({d['false_group_rate']:.2%}); {d['seconds']:.1f} s"
                    )
                    ok &= d["recall_all"] >= 0.95 and d["false_group_rate"] < 0.01
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
