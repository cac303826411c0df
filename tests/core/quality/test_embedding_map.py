"""The dataset map's projection (PCA, t-SNE) and the map of a project, with a run's verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.base.cancel import Cancelled
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.embedding_map import MapError, dataset_map, project
from dmtl_studio.core.training.config import TrainConfig
from tests.core.trained_run import INPUT_SIZE, trained_project


def _clusters(seed: int = 0, per_class: int = 60, dims: int = 1280) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian clusters in ``dims`` dimensions, with their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, size=(3, dims))
    labels = np.repeat(np.arange(3), per_class)
    features = centres[labels] + rng.normal(0.0, 1.0, size=(len(labels), dims))
    return features.astype(np.float32), labels


def _nearest_centroid_accuracy(points: np.ndarray, labels: np.ndarray) -> float:
    centroids = np.stack([points[labels == k].mean(axis=0) for k in np.unique(labels)])
    nearest = np.argmin(((points[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    return float(np.mean(nearest == labels))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_the_map_separates_clusters_and_is_deterministic(method: str) -> None:
    features, labels = _clusters()
    points = project(features, method, seed=3)
    assert points.shape == (len(features), 2) and points.dtype == np.float32
    assert _nearest_centroid_accuracy(points, labels) == 1.0
    # Shuffled labels on the same map are not separated: the check above can fail.
    assert _nearest_centroid_accuracy(points, np.random.default_rng(0).permutation(labels)) < 0.7
    assert np.array_equal(points, project(features, method, seed=3))


def test_a_stoppable_t_sne_runs_in_a_child_that_a_stop_ends() -> None:
    """scikit-learn's t-SNE cannot be interrupted: the window's Cancel did nothing for the layout's whole time
    (h30). With a stop to obey it runs in a child process: the same map, and a stop ends it at once."""
    import time

    from dmtl_studio.core.base.cancel import Cancelled

    features, _ = _clusters()
    assert np.array_equal(
        project(features, "tsne", seed=3, should_stop=lambda: False), project(features, "tsne", seed=3)
    )
    big = np.random.default_rng(0).normal(size=(3000, 64)).astype(np.float32)  # a layout of many seconds
    started = time.monotonic()
    with pytest.raises(Cancelled):
        project(big, "tsne", should_stop=lambda: time.monotonic() - started > 1.0)
    assert time.monotonic() - started < 8.0  # the child was ended, not waited for


def test_pca_axes_do_not_flip_with_the_order_of_the_features() -> None:
    features, _ = _clusters(per_class=20, dims=64)
    order = np.random.default_rng(1).permutation(len(features))
    np.testing.assert_allclose(project(features)[order], project(features[order]), rtol=1e-4, atol=1e-3)


def test_unknown_methods_and_empty_features_are_plain_errors() -> None:
    with pytest.raises(MapError, match="umap"):
        project(np.zeros((4, 3)), "umap")
    with pytest.raises(MapError):
        project(np.zeros((0, 3)))
    with pytest.raises(MapError):
        project(np.zeros((2, 3)), "tsne")


def test_the_map_of_a_project_carries_ids_labels_splits_and_the_run_verdicts(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project_dir, run_dir = trained_project(tmp_path_factory)
    config = TrainConfig(input_size=INPUT_SIZE, device="cpu")
    progress: list[tuple[int, int]] = []
    result = dataset_map(
        project_dir, run_dir=run_dir, config=config, on_progress=lambda d, t, s: progress.append((d, t))
    )
    with ProjectStore.open(project_dir) as store:
        images = {im.id: im for im in store.images(usable_only=True)}
    assert result.points.shape == (len(images), 2) and sorted(result.image_ids) == sorted(images)
    for row, image_id in enumerate(result.image_ids):
        image = images[int(image_id)]
        assert result.labels[row] == image.label and result.paths[row] == image.path
        verdict = result.verdicts[row]
        if image.label is None:
            assert verdict == "predicted" and result.splits[row] is None
        else:
            assert verdict == ("right" if result.predicted[row] == image.label else "wrong")
    assert "right" in result.verdicts and result.run_name == run_dir.name
    assert progress  # the feature pass reported
    again = dataset_map(project_dir, config=config)  # the features now come from the project's cache
    assert np.allclose(again.points, result.points, atol=1e-4) and set(again.verdicts) == {"none"}


def test_a_stop_request_cancels_the_map(tmp_path_factory: pytest.TempPathFactory) -> None:
    project_dir, _ = trained_project(tmp_path_factory)
    with pytest.raises(Cancelled):
        dataset_map(
            project_dir, config=TrainConfig(input_size=INPUT_SIZE, device="cpu"), should_stop=lambda: True
        )


def test_the_randomized_pca_of_a_large_input_matches_the_exact_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from dmtl_studio.core.quality import embedding_map

    features, labels = _clusters(per_class=340, dims=1024)  # 1,020 x 1,024: past the exact limit
    fast = project(features, seed=5)
    assert np.array_equal(fast, project(features, seed=5))
    monkeypatch.setattr(embedding_map, "EXACT_PCA_LIMIT", 10**9)
    exact = project(features)
    for axis in range(2):
        assert abs(np.corrcoef(fast[:, axis], exact[:, axis])[0, 1]) > 0.999
    assert _nearest_centroid_accuracy(fast, labels) == 1.0
