"""The fine-tuning recipe, measured: the product's full fine-tune default with and without layer-wise learning-rate
decay and the moving average of the weights, each model scored on the test split with and without flip test-time
augmentation.

    python bench/bench_finetune_recipe.py [--datasets gcompris] [--max-per-class 30] [--train-per-class 8]
        [--seeds 1] [--cache /tmp/dmtl-bench] [--out results.json]

Every run goes through the product: ``TrainConfig.recommended(transfer="full", ema_decay=…, …)`` trained by
``core.training.run.train`` on a project of the dataset (real images at the backbone's own input size, 224 px for
EfficientNet-Lite0), scored by ``core.evaluation.inference.evaluate_run`` on the test split. Per seed each class
gives ``--train-per-class`` training images and 2 validation images; the rest are test images. Two validation
images per class are too few for a best-epoch pick, so the product trains on them too and keeps the last epoch
(``core.training.held_out``).

One run gives two models: the weight average is what the run publishes, and the checkpoint's latest trained
weights are exactly what the same run without the average would have published (the average never changes the
training: it reads the weights after each step and draws no random number). So each seed trains twice (layer-wise
decay off and on) and scores four models; flip test-time augmentation is scored on the same weights (the model's
``flip_views`` switched on). The table gives balanced accuracy (the mean of the per-class recalls).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.bench_quality import dataset_project  # noqa: E402
from bench.datasets import load_dataset  # noqa: E402
from dmtl_studio.core.evaluation.inference import evaluate_run  # noqa: E402
from dmtl_studio.core.models.checkpoint import load_checkpoint  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.training import run_state  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402
from dmtl_studio.core.training.run import train  # noqa: E402

#: The runs of each seed: what each changes in the full fine-tune default (both keep the weight average).
RUNS = {"default": {}, "llrd": {"layer_decay": 0.75}}
EMA_DECAY = 0.999

log = logging.getLogger("bench_finetune_recipe")


def seed_split(targets: np.ndarray, seed: int, train_per_class: int) -> dict[str, np.ndarray]:
    """Per class ``train_per_class`` training rows, 2 validation rows and the rest as test rows."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for cls in np.unique(targets):
        rows = rng.permutation(np.flatnonzero(targets == cls))
        parts["train"] += rows[:train_per_class].tolist()
        parts["val"] += rows[train_per_class : train_per_class + 2].tolist()
        parts["test"] += rows[train_per_class + 2 :].tolist()
    return {name: np.sort(np.asarray(rows)) for name, rows in parts.items()}


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean([(predicted[truth == k] == k).mean() for k in np.unique(truth)]))


def project_for(name: str, args: argparse.Namespace) -> Path:
    folder = load_dataset(name, args.cache / "datasets", args.max_per_class, seed=0)
    return dataset_project(folder, args.cache / "projects" / f"ftrecipe-{name}-{args.max_per_class}")


def score(project: Path, run_dir: str, loaded: object) -> dict[str, float]:
    """Balanced accuracy of a loaded model on the test split, without and with flip test-time augmentation."""
    scores = {}
    for flip in (False, True):
        loaded.model.flip_views = flip
        result = evaluate_run(project, run_dir, loaded=loaded)
        if result.split != "test":
            raise RuntimeError(f"the product scored the {result.split} split, not the test split")
        scores["tta" if flip else "plain"] = balanced_accuracy(result.targets, result.predicted)
    return scores


def run_pair(project: Path, seed: int, changes: dict) -> dict[str, dict]:
    """One run with the weight average: the scores of its trained weights (the run without the average) and of
    its average."""
    config = TrainConfig.recommended(transfer="full", device="cpu", seed=seed, ema_decay=EMA_DECAY, **changes)
    started = time.perf_counter()
    summary = train(project, config)
    seconds = time.perf_counter() - started
    run_dir = Path(summary.run_dir)
    unit = run_state.latest_checkpoint(run_dir)
    if unit is None or summary.epochs_completed != config.epochs:
        raise RuntimeError(f"{run_dir.name} did not complete its {config.epochs} epochs")
    averaged = load_checkpoint(run_dir)
    trained = load_checkpoint(run_dir)
    trained.model.load_state_dict(load_file(str(unit.folder / run_state.LAST_WEIGHTS)))
    common = {"seconds": seconds, "run": run_dir.name}
    return {
        "trained": {**score(project, str(run_dir), trained), **common},
        "averaged": {**score(project, str(run_dir), averaged), **common},
    }


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def report(results: dict, args: argparse.Namespace, total: float) -> str:
    lines = [
        f"Full fine-tune of EfficientNet-Lite0 at 224 px (the recommended settings, transfer full), {args.seeds} "
        f"seed(s), {args.train_per_class} + 2 training images per class, CPU "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} logical cores); {total / 60:.1f} min.",
        "",
        "| dataset | model | test images | balanced acc. | + flip TTA | per seed (plain / TTA) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, models in results.items():
        for model, runs in models.items():
            plain = [r["plain"] for r in runs]
            tta = [r["tta"] for r in runs]
            per_seed = ", ".join(f"{r['plain']:.3f}/{r['tta']:.3f}" for r in runs)
            images = runs[0].get("test_images", "")
            lines.append(f"| {name} | {model} | {images} | {mean_sd(plain)} | {mean_sd(tta)} | {per_seed} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["gcompris"])
    parser.add_argument("--max-per-class", type=int, default=30)
    parser.add_argument("--train-per-class", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dmtl-bench"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.perf_counter()
    results: dict[str, dict[str, list[dict]]] = {}
    for name in args.datasets:
        project = project_for(name, args)
        with ProjectStore.open(project) as store:
            records = sorted(
                (r for r in store.images(usable_only=True) if r.label is not None), key=lambda r: r.id
            )
        classes = sorted({r.label for r in records})
        targets = np.asarray([classes.index(r.label) for r in records])
        results[name] = {}
        for seed in range(args.seeds):
            split = seed_split(targets, seed, args.train_per_class)
            with ProjectStore.open(project) as store:
                store.set_splits({records[row].id: part for part, rows in split.items() for row in rows})
            for run in args.runs:
                pair = run_pair(project, seed, RUNS[run])
                for model, outcome in pair.items():
                    key = {("default", "trained"): "default", ("default", "averaged"): "+ EMA"}.get(
                        (run, model), "+ LLRD" if model == "trained" else "+ LLRD + EMA"
                    )
                    outcome["test_images"] = len(split["test"])
                    results[name].setdefault(key, []).append(outcome)
                    log.info("%s seed %d %s: %s", name, seed, key, outcome)
                    if args.out is not None:  # what is measured so far survives a stop
                        args.out.write_text(json.dumps({"results": results}, indent=1))
    text = report(results, args, time.perf_counter() - started)
    print(text)
    if args.out is not None:
        args.out.write_text(json.dumps({"results": results, "report": text}, indent=1))


if __name__ == "__main__":
    main()
