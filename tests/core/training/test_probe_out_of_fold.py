"""Out-of-fold logits of a linear probe: what calibrates a probe whose validation items joined its fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dmtl_studio.core.evaluation.inference import probabilities_for
from dmtl_studio.core.models.calibration import calibrate, softmax
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.linear_probe import fit_linear_probe
from dmtl_studio.core.training.out_of_fold import (
    FITTED_ON,
    HELD_OUT_NAME,
    held_out_logits,
    out_of_fold_logits,
)
from dmtl_studio.core.training.run import train


def _overfitting_toy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """60 items of 3 classes in 80 dimensions, the class only weakly in the features: a weakly regularised
    probe fits every item and generalises poorly."""
    rng = np.random.default_rng(seed)
    targets = np.repeat(np.arange(3), 20)
    features = rng.normal(size=(60, 80))
    features[:, :3] += 0.6 * np.eye(3)[targets]
    return features, targets


def _top(logits: np.ndarray) -> float:
    return float(softmax(logits).max(1).mean())


def test_out_of_fold_logits_are_less_confident_than_in_fit_ones_where_the_probe_overfits() -> None:
    features, targets = _overfitting_toy()
    probe = fit_linear_probe(features, targets, c_grid=[10.0])  # weak regularisation: it fits every item
    in_fit = probe.logits(features)
    assert (in_fit.argmax(1) == targets).all()
    groups = np.arange(60)
    held_out = out_of_fold_logits(
        features, targets, groups, features, groups, c=10.0, folds=5, num_classes=3, seed=0
    )
    assert held_out.shape == in_fit.shape and not np.allclose(held_out, in_fit, atol=1e-2)
    assert _top(held_out) < _top(in_fit) - 0.1
    assert (held_out.argmax(1) == targets).mean() < (in_fit.argmax(1) == targets).mean()
    # the temperature fitted on them is larger (less sure) than the one the in-fit logits give
    assert calibrate(held_out, targets)["temperature"] > calibrate(in_fit, targets)["temperature"]


def test_the_views_of_an_item_stay_in_its_fold() -> None:
    features, targets = _overfitting_toy(1)
    rng = np.random.default_rng(2)
    views = np.concatenate([features + 0.05 * rng.normal(size=features.shape) for _ in range(2)])
    view_targets, items = np.tile(targets, 2), np.tile(np.arange(60), 2)
    grouped = out_of_fold_logits(
        views, view_targets, items, features, np.arange(60), c=10.0, folds=5, num_classes=3
    )
    alone = np.arange(120)  # each view its own group: the other view of a predicted item is in the fit
    leaked = out_of_fold_logits(
        views, view_targets, alone, features, alone[:60], c=10.0, folds=5, num_classes=3
    )
    assert (leaked.argmax(1) == targets).mean() > (grouped.argmax(1) == targets).mean()
    assert _top(leaked) > _top(grouped)


def test_a_probe_that_fitted_its_validation_images_is_calibrated_on_their_out_of_fold_logits(
    project: Path,
) -> None:
    with ProjectStore.open(
        project
    ) as store:  # a test split: the probe takes the validation images into its fit
        train_ids = [im.id for im in store.images(usable_only=True) if im.split == "train" and im.label]
        store.set_splits({image_id: "test" for image_id in train_ids[::4]})
        val = [im for im in store.images(usable_only=True) if im.split == "val" and im.label]
    config = TrainConfig(
        epochs=1, batch_size=8, input_size=32, device="cpu", seed=2, feature_views=1, linear_probe=True
    ).with_changes(transfer="frozen", head="linear")
    run = Path(train(project, config).run_dir)
    entry = json.loads((run / "model.json").read_text())["calibration"]
    assert entry["fitted_on"] == FITTED_ON and entry["images"] == len(val)
    loaded = load_checkpoint(run)
    classes = list(loaded.classes)
    kept = held_out_logits(run, classes)
    assert (run / HELD_OUT_NAME).is_file() and set(kept) == {im.sha256 for im in val}
    targets = np.asarray([classes.index(im.label) for im in val])
    out_of_fold = np.stack([kept[im.sha256] for im in val])
    assert entry["temperature"] == calibrate(out_of_fold, targets)["temperature"]
    # The model's own logits of those images (the fit saw them): log p * T is softmax-equivalent to them.
    rows, probs, _, _ = probabilities_for(loaded, [im.path for im in val])
    assert rows == list(range(len(val)))
    in_fit = np.log(np.clip(probs, 1e-300, None)) * entry["temperature"]
    assert not np.allclose(softmax(in_fit), softmax(out_of_fold), atol=1e-3)
    assert abs(np.log(calibrate(in_fit, targets)["temperature"] / entry["temperature"])) > 1e-3
    # The figure runs are compared by (the run table showed "—" for every probe run): those same logits' accuracy.
    with ProjectStore.open(project) as store:
        record = store.runs()[-1]
    assert record.final_metrics["best"]["val_accuracy"] is None
    assert record.best_accuracy() == ((out_of_fold.argmax(1) == targets).mean(), True)


def test_identical_items_of_a_class_share_a_group_and_those_of_two_classes_do_not() -> None:
    from dmtl_studio.core.training.probe_fit import content_groups

    groups = content_groups(("a", "b", "a", "a", "c"), np.array([0, 0, 0, 1, 1]))
    assert groups[0] == groups[2]  # one picture saved twice in one class: one group
    assert (
        len({groups[0], groups[1], groups[3], groups[4]}) == 4
    )  # the copy under the other label stays apart
    assert content_groups((), np.array([0, 1, 1])).tolist() == [0, 1, 2]  # no contents known: one per item


def test_copies_in_the_training_split_do_not_lead_the_probe_to_memorise_noise(tmp_path: Path) -> None:
    """Two classes of pure noise, each picture saved three times: copies dealt into different folds scored the
    probe on what it had fitted, so cross-validation chose the weakest regularisation (C = 10) and the out-of-fold
    scores calibrating the run were all right; kept together, the strongest one wins, as without copies."""
    from PIL import Image

    from dmtl_studio.core.project.importer import import_folder

    rng = np.random.default_rng(3)
    folder = tmp_path / "noise"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for k in range(30):
            picture = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
            for copy in range(3):
                picture.save(folder / label / f"{k}-{copy}.png")
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, folder, val_fraction=0.2, test_fraction=0.2, seed=0)
    summary = train(project, TrainConfig.recommended(input_size=32, device="cpu", feature_views=1, seed=0))
    metrics = json.loads((Path(summary.run_dir) / "model.json").read_text())["metrics"]
    assert (
        metrics["probe_c"] <= 0.1
    )  # strong regularisation: noise is not memorised (C = 10 with copies apart)
