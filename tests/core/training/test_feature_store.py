"""The project's feature cache: computed once, reused by every run and the LR finder, never trusted when damaged;
a stop mid-pass keeps its work and leaves no empty run; the ETA comes from the phase it describes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.augment.presets import DEFAULT_PRESET, PRESETS, preset
from dmtl_studio.core.models.features import FEATURES_DIR, FeatureStore
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import feature_cache, setup
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import PreparationProgress, StepProgress, stop_cost
from dmtl_studio.core.training.run import train


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(
        epochs=1, batch_size=8, learning_rate=3e-3, input_size=32, device="cpu", seed=2, feature_views=2
    )
    return base.with_changes(**changes)


@pytest.fixture
def forward_passes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the images that really go through the backbone (the PyTorch engine: its module's hooks see them)."""
    monkeypatch.setenv("DMTL_STUDIO_FEATURE_ENGINE", "torch")
    counted = {"images": 0}
    real = feature_cache.extract_features

    def counting(backbone, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        def count(module, inputs, output):  # noqa: ANN001, ANN202
            counted["images"] += len(inputs[0])

        hook = backbone.register_forward_hook(count)
        try:
            return real(backbone, *args, **kwargs)
        finally:
            hook.remove()

    monkeypatch.setattr(feature_cache, "extract_features", counting)
    return counted


def _entries(project: Path) -> list[Path]:
    return sorted((project / FEATURES_DIR).rglob("*.f32"))


def test_a_second_run_recomputes_no_feature(project: Path, forward_passes: dict[str, int]) -> None:
    first = train(project, _config())
    planned = forward_passes["images"]
    assert planned == 2 * 54 + 18  # two augmented views of 54 training images, 18 validation images
    assert len(_entries(project)) == planned
    events: list[object] = []
    second = train(project, _config(seed=9, epochs=2), on_event=events.append)  # another seed, more epochs
    assert forward_passes["images"] == planned  # nothing computed again
    preparation = [e for e in events if isinstance(e, PreparationProgress)]
    assert preparation[-1].reused == planned == preparation[-1].total
    assert first.status == second.status == "completed"
    # Continuing a run and cross-validation folds read the same cache.
    train(project, _config(seed=9, epochs=3), resume_from=second.run_dir)
    assert forward_passes["images"] == planned


def test_a_changed_recipe_or_weights_misses_and_a_damaged_entry_is_computed_again(
    project: Path, forward_passes: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    train(project, _config())
    base = forward_passes["images"]
    recipe = preset(next(name for name in PRESETS if name != DEFAULT_PRESET)).to_dict()
    train(project, _config(recipe=recipe))
    assert (
        forward_passes["images"] - base == 2 * 54
    )  # augmented views miss; clean validation views are reused
    base = forward_passes["images"]

    entry = next(p for p in _entries(project) if p.name.endswith(".clean.f32"))  # a validation view
    data = bytearray(entry.read_bytes())
    data[-1] ^= 0x55
    entry.write_bytes(bytes(data))
    train(project, _config())
    assert forward_passes["images"] - base == 1  # only the damaged view, recomputed, not trusted
    base = forward_passes["images"]

    real_build = setup.build_classifier

    def other_weights(spec, pretrained=True):  # noqa: ANN001, ANN202
        model = real_build(spec, pretrained=pretrained)
        with torch.no_grad():
            next(model.backbone.parameters()).add_(1e-3)
        return model

    monkeypatch.setattr(setup, "build_classifier", other_weights)
    train(project, _config())
    assert forward_passes["images"] - base == 2 * 54 + 18  # other weights: every view computed again


def test_a_stop_during_the_feature_pass_keeps_its_work_and_leaves_no_empty_run(
    project: Path, forward_passes: dict[str, int]
) -> None:
    seen: list[PreparationProgress] = []

    def stop_after_two_batches() -> bool:
        return len(seen) >= 2

    def collect(event: object) -> None:
        if isinstance(event, PreparationProgress):
            seen.append(event)

    stopped = train(project, _config(), on_event=collect, should_stop=stop_after_two_batches)
    assert stopped.status == "stopped" and stopped.removed and not Path(stopped.run_dir).exists()
    assert "stay cached" in stop_cost(seen[-1])
    with ProjectStore.open(project) as store:
        assert store.runs() == []
    kept = len(_entries(project))
    assert kept == forward_passes["images"] > 0
    train(project, _config())
    assert forward_passes["images"] == 2 * 54 + 18  # the stopped pass's views were not computed again


def test_the_cache_stays_under_its_limit_dropping_the_least_recently_used(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "features", "space", str, limit_bytes=10 * 1024)
    vector = np.arange(256, dtype=np.float32)  # 1 KiB and a header per entry
    hashes = [f"{i:064x}" for i in range(14)]
    for i, image_hash in enumerate(hashes):
        store.write(image_hash, "clean", vector + i)
        stamp = 1_000_000 + i
        os.utime(store.path(image_hash, "clean"), (stamp, stamp))
    assert store.read(hashes[0], "clean") is not None  # used just now: kept
    removed = store.prune()
    assert removed > 0
    left = [h for h in hashes if store.path(h, "clean").exists()]
    assert hashes[0] in left and hashes[1] not in left
    assert sum(store.path(h, "clean").stat().st_size for h in left) <= 10 * 1024
    assert np.array_equal(store.read(hashes[-1], "clean"), vector + 13)


def test_step_eta_comes_from_training_steps_not_the_feature_pass_or_a_pause(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clock that moves a millisecond per reading, plus 1000 s for each feature batch and for a pause:
    # the estimate must not depend on how busy this machine is.
    clock = {"now": 0.0}

    def now() -> float:
        clock["now"] += 1e-3
        return clock["now"]

    monkeypatch.setattr(time, "perf_counter", now)
    real = feature_cache.extract_features

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        clock["now"] += 1000.0  # a slow backbone: a long feature pass before the head's quick steps
        return real(*args, **kwargs)

    monkeypatch.setattr(feature_cache, "extract_features", slow)
    calls = {"n": 0}

    def pause_once() -> bool:
        calls["n"] += 1
        if calls["n"] == 30:  # during the training steps
            clock["now"] += 1000.0  # the user paused for a while
        return False

    events: list[object] = []
    train(project, _config(epochs=4), on_event=events.append, should_stop=pause_once)
    steps = [e for e in events if isinstance(e, StepProgress)]
    preparation = [e for e in events if isinstance(e, PreparationProgress)]
    assert all(e.phase == "training" for e in steps) and preparation[-1].phase == "features"
    assert all(e.eta_seconds is not None for e in steps)
    assert preparation[-1].eta_seconds is not None
    # Thousands of seconds went into the feature pass and the pause; the training steps take well under 10.
    assert max(e.eta_seconds for e in steps) < 10.0 < clock["now"] / 100
    assert steps[-1].eta_seconds == 0.0
    assert [e.epochs_completed for e in steps if e.step == 1] == [0, 1, 2, 3]


def test_evaluation_of_a_frozen_run_reads_and_fills_the_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setenv("DMTL_STUDIO_FEATURE_ENGINE", "torch")  # the backbone module's hooks count the images

    from dmtl_studio.core.evaluation.inference import evaluate_run
    from dmtl_studio.core.models.checkpoint import load_checkpoint

    run = train(project, _config())
    images_through_backbone = {"n": 0}

    def evaluate() -> object:
        loaded = load_checkpoint(run.run_dir)
        loaded.model.backbone.register_forward_hook(
            lambda module, inputs, output: images_through_backbone.__setitem__(
                "n", images_through_backbone["n"] + len(inputs[0])
            )
        )
        return evaluate_run(project, run.run_dir, loaded=loaded)

    # No test split here: the validation images are scored, and training stored their clean views.
    cached = evaluate()
    assert cached.split == "val" and len(cached.image_ids) == 18
    assert cached.reused_features == 18 and images_through_backbone["n"] == 0
    assert "reused 18 cached feature vector(s)" in cached.describe()

    shutil.rmtree(
        project / FEATURES_DIR
    )  # from the files: the same probabilities, and the cache filled again
    fresh = evaluate()
    assert fresh.reused_features == 0 and images_through_backbone["n"] == 18
    np.testing.assert_array_equal(fresh.image_ids, cached.image_ids)
    np.testing.assert_allclose(fresh.probabilities, cached.probabilities, atol=1e-5)
    assert evaluate().reused_features == 18 and images_through_backbone["n"] == 18
