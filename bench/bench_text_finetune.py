"""Fine-tuning the text encoder: the product's partial and full fine-tunes of a text project, as a user runs them.

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/bench_text_finetune.py [--datasets fortunes wordnet] [--seeds 3]
        [--per-class 150] [--labels 8] [--rows frozen partial partial-dmtl full full-dmtl] [--epochs N]
        [--cache /tmp/dmtl-text-finetune] [--train-args '--backbone-lr-factor 0.01']

``bench/bench_text.py`` measures the frozen path (the probe, the contrastive step, self-training) on cached
embeddings. This script measures what it cannot: a fine-tune of all-MiniLM-L6-v2 through the product's own
commands. For each dataset (``bench/text_data.py``) and seed it takes ``bench_text``'s split (stratified 70 / 30
train / test; ``--labels`` texts of each class labelled, the rest of the training texts unlabelled), writes it as
a JSON Lines table (text, label — empty for the unlabelled texts — and split), makes a text project of it with
``dmtl-studio import … --split-column split``, and runs ``dmtl-studio train`` with the window's recommended
settings and, per row:

``frozen``        the frozen default (contrastive step, then the linear probe), for reference;
``partial``       ``--transfer partial`` (the encoder's last layers and a new head);
``partial-dmtl``  the same with ``--unlabelled``: the DMTL consistency term between each unlabelled text and its
                  augmented view (the recipe's word operations as ``T(x)``), weight ``--consistency``;
``full`` / ``full-dmtl``  the same with ``--transfer full``.

Each run is scored with ``dmtl-studio evaluate`` on the test split: accuracy and balanced accuracy (mean recall
over classes), mean ± sd over seeds, and the ``train`` command's wall time on this machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.bench_text import seed_split  # noqa: E402
from bench.text_data import DATASETS, class_indices  # noqa: E402

ROWS = {
    "frozen": ("frozen default: contrastive step + linear probe", ["--transfer", "frozen"]),
    "partial": ("partial fine-tune, labels alone", ["--transfer", "partial"]),
    "partial-dmtl": (
        "partial fine-tune + unlabelled texts (DMTL consistency)",
        ["--transfer", "partial", "--unlabelled"],
    ),
    "full": ("full fine-tune, labels alone", ["--transfer", "full"]),
    "full-dmtl": (
        "full fine-tune + unlabelled texts (DMTL consistency)",
        ["--transfer", "full", "--unlabelled"],
    ),
}
CLI = [sys.executable, "-m", "dmtl_studio"]


def last_json(output: str) -> dict:
    """The JSON summary a ``--json`` command prints as its last line."""
    return json.loads(output.strip().splitlines()[-1])


def command(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def project_for(name: str, seed: int, texts: list[str], labels: list[str], split: dict, args, env) -> Path:
    """A text project of this seed's split, made once with ``dmtl-studio import`` (kept under ``--cache``)."""
    project = args.cache / "projects" / f"{name}-{args.per_class}-{args.labels}-seed{seed}"
    if (project / ".imported").exists():
        return project
    shutil.rmtree(project, ignore_errors=True)
    table = args.cache / "tables" / f"{project.name}.jsonl"
    table.parent.mkdir(parents=True, exist_ok=True)
    labelled = set(split["few"].tolist())
    with table.open("w", encoding="utf-8") as out:
        for rows, part in ((split["train"], "train"), (split["test"], "test")):
            for row in rows:
                label = labels[row] if part == "test" or row in labelled else ""
                out.write(json.dumps({"text": texts[row], "label": label, "split": part}) + "\n")
    command(
        ["import", str(project), str(table), "--text-column", "text", "--label-column", "label",
         "--split-column", "split", "--json"],
        env,
    )  # fmt: skip
    (project / ".imported").write_text("1\n")
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--labels", type=int, default=8, help="labels per class")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--epochs", type=int, default=None, help="default: the product's recommended epochs")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dmtl-text-finetune"))
    parser.add_argument(
        "--train-args",
        default="",
        help="more options for every `dmtl-studio train`, as one string (e.g. '--backbone-lr-factor 0.01')",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    env = {**os.environ, "DMTL_STUDIO_HOME": str(args.cache / "home"), "QT_QPA_PLATFORM": "offscreen"}
    extra = (["--epochs", str(args.epochs)] if args.epochs else []) + shlex.split(args.train_args)
    started = time.perf_counter()
    results: dict = defaultdict(lambda: defaultdict(list))
    for name in args.datasets:
        texts, labels = DATASETS[name](args.per_class)
        _classes, y = class_indices(labels)
        for seed in range(args.seeds):
            split = seed_split(y, seed, args.labels)
            project = project_for(name, seed, texts, labels, split, args, env)
            for key in args.rows:
                began = time.perf_counter()
                trained = last_json(
                    command(
                        ["train", str(project), *ROWS[key][1], *extra, "--seed", str(seed), "--json"], env
                    )
                )
                seconds = time.perf_counter() - began
                scored = last_json(command(["evaluate", trained["run_dir"], "--json"], env))
                if scored.get("split") not in (None, "test"):
                    raise RuntimeError(f"evaluate scored the {scored['split']} split, not the test split")
                row = (scored["accuracy"], scored["balanced_accuracy"], seconds)
                results[name][key].append(row)
                logging.info("%s seed %d %-12s acc %.3f bal %.3f %.0f s", name, seed, key, *row)
    total = time.perf_counter() - started
    print(
        f"\nCommand: `bench/bench_text_finetune.py --datasets {' '.join(args.datasets)} --seeds {args.seeds} "
        f"--per-class {args.per_class} --labels {args.labels} --rows {' '.join(args.rows)}"
        + (f" --epochs {args.epochs}" if args.epochs else "")
        + (f" --train-args {shlex.quote(args.train_args)}" if args.train_args else "")
        + f"`; {platform.machine()}, {os.cpu_count()} CPU cores, no GPU; {total / 60:.1f} min.\n"
    )
    names = list(results)
    print(f"| {args.labels} labels per class, balanced accuracy | " + " | ".join(names) + " | train (s) |")
    print("|---|" + "---|" * (len(names) + 1))
    for key in args.rows:
        cells = []
        for name in names:
            values = [r[1] for r in results[name][key]]
            sd = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.3f}{sd}")
        seconds = statistics.median(r[2] for name in names for r in results[name][key])
        print(f"| {ROWS[key][0]} | " + " | ".join(cells) + f" | {seconds:.0f} |")


if __name__ == "__main__":
    main()
