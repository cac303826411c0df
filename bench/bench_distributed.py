"""Benchmark: one training run with 1 and 2 processes (DistributedDataParallel, Gloo, started by torchrun) on this
machine's CPU, on a generated shapes project.

    python bench/bench_distributed.py [--per-class 24] [--epochs 2] [--input-size 96] [--batch-size 8]

For each setting — 1 process with 2 threads, 1 process with 1 thread, 2 processes with 1 thread each — it measures
the frozen backbone's feature pass (image views per second, all ranks together) and full fine-tuning (training
images per second in the last epoch, all ranks together), and prints a Markdown table and, last, a JSON line.
Each setting starts from an empty feature cache. Results depend on what else the machine runs: on a shared
2-core machine, 2 processes compete with everything else for the same 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = (("1 process × 2 threads", 1, 2), ("1 process × 1 thread", 1, 1), ("2 processes × 1 thread", 2, 1))


def _worker(args: argparse.Namespace) -> int:
    """One rank: the product's own distributed run, frozen then full, timed from rank 0's events."""
    import torch

    from dmtl_studio.core.training import distributed
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.events import PreparationProgress, StepProgress
    from dmtl_studio.core.training.run import train

    world = distributed.World.from_environment()
    distributed.start(world, "cpu")
    results: dict = {"threads": torch.get_num_threads(), "world_size": world.world_size}
    for transfer in ("frozen", "full"):
        events: list[object] = []
        config = TrainConfig.recommended(
            epochs=args.epochs,
            device="cpu",
            input_size=args.input_size,
            batch_size=args.batch_size,
            transfer=transfer,
            seed=0,
            linear_probe=False,  # epochs of the head: the loop is what is measured
        )
        started = time.perf_counter()
        summary = train(args.project, config, events.append if world.is_main else None, world=world)
        wall = time.perf_counter() - started
        steps = [e for e in events if isinstance(e, StepProgress) and e.epoch == args.epochs]
        prepared = [e for e in events if isinstance(e, PreparationProgress)]
        results[transfer] = {
            "wall_s": round(wall, 2),
            "val_accuracy": summary.metrics.get("last", {}).get("val_accuracy"),
            # StepProgress counts rank 0's images; every rank trains the same number in lockstep.
            "train_images_per_s": round(steps[-1].images_per_second * world.world_size, 1) if steps else None,
            "feature_views": prepared[-1].done if prepared else 0,
            "feature_views_per_s": (
                round(prepared[-1].done / prepared[-1].seconds, 1)
                if prepared and prepared[-1].seconds > 0
                else None
            ),
        }
    distributed.stop()
    if world.is_main:
        Path(args.out).write_text(json.dumps(results))
    return 0


def _launch(
    script: Path, project: Path, out: Path, processes: int, threads: int, args: argparse.Namespace
) -> dict:
    from dmtl_studio.core.training.launch import free_port

    shutil.rmtree(project / "cache", ignore_errors=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes)]
    command += ["--master-port", str(free_port()), str(script), "--worker", "--project", str(project)]
    command += ["--out", str(out), "--epochs", str(args.epochs), "--input-size", str(args.input_size)]
    command += ["--batch-size", str(args.batch_size)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(script.resolve().parents[1]))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"the run with {processes} process(es) failed:\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-class", type=int, default=24, help="generated images per class (3 classes)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8, help="per process")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)

    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.project.store import ProjectStore

    script = Path(__file__).resolve()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as temp:
        root = Path(temp)
        images = write_shapes_folder(root / "images", args.per_class, unlabelled=6, seed=1, size=128)
        with ProjectStore.create(root / "project") as store:
            import_folder(store, images, val_fraction=0.25, test_fraction=0.0, seed=0)
        for label, processes, threads in SETTINGS:
            result = _launch(script, root / "project", root / "result.json", processes, threads, args)
            rows.append({"setting": label, "processes": processes, "threads_per_process": threads, **result})
            print(f"measured: {label}", file=sys.stderr, flush=True)
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; no GPU measured\n"
    )
    print("| setting | feature pass (views/s) | full fine-tuning (train images/s) | val acc (full) |")
    print("|---|---|---|---|")
    for row in rows:
        frozen, full = row["frozen"], row["full"]
        print(
            f"| {row['setting']} | {frozen['feature_views_per_s']} ({frozen['feature_views']} views) | "
            f"{full['train_images_per_s']} | {full['val_accuracy']:.3f} |"
        )
    print(
        json.dumps(
            {"settings": rows, "args": {k: v for k, v in vars(args).items() if k != "worker"}}, default=str
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
