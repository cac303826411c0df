"""Frozen-backbone feature pass on CPU: the product's pass (before and now) against plain torch, channels_last
and onnxruntime.

Usage::

    .venv/bin/python bench/bench_feature_pass.py [--images 64] [--rounds 4] [--batch-size 32] [--threads 2]

Every side computes the pooled features of the same ``--images`` images (the demo project's, decoded and
resized to 224 px once beforehand, so no side pays for decoding) with the same EfficientNet-Lite0 weights:

- product: ``core.models.features.extract_features`` over a ``core.training.data.ImageDataset`` (what a frozen
  run's feature pass calls), batch ``--batch-size``, with the engine it chooses on the CPU (onnxruntime; its
  one-time export into the cache folder is timed on its own, before the rounds);
- product before the engines: the same loader with ``backbone(images)`` under ``torch.no_grad`` (the pass as it
  was, for the side-by-side "old vs new" figure);
- product, PyTorch engine: ``extract_features(..., engine="torch")`` (the fallback: channels_last +
  inference_mode);
- plain: ``backbone(batch)`` under ``torch.inference_mode`` on a ready tensor;
- channels_last: the same with model and input in ``torch.channels_last``;
- onnxruntime: the backbone exported with ``torch.onnx.export`` (TorchScript exporter, as the product's export)
  and run by an ``InferenceSession`` on the CPU provider with ``--threads`` intra-op threads.

Rounds interleave the sides so a change in machine load hits all of them. Features must agree with the plain
loop's within ``--rtol`` (max absolute difference over the largest feature magnitude; the absolute difference
is printed too), else the script says so and exits non-zero.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dmtl_studio.core.models.architectures import preprocessing_for  # noqa: E402
from dmtl_studio.core.models.classifier import create_backbone  # noqa: E402
from dmtl_studio.core.models.feature_engine import engine_for  # noqa: E402
from dmtl_studio.core.models.features import extract_features  # noqa: E402
from dmtl_studio.core.project.demo import create_demo_project  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.training.data import ImageDataset  # noqa: E402

BACKBONE = "efficientnet_lite0"


def demo_paths(count: int) -> list[str]:
    project = Path(tempfile.mkdtemp(prefix="dmtl-feature-pass-")) / "demo"
    create_demo_project(project)
    with ProjectStore.open(project) as store:
        paths = [r.path for r in store.images(usable_only=True)]
    return (paths * (count // max(len(paths), 1) + 1))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rtol", type=float, default=1e-5)
    args = parser.parse_args()
    os.environ.setdefault("DMTL_STUDIO_HOME", tempfile.mkdtemp(prefix="dmtl-feature-pass-home-"))
    torch.set_num_threads(args.threads)

    backbone = create_backbone(BACKBONE, pretrained=True).eval()
    preprocessing = preprocessing_for(backbone, 224)
    paths = demo_paths(args.images)
    dataset = ImageDataset(paths, [0] * len(paths), preprocessing)
    batch = torch.stack([dataset[i][0] for i in range(len(dataset))])  # decodes and caches each image once
    batches = list(batch.split(args.batch_size))

    cpu = torch.device("cpu")
    product_model = create_backbone(BACKBONE, pretrained=True).eval()
    started = time.perf_counter()
    engine = engine_for(product_model, cpu, tuple(batch.shape[1:]))
    export_seconds = time.perf_counter() - started

    def product() -> torch.Tensor:
        features, _ = extract_features(product_model, dataset, cpu, args.batch_size)
        return features

    def product_before() -> torch.Tensor:  # the pass before the engines: loader + module under no_grad
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False)
        with torch.no_grad():
            return torch.cat([backbone(images).float() for images, _, _ in loader])

    fallback_model = create_backbone(BACKBONE, pretrained=True).eval()

    def product_torch() -> torch.Tensor:
        features, _ = extract_features(fallback_model, dataset, cpu, args.batch_size, engine="torch")
        return features

    def plain() -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat([backbone(b) for b in batches])

    channels_last_model = create_backbone(BACKBONE, pretrained=True).eval()
    channels_last_model.to(memory_format=torch.channels_last)
    channels_last_batches = [b.contiguous(memory_format=torch.channels_last) for b in batches]

    def channels_last() -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat([channels_last_model(b) for b in channels_last_batches])

    import onnxruntime

    buffer = io.BytesIO()
    torch.onnx.export(
        backbone,
        (batches[0],),
        buffer,
        dynamo=False,
        input_names=["images"],
        output_names=["features"],
        dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
        opset_version=17,
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    onnx_batches = [b.numpy() for b in batches]

    def onnx() -> torch.Tensor:
        return torch.from_numpy(np.concatenate([session.run(None, {"images": b})[0] for b in onnx_batches]))

    sides: dict[str, Callable[[], torch.Tensor]] = {
        f"product pass now (extract_features, {engine.name})": product,
        "product pass before (loader + module, no_grad)": product_before,
        "product pass now, PyTorch engine (fallback)": product_torch,
        "plain timm + inference_mode": plain,
        "channels_last + inference_mode": channels_last,
        "onnxruntime session (CPU)": onnx,
    }
    reference = plain()
    for side in sides.values():  # warm-up (one-time allocations, oneDNN primitive creation)
        side()
    speeds: dict[str, list[float]] = {name: [] for name in sides}
    differences: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, side in sides.items():
            started = time.perf_counter()
            features = side()
            speeds[name].append(len(paths) / (time.perf_counter() - started))
            differences[name] = max(
                differences.get(name, 0.0), float((features.float() - reference).abs().max())
            )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, {args.threads} threads"
    )
    base = statistics.median(speeds["plain timm + inference_mode"])
    print(
        f"### Feature pass on CPU ({machine}; {BACKBONE}, {len(paths)} images at 224 px, batch "
        f"{args.batch_size}, {args.rounds} interleaved rounds)\n"
    )
    scale = float(reference.abs().max())
    print(
        "| side | images/s per round | median | × plain | max abs diff vs plain | relative to max feature |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, values in speeds.items():
        median = statistics.median(values)
        print(
            f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {median:.1f} | {median / base:.2f} | "
            f"{differences[name]:.1e} | {differences[name] / scale:.1e} |"
        )
    print(f"\nlargest feature magnitude {scale:.2f}")
    now = statistics.median(speeds[f"product pass now (extract_features, {engine.name})"])
    before = statistics.median(speeds["product pass before (loader + module, no_grad)"])
    print(
        f"product pass now / before: {now:.1f} / {before:.1f} images/s = {now / before:.2f}x; "
        f"the engine's one-time export and check (empty cache): {export_seconds:.1f} s"
    )
    bad = [name for name, diff in differences.items() if diff > args.rtol * scale]
    if bad:
        print(f"features differ by more than {args.rtol:g} of it: {', '.join(bad)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
