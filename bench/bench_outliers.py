"""Benchmark: finding the pictures that look like none of the others (outliers) on real image sets.

    PYTHONPATH=. python bench/bench_outliers.py [--seeds 3] [--outliers 6] [--per-class 40] [--json FILE]

Each real set of ``bench/datasets.py`` (photos, drawings, textures; ``--sets``) gets, per seed, ``--outliers``
pictures that do not belong to it: pictures of the other sets, a blank white picture and a picture of noise, filed
under its classes at random (as a stray file lands in a class folder). All go into one project; the frozen features
(EfficientNet-Lite0, the product's feature pass) are computed once per set, then every score ranks the pictures:

- ``knn``: the cosine distance to the k-th nearest other picture (Sun, Ming, Zhu & Li, "Out-of-Distribution
  Detection with Deep Nearest Neighbors", ICML 2022), k = 5 and 10;
- ``lof``: scikit-learn's ``LocalOutlierFactor`` (20 neighbours, cosine), its own threshold (``contamination="auto"``);
- ``iforest``: scikit-learn's ``IsolationForest`` (seeded), its own threshold;
- ``fence1.5`` / ``fence3``: the ``knn10`` score flagged above Tukey's fences (third quartile plus 1.5 or 3
  interquartile ranges).

Reported per set and score: the AUROC of the ranking (outliers against the set's own pictures), the outliers among
the first ``--outliers`` of the ranking (precision at n), where the blank and the noise pictures rank and where the
strays do, and for each flagging rule the pictures flagged and the outliers among them. The product has no outlier
check: this is the measurement that kept it out (docs/data-quality.md, *Limits*).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.datasets import DatasetMissing, load_dataset  # noqa: E402
from dmtl_studio.core.project.importer import import_folder  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.quality.features import frozen_features  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402

SETS = ("gcompris", "clipart", "textures")


def _pictures(folder: Path) -> list[tuple[Path, str]]:
    return sorted(
        (p, p.parent.name)
        for p in folder.rglob("*")
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
    )


def outlier_scores(features: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` cosine distance of each row of ``features`` ``(N, F)`` to its ``k``-th nearest other row (Sun et
    al. 2022). Higher: further from everything else."""
    from sklearn.neighbors import NearestNeighbors

    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    distances, _ = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(unit).kneighbors(unit)
    return distances[:, k]


def fenced(scores: np.ndarray, fence: float) -> np.ndarray:
    """Which scores lie above Tukey's fence: the third quartile plus ``fence`` interquartile ranges."""
    q1, q3 = np.percentile(scores, [25, 75])
    return scores > q3 + fence * (q3 - q1)


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores))


def _scores_of(features: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Each score (higher: more of an outlier) and the pictures its own rule flags (``None``: no rule of its own)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for k in (5, 10):
        out[f"knn{k}"] = (outlier_scores(features, k=k), None)
    lof = LocalOutlierFactor(n_neighbors=min(20, len(unit) - 1), metric="cosine")
    flags = lof.fit_predict(unit) == -1
    out["lof"] = (-lof.negative_outlier_factor_, flags)
    forest = IsolationForest(random_state=seed).fit(unit)
    out["iforest"] = (-forest.score_samples(unit), forest.predict(unit) == -1)
    knn = out["knn10"][0]
    for fence in (1.5, 3.0):
        out[f"fence{fence:g}"] = (knn, fenced(knn, fence))
    return out


def bench_set(
    name: str, seeds: int, count: int, per_class: int, root: Path, config: TrainConfig
) -> dict | None:
    try:
        own = _pictures(load_dataset(name, root / "datasets", max_per_class=per_class, seed=0))
        others = [
            p
            for other in SETS
            if other != name
            for p, _ in _pictures(load_dataset(other, root / "datasets", max_per_class=10, seed=1))
        ]
    except DatasetMissing as missing:
        print(f"{name}: skipped ({missing})")
        return None
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        folder = root / f"{name}-{seed}"
        shutil.rmtree(folder, ignore_errors=True)
        classes = sorted({c for _, c in own})
        for path, cls in own:
            (folder / cls).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, folder / cls / path.name)
        strays = [others[i] for i in rng.choice(len(others), size=count - 2, replace=False)]
        made = [
            Image.new("RGB", (224, 224), "white"),
            Image.fromarray(rng.integers(0, 256, (224, 224, 3), np.uint8)),
        ]
        outliers = set()
        for i, item in enumerate([*strays, *made]):
            target = folder / classes[int(rng.integers(len(classes)))] / f"stray-{i}.png"
            (Image.open(item).convert("RGB") if isinstance(item, Path) else item).save(target)
            outliers.add(target.name)
        project = root / f"project-{name}-{seed}"
        shutil.rmtree(project, ignore_errors=True)
        with ProjectStore.create(project) as store:
            import_folder(store, folder, val_fraction=0.0, seed=0)
            images = store.images(usable_only=True)
            started = time.perf_counter()
            features = frozen_features(store, [im.path for im in images], config)
            feature_seconds = time.perf_counter() - started
        positive = np.array([Path(im.path).name in outliers for im in images])
        made_names = {f"stray-{count - 2}.png", f"stray-{count - 1}.png"}  # the blank and the noise pictures
        made_mask = np.array([Path(im.path).name in made_names for im in images])
        row = {
            "seed": seed,
            "images": len(images),
            "outliers": int(positive.sum()),
            "feature_seconds": feature_seconds,
        }
        for score_name, (scores, flags) in _scores_of(features, seed).items():
            top = np.argsort(-scores, kind="stable")[: int(positive.sum())]
            entry = {"auroc": _auroc(scores, positive), "precision_at_n": float(positive[top].mean())}
            ranks = np.empty(len(scores), dtype=np.int64)
            ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
            entry["made_ranks"] = ranks[made_mask].tolist()  # 0: the most outlying
            entry["stray_ranks"] = sorted(ranks[positive & ~made_mask].tolist())
            if flags is not None:
                entry |= {"flagged": int(flags.sum()), "flagged_outliers": int((flags & positive).sum())}
            row[score_name] = entry
        rows.append(row)
    return {"dataset": name, "seeds": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--outliers", type=int, default=6, help="pictures put in that do not belong (2 made)")
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    config = TrainConfig(device="cpu")
    results = []
    with tempfile.TemporaryDirectory() as temp:
        for name in args.sets:
            row = bench_set(name, args.seeds, args.outliers, args.per_class, Path(temp), config)
            if row is None:
                continue
            results.append(row)
            seeds = row["seeds"]
            print(
                f"\n{name}: {seeds[0]['images']} pictures, {seeds[0]['outliers']} of them outliers, {len(seeds)} seeds"
            )
            for score_name in [k for k in seeds[0] if isinstance(seeds[0][k], dict)]:
                au = np.array([s[score_name]["auroc"] for s in seeds])
                pn = np.array([s[score_name]["precision_at_n"] for s in seeds])
                line = f"  {score_name:8s} AUROC {au.mean():.3f} ± {au.std():.3f}, precision at n {pn.mean():.2f}"
                if "flagged" in seeds[0][score_name]:
                    flagged = sum(s[score_name]["flagged"] for s in seeds)
                    hits = sum(s[score_name]["flagged_outliers"] for s in seeds)
                    outl = sum(s["outliers"] for s in seeds)
                    line += f"; flagged {flagged}, of them outliers {hits} (recall {hits / outl:.2f})"
                print(line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
