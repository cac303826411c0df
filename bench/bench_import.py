"""Import benchmark: ``dmtl-studio import`` against the floor, a plain Pillow verify + sha256 loop.

Usage::

    .venv/bin/python bench/bench_import.py [--images 2000] [--runs 7] [--folder /tmp/dmtl-bench-import]

The folder (two classes of 256x256 JPEGs) is generated once and reused. Each run is its own process, so its
wall time includes the interpreter's start and its peak memory is its own; the two commands alternate (so a
warm disk cache or a busy neighbour hurts both alike) and the median of the runs is reported, as a Markdown
table with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

#: The floor: what any importer must do at least (open, check and hash every file), in a fresh process.
FLOOR = """
import hashlib, os, resource, sys
from PIL import Image
count = 0
for folder, _dirs, names in os.walk(sys.argv[1]):
    for name in sorted(n for n in names if not n.startswith(".")):
        path = os.path.join(folder, name)
        with Image.open(path) as image:
            image.verify()
        with open(path, "rb") as handle:
            hashlib.sha256(handle.read()).hexdigest()
        count += 1
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

#: The product's own command, in a fresh process, reporting its peak memory when done.
OURS = """
import resource, sys
from dmtl_studio.__main__ import main
status = main(["import", sys.argv[2], sys.argv[1]])
print(status, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(status)
"""


def generate(folder: Path, count: int) -> None:
    marker = folder / ".complete"
    if marker.exists() and marker.read_text() == str(count):
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        kind = ("cells", "debris")[index % 2]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        pixels = np.asarray(Image.fromarray(base).resize((256, 256), Image.BICUBIC))
        Image.fromarray(pixels).save(folder / kind / f"{kind}_{index:05d}.jpg", quality=90)
    marker.write_text(str(count))


def run(script: str, *args: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed:\n{done.stderr}")
    peak_kb = float(done.stderr.strip().splitlines()[-1].split()[1])
    return seconds, peak_kb / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "dmtl-bench-import")
    args = parser.parse_args()
    generate(args.folder, args.images)
    ours: list[tuple[float, float]] = []
    floor: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.runs):
            floor.append(run(FLOOR, str(args.folder)))
            ours.append(run(OURS, str(args.folder), str(Path(scratch) / f"project-{index}")))
    rows = []
    for name, figures in (("dmtl-studio import", ours), ("Pillow verify + sha256 (floor)", floor)):
        seconds = statistics.median(f[0] for f in figures)
        peak = statistics.median(f[1] for f in figures)
        rows.append((name, seconds, peak))
    ratio_time = rows[0][1] / rows[1][1]
    ratio_memory = rows[0][2] / rows[1][2]
    print(f"{args.images} JPEGs of 256x256, median of {args.runs} alternating runs, each a fresh process")
    print(
        f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}\n"
    )
    print("| command | wall s | peak MB |")
    print("| --- | ---: | ---: |")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.2f} | {peak:.0f} |")
    print(f"\nours / floor: {ratio_time:.2f}x the wall time, {ratio_memory:.2f}x the peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
