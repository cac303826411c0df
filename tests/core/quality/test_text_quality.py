"""The data-quality checks on a text project: duplicates and leaks by text hash and encoder embeddings, label
errors on the encoder's embeddings, and the audit's label check and leak check with the bundled encoder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER
from dmtl_studio.core.models.text_encoder import load_text_encoder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.texts_table import TextItem
from dmtl_studio.core.quality.audit import write_audit_bundle
from dmtl_studio.core.quality.duplicates import TEXT_MIN_COSINE, find_duplicates
from dmtl_studio.core.quality.embedding_map import dataset_map
from dmtl_studio.core.quality.embedding_map import project as project_points
from dmtl_studio.core.quality.features import text_embeddings
from dmtl_studio.core.quality.label_errors import QualityError, find_label_errors
from dmtl_studio.core.training.config import TrainConfig
from tests.core.text_run import CLASSES, TEXTS, copy_text_project, make_text_project

#: Copies planted in a text project: an exact one (spacing only) of a training text in test, a near one (case and
#: punctuation) of another training text in test, and that near one again in validation under another label.
EXACT = ("copies.csv#1", "the  stock market   fell", "money", "test")
NEAR = ("copies.csv#2", "The cat purrs softly.", "cats", "test")
CONFLICT = ("copies.csv#3", "The cat purrs softly!", "weather", "val")


def plant_copies(project: Path, copies: tuple[tuple[str, str, str, str], ...]) -> dict[str, int]:
    """Add ``(source, text, label, split)`` items; returns ``{source: id}`` of the whole project."""
    with ProjectStore.open(project) as store:
        store.add_texts([TextItem(source, text, label) for source, text, label, _ in copies])
        ids = {record.path: record.id for record in store.images()}
        store.set_splits({ids[source]: split for source, _, _, split in copies})
    return ids


def _config() -> TrainConfig:
    return TrainConfig(device="cpu")


def test_duplicates_of_a_text_project_are_exact_and_near_copies_with_their_leaks(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "project")
    plant_copies(project, (EXACT, NEAR, CONFLICT))
    report = find_duplicates(project, config=_config())
    assert report.unreadable == () and report.used_features
    with ProjectStore.open(project) as store:
        assert report.images == store.image_count()
    groups = {frozenset(m.path for m in group.members): group for group in report.groups}
    # money.csv#1 is "the stock market fell", cats.csv#1 "the cat purrs softly" (tests/core/text_run.py).
    assert set(groups) == {
        frozenset({"money.csv#1", EXACT[0]}),
        frozenset({"cats.csv#1", NEAR[0], CONFLICT[0]}),
    }
    exact = groups[frozenset({"money.csv#1", EXACT[0]})]
    assert exact.kind == "exact" and exact.warnings == ("spans splits: train (1), test (1)",)
    near = groups[frozenset({"cats.csv#1", NEAR[0], CONFLICT[0]})]
    assert near.kind == "near"
    assert near.warnings == ("spans splits: train (1), val (1), test (1)", "different labels: cats, weather")
    # The near pairs are those of the encoder's embeddings at or above the threshold, and no others.
    encoder = load_text_encoder(DEFAULT_TEXT_ENCODER)
    corpus = [text for name in TEXTS for text in TEXTS[name]]
    vectors = encoder.encode([*corpus, NEAR[1], CONFLICT[1]]).numpy()
    cosine = vectors @ vectors.T
    assert cosine[-2, corpus.index("the cat purrs softly")] >= TEXT_MIN_COSINE
    distinct = cosine[: len(corpus), : len(corpus)] - 2 * np.eye(len(corpus))
    assert distinct.max() < TEXT_MIN_COSINE  # the fixture's own texts stay apart


def test_label_errors_of_a_text_project_find_flipped_labels(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "project")
    flipped = {"cats.csv#3": "money", "money.csv#5": "weather", "weather.csv#2": "cats"}
    with ProjectStore.open(project) as store:
        ids = {record.path: record.id for record in store.images()}
        for source, wrong in flipped.items():
            store.set_label([ids[source]], wrong)
    # The encoder named as a text run's configuration names it (what the audit passes): bundled, read offline.
    config = TrainConfig(backbone=DEFAULT_TEXT_ENCODER, device="cpu")
    report = find_label_errors(project, folds=4, config=config)
    assert report.images == sum(len(texts) for texts in TEXTS.values())
    suspects = {s.path: (s.given, s.suggested) for s in report.suspects}
    for source, wrong in flipped.items():  # found, with the true class (the file's name) suggested
        assert suspects.get(source) == (wrong, source.split(".")[0]), report.suspects
    scores = [s.score for s in report.suspects]
    assert scores == sorted(scores, reverse=True)
    # An audit checks its run's classes only (h35: a class added since the run was checked with them).
    two = find_label_errors(project, folds=4, config=config, classes=("cats", "weather"))
    with ProjectStore.open(project) as store:
        labelled = sum(1 for record in store.images() if record.label in ("cats", "weather"))
    assert two.classes == ("cats", "weather") and two.images == labelled < report.images
    assert {s.given for s in two.suspects} <= {"cats", "weather"}


def test_too_few_labelled_texts_for_the_folds_speaks_of_texts(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "project")
    with pytest.raises(QualityError, match="20 folds need at least 20 labelled texts per class") as caught:
        find_label_errors(project, folds=20, config=_config())
    assert "image" not in str(caught.value)
    # The window and the audit have no folds setting: they run with as many folds as the smallest class allows
    # ("use 8 folds or fewer" had nothing to follow it with, h35).
    fewest = min(len(texts) for texts in TEXTS.values())
    assert find_label_errors(project, folds=20, config=_config(), fit_folds=True).folds == fewest


def test_audit_of_a_text_run_checks_labels_with_the_bundled_encoder_and_finds_the_leak(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    project, run_dir = copy_text_project(tmp_path_factory)
    plant_copies(project, (EXACT,))
    out = write_audit_bundle(run_dir, tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as bundle:
        card = json.loads(bundle.read("model-card.json"))
        markdown = bundle.read("model-card.md").decode("utf-8")
    issues = card["label_issues"]
    assert issues["checked"], issues
    assert issues["images"] == sum(len(texts) for texts in TEXTS.values()) + 1
    leaks = card["leaks"]
    assert [sorted(m["path"] for m in group["members"]) for group in leaks["warned"]] == [
        sorted(["money.csv#1", EXACT[0]])
    ]
    assert card["data"]["kind"] == "text"
    assert card["model"]["pretrained_weights"]["source"] == (
        f"the text encoder {DEFAULT_TEXT_ENCODER} (bundled with DMTL Studio)"
    )
    for words in ("labelled texts when", "Every text's hash", "labelled text(s)", "near-identical texts"):
        assert words in markdown
    assert " image" not in markdown.replace("training-images.csv", "")


def test_the_dataset_map_of_a_text_project_places_texts_by_their_embeddings(tmp_path: Path) -> None:
    project = make_text_project(tmp_path / "project")
    # The window passes its training settings, whose backbone is an image one: the bundled encoder maps the texts.
    result = dataset_map(project, config=_config())
    assert result.kind == "text"
    with ProjectStore.open(project) as store:
        records = list(store.images(usable_only=True))
        reported: list[tuple[int, int]] = []
        embeddings = text_embeddings(
            store,
            [record.id for record in records],
            _config(),
            on_progress=lambda d, t, _s: reported.append((d, t)),
        )
    # The progress counts one pass over the texts and ends complete (it counted them twice and stopped halfway).
    assert reported and reported[-1] == (len(records), len(records))
    assert result.paths == tuple(record.path for record in records)
    np.testing.assert_allclose(result.points, project_points(embeddings), rtol=1e-4, atol=1e-4)
    # The topics lie apart on the map: each text is nearer its own class's centre than another's.
    labels = np.array([CLASSES.index(label) for label in result.labels])
    centres = np.stack([result.points[labels == k].mean(axis=0) for k in range(len(CLASSES))])
    nearest = np.argmin(((result.points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(nearest == labels) >= 0.8
