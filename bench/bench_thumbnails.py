"""Cold thumbnails of camera photos: the browser's decode of a large JPEG at a reduced scale against a full decode.

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/bench_thumbnails.py [--images 24] [--rounds 5] [--size 128]
        [--folder /tmp/dmtl-bench-photos]

The folder is generated once: JPEGs of 4000x3000 (12 megapixels, quality 90) made from scikit-image's sample photos
(enlarged, with sensor-like noise so the files are as large as a camera's), a quarter of them with an EXIF
orientation. Each round times, one thread, every file through ``imaging.thumbnail`` (what a first browse pays per
image) and through the full decode it replaced (``imaging.decoded_thumbnail``: ``load_rgb`` + the same resize), the two alternating file by file
so a busy neighbour hurts both alike; the median over rounds of the per-image mean is reported, with the largest
difference between the two thumbnails in grey levels.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as photos

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmtl_studio.core.project import imaging  # noqa: E402


def make_folder(folder: Path, count: int) -> list[Path]:
    sources = [photos.astronaut(), photos.chelsea(), photos.coffee(), photos.rocket()]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo-{index:03d}.jpg"
        paths.append(path)
        if path.is_file():
            continue
        big = np.asarray(Image.fromarray(sources[index % len(sources)]).resize((4000, 3000), Image.BICUBIC))
        noisy = np.clip(big + rng.normal(0, 6, big.shape), 0, 255).astype(np.uint8)
        image = Image.fromarray(noisy)
        exif = image.getexif()
        if index % 4 == 3:
            exif[0x0112] = 6
        image.save(path, quality=90, exif=exif)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=128, help="the browser's thumbnail size (its cache's)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "dmtl-bench-photos")
    args = parser.parse_args()
    paths = make_folder(args.folder, args.images)
    product, full, worst = [], [], 0
    for _ in range(args.rounds):
        spent = {"product": 0.0, "full": 0.0}
        for path in paths:
            started = time.perf_counter()
            quick = imaging.thumbnail(path, args.size)
            spent["product"] += time.perf_counter() - started
            started = time.perf_counter()
            slow = imaging.decoded_thumbnail(path, args.size)
            spent["full"] += time.perf_counter() - started
            if quick.shape != slow.shape:
                raise SystemExit(f"{path}: thumbnail {quick.shape} against {slow.shape}")
            worst = max(worst, int(np.abs(quick.astype(int) - slow).max()))
        product.append(spent["product"] / len(paths))
        full.append(spent["full"] / len(paths))
    mine, theirs = statistics.median(product), statistics.median(full)
    print(
        f"Machine: {platform.machine()}, Python {platform.python_version()}; {len(paths)} JPEGs of 4000x3000,"
    )
    print(f"thumbnails of {args.size} px, one thread, median of {args.rounds} rounds.\n")
    print("| decode | s per image | images/s |")
    print("| --- | ---: | ---: |")
    print(f"| full decode + resize (before) | {theirs:.3f} | {1 / theirs:.1f} |")
    print(f"| `thumbnail` (reduced-scale JPEG decode) | {mine:.3f} | {1 / mine:.1f} |")
    print(f"\nratio {theirs / mine:.1f}x; largest difference between the two thumbnails: {worst} grey levels")


if __name__ == "__main__":
    main()
