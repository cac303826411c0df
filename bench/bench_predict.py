"""CPU cost of ``dmtl-studio predict RUN_DIR`` against a plain onnxruntime script over the run's exported model.

Usage::

    .venv/bin/python bench/bench_predict.py --run RUN_DIR --images FOLDER [--rounds 3]
    .venv/bin/python bench/bench_predict.py --plain MODEL.onnx --images FOLDER   # the plain script alone

``--before CHECKOUT`` adds a side: the same command run from another checkout of the product (e.g. an extracted
older commit: ``git archive COMMIT | tar -x -C DIR``), for the "before vs now" figure.

Each side is a fresh process (``sys.executable``), timed by the CPU seconds it and its children used
(``resource.getrusage(RUSAGE_CHILDREN)``, user + system) and by wall time; rounds interleave the sides:

- product: ``python -m dmtl_studio predict RUN_DIR FOLDER --out CSV`` (the command a user runs; its cached ONNX
  model exists after the warm-up call, which is reported on its own as the first call's cost);
- plain: this file's :func:`plain_predict`, what a user would write over ``dmtl-studio export --format onnx``:
  Pillow decode, ``cv2.resize`` to the sidecar's size, normalise, batches of 32, a default
  ``onnxruntime.InferenceSession``, softmax, one CSV line per image.

The labels of both sides must agree (the script says so and exits non-zero otherwise).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plain_predict(model: Path, images: Path, out: Path) -> None:
    """The plain script: decode, resize, normalise, run, softmax, write (no DMTL Studio import)."""
    import cv2
    import numpy as np
    import onnxruntime
    from PIL import Image

    sidecar = json.loads(model.with_name(model.name + ".json").read_text())
    prep = sidecar["preprocessing"]
    size = int(prep["input_size"])
    mean = np.asarray(prep["mean"], np.float32)
    std = np.asarray(prep["std"], np.float32)
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    paths = sorted(p for p in images.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    rows = []
    for start in range(0, len(paths), 32):
        chunk = paths[start : start + 32]
        batch = []
        for path in chunk:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            shrink = rgb.shape[0] > size and rgb.shape[1] > size
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            batch.append(((rgb.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1))
        logits = session.run(None, {session.get_inputs()[0].name: np.stack(batch)})[0]
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        rows += [(str(p), sidecar["classes"][int(k)]) for p, k in zip(chunk, probs.argmax(1), strict=True)]
    with out.open("w", newline="") as handle:
        csv.writer(handle).writerows([("path", "predicted_label"), *rows])


def timed(command: list[str], root: Path = ROOT) -> tuple[float, float]:
    """(CPU seconds of the child process tree, wall seconds) of one command run from checkout ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root, env=env
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def labels(csv_path: Path) -> dict[str, str]:
    with csv_path.open(newline="") as handle:
        return {row["path"]: row["predicted_label"] for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--plain", type=Path, help="run the plain script on this model and exit")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout of the product, timed as a side too")
    args = parser.parse_args()
    if args.plain:
        plain_predict(args.plain, args.images, args.out)
        return
    work = Path(tempfile.mkdtemp(prefix="dmtl-bench-predict-"))
    env_home = os.environ.setdefault("DMTL_STUDIO_HOME", str(work / "home"))
    python = sys.executable
    model = work / "model.onnx"
    subprocess.run(
        [python, "-m", "dmtl_studio", "export", str(args.run), "--format", "onnx", "--out", str(model)],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    product = [python, "-m", "dmtl_studio", "predict", str(args.run), str(args.images), "--out"]
    plain = [
        python,
        str(Path(__file__).resolve()),
        "--plain",
        str(model),
        "--images",
        str(args.images),
        "--out",
    ]
    first_cpu, first_wall = timed([*product, str(work / "first.csv")])  # exports the run into the cache
    timed([*plain, str(work / "plain.csv")])  # warm-up: file cache
    sides = {"dmtl-studio predict RUN_DIR": (product, ROOT), "plain onnxruntime script": (plain, ROOT)}
    if args.before:
        sides[f"dmtl-studio predict RUN_DIR, before ({args.before})"] = (product, args.before.resolve())
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    wall: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(args.rounds):
        for index, (name, (command, root)) in enumerate(sides.items()):
            seconds, elapsed = timed([*command, str(work / f"side{index}-{round_}.csv")], root)
            cpu[name].append(seconds)
            wall[name].append(elapsed)
    count = len(labels(work / "plain.csv"))
    print(
        f"### predict on CPU ({platform.machine()}, {os.cpu_count()} cores; {count} images; {args.rounds} "
        f"interleaved rounds; DMTL_STUDIO_HOME={env_home})\n"
    )
    print("| side | CPU s per round | median CPU s | median wall s | × plain (CPU) |")
    print("| --- | --- | --- | --- | --- |")
    base = statistics.median(cpu["plain onnxruntime script"])
    for name in sides:
        median = statistics.median(cpu[name])
        print(
            f"| {name} | {', '.join(f'{v:.2f}' for v in cpu[name])} | {median:.2f} | "
            f"{statistics.median(wall[name]):.2f} | {median / base:.2f} |"
        )
    print(
        f"\nfirst `dmtl-studio predict` of the run (exports it into the cache): {first_cpu:.2f} CPU s, {first_wall:.2f} s"
    )
    reference = labels(work / "plain.csv")
    outputs = {"first call": work / "first.csv"}
    outputs.update({name: work / f"side{index}-0.csv" for index, name in enumerate(sides)})
    failed = False
    for name, path in outputs.items():
        got = labels(path)
        differing = [p for p, label in reference.items() if got.get(p) != label]
        print(f"labels of {name} differing from the plain script's: {len(differing)} of {count}")
        failed = failed or bool(differing)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
