"""Benchmark: the augmentation engine against torchvision.transforms.v2, single thread, same images.

    python bench/bench_augment.py [--seconds 0.5] [--loader]
    dmtl-studio bench augment [--seconds 0.5] [--loader]      (the same)

Prints a Markdown table of images per second per operation and for the ``medium`` recipe; with ``--loader``
also the training DataLoader's throughput with 0, 1 and 2 worker processes. The last line reads
``recipe: <ratio>x torchvision v2``.
"""

from __future__ import annotations

import argparse
import sys

from dmtl_studio.core.training.augment_benchmark import (
    format_loader,
    format_report,
    loader_scaling,
    run_benchmark,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=0.5, help="time per operation and engine")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--loader", action="store_true", help="also measure DataLoader scaling with workers")
    args = parser.parse_args(argv)
    if args.loader:
        print(format_loader(loader_scaling()), end="\n\n", flush=True)
    print(format_report(run_benchmark(args.size, args.seconds, recipe_seconds=4 * args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
