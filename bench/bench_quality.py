"""Learning quality on real images: the product's frozen default against linear probes and feature-space SSL.

Usage::

    .venv/bin/python bench/bench_quality.py [--quick] [--datasets gcompris clipart emoji elpv] [--seeds 3]
        [--max-per-class 60] [--resize pad|stretch] [--cache /tmp/dmtl-quality] [--out docs/quality.md]

For each dataset (see ``bench/datasets.py``; at most ``--max-per-class`` images of each class, a fixed subset)
one project is made with the product's importer, and the frozen EfficientNet-Lite0 features of every image —
the clean view and the product's augmented views — are computed once, by the product's own feature pass into
the project's feature cache (so the product's runs below reuse them, as they would in the window). Then, for
each seed, the labelled images are split by the seed (stratified: 60 % train, 20 % validation, 20 % test) and:

(a) scikit-learn as a skilled user writes it, on the same clean features of train + validation:
    ``StandardScaler + LogisticRegression`` with C chosen by ``GridSearchCV`` (5-fold); also plain
    ``LogisticRegression(max_iter=5000)`` at C = 1 on raw features (what the issue's 0.82 was measured with).
(b) ``dmtl_studio.core.training.linear_probe`` on the same rows; and with the augmented views as extra rows.
(c) the product's frozen default, ``core.training.run.train`` with the window's recommended settings on the
    train / validation / test split, scored on the test split by ``core.evaluation.inference.evaluate_run``
    (the default fits a linear probe; with a test split the validation images join its fit); and the same
    with ``--no-linear-probe`` (epochs of AdamW on the head, the default before).
(d) 5 labels per class, the rest of train + validation unlabelled: (b) on the 5 labels, against label spreading
    (scikit-learn, k-NN graph over standardised features) and class-balanced self-training of (b).
(e) the product's frozen default on the same 5 labels per class (the rest of train + validation without their
    label during the run), supervised, and with ``--unlabelled`` (frozen DMTL: class-balanced pseudo-labels from
    label spreading join the probe's fit).

Everything is scored on the seed's test split; accuracy, balanced accuracy (mean recall over classes) and the
fit's wall time (the feature pass is shared and reported once per dataset) are reported as mean ± sd over seeds.
Fine-tuning rows are in ``bench/bench_finetune.py`` (same datasets and splits, written to the same page).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bench.datasets import SOURCES, class_counts, load_dataset  # noqa: E402
from dmtl_studio.core.augment.presets import resolve_recipe  # noqa: E402
from dmtl_studio.core.augment.resize import DEFAULT_RESIZE, RESIZE_MODES  # noqa: E402
from dmtl_studio.core.models.architectures import preprocessing_for  # noqa: E402
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier  # noqa: E402
from dmtl_studio.core.models.features import FeatureStore  # noqa: E402
from dmtl_studio.core.project.importer import import_folder  # noqa: E402
from dmtl_studio.core.project.store import ProjectStore  # noqa: E402
from dmtl_studio.core.training.config import TrainConfig  # noqa: E402
from dmtl_studio.core.training.data import ImageDataset  # noqa: E402
from dmtl_studio.core.training.feature_cache import FeatureCache  # noqa: E402
from dmtl_studio.core.training.linear_probe import fit_linear_probe  # noqa: E402
from dmtl_studio.core.training.setup import content_hashes  # noqa: E402

BACKBONE = "efficientnet_lite0"
C_GRID = tuple(float(c) for c in np.logspace(-3, 1, 9))
FEW_LABELS = 5

log = logging.getLogger("bench_quality")


# --------------------------------------------------------------------------------------------------- data
class Features:
    """Clean ``(N, F)`` and augmented ``(V, N, F)`` features of a project's labelled images, and their labels."""

    def __init__(self, project: Path, views: int, resize_mode: str = DEFAULT_RESIZE) -> None:
        with ProjectStore.open(project) as store:
            records = [r for r in store.images(usable_only=True) if r.label is not None]
            self.classes = tuple(sorted({r.label for r in records}))
            index = {name: i for i, name in enumerate(self.classes)}
            self.ids = np.asarray([r.id for r in records])
            self.paths = [r.path for r in records]
            self.targets = np.asarray([index[r.label] for r in records], dtype=np.int64)
            model = build_classifier(ModelSpec(BACKBONE, len(self.classes)), pretrained=True)
            preprocessing = preprocessing_for(model.backbone, None, resize_mode)
            device = torch.device("cpu")
            feature_store = FeatureStore.for_backbone(
                project, BACKBONE, model.backbone, preprocessing, device, False, content_hashes(store)
            )
        # The product's own pass and cache: its runs on this project then reuse every vector computed here.
        train_set = ImageDataset(
            self.paths, list(self.targets), preprocessing, augment=True, recipe=resolve_recipe(None)
        )
        cache = FeatureCache(
            model.backbone,
            train_set,
            ImageDataset([], [], preprocessing),
            device,
            views=views,
            batch_size=2 * TrainConfig.recommended().batch_size,
            clean_views=True,
            store=feature_store,
        )
        started = time.perf_counter()
        cached = cache.train()
        self.seconds = time.perf_counter() - started
        self.computed = cache.computed
        self.views = cached.features.numpy()
        self.clean = cached.clean.numpy()


def seed_split(targets: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Stratified 60 / 20 / 20 row indices per split (each class has at least one image in each)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for cls in np.unique(targets):
        rows = rng.permutation(np.flatnonzero(targets == cls))
        n_test = max(1, round(0.2 * len(rows)))
        n_val = max(1, round(0.2 * len(rows)))
        parts["test"] += rows[:n_test].tolist()
        parts["val"] += rows[n_test : n_test + n_val].tolist()
        parts["train"] += rows[n_test + n_val :].tolist()
    return {name: np.sort(np.asarray(rows)) for name, rows in parts.items()}


def scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """``(accuracy, balanced accuracy)``."""
    accuracy = float((truth == predicted).mean())
    recalls = [float((predicted[truth == k] == k).mean()) for k in np.unique(truth)]
    return accuracy, float(np.mean(recalls))


# ------------------------------------------------------------------------------------------------ methods
def sklearn_grid(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = min(5, int(np.bincount(y).min()))
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        {"logisticregression__C": list(C_GRID)},
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
    )
    search.fit(x, y)
    return search.predict


def sklearn_plain(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000).fit(x, y).predict


def probe_clean(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    return fit_linear_probe(x, y, c_grid=C_GRID, seed=seed).predict


def probe_with_views(
    clean: np.ndarray, views: np.ndarray, y: np.ndarray, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Clean rows + every augmented view as a row; an image's rows share its group; folds scored on clean rows."""
    n = len(y)
    rows = np.concatenate([clean, *views])
    targets = np.tile(y, 1 + len(views))
    groups = np.tile(np.arange(n), 1 + len(views))
    scored = np.arange(len(rows)) < n
    return fit_linear_probe(rows, targets, groups=groups, scored=scored, c_grid=C_GRID, seed=seed).predict


def label_spreading(
    labelled: np.ndarray, y: np.ndarray, unlabelled: np.ndarray, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Label spreading over a k-NN graph of standardised, L2-normalised features (transductive; test joins)."""
    from sklearn.semi_supervised import LabelSpreading

    def predict(test: np.ndarray) -> np.ndarray:
        x = np.concatenate([labelled, unlabelled, test])
        z = (x - x.mean(0)) / (x.std(0) + 1e-6)
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        targets = np.concatenate([y, -np.ones(len(unlabelled) + len(test), dtype=np.int64)])
        model = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=100).fit(z, targets)
        return model.transduction_[-len(test) :]

    return predict


def self_training(
    labelled: np.ndarray, y: np.ndarray, unlabelled: np.ndarray, seed: int, rounds: int = 3
) -> Callable[[np.ndarray], np.ndarray]:
    """Class-balanced self-training of the linear probe: each round adds, per class, the unlabelled images it
    predicts most confidently (the same number for every class, growing each round), then refits."""
    num_classes = int(y.max()) + 1
    probe = fit_linear_probe(labelled, y, c_grid=C_GRID, seed=seed)
    per_round = max(1, len(unlabelled) // (num_classes * (rounds + 1)))
    for round_ in range(1, rounds + 1):
        probabilities = probe.predict_proba(unlabelled)
        chosen, pseudo = [], []
        for cls in range(num_classes):
            ranked = np.argsort(-probabilities[:, cls] * (probabilities.argmax(1) == cls))
            take = [i for i in ranked[: per_round * round_] if probabilities[i].argmax() == cls]
            chosen += take
            pseudo += [cls] * len(take)
        x = np.concatenate([labelled, unlabelled[chosen]])
        targets = np.concatenate([y, np.asarray(pseudo, dtype=np.int64)])
        # C stays the one cross-validation chose on the true labels (pseudo-labels must not pick it).
        probe = fit_linear_probe(x, targets, c_grid=[probe.c], seed=seed)
    return probe.predict


@contextmanager
def labels_hidden(
    project: Path,
    ids: np.ndarray,
    classes: Sequence[str],
    targets: np.ndarray,
    split: dict[str, np.ndarray],
    unlabel: np.ndarray | None,
) -> Iterator[None]:
    """For the block: the images of ``split``'s rows (indices into ``ids``) in their splits, and those of rows
    ``unlabel`` without their label; after it, whatever happened, their labels (``classes[targets[row]]``) back."""
    rows = unlabel if unlabel is not None else np.zeros(0, dtype=np.int64)
    hidden = {int(ids[row]): classes[int(targets[row])] for row in rows}
    with ProjectStore.open(project) as store:
        # The unlabelled rows go to the training split: left in an earlier run's split, one left in "test" would
        # be scored once its label is back.
        splits = {int(ids[row]): name for name, part in split.items() for row in part}
        store.set_splits({**splits, **dict.fromkeys(hidden, "train")})
        store.set_labels(dict.fromkeys(hidden))
    try:
        yield
    finally:
        with ProjectStore.open(project) as store:
            store.set_labels(hidden)


def product_frozen(
    project: Path,
    data: Features,
    split: dict[str, np.ndarray],
    seed: int,
    unlabel: np.ndarray | None = None,
    **changes: object,
) -> tuple:
    """The product's frozen default (with ``changes``) on this seed's split, the images of rows ``unlabel`` without
    their label during the run; ``((accuracy, balanced), seconds)`` on the test split."""
    from dmtl_studio.core.evaluation.inference import evaluate_run
    from dmtl_studio.core.training.run import train

    config = TrainConfig.recommended(device="cpu", seed=seed, **changes)
    started = time.perf_counter()
    with labels_hidden(project, data.ids, data.classes, data.targets, split, unlabel):
        summary = train(project, config)
    seconds = time.perf_counter() - started
    result = evaluate_run(project, summary.run_dir)
    if result.split != "test":
        raise RuntimeError(f"the product scored the {result.split} split, not the test split")
    return scores(result.targets, result.predicted), seconds


# ------------------------------------------------------------------------------------------------- report
def timed(fit: Callable[[], Callable[[np.ndarray], np.ndarray]]) -> tuple[Callable, float]:
    started = time.perf_counter()
    with threadpool_limits(1):  # the same single thread as the linear probe (see its ``threads``)
        predict = fit()
    return predict, time.perf_counter() - started


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


ROWS = {
    "a": "(a) scikit-learn StandardScaler + LogisticRegression, C by GridSearchCV",
    "a0": "(a0) scikit-learn LogisticRegression(max_iter=5000), C = 1, raw features",
    "b": "(b) linear_probe, clean features",
    "b+v": "(b) linear_probe, clean + augmented views as rows",
    "c": "(c) product frozen default (linear probe; train + validation split)",
    "c-ep": "(c) product frozen, --no-linear-probe (10 epochs of AdamW on the head)",
    "d-sup": f"(d) {FEW_LABELS} labels/class: linear_probe on the labels only",
    "d-spread": f"(d) {FEW_LABELS} labels/class: label spreading (k-NN graph)",
    "d-self": f"(d) {FEW_LABELS} labels/class: class-balanced self-training of linear_probe",
    "e-sup": f"(e) product frozen default, {FEW_LABELS} labels/class, supervised",
    "e-dmtl": f"(e) product frozen default, {FEW_LABELS} labels/class + unlabelled images (--unlabelled)",
}


def dataset_project(folder: Path, project: Path) -> Path:
    """``project``, a project of the class folders under ``folder`` made once by the product's importer (a
    project whose import did not finish is made again), every image labelled with its class folder's name."""
    if not (project / ".imported").exists():
        if project.exists():
            import shutil

            shutil.rmtree(project)
        with ProjectStore.create(project) as store:
            import_folder(store, folder, val_fraction=0.2, test_fraction=0.2, seed=0)
        (project / ".imported").write_text("1\n")
    with ProjectStore.open(project) as store:
        # A bench stopped during a few-label run leaves the labels it hid hidden: every image's label is its
        # class folder's name, so put back any that differ.
        lost = {
            r.id: Path(r.path).parent.name
            for r in store.images(usable_only=True)
            if r.label != Path(r.path).parent.name
        }
        if lost:
            log.warning("%s: %d label(s) left hidden by an interrupted run restored", project.name, len(lost))
            store.set_labels(lost)
    return project


def run_dataset(name: str, args: argparse.Namespace, results: dict, notes: list[str]) -> None:
    folder = load_dataset(name, args.cache / "datasets", args.max_per_class, seed=0)
    counts = class_counts(folder)
    project = dataset_project(folder, args.cache / "projects" / f"{name}-{args.max_per_class}")
    views = TrainConfig.recommended().feature_views
    data = Features(project, views, args.resize)
    notes.append(
        f"| {name} | {SOURCES[name].kind} | {len(counts)} | {sum(counts.values())} "
        f"({min(counts.values())}–{max(counts.values())}/class) | {data.computed} views computed in "
        f"{data.seconds:.0f} s ({data.computed / max(data.seconds, 1e-9):.1f} views/s) |"
    )
    log.info("%s: features %s, %d computed in %.0f s", name, data.clean.shape, data.computed, data.seconds)
    y_all = data.targets
    for seed in range(args.seeds):
        split = seed_split(y_all, seed)
        pool = np.concatenate([split["train"], split["val"]])
        test = split["test"]
        x, y, x_test, y_test = data.clean[pool], y_all[pool], data.clean[test], y_all[test]
        views = data.views[:, pool]
        rng = np.random.default_rng(1000 + seed)
        few = np.concatenate(
            [rng.choice(pool[y_all[pool] == cls], FEW_LABELS, replace=False) for cls in np.unique(y_all)]
        )
        rest = np.setdiff1d(pool, few)
        xf, yf, xu = data.clean[few], y_all[few], data.clean[rest]
        fits = {
            "a": partial(sklearn_grid, x, y, seed),
            "a0": partial(sklearn_plain, x, y, seed),
            "b": partial(probe_clean, x, y, seed),
            "b+v": partial(probe_with_views, x, views, y, seed),
            "d-sup": partial(probe_clean, xf, yf, seed),
            "d-spread": partial(label_spreading, xf, yf, xu, seed),
            "d-self": partial(self_training, xf, yf, xu, seed),
        }
        for key, fit in fits.items():
            predict, seconds = timed(fit)
            with threadpool_limits(1):
                predicted = predict(x_test)
            results[name][key].append((*scores(y_test, predicted), seconds))
            log.info("%s seed %d %s: %.3f / %.3f in %.1f s", name, seed, key, *results[name][key][-1])
        if not args.no_product:
            few_split = {"train": few, "val": np.zeros(0, dtype=np.int64), "test": test}
            runs = (
                ("c", split, None, {}),
                ("c-ep", split, None, {"linear_probe": False}),
                ("e-sup", few_split, rest, {}),
                ("e-dmtl", few_split, rest, {"use_unlabelled": True}),
            )
            for key, run_split, unlabel, changes in runs:
                (accuracy, balanced), seconds = product_frozen(
                    project, data, run_split, seed, unlabel=unlabel, resize_mode=args.resize, **changes
                )
                results[name][key].append((accuracy, balanced, seconds))
                log.info("%s seed %d %s: %.3f / %.3f in %.1f s", name, seed, key, accuracy, balanced, seconds)


def write_report(args: argparse.Namespace, results: dict, notes: list[str], total: float) -> str:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores ({platform.processor() or 'cpu'}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, torch {torch.__version__}"
    )
    command = "PYTHONPATH=$PWD .venv/bin/python bench/bench_quality.py " + " ".join(sys.argv[1:])
    lines = [
        "## Measured: frozen features, linear probes, the product's frozen default, 5 labels per class",
        "",
        "Frozen EfficientNet-Lite0 features (the product's bundled ImageNet weights, 224 px; every row's images "
        f"fitted into the square by `--resize {args.resize}`). Written by "
        "`bench/bench_quality.py`; its docstring says what each row is.",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine}; shared with other work, so wall times vary.",
        f"- Date: {datetime.date.today().isoformat()}; whole run {total / 60:.1f} min.",
        f"- {args.seeds} seeds; each seed splits the labelled images 60 / 20 / 20 (train / validation / test, "
        "stratified). (a), (b): fitted on train + validation, C from "
        f"{C_GRID[0]:g} to {C_GRID[-1]:g} (9 values) by cross-validation; (c): the product's run on the "
        f"train / validation / test split; (d), (e): {FEW_LABELS} labels per class drawn from train + validation, "
        "the rest of them unlabelled. All scored on the test split. Cells: accuracy / balanced accuracy, mean ± sd over "
        "seeds; fit s: wall seconds of the fit alone (the features exist; for (c) the whole `train` call, "
        "which reads the cached features).",
        "",
        "| dataset | kind | classes | images | feature pass (product, cached views) |",
        "| --- | --- | --- | --- | --- |",
        *notes,
        "",
    ]
    for name, rows in results.items():
        lines += [
            f"## {name}",
            "",
            "| method | accuracy | balanced accuracy | fit s |",
            "| --- | --- | --- | --- |",
        ]
        for key, label in ROWS.items():
            if rows.get(key):
                acc, bal, sec = zip(*rows[key], strict=True)
                lines.append(
                    f"| {label} | {mean_sd(list(acc))} | {mean_sd(list(bal))} | {statistics.mean(sec):.1f} |"
                )
        lines.append("")
    lines += [
        "## Mean over datasets (balanced accuracy)",
        "",
        "| method | " + " | ".join(results) + " | mean |",
    ]
    lines.append("| --- | " + " | ".join("---" for _ in results) + " | --- |")
    for key, label in ROWS.items():
        if all(rows.get(key) for rows in results.values()):
            per = [statistics.mean(b for _, b, _ in rows[key]) for rows in results.values()]
            lines.append(
                f"| {label} | " + " | ".join(f"{v:.3f}" for v in per) + f" | {statistics.mean(per):.3f} |"
            )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["gcompris", "clipart", "emoji", "elpv"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-per-class", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dmtl-quality")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown report here too")
    parser.add_argument("--quick", action="store_true", help="smoke run: gcompris, 20 per class, 1 seed")
    parser.add_argument("--no-product", action="store_true", help="skip (c), the product's training runs")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the feature pass")
    parser.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default=DEFAULT_RESIZE,
        help="how every row's images are fitted into the square (the product's --resize; default its default)",
    )
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.max_per_class, args.seeds = ["gcompris"], 20, 1
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
        write_between_markers(args.out, report)


BEGIN, END = "<!-- bench_quality: begin -->", "<!-- bench_quality: end -->"


def write_between_markers(path: Path, report: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the text between ``begin`` and ``end`` in ``path`` (the hand-written notes around the tables
    stay); a file without them gets them, with the report, at its end."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{begin}\n{report}\n{end}{tail}"
    else:
        text = f"{text.rstrip()}\n\n{begin}\n{report}\n{end}\n".lstrip()
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
