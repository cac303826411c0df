"""Two real text classification sets shipped offline by Debian packages, for ``bench/bench_text.py``.

- ``fortunes``: the ``fortunes`` / ``fortunes-min`` packages' category files (``/usr/share/games/fortunes/<file>``,
  texts separated by ``"\\n%\\n"``), nine files as nine classes. Attribution lines (``\\t\\t-- Author, "Book"``) and
  everything after them are removed, so the task is the text's content, not who said it.
- ``wordnet``: the noun glosses of ``wordnet-base`` (``/usr/share/wordnet/data.noun``), the class being the
  synset's lexicographer file (``noun.animal``, ``noun.food`` …; lexnames(5WN) numbers them).

Each class is capped at ``per_class`` texts, a fixed random subset (seed 0), so the benchmark's time stays bounded.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

FORTUNES_ROOT = Path("/usr/share/games/fortunes")
FORTUNE_FILES = ("computers", "food", "law", "love", "medicine", "politics", "science", "sports", "startrek")
WORDNET_NOUNS = Path("/usr/share/wordnet/data.noun")
#: lexnames(5WN): lexicographer file number -> name, for the eight noun files used.
WORDNET_LEXNAMES = {
    5: "noun.animal",
    6: "noun.artifact",
    8: "noun.body",
    13: "noun.food",
    15: "noun.location",
    18: "noun.person",
    20: "noun.plant",
    27: "noun.substance",
}
_ATTRIBUTION = re.compile(r"^\s*--\s")


def strip_attribution(text: str) -> str:
    """``text`` without its attribution: the first line that starts (after blanks) with ``-- `` and the rest."""
    kept = []
    for line in text.splitlines():
        if _ATTRIBUTION.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _capped(texts: list[str], labels: list[str], per_class: int | None) -> tuple[list[str], list[str]]:
    if per_class is None:
        return texts, labels
    rng = np.random.default_rng(0)
    array = np.asarray(labels)
    keep: list[int] = []
    for name in sorted(set(labels)):
        rows = np.flatnonzero(array == name)
        keep += rng.permutation(rows)[:per_class].tolist()
    keep.sort()
    return [texts[i] for i in keep], [labels[i] for i in keep]


def load_fortunes(per_class: int | None = 150) -> tuple[list[str], list[str]]:
    """Fortune texts and their file names as labels (see the module docstring); duplicates dropped."""
    texts, labels, seen = [], [], set()
    for name in FORTUNE_FILES:
        raw = (FORTUNES_ROOT / name).read_text(encoding="utf-8", errors="replace")
        for chunk in raw.split("\n%\n"):
            text = strip_attribution(chunk.strip().strip("%"))
            if len(text.split()) >= 3 and text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(name)
    return _capped(texts, labels, per_class)


def load_wordnet_glosses(per_class: int | None = 150) -> tuple[list[str], list[str]]:
    """WordNet noun glosses and their lexicographer file as labels (see the module docstring)."""
    texts, labels, seen = [], [], set()
    with WORDNET_NOUNS.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("  "):  # the licence header
                continue
            head, _, gloss = line.partition(" | ")
            number = int(head.split()[1])  # lex_filenum
            gloss = gloss.strip()
            if number in WORDNET_LEXNAMES and gloss and gloss not in seen:
                seen.add(gloss)
                texts.append(gloss)
                labels.append(WORDNET_LEXNAMES[number])
    return _capped(texts, labels, per_class)


DATASETS = {"fortunes": load_fortunes, "wordnet": load_wordnet_glosses}


def class_indices(labels: list[str]) -> tuple[list[str], np.ndarray]:
    """The sorted class names of ``labels`` and each text's class index ``(N,)``."""
    classes = sorted(set(labels))
    return classes, np.asarray([classes.index(label) for label in labels])
