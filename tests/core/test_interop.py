from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.importer import import_folder
from dmtl_studio.core.interop import export_csv, export_imagefolder, import_csv
from dmtl_studio.core.store import ProjectError, ProjectStore


def _labels_by_hash(store: ProjectStore) -> dict[str, str | None]:
    return {im.sha256: im.label for im in store.images(usable_only=True)}


def test_csv_round_trip_is_exact(tmp_path: Path, project: Path) -> None:
    with ProjectStore.open(project) as store:
        ids = [im.id for im in store.images(usable_only=True) if im.label is None]
        store.set_label(ids[:2], 'odd, quoted "name"')  # commas and quotes survive CSV
        written = export_csv(store, tmp_path / "labels.csv")
        original = {im.path: im.label for im in store.images(usable_only=True) if im.label}
    assert written == len(original)
    with ProjectStore.create(tmp_path / "fresh") as fresh:
        summary = import_csv(fresh, tmp_path / "labels.csv")
        assert summary.labelled == written and summary.added == written
        assert {im.path: im.label for im in fresh.images() if im.label} == original


def test_csv_with_relative_paths_and_bad_rows(tmp_path: Path, shapes_dir: Path) -> None:
    (tmp_path / "labels.csv").write_text("path,label\nmissing.png,x\n")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_csv(store, tmp_path / "labels.csv")
        # A row whose file is not there is reported, and leaves no trace in the project.
        assert summary.labelled == 0 and summary.added == 0 and not summary.problems
        assert summary.not_found == (str((tmp_path / "missing.png").absolute()),)
        assert store.image_count() == 0 and store.class_names() == []
    real = next((shapes_dir / "circle").glob("*.png"))
    (tmp_path / "new.csv").write_text(f"path,label\n{real},mitotic\n")
    with ProjectStore.create(tmp_path / "r") as store:
        summary = import_csv(store, tmp_path / "new.csv")
        assert summary.labelled == 1 and summary.new_classes == ("mitotic",)
    (tmp_path / "bad.csv").write_text("file;class\n")
    with ProjectStore.create(tmp_path / "q") as store, pytest.raises(ProjectError, match="header"):
        import_csv(store, tmp_path / "bad.csv")


def test_imagefolder_round_trip_keeps_every_label(tmp_path: Path, project: Path) -> None:
    with ProjectStore.open(project) as store:
        count = export_imagefolder(store, tmp_path / "tree")
        expected = {k: v for k, v in _labels_by_hash(store).items() if v}
    assert count == 72
    with ProjectStore.create(tmp_path / "again") as again:
        import_folder(again, tmp_path / "tree")
        assert _labels_by_hash(again) == expected
    with ProjectStore.open(project) as store, pytest.raises(ProjectError, match="not empty"):
        export_imagefolder(store, tmp_path / "tree")
