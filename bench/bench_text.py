"""Learning quality on real texts: the product's frozen sentence encoder against TF-IDF and SetFit.

Usage::

    .venv/bin/python bench/bench_text.py [--quick] [--datasets fortunes wordnet] [--seeds 3] [--per-class 150]
        [--labels 8] [--setfit-seeds 3] [--contrastive-seeds 3] [--contrastive-all-seeds 1]
        [--cache /tmp/dmtl-text] [--out docs/text.md]

Datasets (``bench/text_data.py``): nine Debian fortune files and eight WordNet noun lexicographer files, each class
capped at ``--per-class`` texts. For each seed the texts are split stratified 70 % train / 30 % test, and:

(a) all training labels: TF-IDF (word 1-2-grams, sublinear tf) + scikit-learn ``LogisticRegression``, C chosen by
    ``GridSearchCV`` (5-fold) — the classic strong baseline; and the product's frozen path: all-MiniLM-L6-v2
    embeddings (:class:`~dmtl_studio.core.models.text_encoder.TextEncoder`, computed once and cached under
    ``--cache``) with the product's solver (:func:`~dmtl_studio.core.training.linear_probe.fit_linear_probe`:
    L-BFGS, C by cross-validation), what a frozen text run with ``--linear-probe`` fits.
(b) ``--labels`` labels per class drawn from the training split, the rest of it unlabelled:
    TF-IDF + LR on the labels; a SetFit-style run on the same encoder as a skilled user writes it with
    sentence-transformers (contrastive fine-tuning with ``CosineSimilarityLoss`` on 20 pair iterations, one
    epoch, batch 16, learning rate 2e-5, then ``LogisticRegression`` on the tuned embeddings; the ``setfit``
    package's recipe); the product's supervised default (frozen + solver on the labels); and the product's
    semi-supervised run with the unlabelled texts
    (:func:`~dmtl_studio.core.training.text_semi.fit_semi_supervised_probe`); then both again after the product's
    default contrastive step (:func:`~dmtl_studio.core.training.text_contrastive.contrastive_fine_tune`, SetFit's
    pairs, at most ``CONTRASTIVE_STEPS`` steps), what a new frozen text run does, on ``--contrastive-seeds``
    seeds; and the contrastive step with all labels on ``--contrastive-all-seeds``.

Everything is scored on the seed's test split: accuracy and balanced accuracy (mean recall over classes), mean ± sd
over seeds, and the fit's wall time on this machine (the embedding pass is shared and reported once per dataset).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import logging
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bench.text_data import DATASETS, class_indices  # noqa: E402
from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER, bundled_encoder_folder  # noqa: E402
from dmtl_studio.core.models.text_encoder import TextEncoder, load_text_encoder  # noqa: E402
from dmtl_studio.core.training.linear_probe import fit_linear_probe  # noqa: E402
from dmtl_studio.core.training.settings import CONTRASTIVE_STEPS  # noqa: E402
from dmtl_studio.core.training.text_contrastive import contrastive_fine_tune  # noqa: E402
from dmtl_studio.core.training.text_semi import fit_semi_supervised_probe  # noqa: E402

Predict = Callable[[np.ndarray], np.ndarray]  # test row indices -> predicted classes
TFIDF_C = (1.0, 10.0, 100.0)


# ------------------------------------------------------------------------------------------------ data
def embed(
    encoder: TextEncoder, texts: list[str], cache: Path, batch_size: int = 32
) -> tuple[np.ndarray, float]:
    """Clean embeddings ``(N, 384)`` of ``texts`` (shortest first, so batches carry little padding), cached in
    ``cache`` by the texts' hash; returns them and the seconds spent computing (0 when read from the cache)."""
    digest = hashlib.sha256("\x00".join([encoder.preprocessing.encoder, *texts]).encode()).hexdigest()[:16]
    path = cache / f"embeddings-{digest}.npy"
    if path.is_file():
        return np.load(path), 0.0
    started = time.perf_counter()
    order = np.argsort([len(t) for t in texts], kind="stable")
    rows = encoder.encode([texts[i] for i in order], batch_size=batch_size).numpy()
    out = np.empty_like(rows)
    out[order] = rows
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out, time.perf_counter() - started


def seed_split(targets: np.ndarray, seed: int, labels_per_class: int) -> dict[str, np.ndarray]:
    """Stratified 70 / 30 train / test rows, and ``labels_per_class`` of each class's training rows as ``few``
    (the rest of the training rows as ``pool``, unlabelled)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "test": [], "few": [], "pool": []}
    for cls in np.unique(targets):
        rows = rng.permutation(np.flatnonzero(targets == cls))
        n_test = max(1, round(0.3 * len(rows)))
        train = rows[n_test:]
        parts["test"] += rows[:n_test].tolist()
        parts["train"] += train.tolist()
        parts["few"] += train[:labels_per_class].tolist()
        parts["pool"] += train[labels_per_class:].tolist()
    return {name: np.sort(np.asarray(rows)) for name, rows in parts.items()}


def scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """``(accuracy, balanced accuracy)``."""
    accuracy = float((truth == predicted).mean())
    recalls = [float((predicted[truth == k] == k).mean()) for k in np.unique(truth)]
    return accuracy, float(np.mean(recalls))


# --------------------------------------------------------------------------------------------- methods
def tfidf_lr(texts: list[str], y: np.ndarray, rows: np.ndarray, seed: int) -> Predict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    folds = min(5, int(np.bincount(y[rows]).min()))
    search = GridSearchCV(
        make_pipeline(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)), LogisticRegression(max_iter=5000)
        ),
        {"logisticregression__C": list(TFIDF_C)},
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
    )
    search.fit([texts[i] for i in rows], y[rows])
    return lambda test: search.predict([texts[i] for i in test])


def frozen_probe(x: np.ndarray, y: np.ndarray, rows: np.ndarray, seed: int) -> Predict:
    probe = fit_linear_probe(x[rows], y[rows], num_classes=int(y.max()) + 1, seed=seed)
    return lambda test: probe.predict(x[test])


def semi_supervised(x: np.ndarray, y: np.ndarray, rows: np.ndarray, pool: np.ndarray, seed: int) -> Predict:
    probe = fit_semi_supervised_probe(x[rows], y[rows], x[pool], num_classes=int(y.max()) + 1, seed=seed)
    return lambda test: probe.predict(x[test])


def setfit_style(
    texts: list[str], y: np.ndarray, rows: np.ndarray, seed: int, iterations: int = 20
) -> Predict:
    """SetFit (Tunstall et al. 2022) with sentence-transformers: for each of ``iterations`` rounds, each labelled
    text is paired with a random text of its class (label 1) and one of another class (label 0); one epoch of
    ``CosineSimilarityLoss`` fine-tunes the encoder (AdamW, lr 2e-5, batch 16, 10 % warm-up), then a
    ``LogisticRegression`` head is fitted on the tuned embeddings."""
    from sentence_transformers import SentenceTransformer, losses
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SentenceTransformer(str(bundled_encoder_folder()), device="cpu", local_files_only=True)
    labels = y[rows]
    pairs: list[tuple[str, str, float]] = []
    for _ in range(iterations):
        for position, row in enumerate(rows):
            same = [r for r, c in zip(rows, labels, strict=True) if c == labels[position] and r != row]
            other = [r for r, c in zip(rows, labels, strict=True) if c != labels[position]]
            pairs.append((texts[row], texts[rng.choice(same)], 1.0))
            pairs.append((texts[row], texts[rng.choice(other)], 0.0))
    order = rng.permutation(len(pairs))
    loss = losses.CosineSimilarityLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    steps = (len(pairs) + 15) // 16
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    model.train()
    for step in range(steps):
        batch = [pairs[i] for i in order[step * 16 : (step + 1) * 16]]
        first = model.preprocess([a for a, _, _ in batch])
        second = model.preprocess([b for _, b, _ in batch])
        value = loss([first, second], torch.tensor([s for _, _, s in batch]))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    head = LogisticRegression(max_iter=5000).fit(model.encode([texts[i] for i in rows]), labels)
    return lambda test: head.predict(model.encode([texts[i] for i in test], batch_size=64))


class Adapted:
    """The product's contrastive step (``text_contrastive.contrastive_fine_tune`` at its recommended cap, as a
    frozen text run takes it) on one seed's labelled rows, done once and shared by the rows that use it; the
    seconds it took are added to each of those rows' fit time.

    With ``cache``, the adapted embeddings are kept there with the seconds the step took, under a key of
    everything they depend on: the encoder's name and weights, the texts, the labelled rows and their classes, the
    seed, the step cap, torch's version, and the source of this script, of the contrastive step and of the encoder
    (a change of any computes them again).
    A re-run then measures the rows after the step (a new pseudo-label rule, say) in seconds; the step's seconds
    are still those it took when it ran.
    """

    def __init__(
        self,
        encoder: TextEncoder,
        texts: list[str],
        y: np.ndarray,
        rows: np.ndarray,
        seed: int,
        cache: Path | None = None,
    ) -> None:
        self.encoder, self.texts, self.y, self.rows, self.seed = encoder, texts, y, rows, seed
        self._x: np.ndarray | None = None
        self.seconds = 0.0
        self.cache = cache
        self.from_cache = False

    def _path(self) -> Path | None:
        if self.cache is None:
            return None
        from dmtl_studio.core.models import text_encoder
        from dmtl_studio.core.models.feature_engine import weights_hash
        from dmtl_studio.core.training import text_contrastive

        key = hashlib.sha256()
        for part in (
            self.encoder.preprocessing.encoder,
            weights_hash(self.encoder),
            torch.__version__,
            Path(__file__).read_text(encoding="utf-8"),  # how this script tokenises, steps and encodes
            "\x00".join(self.texts),
            ",".join(map(str, self.rows.tolist())),
            ",".join(map(str, self.y[self.rows].tolist())),
            f"seed {self.seed} steps {CONTRASTIVE_STEPS}",
            Path(text_contrastive.__file__).read_text(encoding="utf-8"),
            Path(text_encoder.__file__).read_text(encoding="utf-8"),
        ):
            key.update(part.encode() + b"\x01")
        return self.cache / f"adapted-{key.hexdigest()[:20]}.npz"

    def embeddings(self) -> np.ndarray:
        if self._x is not None:
            return self._x
        path = self._path()  # hashes the weights and the texts: once, before the step or its cached result
        if path is not None and path.is_file():
            with np.load(path) as stored:
                self._x, self.seconds = stored["x"], float(stored["seconds"])
            self.from_cache = True
            logging.info("contrastive step read from %s (it took %.0f s)", path.name, self.seconds)
            return self._x
        started = time.perf_counter()
        tuned = copy.deepcopy(self.encoder)
        ids = tuned.tokenize([self.texts[i] for i in self.rows]).ids
        result = contrastive_fine_tune(
            tuned,
            ids,
            self.y[self.rows],
            max_steps=CONTRASTIVE_STEPS,
            seed=self.seed,
            pad_id=tuned.preprocessing.pad_id,
        )
        order = np.argsort([len(t) for t in self.texts], kind="stable")
        out = tuned.encode([self.texts[i] for i in order], batch_size=32).numpy()
        self._x = np.empty_like(out)
        self._x[order] = out
        self.seconds = time.perf_counter() - started
        logging.info(
            "contrastive step: %d steps on %d pairs, %.0f s", result.steps, result.pairs, self.seconds
        )
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path.with_suffix(".tmp.npz"), x=self._x, seconds=self.seconds)
            path.with_suffix(".tmp.npz").replace(path)
        return self._x


def adapted_probe(adapted: Adapted, y: np.ndarray, rows: np.ndarray, seed: int) -> Predict:
    return frozen_probe(adapted.embeddings(), y, rows, seed)


def adapted_semi(adapted: Adapted, y: np.ndarray, rows: np.ndarray, pool: np.ndarray, seed: int) -> Predict:
    return semi_supervised(adapted.embeddings(), y, rows, pool, seed)


# ---------------------------------------------------------------------------------------------- report
ROWS = {
    "tfidf": "(a) TF-IDF + LogisticRegression, C by 5-fold CV (all labels)",
    "frozen": "(a) ours: frozen MiniLM + linear probe, C by CV (all labels)",
    "ct-all": "(a) ours, default: contrastive step + linear probe (all labels)",
    "tfidf-few": "(b) TF-IDF + LogisticRegression ({k}/class)",
    "setfit": "(b) SetFit-style: contrastive fine-tuning + LogisticRegression ({k}/class)",
    "ours-few": "(b) ours, supervised: frozen MiniLM + linear probe ({k}/class)",
    "dmtl": "(b) ours, with the unlabelled texts: class-balanced self-training of the probe ({k}/class + pool)",
    "ct-few": "(b) ours, default, supervised: contrastive step + linear probe ({k}/class)",
    "ct-dmtl": "(b) ours, default, with the unlabelled texts: contrastive step + self-training ({k}/class + pool)",
}


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def run_dataset(
    name: str, args: argparse.Namespace, encoder: TextEncoder, results: dict, notes: list[str]
) -> None:
    texts, names = DATASETS[name](args.per_class)
    classes, y = class_indices(names)
    x, seconds = embed(encoder, texts, args.cache)
    notes.append(
        f"{name}: {len(texts)} texts in {len(classes)} classes; embeddings "
        + (f"computed in {seconds:.0f} s" if seconds else "read from the cache")
    )
    for seed in range(args.seeds):
        split = seed_split(y, seed, args.labels)
        test = split["test"]
        methods: dict[str, Callable[[], Predict]] = {
            "tfidf": partial(tfidf_lr, texts, y, split["train"], seed),
            "frozen": partial(frozen_probe, x, y, split["train"], seed),
            "tfidf-few": partial(tfidf_lr, texts, y, split["few"], seed),
            "ours-few": partial(frozen_probe, x, y, split["few"], seed),
            "dmtl": partial(semi_supervised, x, y, split["few"], split["pool"], seed),
        }
        if seed < args.setfit_seeds:
            methods["setfit"] = partial(setfit_style, texts, y, split["few"], seed, args.setfit_iterations)
        # One contrastive step for both rows below.
        few = Adapted(encoder, texts, y, split["few"], seed, args.cache)
        if seed < args.contrastive_seeds:
            methods["ct-few"] = partial(adapted_probe, few, y, split["few"], seed)
            methods["ct-dmtl"] = partial(adapted_semi, few, y, split["few"], split["pool"], seed)
        if seed < args.contrastive_all_seeds:
            every = Adapted(encoder, texts, y, split["train"], seed, args.cache)
            methods["ct-all"] = partial(adapted_probe, every, y, split["train"], seed)
        for key, fit in methods.items():
            started = time.perf_counter()
            # scikit-learn's BLAS on one thread (faster on a shared 2-core machine); torch keeps its threads.
            with threadpool_limits(1, user_api="blas"):
                predict = fit()
                predicted = predict(test)
            elapsed = time.perf_counter() - started
            # The contrastive step counts in each row that uses it: it ran inside the first such row's fit,
            # or earlier when it was read from the cache.
            if key == "ct-dmtl" or (key == "ct-few" and few.from_cache):
                elapsed += few.seconds
            elif key == "ct-all" and every.from_cache:
                elapsed += every.seconds
            accuracy, balanced = scores(y[test], predicted)
            results[name][key].append((accuracy, balanced, elapsed))
            logging.info(
                "%s seed %d %-9s acc %.3f bal %.3f %.1f s", name, seed, key, accuracy, balanced, elapsed
            )


def write_report(args: argparse.Namespace, results: dict, notes: list[str], total: float) -> str:
    lines = [
        f"Command: `python bench/bench_text.py --datasets {' '.join(args.datasets)} --seeds {args.seeds} "
        f"--setfit-seeds {args.setfit_seeds} --contrastive-seeds {args.contrastive_seeds} --contrastive-all-seeds "
        f"{args.contrastive_all_seeds} --per-class {args.per_class} --labels {args.labels}`; {args.seeds} seeds, 70 / 30 stratified train / test split per seed; machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), no GPU; whole benchmark {total / 60:.1f} min.",
        "",
    ]
    lines += [f"- {note}" for note in notes]
    for name in results:
        lines += [
            "",
            f"**{name}**",
            "",
            "| method | seeds | accuracy | balanced accuracy | fit + predict (s) |",
            "|---|---|---|---|---|",
        ]
        for key, label in ROWS.items():
            rows = results[name].get(key)
            if not rows:
                continue
            lines.append(
                f"| {label.format(k=args.labels)} | {len(rows)} | {mean_sd([r[0] for r in rows])} "
                f"| {mean_sd([r[1] for r in rows])} "
                f"| {statistics.mean(r[2] for r in rows):.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--labels", type=int, default=8, help="labels per class in (b)")
    parser.add_argument("--setfit-iterations", type=int, default=20)
    parser.add_argument(
        "--setfit-seeds", type=int, default=3, help="seeds the SetFit-style row runs on (it is the slow one)"
    )
    parser.add_argument(
        "--contrastive-seeds",
        type=int,
        default=3,
        help="seeds of the rows with the product's contrastive step",
    )
    parser.add_argument(
        "--contrastive-all-seeds", type=int, default=1, help="seeds of its all-labels row (the slowest)"
    )
    parser.add_argument("--quick", action="store_true", help="1 seed, 60 texts per class")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("/tmp/dmtl-text"),
        help="the encoder's embeddings and the contrastive step's adapted embeddings, reused by later runs",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the tables into this markdown file")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.per_class = 1, 60
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    started = time.perf_counter()
    encoder = load_text_encoder(DEFAULT_TEXT_ENCODER)
    results: dict = defaultdict(lambda: defaultdict(list))
    notes: list[str] = []
    for name in args.datasets:
        run_dataset(name, args, encoder, results, notes)
    report = write_report(args, results, notes, time.perf_counter() - started)
    print(report)
    if args.out is not None:
        write_between_markers(args.out, report)


BEGIN, END = "<!-- bench_text: begin -->", "<!-- bench_text: end -->"


def write_between_markers(path: Path, report: str) -> None:
    """Replace the text between :data:`BEGIN` and :data:`END` in ``path``; append them when absent."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = f"{head}{BEGIN}\n{report}\n{END}{rest.split(END, 1)[1]}"
    else:
        text = f"{text.rstrip()}\n\n{BEGIN}\n{report}\n{END}\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
