"""A run keeps what it said of how it trained (its notes) in its folder, and its report shows them."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.evaluation.report import write_report
from dmtl_studio.core.models.run_notes import RUN_NOTES_NAME, add_run_notes, read_run_notes
from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.run import train


def test_the_notes_a_run_said_are_kept_in_its_folder_and_shown_by_its_report(tmp_path: Path) -> None:
    images = write_shapes_folder(tmp_path / "images", 10, seed=5, size=64)
    with ProjectStore.create(tmp_path / "project") as store:
        import_folder(store, images, val_fraction=0.3, test_fraction=0.2, seed=0)
    events: list[object] = []
    config = TrainConfig.recommended(transfer="frozen", device="cpu", input_size=64, feature_views=1)
    summary = train(tmp_path / "project", config, events.append)
    said = [e.message for e in events if isinstance(e, RunNotice)]
    assert any("validation image(s) joined the fit" in note for note in said)
    assert read_run_notes(summary.run_dir) == list(dict.fromkeys(said))
    report, _ = write_report(summary.run_dir, tmp_path / "report.html")
    text = report.read_text(encoding="utf-8")
    assert ">How the run trained<" in text and "joined the fit" in text
    # A linear probe trains by no epochs: its epoch settings are listed apart, with why, not as its configuration.
    configuration, unused = text.split("<summary>Configuration</summary>")[1].split(
        "<summary>Settings this run did not use</summary>"
    )
    assert "<th class='l'>epochs</th>" in unused and "fitted as a linear probe" in unused
    assert "<th class='l'>epochs</th>" not in configuration and "<th class='l'>backbone</th>" in configuration
    # One fit to convergence: a sentence with its figures, not charts of one point each.
    curves = text.split("<h2>Training curves</h2>")[1].split("<h2")[0]
    assert "fitted once, to convergence (a linear probe" in curves
    assert "<svg" not in curves and "Learning rate (end" not in text
    assert "loss " in curves and "accuracy " in curves


def test_notes_are_added_once_each_and_a_damaged_file_reads_as_none(tmp_path: Path) -> None:
    add_run_notes(tmp_path, ["first", "second", "first"])
    add_run_notes(tmp_path, ["second", "resumed after epoch 2"])  # a resumed run adds its own
    assert read_run_notes(tmp_path) == ["first", "second", "resumed after epoch 2"]
    (tmp_path / RUN_NOTES_NAME).write_text("{not json", encoding="utf-8")
    assert read_run_notes(tmp_path) == []
    assert read_run_notes(tmp_path / "missing") == []
