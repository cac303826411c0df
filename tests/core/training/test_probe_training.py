"""A frozen run whose linear head is fitted as a linear probe: one fit to convergence in place of epochs, the C
it chose said in the run's notes, the head in the checkpoint equal to the probe fitted on the cached views, and the
standardisation folded into it travelling into ONNX, where predict gives the run's own labels."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.evaluation.export import export_run
from dmtl_studio.core.evaluation.predict import predict_folder, predict_with
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import EpochResult, RunNotice, StepProgress
from dmtl_studio.core.training.linear_probe import DEFAULT_C_GRID, fit_linear_probe
from dmtl_studio.core.training.probe_fit import uses_linear_probe
from dmtl_studio.core.training.probe_model import to_module
from dmtl_studio.core.training.pseudo_labels import pseudo_label
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.setup import build_run


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(
        epochs=6, batch_size=8, input_size=64, device="cpu", seed=4, feature_views=2, linear_probe=True
    )
    return base.with_changes(**changes)


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory, _imported_template: Path) -> tuple[Path, Path, list]:
    project = tmp_path_factory.mktemp("probe") / "project"
    shutil.copytree(_imported_template, project)
    events: list[object] = []
    summary = train(project, _config(), on_event=events.append)
    assert summary.status == "completed"
    return project, Path(summary.run_dir), events


def test_the_head_is_fitted_once_and_the_run_says_which_c(probe_run: tuple[Path, Path, list]) -> None:
    project, run_dir, events = probe_run
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert [s.learning_rate for s in steps] == pytest.approx(list(DEFAULT_C_GRID))  # one step per C tried
    assert all(s.loss > 0 for s in steps)  # each C's held-out log-loss
    epochs = [e for e in events if isinstance(e, EpochResult)]
    assert len(epochs) == 1 and epochs[0].epochs == 1 and epochs[0].val_accuracy is not None
    assert epochs[0].train_accuracy > 0.9  # the shapes are separable in the backbone's features
    notes = [e.message for e in events if isinstance(e, RunNotice)]
    (note,) = [n for n in notes if "linear probe" in n and "C = " in n]
    # The epoch carries the chosen strength (the window marks it): one of those tried, the one the note names.
    assert epochs[0].probe_c in [s.learning_rate for s in steps]
    assert f"C = {epochs[0].probe_c:g} " in note
    # It is the strength with the lowest cross-validated log-loss (the first of equals).
    losses = [s.loss for s in steps]
    assert epochs[0].probe_c == pytest.approx(steps[losses.index(min(losses))].learning_rate)
    stored = json.loads((run_dir / "model.json").read_text(encoding="utf-8"))["metrics"]
    assert stored["probe_c"] == pytest.approx(epochs[0].probe_c)  # the checkpoint keeps it too
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
        assert run.status == "completed" and len(store.epoch_metrics(run.id)) == 1


def test_the_checkpoint_head_is_the_probe_fitted_on_the_cached_views(
    probe_run: tuple[Path, Path, list],
) -> None:
    project, run_dir, _ = probe_run
    with ProjectStore.open(project) as store:
        parts = build_run(store, _config())
    data = parts.cache.train()
    views, count, width = data.features.shape
    probe = fit_linear_probe(
        data.features.reshape(views * count, width).numpy(),
        np.tile(data.targets.numpy(), views),
        num_classes=parts.num_classes,
        groups=np.tile(np.arange(count), views),
        seed=4,
    )
    expected = to_module(probe)
    head = load_checkpoint(run_dir, device="cpu").model.head[1]
    torch.testing.assert_close(head.weight, expected.weight, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(head.bias, expected.bias, atol=1e-5, rtol=1e-4)
    # The standardisation is folded in: the raw features' logits are the probe's own.
    logits = head(data.features[0]).detach().numpy()
    np.testing.assert_allclose(logits, probe.logits(data.features[0].numpy()), atol=1e-3)


def test_a_run_reads_the_project_s_content_hashes_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-out plan, the feature cache and the probe's folds share one reading of the store's hashes."""
    from dmtl_studio.core.training import image_inputs, labelled, setup

    reads: list[object] = []

    def counted(store: ProjectStore):  # noqa: ANN202
        reads.append(store)
        return labelled.content_hashes(store)

    monkeypatch.setattr(setup, "content_hashes", counted)
    monkeypatch.setattr(image_inputs, "content_hashes", lambda store: pytest.fail("read a second time"))
    with ProjectStore.open(project) as store:
        parts = build_run(store, _config())
        assert len(reads) == 1
        hashes = {im.path: im.sha256 for im in store.images()}
        assert parts.train_contents == tuple(hashes[path] for path in parts.train_set.paths)


def _labels(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {Path(row["path"]).name: row["predicted_label"] for row in csv.DictReader(handle)}


def test_the_standardisation_travels_into_onnx_and_predict_gives_the_same_labels(
    probe_run: tuple[Path, Path, list], tmp_path: Path
) -> None:
    project, run_dir, _ = probe_run
    with ProjectStore.open(project) as store:
        paths = sorted(Path(r.path) for r in store.images(usable_only=True))[::6]
    folder = tmp_path / "images"
    folder.mkdir()
    for path in paths:
        shutil.copy(path, folder / path.name)
    result = export_run(run_dir, "onnx", tmp_path / "model.onnx")
    assert result.max_abs_difference is not None and result.max_abs_difference < 1e-3
    predict_with(result.path, folder, tmp_path / "onnx.csv")
    predict_folder(run_dir, folder, tmp_path / "run.csv")
    assert _labels(tmp_path / "onnx.csv") == _labels(tmp_path / "run.csv")
    assert len(_labels(tmp_path / "onnx.csv")) == len(paths)


def test_the_probe_applies_only_to_a_frozen_linear_head() -> None:
    assert uses_linear_probe(_config())
    assert not uses_linear_probe(_config(linear_probe=False))
    assert not uses_linear_probe(_config(transfer="partial"))
    assert not uses_linear_probe(_config(head="mlp"))
    assert uses_linear_probe(_config(consistency_weight=1.0))  # labelled images only: the probe stands in
    assert uses_linear_probe(_config(consistency_weight=1.0, use_unlabelled=True))  # with pseudo-labels
    assert not TrainConfig().linear_probe  # a stored configuration without the key keeps its epochs
    assert TrainConfig.recommended().linear_probe  # a new frozen run fits its head as a probe


def test_with_the_consistency_term_on_labelled_images_the_clean_views_join_the_rows(project: Path) -> None:
    events: list[object] = []
    summary = train(project, _config(consistency_weight=1.0), on_event=events.append)
    assert summary.status == "completed" and summary.epochs_completed == 1
    with ProjectStore.open(project) as store:
        parts = build_run(store, _config(consistency_weight=1.0))
    data = parts.cache.train()
    assert data.clean is not None
    views, count, width = data.features.shape
    rows = np.concatenate([data.features.reshape(views * count, width).numpy(), data.clean.numpy()])
    clean_rows = np.arange(len(rows)) >= views * count
    fit = dict(num_classes=parts.num_classes, groups=np.tile(np.arange(count), views + 1), seed=4)
    targets = np.tile(data.targets.numpy(), views + 1)
    probe = fit_linear_probe(rows, targets, scored=clean_rows, **fit)
    head = load_checkpoint(Path(summary.run_dir), device="cpu").model.head[1]
    torch.testing.assert_close(head.weight, to_module(probe).weight, atol=1e-5, rtol=1e-4)
    # The held-out folds were scored on the clean views alone (what the model will predict), not on every view.
    losses = [e.loss for e in events if isinstance(e, StepProgress) and e.phase == "probe"]
    np.testing.assert_allclose(losses, [-v for v in probe.cv_scores], rtol=1e-5)
    every_view = fit_linear_probe(rows, targets, **fit)
    assert not np.allclose(losses, [-v for v in every_view.cv_scores], rtol=1e-3)


def test_unlabelled_images_join_the_fit_only_with_class_balanced_pseudo_labels(project: Path) -> None:
    with ProjectStore.open(project) as store:
        records = store.images(usable_only=True)
        train_ids = [r.id for r in records if r.split in (None, "train") and r.label is not None]
        store.set_label(train_ids[::2], None)  # half the training images lose their label
        unlabelled_count = len(train_ids[::2]) + sum(r.label is None for r in records)
    config = _config(consistency_weight=1.0, use_unlabelled=True)
    events: list[object] = []
    summary = train(project, config, on_event=events.append)
    assert summary.status == "completed" and summary.epochs_completed == 1
    notes = [e.message for e in events if isinstance(e, RunNotice)]
    (spread,) = [n for n in notes if n.startswith("label spreading")]
    (fitted,) = [n for n in notes if "fitted to convergence" in n]
    assert "-fold cross-validation" in fitted  # the refit with pseudo-labels keeps the C the folds chose
    with ProjectStore.open(project) as store:
        parts = build_run(store, config)
    data, unlabelled = parts.cache.train(), parts.cache.unlabelled()
    assert len(data.targets) == len(train_ids) - len(train_ids[::2])  # no unlabelled image among the labelled
    assert (unlabelled.targets < 0).all()
    views, count, width = data.features.shape
    labelled_rows = np.concatenate([data.features.reshape(views * count, width).numpy(), data.clean.numpy()])
    labelled_targets = np.tile(data.targets.numpy(), views + 1)
    # C is chosen on the true labels alone.
    chosen_c = fit_linear_probe(
        labelled_rows,
        labelled_targets,
        num_classes=parts.num_classes,
        groups=np.tile(np.arange(count), views + 1),
        seed=4,
    ).c
    pseudo = pseudo_label(
        data.clean.numpy(), data.targets.numpy(), unlabelled.clean.numpy(), parts.num_classes
    )
    assert f"label spreading: {len(pseudo)} of {unlabelled_count} unlabelled" in spread
    assert len(unlabelled.targets) == unlabelled_count
    assert 0 < len(pseudo) < unlabelled_count  # the least confident half of each class stays out
    index = torch.from_numpy(pseudo.indices)
    pseudo_rows = np.concatenate(
        [unlabelled.features[:, index].reshape(-1, width).numpy(), unlabelled.clean[index].numpy()]
    )
    probe = fit_linear_probe(
        np.concatenate([labelled_rows, pseudo_rows]),
        np.concatenate([labelled_targets, np.tile(pseudo.labels, views + 1)]),
        num_classes=parts.num_classes,
        c_grid=[chosen_c],
        seed=4,
    )
    head = load_checkpoint(Path(summary.run_dir), device="cpu").model.head[1]
    torch.testing.assert_close(head.weight, to_module(probe).weight, atol=1e-5, rtol=1e-4)


def test_with_a_test_split_the_validation_images_join_the_probe(project: Path) -> None:
    with ProjectStore.open(project) as store:
        records = store.images(usable_only=True)
        val = [r.id for r in records if r.split == "val"]
        train_ids = [r.id for r in records if r.split in (None, "train") and r.label is not None]
        store.set_splits({i: "test" for i in train_ids[::4]})
    events: list[object] = []
    summary = train(project, _config(), on_event=events.append)
    notes = [e.message for e in events if isinstance(e, RunNotice)]
    assert any(f"the {len(val)} validation image(s) joined the fit" in n for n in notes)
    (epoch,) = [e for e in events if isinstance(e, EpochResult)]
    assert epoch.val_accuracy is None  # no held-out pick: the choice of C was cross-validated
    with ProjectStore.open(project) as store:
        parts = build_run(store, _config())
    assert len(parts.val_set) == 0
    assert len(parts.train_set) == len(train_ids) - len(train_ids[::4]) + len(val)
    assert summary.status == "completed"
