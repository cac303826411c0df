"""Engine throughput against a plain PyTorch loop: same model, batch, data and augmentation.

Usage::

    .venv/bin/python bench/bench_engine.py [--input-size 128] [--batch-size 16] [--rounds 3] [--device cpu]

Both sides fine-tune EfficientNet-Lite0 fully on the demo project's training images with the recipe 'none'
(so both spend the same on data). The engine's speed is its own images/s over the training steps of an epoch
(validation and checkpointing are outside the step loop and are not counted, as the plain loop has none). The
first epoch of each is a warm-up (decoding and resizing the images once). Rounds alternate between the two so a
change in machine load hits both. Goal: the engine at 97 % or more of the plain loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from dmtl_studio.core.augment.presets import preset  # noqa: E402
from dmtl_studio.core.models.architectures import preprocessing_for  # noqa: E402
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier  # noqa: E402
from dmtl_studio.core.project.demo import create_demo_project  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402
from dmtl_studio.core.training.data import ImageDataset  # noqa: E402
from dmtl_studio.core.training.events import EpochResult, StepProgress  # noqa: E402
from dmtl_studio.core.training.labelled import labelled_split  # noqa: E402
from dmtl_studio.core.training.run import train  # noqa: E402


def engine_speed(project: Path, config: TrainConfig) -> float:
    """Images/s of the engine's second epoch (the last step's running average over the epoch)."""
    last: dict[int, float] = {}

    def on_event(event: object) -> None:
        if isinstance(event, StepProgress):
            last[event.epoch] = event.images_per_second
        elif isinstance(event, EpochResult):
            pass

    train(project, config, on_event=on_event)
    return last[2]


def plain_speed(project: Path, config: TrainConfig) -> float:
    """The same work written as the shortest correct PyTorch loop."""
    torch.manual_seed(config.seed)
    with ProjectStore.open(project) as store:
        split = labelled_split(store)
    model = build_classifier(ModelSpec(config.backbone, len(split.classes)), pretrained=True)
    pre = preprocessing_for(model.backbone, config.input_size)
    recipe = preset("none")
    data = ImageDataset(
        [p for p, _ in split.train], [t for _, t in split.train], pre, augment=True, recipe=recipe
    )
    loader = DataLoader(data, batch_size=config.batch_size, shuffle=True, drop_last=True)
    head_params = set(map(id, model.head.parameters()))
    backbone = [p for p in model.parameters() if id(p) not in head_params]
    optimizer = torch.optim.AdamW(
        [
            {"params": backbone, "lr": config.learning_rate * config.backbone_lr_factor},
            {"params": list(model.head.parameters()), "lr": config.learning_rate},
        ],
        weight_decay=config.weight_decay,
    )
    criterion = nn.CrossEntropyLoss()
    speed = 0.0
    for epoch in range(1, 3):
        data.set_epoch(epoch)
        model.train()
        seen, started = 0, time.perf_counter()
        for images, targets, _ in loader:
            loss = criterion(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(targets)
        speed = seen / (time.perf_counter() - started)
    return speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    os.environ.setdefault("DMTL_STUDIO_HOME", tempfile.mkdtemp(prefix="dmtl-engine-home-"))
    project = Path(tempfile.mkdtemp(prefix="dmtl-engine-")) / "demo"
    create_demo_project(project)
    config = TrainConfig(
        transfer="full",
        epochs=2,
        batch_size=args.batch_size,
        learning_rate=3e-4,
        input_size=args.input_size,
        device=args.device,
        recipe=preset("none").to_dict(),
    )
    engine, plain = [], []
    for _ in range(args.rounds):
        plain.append(plain_speed(project, config))
        engine.append(engine_speed(project, config))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.device}"
    print(
        f"### Engine throughput ({machine}; full fine-tuning, {args.input_size} px, batch {args.batch_size})\n"
    )
    print("| | images/s per round | median |\n| --- | --- | --- |")
    print(f"| plain PyTorch loop | {', '.join(f'{v:.1f}' for v in plain)} | {statistics.median(plain):.1f} |")
    print(
        f"| DMTL Studio engine | {', '.join(f'{v:.1f}' for v in engine)} | {statistics.median(engine):.1f} |"
    )
    print(f"\nengine / plain: {statistics.median(engine) / statistics.median(plain):.1%}")


if __name__ == "__main__":
    main()
