"""Few labels, many unlabelled images, a partly fine-tuned backbone: does the FixMatch rule pay?

Usage::

    .venv/bin/python bench/bench_fixmatch.py [--dataset gcompris] [--max-per-class 30] [--seeds 2]
        [--epochs 30] [--input-size 160] [--arms supervised fixmatch] [--cache /tmp/dmtl-fixmatch]

One project is made with the product's importer from a dataset of ``bench/datasets.py`` (at most
``--max-per-class`` images of each class; 60 % train, 20 % validation, 20 % test, seed 0). For each seed,
``FEW_LABELS`` images of each class of train + validation keep their label, the rest of train + validation lose
theirs for the run (they are the unlabelled images), and the product trains through ``core.training.run.train``
with the window's recommended settings and ``transfer="partial"``, then is scored on the test split by
``core.evaluation.inference.evaluate_run``. Arms:

- ``supervised``: the recommended settings (lambda = 1 on the labelled images), *Learn from unlabelled images* off;
- ``fixmatch``: the same with *Learn from unlabelled images* on and the FixMatch rule;
- ``consistency``: the same with the unlabelled images in the consistency term (the rule before FixMatch).

Prints a Markdown table: test accuracy and balanced accuracy per seed, mean, and the share of unlabelled images
that kept a pseudo-label in the last epoch.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.datasets import load_dataset  # noqa: E402
from dmtl_studio.core.evaluation.inference import evaluate_run  # noqa: E402
from dmtl_studio.core.project.importer import import_folder  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402
from dmtl_studio.core.training.events import EpochResult  # noqa: E402
from dmtl_studio.core.training.run import train  # noqa: E402

FEW_LABELS = 5
ARMS = {
    "supervised": {},
    "fixmatch": {"use_unlabelled": True, "unlabelled_rule": "fixmatch"},
    "consistency": {"use_unlabelled": True, "unlabelled_rule": "consistency"},
}

log = logging.getLogger("bench_fixmatch")


def project_for(args: argparse.Namespace) -> Path:
    folder = load_dataset(args.dataset, args.cache / "datasets", args.max_per_class, seed=0)
    project = args.cache / "projects" / f"{args.dataset}-{args.max_per_class}"
    if not (project / ".imported").exists():
        with ProjectStore.create(project) as store:
            import_folder(store, folder, val_fraction=0.2, test_fraction=0.2, seed=0)
        (project / ".imported").write_text("1\n")
    return project


def run_arm(
    project: Path, seed: int, args: argparse.Namespace, **changes: object
) -> tuple[float, float, float, float]:
    """``(accuracy, balanced accuracy, kept share of the last epoch, seconds)`` of one run on this seed's labels."""
    with ProjectStore.open(project) as store:
        records = [r for r in store.images() if r.label is not None and r.split in ("train", "val", "test")]
        pool = [r for r in records if r.split in ("train", "val")]
        rng = np.random.default_rng(1000 + seed)
        few: set[int] = set()
        for label in sorted({r.label for r in pool}):
            ids = sorted(r.id for r in pool if r.label == label)
            few.update(int(i) for i in rng.choice(ids, FEW_LABELS, replace=False))
        hidden = {r.id: r.label for r in pool if r.id not in few}
        store.set_splits({r.id: "train" for r in pool})
        store.set_labels(dict.fromkeys(hidden))
    config = TrainConfig.recommended(
        device="cpu",
        seed=seed,
        transfer="partial",
        epochs=args.epochs,
        input_size=args.input_size,
        **changes,
    )
    epochs: list[EpochResult] = []
    started = time.perf_counter()
    try:
        summary = train(
            project, config, on_event=lambda e: epochs.append(e) if isinstance(e, EpochResult) else None
        )
    finally:
        with ProjectStore.open(project) as store:
            store.set_labels(hidden)
            store.set_splits({r.id: r.split for r in records})
    seconds = time.perf_counter() - started
    result = evaluate_run(project, summary.run_dir)
    if result.split != "test":
        raise RuntimeError(f"the product scored the {result.split} split, not the test split")
    truth, predicted = np.asarray(result.targets), np.asarray(result.predicted)
    accuracy = float((truth == predicted).mean())
    balanced = float(np.mean([(predicted[truth == c] == c).mean() for c in np.unique(truth)]))
    kept = epochs[-1].consistency_mask if epochs and epochs[-1].consistency_mask is not None else float("nan")
    return accuracy, balanced, kept, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="gcompris")
    parser.add_argument("--max-per-class", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--input-size", type=int, default=160)
    parser.add_argument("--arms", nargs="+", default=["supervised", "fixmatch"], choices=list(ARMS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dmtl-fixmatch"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    project = project_for(args)
    rows: dict[str, list[tuple[float, float, float, float]]] = {arm: [] for arm in args.arms}
    started = time.perf_counter()
    for seed in range(args.seeds):
        for arm in args.arms:
            rows[arm].append(run_arm(project, seed, args, **ARMS[arm]))
            log.info("seed %d %s: acc %.3f balanced %.3f kept %.2f in %.0f s", seed, arm, *rows[arm][-1])
    total = time.perf_counter() - started
    with ProjectStore.open(project) as store:
        counts = {
            s: sum(1 for r in store.images() if r.split == s and r.label) for s in ("train", "val", "test")
        }
    print(
        f"{args.dataset}, at most {args.max_per_class}/class ({counts}); {FEW_LABELS} labels/class, the rest of "
        f"train + validation unlabelled; partial fine-tune, {args.epochs} epochs, input {args.input_size} px, "
        f"{args.seeds} seeds; {platform.machine()} CPU, {torch.get_num_threads()} threads; {total:.0f} s in all\n"
    )
    print("| arm | test accuracy (per seed) | mean | balanced accuracy (mean) | kept, last epoch | s/run |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for arm, results in rows.items():
        accuracy = [r[0] for r in results]
        print(
            f"| {arm} | {', '.join(f'{a:.3f}' for a in accuracy)} | {statistics.mean(accuracy):.3f} | "
            f"{statistics.mean(r[1] for r in results):.3f} | {statistics.mean(r[2] for r in results):.2f} | "
            f"{statistics.mean(r[3] for r in results):.0f} |"
        )


if __name__ == "__main__":
    main()
