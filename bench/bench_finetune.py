"""Learning quality of fine-tuning on real images: the product's defaults against a hand-written PyTorch fine-tune.

Usage::

    .venv/bin/python bench/bench_finetune.py [--datasets gcompris clipart emoji elpv] [--seeds 3]
        [--max-per-class 30] [--input-size N] [--epochs N] [--device cpu|cuda] [--rows hand full partial ...]
        [--resize pad|stretch]
        [--cache /tmp/dmtl-finetune] [--out docs/quality.md]

For each dataset (``bench/datasets.py``; at most ``--max-per-class`` images of each class, a fixed subset) one
project is made with the product's importer. For each seed the labelled images are split by the seed (stratified:
60 % train, 20 % validation, 20 % test), and every row is scored on that seed's test split:

``hand``
    What a skilled user writes with PyTorch, after the torchvision classification reference recipe
    (``references/classification/train.py``) adapted to fine-tuning: the same EfficientNet-Lite0 with the same
    ImageNet weights and a new linear classifier; ``RandomResizedCrop`` + ``RandomHorizontalFlip`` for training,
    resize to ``size / 0.875`` + ``CenterCrop`` for evaluation, ImageNet normalisation; SGD (momentum 0.9,
    learning rate 0.01, weight decay 1e-4, none on normalisation layers), cosine schedule, label smoothing 0.1,
    batch 16, the same number of epochs as the product's default; the epoch with the best validation accuracy is
    kept (as the PyTorch transfer-learning tutorial does). Trains on the train split only, like the product.
``frozen`` / ``partial`` / ``full``
    The product: ``core.training.run.train`` with the window's recommended settings for that strategy
    (``TrainConfig.recommended(transfer=...)``), scored by ``core.evaluation.inference.evaluate_run``.
``full-plain``
    ``full`` without the fine-tuning recipe's options (layer-wise learning-rate decay 1, no weight average, no
    flip test-time augmentation): the full default before the recipe became it (layer decay 0.75, weight
    average 0.999, flip test-time augmentation on).
``auto``
    The product's Auto strategy (``--transfer auto``, 30-minute budget): the kept run of the linear probe and the
    full fine-tune, its wall time both phases'. With this split's test images the probe fits the validation images,
    so no fair comparison is left and the fine-tune is kept whenever the budget allows it (docs/transfer.md).
``few-sup`` / ``few-dmtl``
    5 labels per class drawn from train + validation, the rest of them unlabelled during the run: the product's
    ``--few-transfer`` strategy (default ``partial``) supervised, and with ``--unlabelled``.

Cells: accuracy / balanced accuracy (mean recall over classes), mean ± sd over seeds, and the run's wall time.
``--input-size`` and ``--epochs`` change both the product's and the hand-written run (default: the product's
own). Fine-tuning is slow on a small CPU (a step of 16 images at 224 px takes seconds there): the defaults are
sized for a GPU; on a CPU use fewer images, seeds or a smaller ``--input-size`` and say so with the figures.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from bench.bench_quality import (  # noqa: E402
    dataset_project,
    labels_hidden,
    mean_sd,
    scores,
    seed_split,
    write_between_markers,
)
from bench.datasets import SOURCES, class_counts, load_dataset  # noqa: E402
from dmtl_studio.core.augment.resize import DEFAULT_RESIZE, RESIZE_MODES  # noqa: E402
from dmtl_studio.core.models.pretrained import load_bundled_imagenet_model  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402

BACKBONE = "efficientnet_lite0"
FEW_LABELS = 5
ROWS = {
    "hand": "hand-written PyTorch fine-tune (torchvision reference recipe, full)",
    "frozen": "product frozen default",
    "partial": "product partial fine-tune default",
    "full": "product full fine-tune default",
    "full-plain": "product full fine-tune without layer decay, weight average and flip TTA (the former default)",
    "auto": "product Auto default (linear probe, then the partial fine-tune within --time-budget, the better kept)",
    "few-sup": f"{FEW_LABELS} labels/class: product fine-tune default, supervised",
    "few-dmtl": f"{FEW_LABELS} labels/class + unlabelled images: product fine-tune default, --unlabelled",
}

log = logging.getLogger("bench_finetune")


class Project:
    """A benchmark project: its folder and its labelled images' ids, paths and class indices."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with ProjectStore.open(folder) as store:
            records = [r for r in store.images(usable_only=True) if r.label is not None]
            root = store.root if hasattr(store, "root") else folder
        self.classes = tuple(sorted({r.label for r in records}))
        self.ids = np.asarray([r.id for r in records])
        self.paths = [Path(r.path) if Path(r.path).is_absolute() else Path(root) / r.path for r in records]
        self.targets = np.asarray([self.classes.index(r.label) for r in records], dtype=np.int64)


# ---------------------------------------------------------------------------------------- hand-written
class Files(torch.utils.data.Dataset):
    def __init__(self, paths: list[Path], targets: np.ndarray, transform: v2.Transform) -> None:
        self.paths, self.targets, self.transform = paths, targets, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.paths[i]) as image:
            return self.transform(image.convert("RGB")), int(self.targets[i])


def hand_written(
    project: Project, split: dict[str, np.ndarray], seed: int, size: int, epochs: int, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written fine-tune of the module docstring; ``(truth, predicted)`` on the test split."""
    torch.manual_seed(seed)
    model = load_bundled_imagenet_model(BACKBONE)
    model.reset_classifier(len(project.classes))
    mean, std = model.pretrained_cfg["mean"], model.pretrained_cfg["std"]
    model.to(device)
    normalise = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    train_tf = v2.Compose([v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip(), *normalise])
    eval_tf = v2.Compose([v2.Resize(int(size / 0.875), antialias=True), v2.CenterCrop(size), *normalise])

    def loader(rows: np.ndarray, transform: v2.Transform, shuffle: bool) -> torch.utils.data.DataLoader:
        data = Files([project.paths[r] for r in rows], project.targets[rows], transform)
        generator = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(data, batch_size=16, shuffle=shuffle, generator=generator)

    train = loader(split["train"], train_tf, True)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=0.01,
        momentum=0.9,
    )
    steps = epochs * len(train)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

    def predict(rows: np.ndarray) -> np.ndarray:
        model.eval()
        out = []
        with torch.inference_mode():
            for x, _ in loader(rows, eval_tf, False):
                out.append(model(x.to(device)).argmax(1).cpu())
        return torch.cat(out).numpy()

    best, best_state = -1.0, None
    for _ in range(epochs):
        model.train()
        for x, y in train:
            loss = criterion(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        accuracy = float((predict(split["val"]) == project.targets[split["val"]]).mean())
        if accuracy >= best:
            best, best_state = accuracy, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return project.targets[split["test"]], predict(split["test"])


# ----------------------------------------------------------------------------------------------- product
def product(
    project: Project,
    split: dict[str, np.ndarray],
    seed: int,
    device: str,
    unlabel: np.ndarray | None = None,
    **changes: object,
) -> tuple[np.ndarray, np.ndarray]:
    """The product's recommended run with ``changes`` on this split, the images of rows ``unlabel`` without their
    label during the run; ``(truth, predicted)`` on the test split."""
    from dmtl_studio.core.evaluation.inference import evaluate_run
    from dmtl_studio.core.training.run import train

    with labels_hidden(project.folder, project.ids, project.classes, project.targets, split, unlabel):
        summary = train(project.folder, TrainConfig.recommended(device=device, seed=seed, **changes))
    result = evaluate_run(project.folder, summary.run_dir)
    if result.split != "test":
        raise RuntimeError(f"the product scored the {result.split} split, not the test split")
    return result.targets, result.predicted


# ------------------------------------------------------------------------------------------------- run
def run_dataset(name: str, args: argparse.Namespace, results: dict, notes: list[str]) -> None:
    folder = load_dataset(name, args.cache / "datasets", args.max_per_class, seed=0)
    counts = class_counts(folder)
    project = Project(dataset_project(folder, args.cache / "projects" / f"{name}-{args.max_per_class}"))
    notes.append(
        f"| {name} | {SOURCES[name].kind} | {len(counts)} | {sum(counts.values())} "
        f"({min(counts.values())}–{max(counts.values())}/class) |"
    )
    recommended = TrainConfig.recommended(transfer="full")
    epochs = args.epochs or recommended.epochs
    size = args.input_size or 224
    sized: dict[str, object] = {"input_size": args.input_size} if args.input_size else {}
    sized["resize_mode"] = args.resize
    timed = {"epochs": args.epochs} if args.epochs else {}
    for seed in range(args.seeds):
        split = seed_split(project.targets, seed)
        pool = np.concatenate([split["train"], split["val"]])
        rng = np.random.default_rng(1000 + seed)
        few = np.concatenate(
            [
                rng.choice(pool[project.targets[pool] == c], FEW_LABELS, replace=False)
                for c in np.unique(project.targets)
            ]
        )
        rest = np.setdiff1d(pool, few)
        few_split = {"train": few, "val": np.zeros(0, dtype=np.int64), "test": split["test"]}
        runs = {
            "hand": partial(hand_written, project, split, seed, size, epochs, torch.device(args.device)),
            "frozen": partial(product, project, split, seed, args.device, transfer="frozen", **sized),
            "partial": partial(
                product, project, split, seed, args.device, transfer="partial", **sized, **timed
            ),
            "full": partial(product, project, split, seed, args.device, transfer="full", **sized, **timed),
            "auto": partial(product, project, split, seed, args.device, transfer="auto", **sized, **timed),
            "full-plain": partial(
                product,
                project,
                split,
                seed,
                args.device,
                transfer="full",
                layer_decay=1.0,
                ema_decay=0.0,
                tta_flip=False,
                **sized,
                **timed,
            ),
            "few-sup": partial(
                product,
                project,
                few_split,
                seed,
                args.device,
                rest,
                transfer=args.few_transfer,
                **sized,
                **timed,
            ),
            "few-dmtl": partial(
                product,
                project,
                few_split,
                seed,
                args.device,
                rest,
                transfer=args.few_transfer,
                use_unlabelled=True,
                **sized,
                **timed,
            ),
        }
        for key in args.rows:
            started = time.perf_counter()
            truth, predicted = runs[key]()
            seconds = time.perf_counter() - started
            results[name][key].append((*scores(truth, predicted), seconds))
            log.info("%s seed %d %s: %.3f / %.3f in %.0f s", name, seed, key, *results[name][key][-1])


def write_report(args: argparse.Namespace, results: dict, notes: list[str], total: float) -> str:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, device {args.device}"
    )
    lines = [
        "## Measured: fine-tuning",
        "",
        f"- Command: `PYTHONPATH=$PWD .venv/bin/python bench/bench_finetune.py {' '.join(sys.argv[1:])}`",
        f"- Machine: {machine}; date {datetime.date.today().isoformat()}; whole run {total / 60:.1f} min.",
        f"- {args.seeds} seed(s), 60 / 20 / 20 stratified split per seed, scored on the test split; input size "
        f"{args.input_size or 'the product default (224 px)'}; epochs {args.epochs or 'the product default'}; "
        f"the product's rows fit the images by `--resize {args.resize}`. "
        "Cells: accuracy / balanced accuracy, mean ± sd over seeds; s: wall seconds of the run.",
        "",
        "| dataset | kind | classes | images |",
        "| --- | --- | --- | --- |",
        *notes,
        "",
        "| method | " + " | ".join(results) + " | mean balanced |",
        "| --- | " + " | ".join("---" for _ in results) + " | --- |",
    ]
    for key, label in ROWS.items():
        if not all(rows.get(key) for rows in results.values()):
            continue
        cells, balanced = [], []
        for rows in results.values():
            acc, bal, sec = zip(*rows[key], strict=True)
            cells.append(f"{mean_sd(list(acc))} / {mean_sd(list(bal))} ({statistics.mean(sec):.0f} s)")
            balanced.append(statistics.mean(bal))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {statistics.mean(balanced):.3f} |")
    lines.append("")
    return "\n".join(lines)


BEGIN, END = "<!-- bench_finetune: begin -->", "<!-- bench_finetune: end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["gcompris", "clipart", "emoji", "elpv"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-per-class", type=int, default=30)
    parser.add_argument("--input-size", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--few-transfer", default="partial", choices=("partial", "full"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--resize",
        default=DEFAULT_RESIZE,
        choices=RESIZE_MODES,
        help="how the product's rows fit each image into the square (its --resize; default its default)",
    )
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dmtl-finetune")
    parser.add_argument("--out", type=Path, default=None, help="write the table into this Markdown file too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("dmtl_studio").setLevel(logging.WARNING)
    os.environ.setdefault("DMTL_STUDIO_HOME", str(args.cache / "home"))
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    results: dict = defaultdict(lambda: defaultdict(list))
    notes: list[str] = []
    for name in args.datasets:
        run_dataset(name, args, results, notes)
    report = write_report(args, results, notes, time.perf_counter() - started)
    print(report)
    if args.out is not None:
        write_between_markers(args.out, report, BEGIN, END)


if __name__ == "__main__":
    main()
