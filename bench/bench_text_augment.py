"""Benchmark: text augmentation, sentences per second on one thread, per operation and for the text presets.

    python bench/bench_text_augment.py [--texts 2000] [--repeats 3]

The texts are Debian's fortunes (``/usr/share/games/fortunes/*``, one text per ``%`` entry; ``apt-get install
fortunes``), those of 3 to 80 words, a fixed-seed sample; without fortunes, WordNet's noun glosses. Each operation
runs at probability 1 with its default rate. A row gives the median of ``--repeats`` timed passes over all texts
with WordNet's synonyms already looked up (``warm``: in training, from the second epoch on), and the first pass of
the process, which looks each word up once (``first pass``; only the synonym operations differ). Prints a Markdown
table; the last line reads ``word operations: slowest <n> sentences/s (goal 5,000)``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.augment.registry import operations
from dmtl_studio.core.augment.wordnet import clear_synonym_cache, find_wordnet

FORTUNES = Path("/usr/share/games/fortunes")
GOAL = 5000.0


def load_texts(count: int, seed: int = 0) -> tuple[list[str], str]:
    """``count`` real texts (fortunes, else WordNet glosses) and where they come from."""
    texts: list[str] = []
    if FORTUNES.is_dir():
        for path in sorted(FORTUNES.iterdir()):
            if path.suffix or not path.is_file():  # skip the .dat indexes and .u8 links
                continue
            raw = path.read_text(encoding="utf-8", errors="replace")
            texts += [t.strip("\n") for t in raw.split("\n%\n") if 3 <= len(t.split()) <= 80]
        source = f"Debian fortunes ({FORTUNES})"
    else:
        folder = find_wordnet()
        if folder is None:
            raise SystemExit(
                "neither fortunes nor WordNet is installed: apt-get install fortunes wordnet-base"
            )
        for line in (folder / "data.noun").read_text(encoding="utf-8").splitlines():
            if not line.startswith(" ") and "|" in line:
                texts.append(line.split("|", 1)[1].strip())
        source = f"WordNet noun glosses ({folder})"
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(texts), size=min(count, len(texts)), replace=False)
    return [texts[i] for i in sorted(picked.tolist())], source


def _pass(apply: Callable[[str, np.random.Generator], object], texts: list[str]) -> float:
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for text in texts:
        apply(text, rng)
    return len(texts) / (time.perf_counter() - started)


def measure(
    name: str, apply: Callable[[str, np.random.Generator], object], texts: list[str], repeats: int
) -> tuple[str, float, float]:
    """``(name, first pass, warm median)`` in texts per second; the synonym cache starts empty."""
    clear_synonym_cache()
    first = _pass(apply, texts)
    warm = statistics.median(_pass(apply, texts) for _ in range(repeats))
    return name, first, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=2000, help="how many texts (a fixed-seed sample)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per row (the median is shown)")
    args = parser.parse_args(argv)
    texts, source = load_texts(args.texts)
    words = sum(len(re.findall(r"\w+", t)) for t in texts) / len(texts)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{len(texts)} texts from {source}, {words:.1f} words on average; Python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}, {cpus} CPU(s) visible, one thread\n"
    )
    # Build everything first: reading WordNet's indexes (about a second) is not an augmentation cost.
    rows_to_run: list[tuple[str, str, Callable[[str, np.random.Generator], object]]] = []
    for op in operations("text"):
        if op.family != "mixing":
            compiled = Recipe((Step.of(op.name, 1.0),), kind="text").compile()
            rate = op.defaults()["rate"]
            rows_to_run.append((op.family, f"{op.name} (rate {rate:g})", compiled))
    for name in ("eda_light", "eda_typos"):
        compiled = preset(name, "text").compile()
        rows_to_run.append(("preset", f"preset '{name}'", compiled))
        if name == "eda_light":
            rows_to_run.append(("preview", f"preset '{name}', with changes marked", compiled.preview))
    print(f"| operation | sentences/s, warm (median of {args.repeats}) | first pass (empty synonym cache) |")
    print("|---|---:|---:|")
    slowest = float("inf")
    for family, label, apply in rows_to_run:
        name, first, warm = measure(label, apply, texts, args.repeats)
        print(f"| {name} | {warm:,.0f} | {first:,.0f} |", flush=True)
        if family == "words":
            slowest = min(slowest, warm)
    verdict = "met" if slowest >= GOAL else "NOT met"
    print(f"\nword operations: slowest {slowest:,.0f} sentences/s (goal {GOAL:,.0f}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
