"""Text runs go through the same engine as images: a frozen encoder with the linear probe separates a tiny text
set, a one-epoch partial fine-tune lowers the loss, unlabelled texts reach only the consistency term, and a text
project trains, stores its run and loads it back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.augment.wordnet import SYSTEM_WORDNET, WORDNET_ENV
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.models.text_encoder import load_text_encoder
from dmtl_studio.core.project.store import DATABASE_NAME, ProjectStore
from dmtl_studio.core.project.texts_table import TextItem
from dmtl_studio.core.training import objective
from dmtl_studio.core.training.callbacks import ProgressEvents, RunClock
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Trainer, evaluate
from dmtl_studio.core.training.events import EpochResult, PreparationProgress, RunNotice, StepProgress
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.text_setup import TextCorpus, build_text_parts

CATS = [
    "the cat purrs softly",
    "a kitten chased the mouse",
    "my cat sleeps all day",
    "cats love warm laps",
    "the tabby cat meowed",
    "a cat climbed the tree",
    "the cat drank milk",
    "kittens play with yarn",
]
MONEY = [
    "the stock market fell",
    "shares rose after earnings",
    "investors sold their bonds",
    "the bank raised rates",
    "inflation hit the economy",
    "the fund bought shares",
    "markets rallied on news",
    "traders feared a crash",
]
TRAIN = [(t, 0) for t in CATS] + [(t, 1) for t in MONEY]
VAL = [
    ("a sleepy cat on the sofa", 0),
    ("the kitten purred", 0),
    ("bond yields went up", 1),
    ("banks lend money", 1),
]
#: Unlabelled texts share a word no labelled text has, so a supervised batch holding one would show it.
UNLABELLED = ["zebra cat naps", "zebra stocks dip", "zebra kitten", "zebra bank loans", "zebra mouse"]


def word_dropout(text: str, rng: np.random.Generator) -> str:
    """A small text augmentation for the tests: drops each word with probability 0.2 (never all)."""
    words = text.split()
    kept = [w for w in words if rng.random() >= 0.2]
    return " ".join(kept or words[:1])


def _config(**changes: object) -> TrainConfig:
    # No contrastive step unless a test asks: it has tests of its own (test_text_contrastive.py).
    return TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2", device="cpu", seed=3, **{"contrastive_steps": 0, **changes}
    )


def test_frozen_encoder_with_the_linear_probe_separates_a_tiny_text_set() -> None:
    events: list[object] = []
    parts = build_text_parts(
        TextCorpus.from_lists(["cats", "money"], TRAIN, VAL),
        _config(transfer="frozen", linear_probe=True),
        events.append,
    )
    assert parts.cache is not None and parts.model.backbone.num_features == 384
    assert Trainer(parts, notify=events.append).fit() == "completed"
    _, accuracy, confusion = evaluate(parts.scored, parts.val_loader, parts.device, 2)
    assert accuracy == 1.0 and confusion.trace() == len(VAL)
    assert any(isinstance(e, RunNotice) and "linear probe" in e.message for e in events)
    # The head is one linear layer over raw embeddings (standardisation folded in), as for images.
    assert isinstance(parts.model.head[-1], torch.nn.Linear)


def test_a_probe_with_a_fixed_strength_names_texts_in_its_note() -> None:
    """One labelled text of a class: C cannot be cross-validated, and the run's note says why in words of texts."""
    events: list[object] = []
    few = [(CATS[0], 0)] + [(t, 1) for t in MONEY]
    parts = build_text_parts(
        TextCorpus.from_lists(["cats", "money"], few, [VAL[2]]),
        _config(transfer="frozen", linear_probe=True),
        events.append,
    )
    assert Trainer(parts, notify=events.append).fit() == "completed"
    notes = [e.message for e in events if isinstance(e, RunNotice) and "linear probe" in e.message]
    assert any("a fixed value (too few texts per class)" in note for note in notes), notes


def test_a_frozen_probe_learns_from_unlabelled_texts_by_self_training() -> None:
    from dmtl_studio.core.training.text_semi import fit_semi_supervised_probe

    events: list[object] = []
    config = _config(transfer="frozen", linear_probe=True, consistency_weight=1.0, use_unlabelled=True)
    parts = build_text_parts(
        TextCorpus.from_lists(["cats", "money"], TRAIN, VAL, unlabelled=UNLABELLED), config, events.append
    )
    progress = ProgressEvents(events.append, RunClock(lambda: False))
    assert Trainer(parts, [progress], notify=events.append).fit() == "completed"
    (note,) = [e.message for e in events if isinstance(e, RunNotice) and "self-training" in e.message]
    assert f"of {len(UNLABELLED)} unlabelled text(s)" in note
    data, unlabelled = parts.cache.train(), parts.cache.unlabelled()
    expected = fit_semi_supervised_probe(
        data.clean.numpy(), data.targets.numpy(), unlabelled.clean.numpy(), num_classes=2, seed=config.seed
    )
    assert note.startswith(
        f"self-training: {expected.pseudo_labelled} of {len(UNLABELLED)} unlabelled text(s)"
    )
    assert 0 < expected.pseudo_labelled <= len(UNLABELLED)  # how many joined, not a bound
    head = parts.model.head[-1]
    logits = head(torch.from_numpy(unlabelled.clean.numpy()).float()).detach().numpy()
    np.testing.assert_allclose(logits, expected.logits(unlabelled.clean.numpy()), atol=1e-3)
    # One cross-validation, the one plotted: its strengths are the steps reported, and it chose the C marked.
    steps = [e for e in events if isinstance(e, StepProgress) and e.phase == "probe"]
    np.testing.assert_allclose([-s.loss for s in steps], expected.cv_scores, rtol=1e-5)
    (epoch,) = [e for e in events if isinstance(e, EpochResult)]
    assert epoch.probe_c == pytest.approx(expected.c) and expected.c in [s.learning_rate for s in steps]


def test_self_training_weights_the_classes_as_the_runs_imbalance_setting_asks() -> None:
    from dmtl_studio.core.training.text_semi import fit_semi_supervised_probe

    imbalanced = [(t, 0) for t in CATS] + [(t, 1) for t in MONEY[:3]]  # 8 against 3
    config = _config(
        transfer="frozen",
        linear_probe=True,
        consistency_weight=1.0,
        use_unlabelled=True,
        imbalance="weighted_loss",
    )
    parts = build_text_parts(
        TextCorpus.from_lists(["cats", "money"], imbalanced, VAL, unlabelled=UNLABELLED), config
    )
    assert Trainer(parts).fit() == "completed"
    data, unlabelled = parts.cache.train(), parts.cache.unlabelled()
    expected = {
        weight: fit_semi_supervised_probe(
            data.clean.numpy(),
            data.targets.numpy(),
            unlabelled.clean.numpy(),
            num_classes=2,
            class_weight=weight,
            seed=config.seed,
        ).logits(unlabelled.clean.numpy())
        for weight in (None, "balanced")
    }
    logits = parts.model.head[-1](torch.from_numpy(unlabelled.clean.numpy()).float()).detach().numpy()
    np.testing.assert_allclose(logits, expected["balanced"], atol=1e-3)  # as the supervised probe is weighted
    assert not np.allclose(logits, expected[None], atol=1e-3)


def test_one_epoch_of_partial_fine_tuning_runs_and_lowers_the_loss() -> None:
    config = _config(transfer="partial", unfreeze_stages=2, epochs=1, batch_size=4, learning_rate=3e-3)
    parts = build_text_parts(
        TextCorpus.from_lists(["cats", "money"], TRAIN, TRAIN), config, augment=word_dropout
    )
    assert parts.cache is None
    frozen_layer = parts.model.backbone.transformer.encoder.layer[0].attention.self.query.weight.clone()
    before, _, _ = evaluate(parts.model, parts.val_loader, parts.device, 2)
    assert Trainer(parts).fit() == "completed"
    after, _, _ = evaluate(parts.model, parts.val_loader, parts.device, 2)
    assert after < before
    torch.testing.assert_close(
        parts.model.backbone.transformer.encoder.layer[0].attention.self.query.weight, frozen_layer
    )


@pytest.mark.parametrize("transfer", ["frozen", "partial"])
def test_unlabelled_texts_reach_the_consistency_term_but_never_the_supervised_loss(
    transfer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = TextCorpus.from_lists(["cats", "money"], TRAIN, VAL, unlabelled=UNLABELLED)
    config = _config(
        transfer=transfer,
        linear_probe=False,  # the head trains by epochs, with the consistency term
        epochs=1,
        batch_size=4,
        consistency_weight=1.0,
        use_unlabelled=True,
        unlabelled_ratio=1,
    )
    parts = build_text_parts(corpus, config, augment=word_dropout)
    zebra = parts.model.backbone.tokenize(["zebra"]).ids[0, 1]
    supervised: list[tuple[torch.Tensor, torch.Tensor]] = []
    through_model: list[torch.Tensor] = []
    original_loss, original_logits = objective.supervised_loss, type(parts).logits

    def recording_loss(parts_, inputs, targets, epoch, step):  # noqa: ANN001, ANN202
        supervised.append((inputs.detach().clone(), targets.clone()))
        return original_loss(parts_, inputs, targets, epoch, step)

    def recording_logits(self, inputs):  # noqa: ANN001, ANN202
        through_model.append(inputs.detach().clone())
        return original_logits(self, inputs)

    monkeypatch.setattr(objective, "supervised_loss", recording_loss)
    monkeypatch.setattr(type(parts), "logits", recording_logits)
    assert Trainer(parts).fit() == "completed"
    assert (
        sum(len(t) for _, t in supervised) == len(TRAIN) * config.epochs
    )  # every labelled text, once an epoch
    assert all(bool((t >= 0).all()) for _, t in supervised)
    if transfer == "partial":  # token ids: the unlabelled texts' word appears in the consistency batches only
        assert not any(bool((x == zebra).any()) for x, _ in supervised)
        assert any(bool((x == zebra).any()) for x in through_model)
    else:  # cached embeddings: every supervised row is a labelled text's view, never an unlabelled one's
        labelled = parts.cache.train().features.flatten(0, 1)
        unlabelled = parts.cache.unlabelled()
        unlabelled_rows = torch.cat([unlabelled.features.flatten(0, 1), unlabelled.clean])
        for rows, _ in supervised:
            for row in rows:
                assert (labelled - row).abs().amax(1).min() < 1e-6
                assert (unlabelled_rows - row).abs().amax(1).min() > 1e-4
        assert len(parts.cache.unlabelled()) == len(UNLABELLED)


def _text_project(folder: Path) -> Path:
    with ProjectStore.create(folder) as store:
        store.set_kind("text")
        items = [TextItem(f"cats.csv#{i}", t, "cats") for i, t in enumerate(CATS)]
        items += [TextItem(f"money.csv#{i}", t, "money") for i, t in enumerate(MONEY)]
        items += [TextItem(f"val.csv#{i}", t, ["cats", "money"][c]) for i, (t, c) in enumerate(VAL)]
        items += [TextItem(f"free.csv#{i}", t) for i, t in enumerate(UNLABELLED)]
        store.add_texts(items)
        ids = {im.path: im.id for im in store.images()}
        store.set_splits({i: ("val" if p.startswith("val") else "train") for p, i in ids.items()})
    return folder


@pytest.mark.skipif(
    not (SYSTEM_WORDNET / "data.noun").is_file(),
    reason="the default text recipe's synonym steps need Debian's wordnet-base (apt-get install wordnet-base)",
)
def test_a_text_project_trains_through_train_and_its_run_loads_back(tmp_path: Path) -> None:
    project = _text_project(tmp_path / "project")
    events: list[object] = []
    # The window and the command line start from the image backbone's name: the run names the encoder it used.
    # ... and its encoder takes a short contrastive step: the checkpoint carries the adapted weights.
    config = _config(transfer="frozen", linear_probe=True, contrastive_steps=3).with_changes(
        backbone="efficientnet_lite0"
    )
    summary = train(project, config, on_event=events.append)
    assert summary.status == "completed" and summary.classes == ("cats", "money")
    with ProjectStore.open(project) as store:
        stored = store.runs()[-1].config
        assert stored["backbone"] == "all-MiniLM-L6-v2"
        # The project's text recipe (the default one here) is the run's T(x), stored with it.
        assert stored["recipe"]["kind"] == "text" and stored["recipe"]["steps"]
        assert stored["contrastive_steps"] == 3
    assert summary.metrics["best"]["val_accuracy"] == 1.0
    loaded = load_checkpoint(summary.run_dir)
    assert loaded.sidecar["kind"] == "text" and loaded.spec.backbone == "all-MiniLM-L6-v2"
    encoder = loaded.model.backbone
    with torch.no_grad():
        predicted = loaded.model(encoder.tokenize([t for t, _ in VAL]).ids).argmax(1).tolist()
    assert predicted == [c for _, c in VAL]
    assert not torch.allclose(
        encoder.encode(["the cat"]), load_text_encoder("all-MiniLM-L6-v2").encode(["the cat"])
    )
    # The adapted encoder's embeddings were this run's alone: a run of the pretrained encoder computes its own,
    # and the run after it reads every one from the project's feature cache.
    first: list[object] = []
    train(project, _config(transfer="frozen", linear_probe=True), on_event=first.append)
    computed = [e for e in first if isinstance(e, PreparationProgress) and e.phase == "features"]
    assert computed and computed[-1].reused == 0
    again: list[object] = []
    train(project, _config(transfer="frozen", linear_probe=True), on_event=again.append)
    progress = [e for e in again if isinstance(e, PreparationProgress)]
    assert progress and progress[-1].reused == progress[-1].total >= len(TRAIN) + len(VAL)


def test_a_text_run_trained_without_wordnet_stores_a_recipe_that_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        WORDNET_ENV, str(tmp_path / "no-wordnet")
    )  # the default recipe's synonyms cannot compile
    project = _text_project(tmp_path / "project")
    events: list[object] = []
    summary = train(project, _config(transfer="frozen", linear_probe=True), on_event=events.append)
    assert summary.status == "completed"
    # The default recipe's two synonym steps are left out, its swap and deletion kept, and the run says so
    assert any(
        isinstance(e, RunNotice)
        and "leaves out the recipe's 2 synonym step(s) and uses its others" in e.message
        and ".;" not in e.message
        for e in events
    )
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
    # The stored recipe is complete: the run's settings read back (resume, evaluate, the window's run list).
    assert run.config["recipe"]["schema_version"] >= 1 and run.config["recipe"]["kind"] == "text"
    config = TrainConfig.from_dict(run.config)
    used = [step.operation for step in Recipe.from_dict(config.recipe).steps]
    assert used == ["random_swap", "random_deletion"] and config.backbone == "all-MiniLM-L6-v2"
    # A recipe of synonym steps alone (the user's own, as the window sends it) trains without augmentation
    only = Recipe((Step.of("synonym_replacement", 0.5, rate=0.1),), "mine", "text").to_dict()
    events.clear()
    assert train(
        project, _config(transfer="frozen", linear_probe=True, recipe=only), on_event=events.append
    ).status
    assert any(isinstance(e, RunNotice) and "without augmentation" in e.message for e in events)
    # A run stored before the fix (its recipe without schema_version) opens too.
    with sqlite3.connect(project / DATABASE_NAME) as conn:
        old = {**run.config, "recipe": {"kind": "text", "steps": []}}
        conn.execute("UPDATE runs SET config_json = ? WHERE id = ?", (json.dumps(old), run.id))
    with ProjectStore.open(project) as store:
        again = TrainConfig.from_dict(store.runs()[-1].config)
    assert again.recipe is not None and Recipe.from_dict(again.recipe).kind == "text"
    assert again.with_changes(recipe=None) == config.with_changes(recipe=None)


def test_a_text_project_without_two_labelled_classes_is_refused_in_words_of_texts(tmp_path: Path) -> None:
    from dmtl_studio.core.training.errors import TrainingError
    from dmtl_studio.core.training.labelled import labelled_split

    with ProjectStore.create(tmp_path / "p") as store:
        store.set_kind("text")
        store.add_texts(
            [TextItem("t.csv#1", "the cat sleeps", "cats"), TextItem("t.csv#2", "rain all day", None)]
        )
        with pytest.raises(TrainingError) as refused:
            labelled_split(store)
    assert str(refused.value) == (
        "training needs labelled texts of at least 2 classes; this project has 1. Label some texts first."
    )


def test_a_class_with_no_training_item_is_refused_with_the_way_out(tmp_path: Path) -> None:
    """A class made by a label CSV whose one item sat in validation was refused with no way out said (h26)."""
    from dmtl_studio.core.training.errors import TrainingError
    from dmtl_studio.core.training.labelled import labelled_split

    with ProjectStore.create(tmp_path / "p") as store:
        store.set_kind("text")
        store.add_texts(
            [TextItem("t.csv#1", "the cat sleeps", "cats"), TextItem("t.csv#2", "rain all day", "weather")]
        )
        rain = next(r for r in store.images() if r.label == "weather")
        store.set_splits({rain.id: "val"})
        with pytest.raises(TrainingError, match="no training texts for class\\(es\\): weather") as refused:
            labelled_split(store)
    assert "Label more texts of them, or draw the splits anew" in str(refused.value)
    assert "dmtl-studio splits PROJECT" in str(refused.value)
