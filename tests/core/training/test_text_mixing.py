"""Mixup on sentence embeddings in text runs: a text recipe's mixing step reaches the run, a mixed batch feeds the
head convex combinations of embeddings with soft targets (cached embeddings when frozen, the encoder's output
when fine-tuning), a mixer that never fires changes nothing, and a fine-tune with mixup finishes reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional

from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.training import objective
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.engine import Trainer
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.mixing import soft_cross_entropy
from dmtl_studio.core.training.probe_fit import MIXING_UNUSED_BY_PROBE
from dmtl_studio.core.training.setup import RunParts
from dmtl_studio.core.training.text_data import TextAugmentation
from dmtl_studio.core.training.text_setup import TextCorpus, build_text_parts
from tests.core.training.test_text_training import TRAIN, VAL


def _recipe(mixup: float | None, deletion: bool = True) -> Recipe:
    steps = [Step.of("random_deletion", 0.5, rate=0.2)] if deletion else []
    if mixup is not None:
        steps.append(Step.of("embedding_mixup", mixup, alpha=0.4))
    return Recipe(tuple(steps), "test", "text")


def _parts(recipe: Recipe, **changes: object) -> RunParts:
    config = TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2",
        device="cpu",
        seed=5,
        batch_size=4,
        **{"linear_probe": False, "contrastive_steps": 0, **changes},
    )
    corpus = TextCorpus.from_lists(["cats", "money"], TRAIN, VAL)
    return build_text_parts(corpus, config, augment=recipe.compile(), augmentation=recipe.to_dict())


def test_a_text_recipe_gives_the_run_its_mixing_steps() -> None:
    compiled = _recipe(0.7).compile()
    augmentation = TextAugmentation.of(compiled, _recipe(0.7).to_dict())
    assert augmentation.augment is compiled and augmentation.mixers == compiled.mixers
    assert augmentation.kind == "text" and augmentation.compile() is augmentation
    for seed in range(20):  # the same draws as the recipe's own
        ours, theirs = (x.draw_mix(np.random.default_rng(seed)) for x in (augmentation, compiled))
        assert ours == theirs
    # A recipe of mixing steps only leaves the texts alone: no augmented views are made for it.
    only_mixing = TextAugmentation.of(_recipe(1.0, deletion=False).compile(), None)
    assert only_mixing.augment is None and len(only_mixing.mixers) == 1
    # A plain text function mixes nothing.
    assert TextAugmentation.of(lambda text, rng: text, None).mixers == ()


def _embeddings_fed_to_the_head(parts: RunParts) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    parts.model.head.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


@pytest.mark.parametrize("transfer", ["frozen", "partial"])
def test_mixup_at_probability_one_feeds_the_head_convex_combinations_with_soft_targets(transfer: str) -> None:
    parts = _parts(_recipe(1.0), transfer=transfer)
    parts.model.eval()  # no dropout: the embeddings are computed again below
    inputs, targets, _ = next(iter(parts.train_loader))
    assert inputs.dtype == (torch.float32 if transfer == "frozen" else torch.long)
    seen = _embeddings_fed_to_the_head(parts)
    loss, logits, truth = objective.supervised_loss(parts, inputs, targets, epoch=2, step=3)
    with torch.no_grad():  # the clean pass of the same views: cached vectors, or the encoder's output
        embeddings = inputs if transfer == "frozen" else parts.model.features(inputs)
    sample = parts.compiled.draw_mix(np.random.default_rng((parts.config.seed, 2, 3, 1)))
    assert sample is not None and 0.0 < sample.lam < 1.0
    lam = sample.lam
    (fed,) = seen
    torch.testing.assert_close(
        fed, lam * embeddings + (1 - lam) * embeddings.roll(1, 0), atol=1e-5, rtol=1e-5
    )
    assert (fed - embeddings).abs().amax() > 1e-3  # really mixed, not the embeddings themselves
    one_hot = functional.one_hot(targets, 2).float()
    soft = lam * one_hot + (1 - lam) * one_hot.roll(1, 0)
    assert ((soft > 0) & (soft < 1)).any()  # neighbours of different classes: soft targets
    torch.testing.assert_close(loss, soft_cross_entropy(logits, soft))
    assert torch.equal(truth, soft.argmax(1))


@pytest.mark.parametrize("transfer", ["frozen", "partial"])
def test_mixup_at_probability_zero_trains_exactly_as_no_mixing(transfer: str) -> None:
    def trained(recipe: Recipe) -> dict[str, torch.Tensor]:
        # With the consistency term on (the recommended setting), so a second forward pass would show too.
        parts = _parts(recipe, transfer=transfer, epochs=1, consistency_weight=1.0)
        assert Trainer(parts).fit() == "completed"
        return {k: v.clone() for k, v in parts.model.state_dict().items()}

    plain, never, mixing = trained(_recipe(None)), trained(_recipe(0.0)), trained(_recipe(1.0))
    for name, tensor in plain.items():
        assert torch.equal(tensor, never[name]), name
    assert any(not torch.equal(tensor, mixing[name]) for name, tensor in plain.items())


def test_a_partial_fine_tune_with_mixup_finishes_and_is_reproducible() -> None:
    def run() -> tuple[str, dict[str, torch.Tensor], list[object]]:
        events: list[object] = []
        parts = _parts(_recipe(0.8), transfer="partial", unfreeze_stages=1, epochs=1, consistency_weight=1.0)
        status = Trainer(parts, notify=events.append).fit()
        return status, {k: v.clone() for k, v in parts.model.state_dict().items()}, events

    first, again = run(), run()
    assert first[0] == again[0] == "completed"
    for name, tensor in first[1].items():
        assert torch.isfinite(tensor).all() if tensor.is_floating_point() else True
        assert torch.equal(tensor, again[1][name]), name
    assert not any(isinstance(e, RunNotice) and "mixing" in e.message for e in first[2])


def test_a_linear_probe_run_says_it_does_not_mix() -> None:
    events: list[object] = []
    parts = _parts(_recipe(1.0), transfer="frozen", linear_probe=True)
    assert Trainer(parts, notify=events.append).fit() == "completed"
    assert any(isinstance(e, RunNotice) and e.message == MIXING_UNUSED_BY_PROBE for e in events)
    quiet: list[object] = []
    assert Trainer(_parts(_recipe(None), transfer="frozen", linear_probe=True), notify=quiet.append).fit()
    assert not any(isinstance(e, RunNotice) and e.message == MIXING_UNUSED_BY_PROBE for e in quiet)
