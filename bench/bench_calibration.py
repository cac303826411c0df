"""Benchmark: temperature scaling on real images, expected calibration error before and after.

    python bench/bench_calibration.py [--seeds 3] [--input-size 64] [--epochs 5] [--json FILE]

Real data that ships with the dev dependencies (no download): scikit-image's ``lfw_subset`` (200 grey 25 x 25
pictures, faces and non-faces) and scikit-learn's 8 x 8 digits (1,797 images, 10 classes). Each dataset is
imported once into a project with a 60/20/20 train/validation/test split; for each seed a run of the default
configuration (frozen pretrained backbone, linear head) is trained at ``--input-size`` px. Training fits the
temperature on the validation split (the run's sidecar); the expected calibration error (15 bins) is then
measured on the held-out test split with the temperature (as predict and evaluation use it) and without it.
Goal: ECE after <= half of ECE before on each dataset (mean over the seeds). Exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dmtl_studio.core.evaluation.inference import evaluate_run
from dmtl_studio.core.models.calibration import expected_calibration_error
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data_quality import digits, lfw  # noqa: E402


def _project(root: Path, images: list[np.ndarray], labels: list[str]) -> Path:
    from PIL import Image

    folder = root / "images"
    for k, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = folder / label / f"{k:05d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target)
    project = root / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, folder, val_fraction=0.2, test_fraction=0.2, seed=0)
    return project


def bench_dataset(
    name: str, images: list[np.ndarray], labels: list[str], args: argparse.Namespace, root: Path
) -> dict:
    project = _project(root / name, images, labels)
    rows = []
    for seed in range(args.seeds):
        started = time.perf_counter()
        config = TrainConfig(epochs=args.epochs, input_size=args.input_size, device="cpu", seed=seed)
        run_dir = train(project, config).run_dir
        entry = json.loads((Path(run_dir) / "model.json").read_text())["calibration"]
        loaded = load_checkpoint(run_dir)
        after = evaluate_run(project, run_dir, loaded=loaded)
        loaded.model.temperature.fill_(1.0)
        before = evaluate_run(project, run_dir, loaded=loaded)
        assert after.split == "test"
        rows.append(
            {
                "seed": seed,
                "temperature": entry["temperature"],
                "test_images": len(after.targets),
                "accuracy": float((after.probabilities.argmax(1) == after.targets).mean()),
                "ece_before": expected_calibration_error(before.probabilities, before.targets),
                "ece_after": expected_calibration_error(after.probabilities, after.targets),
                "val_ece_before": entry["ece_before"],
                "val_ece_after": entry["ece_after"],
                "seconds": time.perf_counter() - started,
            }
        )
        print(json.dumps({"dataset": name, **rows[-1]}), flush=True)
    before = float(np.mean([r["ece_before"] for r in rows]))
    after = float(np.mean([r["ece_after"] for r in rows]))
    return {"dataset": name, "images": len(images), "seeds": rows, "ece_before": before, "ece_after": after,
            "goal_met": after <= before / 2}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = [("lfw_subset", *lfw())]
        loaded = digits()
        if loaded is not None:
            sets.append(("sklearn_digits", *loaded))
        for name, images, labels in sets:
            results.append(bench_dataset(name, images, labels, args, Path(tmp)))
    print()
    print(
        "| dataset | images | test images | accuracy | T (mean) | ECE before | ECE after | after <= before/2 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        seeds = r["seeds"]
        print(
            f"| {r['dataset']} | {r['images']} | {seeds[0]['test_images']} "
            f"| {np.mean([s['accuracy'] for s in seeds]):.3f} | {np.mean([s['temperature'] for s in seeds]):.3f} "
            f"| {r['ece_before']:.4f} ± {np.std([s['ece_before'] for s in seeds]):.4f} "
            f"| {r['ece_after']:.4f} ± {np.std([s['ece_after'] for s in seeds]):.4f} | {'yes' if r['goal_met'] else 'NO'} |"
        )
    total = time.perf_counter() - started
    print(f"\n{args.seeds} seed(s), {args.input_size} px, {args.epochs} epochs, {total:.0f} s on "
          f"{platform.processor() or platform.machine()}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"results": results, "seconds": total}, indent=2))
    return 0 if all(r["goal_met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
