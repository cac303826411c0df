"""An image file changed on disk after the import: its new content is recorded and its features computed again,
never the cached features of the picture it replaced (training, evaluation, the data-quality features)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.evaluation.inference import evaluate_run
from dmtl_studio.core.models.features import FEATURES_DIR
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.file_changes import check_image_files
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.features import frozen_features
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.run import train


@pytest.fixture
def own_project(tmp_path: Path) -> Path:
    """A project over its own pictures (the shared ones must not change under other tests)."""
    images = write_shapes_folder(tmp_path / "images", 12, seed=3, size=64)
    with ProjectStore.create(tmp_path / "project") as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.0, seed=0)
    return tmp_path / "project"


def _config() -> TrainConfig:
    return TrainConfig(
        epochs=1, batch_size=8, learning_rate=3e-3, input_size=32, device="cpu", seed=2, feature_views=1
    )


def _replace(path: str, other: str) -> None:
    """``path`` now holds the picture of ``other`` (another class's), as a user copying over it does."""
    shutil.copyfile(other, path)


def _sha_of(project: Path, path: str) -> str:
    with ProjectStore.open(project) as store:
        return next(im.sha256 for im in store.images() if im.path == path)


def test_evaluation_uses_the_new_picture_of_a_file_replaced_after_training(own_project: Path) -> None:
    project = own_project
    run = train(project, _config())  # stores the clean features of every validation image
    with ProjectStore.open(project) as store:
        val = [im for im in store.images(usable_only=True) if im.split == "val"]
    victim = val[0]
    other = next(im for im in val if im.label != victim.label)
    before = evaluate_run(project, run.run_dir)
    row = list(before.paths).index(victim.path)
    _replace(victim.path, other.path)

    after = evaluate_run(project, run.run_dir)
    assert "1 image(s) changed on disk since the import" in after.note
    assert _sha_of(project, victim.path) == file_sha256(victim.path) == other.sha256
    shutil.rmtree(project / FEATURES_DIR)  # the truth: every feature from the files as they are now
    fresh = evaluate_run(project, run.run_dir)
    assert fresh.reused_features == 0 and "changed on disk" not in fresh.note  # recorded once, reported once
    np.testing.assert_allclose(after.probabilities, fresh.probabilities, atol=1e-5)
    # The replaced file now scores as the picture it holds, not as the one it held.
    np.testing.assert_allclose(
        after.probabilities[row], fresh.probabilities[list(fresh.paths).index(other.path)], atol=1e-5
    )
    assert not np.allclose(after.probabilities[row], before.probabilities[row], atol=1e-3)


def test_training_and_the_quality_features_use_the_new_picture(own_project: Path) -> None:
    project = own_project
    train(project, _config())
    with ProjectStore.open(project) as store:
        train_images = [im for im in store.images(usable_only=True) if im.split == "train"]
        victim = train_images[0]
        other = next(im for im in train_images if im.label != victim.label)
        old = frozen_features(store, [victim.path], _config())
    _replace(victim.path, other.path)

    events: list[object] = []
    train(project, _config(), on_event=events.append)
    notices = [e.message for e in events if isinstance(e, RunNotice) and "changed on disk" in e.message]
    assert len(notices) == 1 and victim.path in notices[0]
    assert _sha_of(project, victim.path) == other.sha256
    reported: list[tuple[int, int]] = []
    with ProjectStore.open(project) as store:
        used = frozen_features(
            store, [victim.path, other.path], _config(), on_progress=lambda d, t, _s: reported.append((d, t))
        )
    assert reported[-1] == (2, 2)  # one pass over the two pictures, complete at the end
    np.testing.assert_allclose(used[0], used[1], atol=1e-5)  # the same picture now
    assert not np.allclose(used[0], old[0], atol=1e-3)


def test_a_same_size_change_is_found_by_its_time_and_an_untouched_file_is_not_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "images"
    for name, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
        (folder / name).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (16, 16), (colour[0], k * 40, colour[2])).save(folder / name / f"{k}.bmp")
    with ProjectStore.create(tmp_path / "project") as store:
        import_folder(store, folder, val_fraction=0.0, test_fraction=0.0, seed=0)
        target = str((folder / "a" / "0.bmp").absolute())
        size = os.path.getsize(target)
        Image.new("RGB", (16, 16), (0, 255, 0)).save(target)  # same format and size: another picture
        assert os.path.getsize(target) == size
        stamp = os.stat(target).st_mtime_ns
        os.utime(target, ns=(stamp + 2_000_000_000, stamp + 2_000_000_000))

        hashed: list[str] = []
        real = file_sha256
        monkeypatch.setattr(
            "dmtl_studio.core.project.file_changes.file_sha256", lambda p: hashed.append(p) or real(p)
        )
        changes = check_image_files(store)
        assert list(changes.hashes) == [target] and hashed == [target]  # the other five: a stat each
        assert _record(store, target).sha256 == file_sha256(target)
        hashed.clear()
        assert not check_image_files(store).changed and hashed == []  # its new stamp is recorded

        os.utime(target, ns=(stamp + 4_000_000_000, stamp + 4_000_000_000))  # touched, same content
        assert not check_image_files(store).changed and hashed == [target]


def _record(store: ProjectStore, path: str) -> object:
    return next(im for im in store.images() if im.path == path)


def test_a_project_from_before_file_times_hashes_each_file_once(own_project: Path) -> None:
    with ProjectStore.open(own_project) as store:
        with store.transaction() as conn:
            conn.execute("UPDATE images SET mtime_ns = NULL")  # as a project of an earlier release migrates
        first = store.images(usable_only=True)[0]
        assert not check_image_files(store).changed  # hashed once, nothing changed: stamps recorded
        assert all(im.mtime_ns == os.stat(im.path).st_mtime_ns for im in store.images(usable_only=True))
        Image.new("RGB", (48, 48), (9, 9, 9)).save(first.path)
        changes = check_image_files(store)
    assert list(changes.hashes) == [first.path] and "1 image(s) changed on disk" in (changes.notice() or "")


def test_a_file_deleted_after_a_frozen_run_is_reported_not_scored_from_its_cached_features(
    own_project: Path,
) -> None:
    project = own_project
    run = train(project, _config())  # a frozen run: every validation image's features are cached
    before = evaluate_run(project, run.run_dir)
    victim = before.paths[0]
    os.remove(victim)

    after = evaluate_run(project, run.run_dir)
    assert victim not in after.paths  # as a fine-tuned run, which has to read the file, leaves it out
    assert [path for path, _ in after.unreadable] == [victim]
    assert len(after.paths) == len(before.paths) - 1
    kept = [list(before.paths).index(path) for path in after.paths]
    np.testing.assert_allclose(after.probabilities, before.probabilities[kept], atol=1e-5)
