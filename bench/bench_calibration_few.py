"""Benchmark: a temperature fitted on few validation images — apply it, drop it, or shrink it toward 1?

    PYTHONPATH=$PWD python bench/bench_calibration_few.py [--datasets textures emoji scripts digits clipart gcompris]
        [--draws 12] [--labels 8] [--val 15 30 60] [--json FILE]

The question: a run whose validation split holds 15 images fits its temperature on those 15 (temperature scaling,
Guo et al., "On Calibration of Modern Neural Networks", 2017: the ``T`` minimising the validation NLL). On so few
images the fitted ``T`` is noisy, and it can raise the expected calibration error of the very images it was fitted
on. Should the product then keep ``T = 1``, or pull ``T`` toward 1?

Real images of several kinds (``bench/datasets.py``: surface textures, emoji, glyphs of many scripts, 8 x 8 digit
scans, clip art, photos; at most 60 a class), their features from the bundled ImageNet EfficientNet-Lite0 at
128 px, computed once. For each draw (seed 0 … ``draws - 1``): ``labels`` training images a class, ``val`` images
in all (stratified) for the temperature, the rest as the test set. Two models of each draw give held-out logits:

- ``probe``: the product's linear probe (``fit_linear_probe``: C chosen by cross-validated log-loss), the frozen
  default, whose logits are often under-confident (``T < 1`` fits);
- ``overfit``: a weakly regularised logistic regression (C = 100 on standardised features), a stand-in for a
  fine-tuned head's over-confident logits (``T > 1`` fits).

Rules compared on the test set (NLL and 15-bin ECE, mean over draws): ``T = 1`` (no calibration); ``plain`` (the
product's ``fit_temperature``); ``map σ`` (a Gaussian prior on ``log T`` with spread σ: minimise
``n·NLL(T) + (log T)² / 2σ²``, which pulls ``T`` toward 1 the more, the fewer the images); ``guard`` (``plain``
unless it makes the validation images' own ECE worse by more than 0.01 — the product's "worse" rule — then
``T = 1``). No goal: the figures decide the product's rule (``docs/calibration.md``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression

from dmtl_studio.core.models.architectures import preprocessing_for
from dmtl_studio.core.models.calibration import _nll, expected_calibration_error, fit_temperature
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
from dmtl_studio.core.models.preprocess import prepare_file
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.training.linear_probe import fit_linear_probe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DatasetMissing, load_dataset  # noqa: E402

RULES = ("T = 1", "plain", "map 0.3", "map 0.5", "map 1", "guard")


def features(names: list[str], cache: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``name -> (features (N, 1280), classes (N,))``, each dataset's at most 60 images a class."""
    model = build_classifier(ModelSpec(backbone="efficientnet_lite0", num_classes=2), pretrained=True).eval()
    preprocessing = preprocessing_for(model.backbone, 128)
    out = {}
    for name in names:
        try:
            folder = load_dataset(name, cache, max_per_class=60, seed=0)
        except DatasetMissing as exc:
            print(f"{name}: skipped ({exc})", flush=True)
            continue
        paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder)
        classes = sorted({p.parent.name for p in paths})
        inputs, targets = [], []
        for path in paths:
            try:
                inputs.append(prepare_file(path, preprocessing))
            except ImageProblem:
                continue
            targets.append(classes.index(path.parent.name))
        with torch.no_grad():
            rows = [
                model.backbone(torch.from_numpy(np.stack(inputs[i : i + 64]))).numpy()
                for i in range(0, len(inputs), 64)
            ]
        out[name] = (np.concatenate(rows), np.array(targets))
    return out


def map_temperature(logits: np.ndarray, targets: np.ndarray, sigma: float) -> float:
    """The temperature maximising the posterior under a N(0, σ²) prior on ``log T``."""
    n = len(targets)
    result = minimize_scalar(
        lambda log_t: n * _nll(logits, targets, float(np.exp(log_t))) + log_t * log_t / (2 * sigma**2),
        bounds=(-4, 4),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def draw_split(targets: np.ndarray, labels: int, val: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    classes = np.unique(targets)
    per_val = max(1, round(val / len(classes)))
    train, held, test = [], [], []
    for c in classes:
        members = rng.permutation(np.flatnonzero(targets == c))
        train += list(members[:labels])
        held += list(members[labels : labels + per_val])
        test += list(members[labels + per_val :])
    return np.array(train), np.array(held), np.array(test)


def logits_of(model: str, x: np.ndarray, y: np.ndarray, split: tuple[np.ndarray, ...], seed: int) -> tuple:
    train, held, test = split
    if model == "probe":
        probe = fit_linear_probe(x[train], y[train], seed=seed)
        return probe.logits(x[held]), probe.logits(x[test])
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    fitted = LogisticRegression(C=100.0, max_iter=3000).fit((x[train] - mean) / std, y[train])
    return fitted.decision_function((x[held] - mean) / std), fitted.decision_function((x[test] - mean) / std)


def temperatures(held: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    plain = fit_temperature(held, targets)
    own_before = expected_calibration_error(softmax(held), targets)
    own_after = expected_calibration_error(softmax(held / plain), targets)
    return {
        "T = 1": 1.0,
        "plain": plain,
        "map 0.3": map_temperature(held, targets, 0.3),
        "map 0.5": map_temperature(held, targets, 0.5),
        "map 1": map_temperature(held, targets, 1.0),
        "guard": plain if own_after <= own_before + 0.01 else 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets", nargs="+", default=["textures", "emoji", "scripts", "digits", "clipart", "gcompris"]
    )
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--labels", type=int, default=8, help="training images a class")
    parser.add_argument("--val", type=int, nargs="+", default=[15, 30, 60], help="validation images in all")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dmtl-datasets"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    started = time.perf_counter()
    data = features(args.datasets, args.cache)
    results = []
    for name, (x, y) in data.items():
        for val in args.val:
            for model in ("probe", "overfit"):
                scores = {rule: {"nll": [], "ece": []} for rule in RULES}
                fitted = []
                for seed in range(args.draws):
                    split = draw_split(y, args.labels, val, seed)
                    held, test = logits_of(model, x, y, split, seed)
                    chosen = temperatures(held, y[split[1]])
                    fitted.append(chosen["plain"])
                    for rule, t in chosen.items():
                        scores[rule]["nll"].append(_nll(test, y[split[2]], t))
                        scores[rule]["ece"].append(expected_calibration_error(softmax(test / t), y[split[2]]))
                row = {"dataset": name, "val": val, "model": model, "median_T": float(np.median(fitted))}
                for rule, s in scores.items():
                    row[rule] = {"nll": float(np.mean(s["nll"])), "ece": float(np.mean(s["ece"])),
                                 "nll_wins": float(np.mean(np.array(s["nll"]) < np.array(scores["plain"]["nll"]))),
                                 "ece_wins": float(np.mean(np.array(s["ece"]) < np.array(scores["plain"]["ece"])))}  # fmt: skip
                results.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n| validation images | model | rule | test NLL (mean over sets) | test ECE | sets where NLL < plain's |"
    )
    print("|---|---|---|---|---|---|")
    for val in args.val:
        for model in ("probe", "overfit"):
            rows = [r for r in results if r["val"] == val and r["model"] == model]
            for rule in RULES:
                nll = np.mean([r[rule]["nll"] for r in rows])
                ece = np.mean([r[rule]["ece"] for r in rows])
                better = sum(r[rule]["nll"] < r["plain"]["nll"] for r in rows)
                print(f"| {val} | {model} | {rule} | {nll:.3f} | {ece:.3f} | {better} of {len(rows)} |")
    total = time.perf_counter() - started
    print(f"\n{len(data)} dataset(s), {args.draws} draws, {args.labels} labels a class, {total:.0f} s on "
          f"{platform.processor() or platform.machine()}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"results": results, "seconds": total}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
