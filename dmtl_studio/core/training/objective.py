"""The objective of one training step: ``L(f(T(x)), y) + lambda * L(f(x), f(T(x)))``.

The supervised part is the cross-entropy (with the run's class weights and label smoothing, or soft targets
after batch mixing) on augmented views; the consistency part compares the prediction on each image's clean view
with the one on its augmented view, over the labelled batch and, with ``use_unlabelled``, a batch of unlabelled
images that never reaches the supervised part. In a partial or full fine-tune with ``unlabelled_rule =
"fixmatch"`` the unlabelled batch gets FixMatch's loss instead (:mod:`dmtl_studio.core.training.fixmatch`), and
the objective is ``supervised + lambda * consistency(labelled) + lambda_u * fixmatch(unlabelled)``.
:func:`step_loss` is the one place this is computed: the training loop and the learning-rate range test both call
it, so the finder measures the run's own objective.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from dmtl_studio.core.augment.registry import MixSample
from dmtl_studio.core.training.consistency import consistency_loss
from dmtl_studio.core.training.fixmatch import class_prior, fixmatch_loss, unlabelled_views
from dmtl_studio.core.training.mixing import apply_mix, mix_vectors, soft_cross_entropy
from dmtl_studio.core.training.settings import MIN_TRAINING_BATCH
from dmtl_studio.core.training.setup import RunParts


@dataclass
class StepLoss:
    """One step's objective. ``loss`` (a 0-d tensor with its graph) is what the optimiser minimises."""

    loss: torch.Tensor
    supervised: float  # the supervised part alone (what the training curve shows)
    logits: torch.Tensor  # (B, C) float32 on the augmented, possibly mixed, views
    truth: torch.Tensor  # (B,) the class each sample counts as (the larger weight of a mixed label)
    consistency: float | None = None  # the consistency term before weighting; None without DMTL
    #: Fraction of samples above the consistency confidence threshold; with the FixMatch rule, of the unlabelled
    #: images that kept a pseudo-label.
    kept: float = 0.0
    unlabelled: float | None = None  # the FixMatch term before weighting; None without it


def mixing_draw(parts: RunParts, inputs: torch.Tensor, epoch: int, step: int) -> MixSample | None:
    """The batch's mixing draw (``None``: the batch is not mixed), from its own generator seeded by
    ``(seed, epoch, step)``, so runs are reproducible and a recipe whose mixers never fire trains exactly as one
    without them. A batch of one is never mixed."""
    compiled = parts.compiled
    if not compiled.mixers or len(inputs) < 2:
        return None
    rng = np.random.default_rng((parts.config.seed, epoch, step, 1))
    if parts.cache is not None:  # cached vectors: a cutmix box is drawn on the backbone's input size
        size = parts.preprocessing.input_size
        return compiled.draw_mix(rng, size, size)
    return compiled.draw_mix(rng, inputs.shape[-2], inputs.shape[-1])


def supervised_loss(
    parts: RunParts, images: torch.Tensor, targets: torch.Tensor, epoch: int, step: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss, logits ``(B, C)`` and the class each sample counts as, on a batch of augmented views.

    ``images`` are ``(B, 3, H, W)``, token ids ``(B, L)`` of a text run, or, with the feature cache, ``(B, F)``
    vectors. A mixed batch (:func:`mixing_draw`) is mixed where it can be: images as drawn, cached vectors blended,
    and a fine-tuned text run's sentence embeddings blended between the encoder and the head (token ids cannot
    be mixed); the loss is then the cross-entropy against the soft labels.
    """
    sample = mixing_draw(parts, images, epoch, step)
    soft = None
    with parts.autocast():
        if sample is None:
            logits = parts.logits(images)
        elif parts.cache is not None:
            mixed, soft = mix_vectors(images, targets, parts.num_classes, sample.lam)
            logits = parts.logits(mixed)  # the head (through DDP in a distributed run)
        elif parts.compiled.kind == "text":
            # One process only (a distributed run trains image projects), so encoder and head are called apart.
            embeddings = parts.model.features(images.to(parts.device, non_blocking=True))
            mixed, soft = mix_vectors(embeddings, targets, parts.num_classes, sample.lam)
            logits = parts.model.scaled_head(mixed)
        else:
            if parts.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            mixed, soft = apply_mix(images, targets, parts.num_classes, sample)
            logits = parts.logits(mixed)
        logits = logits.float()
        loss = parts.criterion(logits, targets) if soft is None else soft_cross_entropy(logits, soft)
    return loss, logits, targets if soft is None else soft.argmax(1)


def unlabelled_batches(parts: RunParts, epoch: int) -> Iterator[torch.Tensor]:
    """Endless index batches over the unlabelled images, ``unlabelled_ratio`` per labelled image.

    Drawn from a generator seeded by the epoch alone, so a resumed run sees the same batches. With the feature
    cache each item is ``(2, B)``: the image indices and, below them, which cached augmented view to use. In a
    distributed run each pass is split across ranks like the labelled images, and the ratio holds per rank.
    """
    assert parts.unlabelled_set is not None
    config, world = parts.config, parts.world
    generator = torch.Generator().manual_seed(config.seed * 1_000_033 + epoch + 17)
    count = len(parts.unlabelled_set)
    share = count if world is None else world.share(count)
    size = min(share, max(MIN_TRAINING_BATCH, parts.batch_size * config.unlabelled_ratio))
    pending = torch.empty(0, dtype=torch.long)
    while True:
        while len(pending) < size:
            order = torch.randperm(count, generator=generator)  # the same on every rank: one seed
            pending = torch.cat([pending, order if world is None else world.shard(order)])
        batch, pending = pending[:size], pending[size:]
        if parts.cache is not None:
            yield torch.stack([batch, torch.randint(parts.cache.views, (size,), generator=generator)])
        else:
            yield batch


def consistency_term(
    parts: RunParts,
    images: torch.Tensor,
    logits: torch.Tensor,
    index: torch.Tensor,
    unlabelled: Iterator[torch.Tensor] | None,
    mixed: bool = True,
) -> tuple[torch.Tensor, float]:
    """The consistency term of a batch (labelled images, plus an unlabelled batch when enabled) and the
    fraction of samples it kept.

    Mixing (mixup, cutmix, mixup of sentence embeddings) applies to the supervised part only: the term compares
    the clean view with the un-mixed augmented view, whose prediction is the supervised one when the batch was
    not ``mixed`` (no second forward pass then). The clean predictions are targets: no gradient flows through
    them.
    """
    config, cache = parts.config, parts.cache
    index = index.cpu()
    if cache is not None:
        clean_views = cache.train_clean()
        clean = [clean_views[index.to(clean_views.device)]]
        augmented = [images]
        if unlabelled is not None:
            picked, views = next(unlabelled)
            data = cache.unlabelled()
            picked, views = picked.to(data.features.device), views.to(data.features.device)
            clean.append(data.clean[picked])
            augmented.append(data.features[views, picked])
    else:
        clean = [torch.stack([parts.train_set.clean_item(int(i))[0] for i in index])]
        augmented = [images]
        if unlabelled is not None:
            assert parts.unlabelled_set is not None
            picked = next(unlabelled).tolist()
            clean.append(torch.stack([parts.unlabelled_set.clean_item(i)[0] for i in picked]))
            augmented.append(torch.stack([parts.unlabelled_set[i][0] for i in picked]))
    reuse = not mixed  # the supervised logits are those of the un-mixed augmented views
    with parts.autocast():
        with torch.no_grad():
            clean_logits = torch.cat([parts.logits(x) for x in clean]).float()
        pieces = [logits] if reuse else [parts.logits(images)]
        pieces += [parts.logits(x) for x in augmented[1:]]
        augmented_logits = torch.cat(pieces).float()
    return consistency_loss(
        clean_logits, augmented_logits, config.consistency_temperature, config.consistency_threshold
    )


def uses_fixmatch(parts: RunParts) -> bool:
    """Whether the run's unlabelled images get FixMatch's loss: an image fine-tune (not a frozen backbone's cached
    features, not a text run) with that rule and unlabelled images."""
    return (
        parts.config.unlabelled_rule == "fixmatch"
        and parts.cache is None
        and parts.compiled.kind == "images"
        and parts.unlabelled_set is not None
    )


def fixmatch_term(
    parts: RunParts, unlabelled: Iterator[torch.Tensor], epoch: int
) -> tuple[torch.Tensor, float]:
    """FixMatch's loss on the next unlabelled batch and the fraction of it that kept a pseudo-label.

    The weak views go through the model without a gradient (they give the targets), the strong views with one,
    each under the run's autocast.
    """
    assert parts.unlabelled_set is not None
    config = parts.config
    weak, strong = unlabelled_views(parts.unlabelled_set, parts.recipe, next(unlabelled).tolist(), epoch)
    with parts.autocast():
        with torch.no_grad():
            weak_logits = parts.logits(weak).float()
        strong_logits = parts.logits(strong).float()
    prior = None
    if config.distribution_alignment:  # a run told to treat classes evenly aligns to equal shares
        prior = class_prior(parts.train_targets, parts.num_classes, uniform=config.imbalance != "none")
    return fixmatch_loss(weak_logits, strong_logits, config.pseudo_label_threshold, prior)


def step_loss(
    parts: RunParts,
    images: torch.Tensor,
    targets: torch.Tensor,
    index: torch.Tensor,
    epoch: int,
    step: int,
    consistency_weight: float,
    unlabelled: Iterator[torch.Tensor] | None = None,
) -> StepLoss:
    """The objective of one step on a batch already on the run's device.

    Parameters
    ----------
    images, targets, index
        The batch as the training loader yields it: views ``(B, 3, H, W)`` or cached features ``(B, F)``,
        class indices ``(B,)`` and the items' dataset indices ``(B,)``.
    epoch, step
        1-based; they seed the batch-mixing draw.
    consistency_weight
        lambda at this point of the run (after its ramp-up); ignored without DMTL.
    unlabelled
        :func:`unlabelled_batches` of this epoch when the run learns from unlabelled images: they join the
        consistency term, or with :func:`uses_fixmatch` get FixMatch's term at ``unlabelled_weight`` (no ramp-up:
        the threshold keeps early, unsure predictions out).
    """
    loss, logits, truth = supervised_loss(parts, images, targets, epoch, step)
    result = StepLoss(loss, float(loss.item()), logits, truth)
    if parts.dmtl:
        fixmatch = unlabelled is not None and uses_fixmatch(parts)
        mixed = mixing_draw(parts, images, epoch, step) is not None  # the draw supervised_loss made
        labelled_only = None if fixmatch else unlabelled
        consistency, kept = consistency_term(parts, images, logits, index, labelled_only, mixed)
        result.loss = loss + consistency_weight * consistency
        result.consistency, result.kept = float(consistency.item()), kept
        if fixmatch:
            assert unlabelled is not None
            term, result.kept = fixmatch_term(parts, unlabelled, epoch)
            result.loss = result.loss + parts.config.unlabelled_weight * term
            result.unlabelled = float(term.item())
    return result
