"""Pseudo-label rules for the frozen default with 5 labels per class, replayed on cached features over many seeds.

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/bench_pseudo_rules.py [--seeds 10] [--first-seed 0]
        [--datasets gcompris clipart emoji elpv]
        [--max-per-class 60] [--cache /tmp/dmtl-quality]

``bench/bench_quality.py`` runs the product itself (rows (e)), 3 seeds. This script replays the same two fits on
the same cached features — the supervised probe on the 5 labels per class (clean view and augmented views as rows,
folds scored on the clean views, C by cross-validation), and the product's ``--unlabelled`` rule (label spreading,
the most confident half of each predicted class joins the fit at the chosen C) — so that rules can be compared over
more seeds than the product's runs afford. The split per seed is ``bench_quality``'s (60 / 20 / 20, 5 labels per
class drawn from train + validation, the rest unlabelled, scored on the test split). Rules:

``spread``       the product's rule (``core/training/pseudo_labels.py``);
``pt-spread``    the same graph on power-transformed features (``sqrt``, L2-normalised, centred: the PT of
                 Hu et al., "Leveraging the Feature Distribution in Transfer-based Few-Shot Learning", 2021);
``pt-sinkhorn``  the spread distributions balanced over classes by Sinkhorn iterations (PT-MAP's assumption);
``pt-kmeans``    soft k-means from the labelled class means (Ren et al., "Meta-Learning for Semi-Supervised
                 Few-Shot Classification", ICLR 2018) on the power-transformed features;
``consistency``  no pseudo-label: the probe's loss plus the squared distance between the logits of each
                 labelled or unlabelled image's clean view and its augmented views (the DMTL consistency term in
                 feature space, weight 1);
``down-weight``  the product's pseudo-labels with the labelled rows counted 4 times.

Prints the balanced accuracy gained over the supervised fit per dataset (mean over seeds) and on the mean.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bench.bench_quality import FEW_LABELS, Features, dataset_project, scores, seed_split  # noqa: E402
from bench.datasets import load_dataset  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402
from dmtl_studio.core.training.linear_probe import fit_linear_probe  # noqa: E402
from dmtl_studio.core.training.pseudo_labels import balanced_selection, spread_labels  # noqa: E402

RULES = ("spread", "pt-spread", "pt-sinkhorn", "pt-kmeans", "consistency", "down-weight")


def rows_of(clean: np.ndarray, views: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """An image's augmented views then its clean view, as the product's probe takes them: ``(rows * (V + 1), F)``."""
    return np.concatenate([views[:, rows].reshape(-1, clean.shape[1]), clean[rows]])


def power_transformed(x: np.ndarray) -> np.ndarray:
    z = np.sqrt(np.maximum(x, 0.0) + 1e-6)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    z -= z.mean(0)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def sinkhorn(p: np.ndarray, iterations: int = 50) -> np.ndarray:
    q = np.maximum(p, 1e-9)
    for _ in range(iterations):
        q = q / q.sum(0, keepdims=True) * (len(q) / q.shape[1])
        q = q / q.sum(1, keepdims=True)
    return q


def soft_kmeans(zl: np.ndarray, y: np.ndarray, zu: np.ndarray, k: int, rounds: int = 10) -> np.ndarray:
    centres = np.stack([zl[y == c].mean(0) for c in range(k)])
    for _ in range(rounds):
        d = -10.0 * ((zu[:, None] - centres[None]) ** 2).sum(-1)
        p = np.exp(d - d.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        centres = np.stack(
            [(zl[y == c].sum(0) + p[:, c] @ zu) / ((y == c).sum() + p[:, c].sum()) for c in range(k)]
        )
    return p


def consistency_probe(xl: np.ndarray, yl: np.ndarray, clean: np.ndarray, views: np.ndarray, c: float, k: int):
    """L-BFGS on the probe's loss + mean squared logit distance between clean and augmented views (weight 1)."""
    mean, std = xl.mean(0), xl.std(0) + 1e-6
    x, y = torch.tensor((xl - mean) / std), torch.tensor(yl)
    xc, xv = torch.tensor((clean - mean) / std), torch.tensor((views - mean) / std)
    w = torch.zeros(k, x.shape[1], dtype=x.dtype, requires_grad=True)
    b = torch.zeros(k, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=300, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + (w * w).sum() / (2 * c * len(x))
        loss = loss + (((xv - xc[None]) @ w.T) ** 2).sum(-1).mean()
        loss.backward()
        return loss

    optimizer.step(closure)
    weights, bias = w.detach().numpy(), b.detach().numpy()
    return lambda rows: (((rows - mean) / std) @ weights.T + bias).argmax(1)


def gains_for(data: Features, seed: int, rules: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    clean, views, targets = data.clean, data.views, data.targets
    k = int(targets.max()) + 1
    split = seed_split(targets, seed)
    pool, test = np.concatenate([split["train"], split["val"]]), split["test"]
    rng = np.random.default_rng(1000 + seed)
    few = np.concatenate([rng.choice(pool[targets[pool] == c], FEW_LABELS, replace=False) for c in range(k)])
    rest, y = np.setdiff1d(pool, few), targets[few]
    repeats = views.shape[0] + 1
    labelled_rows, labelled_targets = rows_of(clean, views, few), np.tile(y, repeats)
    groups = np.tile(np.arange(len(few)), repeats)
    probe = fit_linear_probe(
        labelled_rows,
        labelled_targets,
        groups=groups,
        scored=np.arange(len(labelled_rows)) >= views.shape[0] * len(few),
        seed=seed,
    )
    supervised = scores(targets[test], probe.predict(clean[test]))[1]

    def with_pseudo(distributions: np.ndarray, labelled_times: int = 1) -> float:
        chosen = balanced_selection(distributions)
        rows = np.concatenate(
            [np.tile(labelled_rows, (labelled_times, 1)), rows_of(clean, views, rest[chosen.indices])]
        )
        fit_targets = np.concatenate(
            [np.tile(labelled_targets, labelled_times), np.tile(chosen.labels, repeats)]
        )
        refit = fit_linear_probe(rows, fit_targets, c_grid=[probe.c], seed=seed)
        return scores(targets[test], refit.predict(clean[test]))[1]

    spread = spread_labels(clean[few], y, clean[rest], k)
    zl, zu = power_transformed(clean[few]), power_transformed(clean[rest])
    results = {}
    for rule in rules:
        if rule == "spread":
            score = with_pseudo(spread)
        elif rule == "pt-spread":
            score = with_pseudo(spread_labels(zl, y, zu, k))
        elif rule == "pt-sinkhorn":
            distributions = spread_labels(zl, y, zu, k)
            score = with_pseudo(
                sinkhorn(distributions / np.maximum(distributions.sum(1, keepdims=True), 1e-12))
            )
        elif rule == "pt-kmeans":
            score = with_pseudo(soft_kmeans(zl, y, zu, k))
        elif rule == "consistency":
            predict = consistency_probe(
                labelled_rows, labelled_targets, clean[pool], views[:, pool], probe.c, k
            )
            score = scores(targets[test], predict(clean[test]))[1]
        else:
            score = with_pseudo(spread, labelled_times=4)
        results[rule] = score - supervised
    return supervised, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["gcompris", "clipart", "emoji", "elpv"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed … first-seed + seeds - 1")
    parser.add_argument("--max-per-class", type=int, default=60)
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dmtl-quality")
    args = parser.parse_args()
    os.environ.setdefault("DMTL_STUDIO_HOME", str(args.cache / "home"))
    torch.set_num_threads(1)
    started = time.perf_counter()
    table: dict[str, dict[str, list[float]]] = {}
    supervised: dict[str, list[float]] = {}
    for name in args.datasets:
        folder = load_dataset(name, args.cache / "datasets", args.max_per_class, seed=0)
        project = dataset_project(folder, args.cache / "projects" / f"{name}-{args.max_per_class}")
        data = Features(project, TrainConfig.recommended().feature_views)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            with threadpool_limits(1):
                base, gains = gains_for(data, seed, tuple(args.rules))
            supervised.setdefault(name, []).append(base)
            for rule, gain in gains.items():
                table.setdefault(rule, {}).setdefault(name, []).append(gain)
            print(
                f"{name} seed {seed}: supervised {base:.3f} "
                + " ".join(f"{r} {g:+.3f}" for r, g in gains.items())
            )
    names = list(supervised)
    print(
        f"\n{args.seeds} seeds from {args.first_seed}, {time.perf_counter() - started:.0f} s; balanced accuracy gained "
        "over the supervised fit"
    )
    print("| rule | " + " | ".join(names) + " | mean |")
    print("|---|" + "---|" * (len(names) + 1))
    print("| supervised (balanced accuracy) | " + " | ".join(f"{np.mean(supervised[n]):.3f}" for n in names) + " | "
          f"{np.mean([np.mean(supervised[n]) for n in names]):.3f} |")  # fmt: skip
    for rule, per in table.items():
        means = [100 * np.mean(per[n]) for n in names]
        print(f"| {rule} | " + " | ".join(f"{m:+.1f}" for m in means) + f" | {np.mean(means):+.1f} |")


if __name__ == "__main__":
    main()
