"""A text run is evaluated, explained and reported like an image run: the confusion matrix over the project's
test texts, the cell's texts, word attributions by occlusion, and the report showing texts."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.base.errors import is_user_error
from dmtl_studio.core.evaluation.inference import evaluate_run, probabilities_for, suggest_labels
from dmtl_studio.core.evaluation.report import write_report
from dmtl_studio.core.evaluation.text_attribution import (
    NothingToExplain,
    explain_text,
    word_attributions,
    word_spans,
)
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.texts_table import TextItem
from tests.core.text_run import CLASSES, copy_text_project, trained_text_project
from tests.core.trained_run import trained_project


def test_evaluate_run_scores_the_test_texts_in_a_confusion_matrix(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project, run_dir = trained_text_project(tmp_path_factory)
    result = evaluate_run(project, run_dir)
    assert result.kind == "text" and result.split == "test" and result.classes == CLASSES
    assert result.confusion.shape == (3, 3) and result.confusion.sum() == 6
    assert result.metrics.accuracy >= 5 / 6
    assert np.allclose(result.probabilities.sum(1), 1.0)
    assert all(p.split("#")[0] in {f"{c}.csv" for c in CLASSES} for p in result.paths)
    # A cell's ids are the texts the browser lists; the per-class table and the CLI wording count texts.
    with ProjectStore.open(project) as store:
        texts = store.texts(result.cell_ids(0, 0))
    assert texts and all(isinstance(t, str) and t for t in texts.values())
    described = result.describe()
    assert "6 text(s) of the test split" in described and "texts" in described.splitlines()[2]
    assert result.to_dict()["kind"] == "text"


def test_the_validation_split_stands_in_without_a_test_split_and_keys_score_through_probabilities_for(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project, run_dir = copy_text_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        store.set_splits({r.id: "train" for r in store.images() if r.split == "test"})
        val = [r for r in store.images() if r.split == "val"]
    result = evaluate_run(project, run_dir)
    assert result.split == "val" and "validation split" in result.note and len(result.image_ids) == len(val)
    loaded = load_checkpoint(run_dir)
    rows, probs, problems, _ = probabilities_for(
        loaded, [r.path for r in val] + ["nowhere#1"], project_dir=project
    )
    assert rows == list(range(len(val))) and probs.shape == (len(val), 3)
    assert problems == (("nowhere#1", "no text of this key in the project"),)


def test_unlabelled_texts_get_label_suggestions(tmp_path_factory: pytest.TempPathFactory) -> None:
    project, run_dir = copy_text_project(tmp_path_factory)
    with ProjectStore.open(project) as store:
        store.add_texts(
            [TextItem("new.csv#1", "the kitten is purring"), TextItem("new.csv#2", "stocks fell again")]
        )
    suggestions = suggest_labels(project, run_dir)
    assert len(suggestions.suggestions) == 2
    assert {s.label for s in suggestions.suggestions} == {"cats", "money"}


@pytest.mark.parametrize(
    ("text", "word", "label"),
    [
        ("yesterday my cat walked to the station", "cat", "cats"),
        ("yesterday the market walked to the station", "market", "money"),
        ("yesterday it snowed near the station", "snowed", "weather"),
    ],
)
def test_the_word_that_carries_the_class_has_the_highest_attribution(
    tmp_path_factory: pytest.TempPathFactory, text: str, word: str, label: str
) -> None:
    _, run_dir = trained_text_project(tmp_path_factory)
    explanation = explain_text(run_dir, text)
    assert explanation.target_name == label and explanation.probability > 0.5
    assert len(explanation.words) == len(text.split())  # one score per word
    assert all(text[s:e] == w for s, e, w, _ in explanation.words)
    best = max(explanation.words, key=lambda item: item[3])
    assert best[2] == word and best[3] > 0.1
    # Against another class the same word argues the other way.
    other = next(c for c in CLASSES if c != label)
    against = dict((w, s) for _, _, w, s in word_attributions(run_dir, text, target=other))
    assert against[word] <= 0.0


def test_attribution_refuses_what_it_cannot_explain(tmp_path_factory: pytest.TempPathFactory) -> None:
    _, run_dir = trained_text_project(tmp_path_factory)
    with pytest.raises(NothingToExplain, match="nothing to explain: the text has no word"):
        explain_text(run_dir, " 🔥🔥 ... !? ")
    with pytest.raises(NothingToExplain, match="nothing to explain: the text is empty"):
        explain_text(run_dir, "  \n ")
    assert is_user_error(NothingToExplain("x"))  # the window says it plainly, with no log file
    with pytest.raises(ValueError, match="not a class"):
        explain_text(run_dir, "a cat", target="dogs")
    assert [w for _, _, w in word_spans("Don't re-use it, 2 cats.")] == ["Don't", "re-use", "it", "2", "cats"]


def test_words_past_what_the_model_reads_are_counted_and_a_huge_text_costs_what_its_start_costs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Occlusion of a word the model never reads changes nothing: the text is cut where the tokenizer stops, the
    words after it are counted, and a text of a megabyte is explained in the time of its first words."""
    _, run_dir = trained_text_project(tmp_path_factory)
    loaded = load_checkpoint(run_dir)
    limit = loaded.model.backbone.max_length
    filler = " ".join(["station"] * (limit + 40))
    explanation = explain_text(loaded, f"{filler} my cat walked")
    assert explanation.unread >= 40 + 3
    assert all(score == 0.0 for _, _, _, score in explanation.words[-(40 + 3) :])
    assert explain_text(loaded, "yesterday my cat walked").unread == 0
    from dmtl_studio.core.evaluation import text_attribution

    scored: list[str] = []
    real = text_attribution._logits
    monkeypatch.setattr(
        text_attribution, "_logits", lambda model, texts: scored.extend(texts) or real(model, texts)
    )
    huge = explain_text(loaded, "station " * 130_000)  # about a megabyte
    assert huge.unread > 120_000
    assert len(scored) <= limit + 1 and max(map(len, scored)) < 20 * limit  # the variants of its start alone


def test_the_report_of_a_text_run_shows_texts_where_images_show_thumbnails(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project, run_dir = copy_text_project(tmp_path_factory)
    with ProjectStore.open(project) as store:  # a test text whose label the run must get wrong
        wrong = next(r for r in store.images() if r.split == "test" and r.label == "cats")
        store.set_labels({wrong.id: "money"})
        body = store.text(wrong.id)
    path, result = write_report(run_dir, tmp_path_factory.mktemp("report") / "r.html")
    html = path.read_text(encoding="utf-8")
    assert result is not None and result.kind == "text"
    assert "6 text(s) of the" in html and "Misclassified texts" in html
    assert f"<blockquote class='text'>{body}</blockquote>" in html and "<img src='data:image" not in html
    # A text run's report speaks of texts, and lists no setting of image models.
    assert "<th>texts</th>" in html and "image(s)" not in html and "images" not in html
    assert "input_size" not in html and "channels_last" not in html and "tta_flip" not in html
    assert "resize_mode" not in html


def test_a_run_is_refused_on_a_project_of_the_other_kind_before_anything_is_scored(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    text_project, text_run = trained_text_project(tmp_path_factory)
    image_project, image_run = trained_project(tmp_path_factory)
    with pytest.raises(ProjectError, match="classifies images, but the project .* holds texts"):
        evaluate_run(text_project, image_run)
    with pytest.raises(ProjectError, match="classifies texts, but the project .* holds images"):
        evaluate_run(image_project, text_run)
    with pytest.raises(ProjectError, match="classifies texts, but the project .* holds images"):
        suggest_labels(image_project, text_run)
    # Each run still scores its own project.
    assert evaluate_run(text_project, text_run).kind == "text"
    assert evaluate_run(image_project, image_run).kind != "text"


def test_evaluation_says_so_when_splits_were_reassigned_onto_the_texts_the_run_was_fitted_on(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project, run_dir = copy_text_project(tmp_path_factory)
    before = evaluate_run(project, run_dir)
    assert "fitted on" not in before.note  # the test texts were held out
    with ProjectStore.open(project) as store:
        train_ids = [im.id for im in store.images() if im.split == "train"][:4]
        store.set_splits(
            {item: "test" for item in train_ids}
        )  # four training texts moved into the test split
    after = evaluate_run(project, run_dir)
    assert set(train_ids) <= {int(i) for i in after.image_ids}
    total = len(after.image_ids)
    assert after.note == (
        f"4 of the {total} texts scored hold the content of texts this run was fitted on (identical copies in two "
        "splits, or splits or files changed after it was trained), so these scores are optimistic; keep identical "
        "texts in one split (Labels ▸ Find duplicates and leaks; dmtl-studio duplicates PROJECT --keep-in-one-split), "
        "then train a new run to score it on held-out texts."
    )


def test_scores_are_log_odds_so_a_sure_prediction_still_shows_the_word_it_rests_on(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a text the model is sure of, a difference of probabilities read 0.0019 for the word the class rests on
    and 0.0001 for noise, and the window painted both by their ratio (h25); log-odds keep the real size."""
    from dmtl_studio.core.evaluation import text_attribution

    _, run_dir = trained_text_project(tmp_path_factory)
    loaded = load_checkpoint(run_dir)
    classes = len(loaded.classes)
    # Logits of the text, then of it without "credit", without "note", without "missing".
    rows = np.full((4, classes), -5.0)
    rows[:, 0] = [40.0, 37.0, 39.999, 40.0]
    monkeypatch.setattr(text_attribution, "_logits", lambda model, texts: rows[: len(texts)])
    explanation = explain_text(loaded, "credit note missing")
    scores = [round(w[3], 3) for w in explanation.words]
    assert scores == [3.0, 0.001, 0.0]  # the odds fall by e^3 without "credit": not by a rounding error
    assert explanation.probability == pytest.approx(1.0)
    logits = np.array([[2.0, 0.0, 0.0]])
    p = np.exp(2.0) / (np.exp(2.0) + 2.0)
    assert text_attribution.log_odds(logits, 0)[0] == pytest.approx(np.log(p / (1 - p)))
