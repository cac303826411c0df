"""Does mixup on sentence embeddings help a text run? The product's frozen path with the head trained by epochs.

Usage::

    .venv/bin/python bench/bench_text_mixup.py [--datasets fortunes wordnet] [--seeds 3] [--labels 8]
        [--per-class 150] [--epochs 10] [--lr 3e-3] [--cache /tmp/dmtl-text-mixup]

For each dataset (``bench/text_data.py``) and seed, the texts are split as in ``bench/bench_text.py`` (stratified
70 % train / 30 % test, ``--labels`` training texts per class kept labelled). Each recipe then trains one text run
of the real engine on those labels (:func:`~dmtl_studio.core.training.text_setup.build_text_parts` and
:class:`~dmtl_studio.core.training.engine.Trainer`): all-MiniLM-L6-v2 frozen, its embeddings cached (``--cache``,
shared by every run), a linear head trained by epochs (``linear_probe=False``; the other settings are
``TrainConfig.recommended()``: batch 16, AdamW, warm-up + cosine, dropout 0.2, consistency weight 1 on the
labelled texts; ``--epochs`` and ``--lr`` default to the recommended 10 and 3e-3). The last epoch's head is scored on the test split (the test texts are the run's
validation texts, but nothing is picked on them: no best-epoch choice, no early stopping).

Recipes: ``none``; ``mixup`` (``embedding_mixup`` alone, p = 0.5, alpha = 0.2, the operation's defaults);
``eda_light`` (the default text recipe); ``eda_mixup`` (the preset: ``eda_light`` + mixup p = 0.3, alpha = 0.2).
Prints a Markdown table: accuracy and balanced accuracy, mean ± sd over seeds, and the paired difference of each
mixup recipe from the same recipe without mixup.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.bench_text import mean_sd, seed_split  # noqa: E402
from bench.text_data import DATASETS, class_indices  # noqa: E402
from dmtl_studio.core.augment.presets import preset  # noqa: E402
from dmtl_studio.core.augment.recipe import Recipe, Step  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402
from dmtl_studio.core.training.engine import Trainer, evaluate  # noqa: E402
from dmtl_studio.core.training.text_setup import TextCorpus, build_text_parts  # noqa: E402

RECIPES: dict[str, Recipe] = {
    "none": preset("none", "text"),
    "mixup": Recipe((Step.of("embedding_mixup", 0.5, alpha=0.2),), "mixup", "text"),
    "eda_light": preset("eda_light", "text"),
    "eda_mixup": preset("eda_mixup", "text"),
}
#: Each mixup recipe and the recipe it adds mixup to.
PAIRS = {"mixup": "none", "eda_mixup": "eda_light"}


def run_once(
    texts: list[str],
    y: np.ndarray,
    classes: list[str],
    split: dict,
    recipe: Recipe,
    seed: int,
    args: argparse.Namespace,
) -> tuple[float, float, float]:
    """``(accuracy, balanced accuracy, seconds)`` of one run on ``split["few"]``, scored on ``split["test"]``."""
    corpus = TextCorpus.from_lists(
        classes,
        [(texts[i], int(y[i])) for i in split["few"]],
        [(texts[i], int(y[i])) for i in split["test"]],
    )
    config = TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2",
        transfer="frozen",
        linear_probe=False,
        device="cpu",
        seed=seed,
        epochs=args.epochs,
        learning_rate=args.lr,
        contrastive_steps=args.contrastive_steps,
        head=args.head,
    )
    started = time.perf_counter()
    parts = build_text_parts(
        corpus, config, augment=recipe.compile(), augmentation=recipe.to_dict(), feature_dir=args.cache
    )
    assert Trainer(parts).fit() == "completed"
    _, accuracy, confusion = evaluate(parts.scored, parts.val_loader, parts.device, len(classes))
    balanced = float(np.mean(np.diag(confusion) / np.maximum(confusion.sum(1), 1)))
    return float(accuracy), balanced, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["fortunes"], choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--labels", type=int, default=8, help="labelled training texts per class")
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    recommended = TrainConfig.recommended()
    parser.add_argument("--epochs", type=int, default=recommended.epochs)
    parser.add_argument(
        "--lr", type=float, default=recommended.learning_rate, help="the head's learning rate"
    )
    parser.add_argument(
        "--contrastive-steps",
        type=int,
        default=recommended.contrastive_steps,
        help="the contrastive step before the embeddings are cached (0: the pretrained encoder's)",
    )
    parser.add_argument("--head", choices=("linear", "mlp"), default=recommended.head)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dmtl-text-mixup"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    results: dict = defaultdict(lambda: defaultdict(list))
    for name in args.datasets:
        texts, names = DATASETS[name](args.per_class)
        classes, y = class_indices(names)
        for seed in range(args.seeds):
            split = seed_split(y, seed, args.labels)
            for key in args.recipes:
                accuracy, balanced, seconds = run_once(texts, y, classes, split, RECIPES[key], seed, args)
                results[name][key].append((accuracy, balanced, seconds))
                logging.info(
                    "%s seed %d %-9s acc %.3f bal %.3f %.1f s", name, seed, key, accuracy, balanced, seconds
                )
    total = time.perf_counter() - started
    print(
        f"Command: `python bench/bench_text_mixup.py --datasets {' '.join(args.datasets)} --seeds {args.seeds} "
        f"--labels {args.labels} --per-class {args.per_class} --epochs {args.epochs} --lr {args.lr:g} --contrastive-steps {args.contrastive_steps} --head {args.head}`; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads), no GPU; "
        f"{total / 60:.1f} min in all."
    )
    for name, rows in results.items():
        print(f"\n**{name}** ({args.labels} labels/class)\n")
        print("| recipe | seeds | accuracy | balanced accuracy | Δ accuracy vs. without mixup | run (s) |")
        print("|---|---|---|---|---|---|")
        for key, runs in rows.items():
            base = rows.get(PAIRS.get(key, ""))
            delta = (
                mean_sd([a[0] - b[0] for a, b in zip(runs, base, strict=True)]) if base is not None else "—"
            )
            print(
                f"| {key} | {len(runs)} | {mean_sd([r[0] for r in runs])} | {mean_sd([r[1] for r in runs])} "
                f"| {delta} | {statistics.mean(r[2] for r in runs):.1f} |"
            )


if __name__ == "__main__":
    main()
