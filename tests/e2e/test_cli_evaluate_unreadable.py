"""``evaluate``'s text output says which test images could not be read (they are left out of every score)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.cli import main
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train


def test_evaluate_lists_the_test_images_it_could_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = write_shapes_folder(
        tmp_path / "images", 12, seed=11, size=64
    )  # the test's own files: some broken
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, images, val_fraction=0.25, test_fraction=0.25, seed=0)
    config = TrainConfig(epochs=1, batch_size=12, input_size=64, device="cpu", feature_views=1)
    run_dir = train(project, config).run_dir
    with ProjectStore.open(project) as store:
        tested = sorted(image.path for image in store.images() if image.split == "test")
    broken = tested[:7]
    for path in broken:
        Path(path).write_bytes(b"\x89PNG\r\n\x1a\n not a picture any more")

    assert main(["evaluate", run_dir]) == 0
    out = capsys.readouterr().out
    assert f"run {Path(run_dir).name}: {len(tested) - 7} image(s) of the test split" in out
    assert "7 image(s) could not be read and were left out of the scores:" in out
    named = [path for path in broken if path in out]
    assert len(named) == 5 and "… and 2 more" in out
