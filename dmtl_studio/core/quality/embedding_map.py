"""A 2-D map of a project's images (or texts): the frozen-backbone features (the text encoder's embeddings)
projected to the plane.

The features are those the other checks and frozen training read (:func:`~dmtl_studio.core.quality.features.
frozen_features`, through the project's feature cache). PCA (numpy: about a second for 20,000 images) is the
default; t-SNE (scikit-learn) is offered for a map that keeps local neighbourhoods, at the cost of seconds to
minutes. UMAP is not offered: ``umap-learn`` needs numba, which the product does not ship.

No Qt here: the result is plain numpy data for the map view to draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig

METHODS = ("pca", "tsne")

#: Model verdicts a map point can carry (``verdicts``), when a run is chosen.
VERDICT_RIGHT, VERDICT_WRONG, VERDICT_PREDICTED, VERDICT_NONE = "right", "wrong", "predicted", "none"


class MapError(ValueError):
    """A map that cannot be made (an unknown method, too few images)."""


@dataclass(frozen=True)
class DatasetMap:
    """Where each usable image of a project lies on the map.

    ``points``: ``(N, 2)`` float32 map coordinates (no unit); ``image_ids``: ``(N,)`` int64; ``paths``,
    ``sha256``, ``labels`` (``None`` when unlabelled), ``splits`` (``None`` when unlabelled) and ``verdicts``
    (one of ``right``, ``wrong``, ``predicted`` for an unlabelled image, ``none`` without a run): ``N`` items
    each; ``predicted``: the run's class per image (``None`` without a run); ``method`` and ``seconds`` (the
    projection alone, the feature pass excluded); ``kind``: the project's kind, ``images`` or ``text``.
    """

    points: np.ndarray
    image_ids: np.ndarray
    paths: tuple[str, ...]
    sha256: tuple[str | None, ...]
    labels: tuple[str | None, ...]
    splits: tuple[str | None, ...]
    verdicts: tuple[str, ...]
    predicted: tuple[str | None, ...]
    method: str
    seconds: float
    run_name: str | None = None
    kind: str = "images"


EXACT_PCA_LIMIT = 1_000  #: with fewer images or feature dimensions than this, the exact decomposition


def pca_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """The first two principal components of ``features``.

    Small inputs (fewer than :data:`EXACT_PCA_LIMIT` images or dimensions) take the exact decomposition; larger
    ones a seeded randomized range finder with power iterations (Halko, Martinsson and Tropp 2011), which finds
    the two leading components of 20,000 x 1,280 features in a fraction of the time of the full covariance.

    Parameters
    ----------
    features
        ``(N, F)`` array, ``N >= 1``.
    seed
        Seed of the randomized decomposition: the same features and seed give the same map.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` float32. The sign of each axis is fixed (the largest absolute loading positive), so the map
        does not flip from one call to the next.

    Raises
    ------
    MapError
        For an empty or non-2-D ``features``.
    """
    x = np.asarray(features)
    if x.ndim != 2 or x.shape[0] == 0:
        raise MapError(f"expected a non-empty (N, F) array of features, got shape {x.shape}")
    if x.shape[1] < 2:
        x = np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
    if min(x.shape) < EXACT_PCA_LIMIT:
        x = x.astype(np.float64) - x.astype(np.float64).mean(axis=0, keepdims=True)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        axes = vt[:2].T
    else:
        x = x.astype(np.float32)
        x = x - x.mean(axis=0, keepdims=True)
        rng = np.random.default_rng(seed)
        basis = x @ rng.standard_normal((x.shape[1], 12)).astype(np.float32)  # 2 components + 10 spare
        for _ in range(2):  # power iterations sharpen the leading directions
            basis, _ = np.linalg.qr(basis)
            basis = x @ (x.T @ basis)
        basis, _ = np.linalg.qr(basis)
        _, _, vt = np.linalg.svd((basis.T @ x).astype(np.float64), full_matrices=False)
        axes = vt[:2].T.astype(np.float32)
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
    signs[signs == 0] = 1.0
    return (x @ (axes * signs).astype(x.dtype)).astype(np.float32)


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (x.shape[0] - 1) / 3))
    return (
        TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        .fit_transform(x)
        .astype(np.float32)
    )


def _tsne_child(conn: object, x: np.ndarray, seed: int) -> None:  # runs in the child process
    try:
        conn.send(("ok", _tsne(x, seed)))  # type: ignore[attr-defined]
    except BaseException as exc:  # noqa: BLE001 - whatever failed reaches the parent as a message
        conn.send(("error", f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]


def tsne_2d(features: np.ndarray, seed: int = 0, should_stop: ShouldStop | None = None) -> np.ndarray:
    """t-SNE (scikit-learn, PCA-initialised) of ``features``: ``(N, F)`` in, ``(N, 2)`` float32 out.

    scikit-learn's t-SNE cannot be interrupted (seconds to minutes, a Cancel that did nothing, h30): with
    ``should_stop`` it runs in a child process, which a stop ends at once; without, in this process.

    Raises
    ------
    MapError
        With fewer than 3 images (t-SNE needs a perplexity below ``N``), or a child process that failed.
    Cancelled
        ``should_stop`` said so (the child is ended).
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 3:
        raise MapError(f"t-SNE needs at least 3 images, got {x.shape[0] if x.ndim == 2 else 0}")
    if should_stop is None:
        return _tsne(x, seed)
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt and torch threads
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_tsne_child, args=(sender, x, seed), daemon=True)
    child.start()
    sender.close()
    try:
        while not receiver.poll(0.2):
            check(should_stop)
            if not child.is_alive() and not receiver.poll():
                raise MapError(
                    f"the t-SNE layout's process ended without a result (exit code {child.exitcode})"
                )
        status, value = receiver.recv()
    finally:
        if child.is_alive():
            child.terminate()
        child.join(5)
        receiver.close()
    if status != "ok":
        raise MapError(f"the t-SNE layout failed: {value}")
    return value


def layout_self_check() -> str:
    """The installer's self-test of the stoppable t-SNE: a spawned child imports scikit-learn and returns a layout
    (in a bundle the launcher must make the child a worker, not a second window). Raises on any failure."""
    points = tsne_2d(np.random.default_rng(0).normal(size=(40, 8)), should_stop=lambda: False)
    if points.shape != (40, 2) or not np.isfinite(points).all():
        raise MapError(f"a t-SNE layout of shape {points.shape} with non-finite points")
    return "t-SNE of 40 points in a spawned process"


def project(
    features: np.ndarray, method: str = "pca", seed: int = 0, should_stop: ShouldStop | None = None
) -> np.ndarray:
    """``features`` ``(N, F)`` projected to ``(N, 2)`` float32 with ``method`` (``pca`` or ``tsne``; with
    ``should_stop``, a t-SNE can be stopped: see :func:`tsne_2d`).

    Raises
    ------
    MapError
        For an unknown method, or too few images for it.
    """
    if method == "pca":
        return pca_2d(features, seed)
    if method == "tsne":
        return tsne_2d(features, seed, should_stop)
    raise MapError(f"unknown map method {method!r}: use one of {', '.join(METHODS)}")


def _verdicts(
    store: ProjectStore, images: list, run_dir: str | Path, should_stop: ShouldStop
) -> tuple[list[str], list[str | None]]:
    """Each image's verdict under the run, through the product's prediction path (feature cache included)."""
    from dmtl_studio.core.evaluation.inference import probabilities_for
    from dmtl_studio.core.models.checkpoint import load_checkpoint
    from dmtl_studio.core.project.file_changes import current_hashes

    loaded = load_checkpoint(run_dir, device="cpu")
    rows, probabilities, _problems, _reused = probabilities_for(
        loaded,
        [im.path for im in images],
        should_stop=should_stop,
        project_dir=store.folder,
        hashes=current_hashes(store, images)[0],  # a file changed since the import: its new features
    )
    verdicts, predicted = [VERDICT_NONE] * len(images), [None] * len(images)
    for row, probs in zip(rows, probabilities, strict=True):
        name = loaded.classes[int(np.argmax(probs))]
        label = images[row].label
        predicted[row] = name
        verdicts[row] = (
            VERDICT_PREDICTED if label is None else VERDICT_RIGHT if label == name else VERDICT_WRONG
        )
    return verdicts, predicted


def dataset_map(
    project_dir: str | Path,
    method: str = "pca",
    *,
    run_dir: str | Path | None = None,
    config: TrainConfig | None = None,
    seed: int = 0,
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> DatasetMap:
    """The map of every usable image of a project (labelled or not); a text project's items are texts, placed
    by the text encoder's embeddings (:func:`~dmtl_studio.core.quality.features.text_embeddings`).

    Parameters
    ----------
    project_dir
        The project folder.
    method
        ``pca`` (default, fast) or ``tsne``.
    run_dir
        A trained run whose verdict colours the points (right, wrong, or its prediction for an unlabelled
        image); ``None`` for none.
    config
        Backbone, input size and device of the features (default: the training defaults); a text project's
        encoder is ``config.backbone`` when it names one, else the bundled default.
    seed
        Seed of the projection: the same features and seed give the same map.
    should_stop
        Checked between feature batches and before the projection; a stop raises
        :class:`~dmtl_studio.core.base.cancel.Cancelled`.
    on_progress
        Called with ``(items done, items planned, seconds)`` during the feature pass.

    Raises
    ------
    MapError
        For an unknown method or a project without usable images (texts).
    dmtl_studio.core.models.text_encoder.TextEncoderError
        A text project's encoder cannot be read.
    """
    from dmtl_studio.core.quality.features import frozen_features, text_embeddings

    if method not in METHODS:
        raise MapError(f"unknown map method {method!r}: use one of {', '.join(METHODS)}")
    config = config or TrainConfig()
    with ProjectStore.open(project_dir) as store:
        images = list(store.images(usable_only=True))
        text = store.kind == "text"
        if not images:
            raise MapError(f"{project_dir} has no usable {'text' if text else 'image'} to map")
        if text:  # a text project's items are texts: the encoder's embeddings, cached as for frozen text runs
            features = text_embeddings(store, [im.id for im in images], config, should_stop, on_progress)
        else:
            features = frozen_features(store, [im.path for im in images], config, should_stop, on_progress)
        check(should_stop)
        verdicts, predicted = (
            _verdicts(store, images, run_dir, should_stop)
            if run_dir is not None
            else ([VERDICT_NONE] * len(images), [None] * len(images))
        )
    check(should_stop)
    started = time.perf_counter()
    stoppable = None if should_stop is never_stop else should_stop  # nothing can stop it: no child process
    points = project(features, method, seed if seed is not None else config.seed, stoppable)
    return DatasetMap(
        points=points,
        image_ids=np.asarray([im.id for im in images], dtype=np.int64),
        paths=tuple(im.path for im in images),
        sha256=tuple(im.sha256 for im in images),
        labels=tuple(im.label for im in images),
        splits=tuple(im.split if im.label is not None else None for im in images),
        verdicts=tuple(verdicts),
        predicted=tuple(predicted),
        method=method,
        seconds=time.perf_counter() - started,
        run_name=Path(run_dir).name if run_dir is not None else None,
        kind="text" if text else "images",
    )
