"""Camera photos decoded at a reduced scale against a full decode: the browser's cold thumbnails, and the model
inputs of training, the feature pass and predict.

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/bench_thumbnails.py [--images 24] [--rounds 5] [--size 128]
        [--input-size 224] [--features] [--folder /tmp/dmtl-bench-photos]

The folder is generated once: JPEGs of 4000x3000 (12 megapixels, quality 90) made from scikit-image's sample photos
(enlarged, with sensor-like noise so the files are as large as a camera's), a quarter of them with an EXIF
orientation. Each round times, one thread, every file through ``imaging.thumbnail`` (what a first browse pays per
image) and through the full decode it replaced (``imaging.decoded_thumbnail``: ``load_rgb`` + the same resize), the two alternating file by file
so a busy neighbour hurts both alike; the median over rounds of the per-image mean is reported, with the largest
difference between the two thumbnails in grey levels. The same for the model input (``preprocess.decode_for_input`` +
``fit_to_input``, padded to ``--input-size``, against ``load_rgb`` + ``fit_to_input``), with the mean difference; with
``--features``, EfficientNet-Lite0's features of both inputs compared (cosine similarity, the backbone the product
starts with).
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

from dmtl_studio.core.models.preprocess import (  # noqa: E402
    Preprocessing,
    decode_for_input,
    fit_to_input,
    normalise,
)
from dmtl_studio.core.project import imaging  # noqa: E402

#: EfficientNet-Lite0's normalisation (the product's default backbone), padded as new runs are.
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


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
    parser.add_argument("--input-size", type=int, default=224, help="the model input's side (pixels)")
    parser.add_argument("--features", action="store_true", help="compare EfficientNet-Lite0 features too")
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
    model_inputs(paths, args)


def model_inputs(paths: list[Path], args: argparse.Namespace) -> None:
    """The model input of each photo, the product's reduced decode against the full one, timed side by side."""
    pre = Preprocessing(args.input_size, *IMAGENET, "bicubic", 1.0, "pad")
    product, full, worst, mean = [], [], 0, []
    inputs: dict[str, list[np.ndarray]] = {"product": [], "full": []}
    for round_index in range(args.rounds):
        spent = {"product": 0.0, "full": 0.0}
        for path in paths:
            started = time.perf_counter()
            quick = fit_to_input(decode_for_input(path, pre), pre)
            spent["product"] += time.perf_counter() - started
            started = time.perf_counter()
            slow = fit_to_input(imaging.load_rgb(path), pre)
            spent["full"] += time.perf_counter() - started
            difference = np.abs(quick.astype(int) - slow)
            worst = max(worst, int(difference.max()))
            mean.append(float(difference.mean()))
            if round_index == 0:
                inputs["product"].append(quick)
                inputs["full"].append(slow)
        product.append(spent["product"] / len(paths))
        full.append(spent["full"] / len(paths))
    mine, theirs = statistics.median(product), statistics.median(full)
    print(f"\nModel inputs of {args.input_size} px (padded), one thread, median of {args.rounds} rounds.\n")
    print("| decode + fit to the input | s per image | images/s |")
    print("| --- | ---: | ---: |")
    print(f"| full decode (before) | {theirs:.3f} | {1 / theirs:.1f} |")
    print(f"| `decode_for_input` (reduced-scale JPEG decode) | {mine:.3f} | {1 / mine:.1f} |")
    print(
        f"\nratio {theirs / mine:.1f}x; difference between the two inputs: {np.mean(mean):.2f} grey levels on "
        f"average, {worst} at most"
    )
    if args.features:
        compare_features(inputs, pre)


def compare_features(inputs: dict[str, list[np.ndarray]], pre: Preprocessing) -> None:
    import torch

    from dmtl_studio.core.models.classifier import create_backbone

    backbone = create_backbone("efficientnet_lite0", pretrained=True).eval()
    with torch.inference_mode():
        features = {
            name: backbone(torch.from_numpy(np.stack([normalise(image, pre) for image in images])))
            for name, images in inputs.items()
        }
    cosine = torch.nn.functional.cosine_similarity(features["product"], features["full"], dim=1)
    relative = (features["product"] - features["full"]).norm(dim=1) / features["full"].norm(dim=1)
    print(
        f"EfficientNet-Lite0 features of the two inputs: cosine similarity {cosine.min():.5f} at least "
        f"(mean {cosine.mean():.5f}); relative difference {relative.max():.4f} at most"
    )


if __name__ == "__main__":
    main()
