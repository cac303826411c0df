"""SetFit's contrastive step: its pairs, its pass over a small encoder, the length buckets, and its place in a
frozen text run (before the embeddings are cached, never in the project's cache)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.base.cancel import Cancelled
from dmtl_studio.core.models.text_encoder import load_text_encoder
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Trainer, evaluate
from dmtl_studio.core.training.events import PreparationProgress, RunNotice
from dmtl_studio.core.training.text_contrastive import (
    _length_bucketed,
    contrastive_fine_tune,
    setfit_pairs,
)
from dmtl_studio.core.training.text_setup import TextCorpus, build_text_parts
from tests.core.training.test_text_training import TRAIN, VAL


def test_setfit_pairs_pair_each_text_with_its_class_and_with_another() -> None:
    targets = np.array([0, 0, 0, 1, 1, 2])  # class 2 has one text
    pairs = setfit_pairs(targets, iterations=3, rng=np.random.default_rng(0))
    assert pairs.shape == (2 * 3 * len(targets), 3)
    same = pairs[pairs[:, 2] == 1]
    other = pairs[pairs[:, 2] == 0]
    assert len(same) == len(other) == 3 * len(targets)
    assert (targets[same[:, 0]] == targets[same[:, 1]]).all()
    assert (targets[other[:, 0]] != targets[other[:, 1]]).all()
    # A text is its own positive only where its class has no other text.
    selves = same[same[:, 0] == same[:, 1]]
    assert set(selves[:, 0].tolist()) == {5}
    # Every text anchors the same number of pairs of each kind.
    assert set(Counter(same[:, 0].tolist()).values()) == {3}
    assert set(Counter(other[:, 0].tolist()).values()) == {3}
    with pytest.raises(ValueError, match="two classes"):
        setfit_pairs(np.zeros(4, dtype=int), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="iterations"):
        setfit_pairs(targets, 0, np.random.default_rng(0))


def test_length_buckets_keep_every_pair_and_cut_the_padding() -> None:
    rng = np.random.default_rng(1)
    lengths = rng.integers(4, 200, size=60)
    pairs = setfit_pairs(rng.integers(0, 3, size=60), 4, rng)
    bucketed = _length_bucketed(pairs, lengths, batch_size=16, rng=np.random.default_rng(2))
    assert sorted(map(tuple, bucketed.tolist())) == sorted(map(tuple, pairs.tolist()))

    def padded(rows: np.ndarray) -> int:  # tokens a batch computes: its longest text, for every text
        longest = np.maximum(lengths[rows[:, 0]], lengths[rows[:, 1]])
        return sum(int(longest[i : i + 16].max()) * 32 for i in range(0, len(rows), 16))

    assert padded(bucketed) < 0.75 * padded(pairs)


def test_the_pass_pulls_a_class_together_and_leaves_the_encoder_as_it_found_it() -> None:
    encoder = load_text_encoder("all-MiniLM-L6-v2")
    texts = [t for t, _ in TRAIN]
    targets = np.array([c for _, c in TRAIN])
    ids = encoder.tokenize(texts).ids
    for p in encoder.parameters():  # as a frozen run leaves it: nothing learns
        p.requires_grad_(False)
    before = {n: p.detach().clone() for n, p in encoder.named_parameters()}
    pairs = setfit_pairs(targets, 4, np.random.default_rng(0))

    def pair_loss() -> float:
        with torch.no_grad():
            x = encoder.eval()(ids)
            cos = torch.nn.functional.cosine_similarity(x[pairs[:, 0]], x[pairs[:, 1]], dim=1)
            return float(((cos - torch.from_numpy(pairs[:, 2]).float()) ** 2).mean())

    start = pair_loss()
    seen: list[tuple[int, int]] = []
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    result = contrastive_fine_tune(
        encoder,
        ids,
        targets,
        max_steps=30,
        seed=0,
        iterations=4,
        learning_rate=1e-4,
        pad_id=encoder.preprocessing.pad_id,
        on_progress=lambda done, total, seconds: seen.append((done, total)),
    )
    assert result.steps == 8 and result.pairs == 2 * 4 * len(
        texts
    )  # 128 pairs: 8 batches of 16, under the cap
    assert seen == [(i, 8) for i in range(1, 9)]
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is where it was
    assert pair_loss() < 0.8 * start
    assert not encoder.training
    assert all(not p.requires_grad and p.grad is None for p in encoder.parameters())
    assert any(not torch.equal(before[n], p) for n, p in encoder.named_parameters())
    # The cap: at most max_steps batches, however many pairs there are.
    assert contrastive_fine_tune(encoder, ids, targets, max_steps=3, iterations=4).steps == 3
    with pytest.raises(ValueError, match="max_steps"):
        contrastive_fine_tune(encoder, ids, targets, max_steps=0)
    with pytest.raises(ValueError, match="targets"):
        contrastive_fine_tune(encoder, ids, targets[:-1], max_steps=1)
    calls = iter(range(100))
    with pytest.raises(Cancelled):
        contrastive_fine_tune(encoder, ids, targets, max_steps=10, should_stop=lambda: next(calls) >= 2)
    assert not encoder.training and all(not p.requires_grad for p in encoder.parameters())


def test_a_frozen_text_run_adapts_its_encoder_before_caching_the_embeddings() -> None:
    events: list[object] = []
    config = TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2", device="cpu", seed=3, transfer="frozen", contrastive_steps=4
    )
    parts = build_text_parts(TextCorpus.from_lists(["cats", "money"], TRAIN, VAL), config, events.append)
    progress = [e for e in events if isinstance(e, PreparationProgress) and e.phase == "contrastive"]
    assert [(e.done, e.total) for e in progress] == [(i, 4) for i in range(1, 5)]
    (note,) = [e.message for e in events if isinstance(e, RunNotice) and "contrastive" in e.message]
    assert "4 steps" in note and f"{len(TRAIN)} labelled training texts" in note
    assert all(not p.requires_grad for p in parts.model.backbone.parameters())
    assert Trainer(parts, notify=events.append).fit() == "completed"
    _, accuracy, _ = evaluate(parts.scored, parts.val_loader, parts.device, 2)
    assert accuracy == 1.0
    # The cached embeddings are the adapted encoder's, not the pretrained one's.
    texts = [t for t, _ in TRAIN]
    pretrained = load_text_encoder("all-MiniLM-L6-v2").encode(texts)
    adapted = parts.model.backbone.encode(texts)
    cached = parts.cache.train_clean().float()
    assert torch.allclose(cached, adapted, atol=1e-4)
    assert not torch.allclose(cached, pretrained, atol=1e-3)
    # A fine-tuned encoder learns from the labels anyway: no contrastive step there.
    later: list[object] = []
    build_text_parts(
        TextCorpus.from_lists(["cats", "money"], TRAIN, VAL),
        config.with_changes(transfer="partial", linear_probe=False),
        later.append,
    )
    assert not any(isinstance(e, PreparationProgress) and e.phase == "contrastive" for e in later)


def test_validation_texts_that_join_the_fit_stay_out_of_the_contrastive_step() -> None:
    """Their out-of-fold scores calibrate the run: the encoder must not have learnt their labels."""
    config = TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2", device="cpu", seed=3, transfer="frozen", contrastive_steps=4
    )
    events: list[object] = []
    joined = build_text_parts(
        TextCorpus.from_lists(["cats", "money"], TRAIN + VAL), config, events.append, joined=len(VAL)
    )
    alone = build_text_parts(TextCorpus.from_lists(["cats", "money"], TRAIN), config)
    texts = [t for t, _ in TRAIN + VAL]
    # The same encoder as a step on the training texts alone: the validation texts changed nothing in it.
    assert torch.allclose(joined.model.backbone.encode(texts), alone.model.backbone.encode(texts), atol=1e-6)
    (note,) = [e.message for e in events if isinstance(e, RunNotice) and "contrastive" in e.message]
    assert f"of the {len(TRAIN)} labelled training texts" in note
    assert f"the {len(VAL)} validation text(s) that joined the fit were left out of it" in note


def test_a_stop_during_the_contrastive_step_ends_the_run_before_it_is_made(tmp_path: Path) -> None:
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.training.run import train
    from tests.core.training.test_text_training import _text_project

    project = _text_project(tmp_path / "project")
    events: list[object] = []
    steps = [e for e in events if isinstance(e, PreparationProgress)]

    def stop_after_two_steps() -> bool:
        steps[:] = [e for e in events if isinstance(e, PreparationProgress) and e.phase == "contrastive"]
        return len(steps) >= 2

    config = TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2", device="cpu", seed=3, transfer="frozen", contrastive_steps=30
    )
    summary = train(project, config, on_event=events.append, should_stop=stop_after_two_steps)
    assert (summary.status, summary.run_id, summary.run_dir, summary.epochs_completed) == (
        "stopped",
        -1,
        "",
        0,
    )
    assert len(steps) == 2 and steps[-1].total == 30  # stopped at step 2 of the cap's 30
    with ProjectStore.open(project) as store:
        assert store.runs() == []


def test_the_step_count_the_window_shows_is_the_one_a_run_takes() -> None:
    from dmtl_studio.core.training.settings import contrastive_step_count
    from dmtl_studio.core.training.text_contrastive import (
        CONTRASTIVE_BATCH,
        CONTRASTIVE_ITERATIONS,
        setfit_pairs,
    )

    targets = np.repeat(np.arange(4), [8, 8, 7, 7])  # the text demo's 30 labelled training texts
    pairs = setfit_pairs(targets, CONTRASTIVE_ITERATIONS, np.random.default_rng(0))
    uncapped = -(-len(pairs) // CONTRASTIVE_BATCH)
    assert contrastive_step_count(30, 200) == uncapped == 75  # the box said 200, the run took 75 (h25)
    assert contrastive_step_count(30, 50) == 50 and contrastive_step_count(30, 0) == 0
    assert contrastive_step_count(0, 200) == 0
