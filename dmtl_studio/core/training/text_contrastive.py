"""Contrastive fine-tuning of a sentence encoder on the labelled texts, before its embeddings are cached.

With a few labels per class a frozen encoder's embeddings place texts by their general topic, not by the
project's classes. SetFit (Tunstall et al., "Efficient Few-Shot Learning Without Prompts", 2022) adapts the
encoder first: pairs of labelled texts, of the same class (target similarity 1) or of two classes (target 0),
train the encoder so that the cosine similarity of the two embeddings approaches the target
(sentence-transformers' ``CosineSimilarityLoss``: the mean squared error between the two), for one pass over the
pairs. The encoder is then fixed again and the head is fitted on its new embeddings — here the product's linear
probe, and with unlabelled texts its class-balanced self-training (:mod:`~dmtl_studio.core.training.text_semi`),
which SetFit has no counterpart for.

Pairs follow SetFit's original sampling: ``iterations`` rounds, each labelled text paired once with a random text
of its class and once with a random text of another class (a class of one text pairs it with itself). The pass
is capped at ``max_steps`` batches, so a project with many labels costs the same bounded time as one with few
(the pairs of the cap are a random sample of all of them). AdamW at 2e-5, batches of 16 pairs, linear warm-up
over the first 10 % of the steps and linear decay to 0 (SetFit's defaults).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.training.settings import CONTRASTIVE_BATCH as CONTRASTIVE_BATCH
from dmtl_studio.core.training.settings import CONTRASTIVE_ITERATIONS as CONTRASTIVE_ITERATIONS

#: AdamW's learning rate for the encoder (SetFit's body learning rate).
CONTRASTIVE_LEARNING_RATE = 2e-5

#: ``on_progress(steps_done, steps_total, seconds)`` after each step.
ContrastiveProgress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class ContrastiveResult:
    """What one contrastive pass did: steps taken, pairs seen, seconds, and the mean loss of its last tenth."""

    steps: int
    pairs: int
    seconds: float
    final_loss: float


def setfit_pairs(targets: np.ndarray, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """SetFit's pairs of the texts of ``targets``.

    Parameters
    ----------
    targets
        ``(N,)`` class indices of the labelled texts.
    iterations
        Rounds; each gives every text one positive and one negative pair.

    Returns
    -------
    np.ndarray
        ``(2 * iterations * N, 3)`` int64 rows ``(anchor, partner, same)``: two row indices into ``targets`` and
        1 when they share a class, else 0.

    Raises
    ------
    ValueError
        Fewer than two classes (no negative pair exists), or ``iterations`` < 1.
    """
    targets = np.asarray(targets, dtype=np.int64)
    classes = np.unique(targets)
    if len(classes) < 2:
        raise ValueError("contrastive pairs need texts of at least two classes")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    members = {int(c): np.flatnonzero(targets == c) for c in classes}
    others = {int(c): np.flatnonzero(targets != c) for c in classes}
    rows = []
    for _ in range(iterations):
        for anchor, cls in enumerate(targets.tolist()):
            same = members[cls][members[cls] != anchor]
            partner = int(rng.choice(same)) if len(same) else anchor
            rows.append((anchor, partner, 1))
            rows.append((anchor, int(rng.choice(others[cls])), 0))
    return np.asarray(rows, dtype=np.int64)


def _length_bucketed(
    pairs: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator, chunk: int = 32
) -> np.ndarray:
    """``pairs`` reordered so each batch holds pairs of similar length (see ``contrastive_fine_tune``)."""
    longest = np.maximum(lengths[pairs[:, 0]], lengths[pairs[:, 1]])
    span = batch_size * chunk
    order = np.concatenate(
        [
            start + np.argsort(longest[start : start + span], kind="stable")
            for start in range(0, len(pairs), span)
        ]
    )
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return pairs[np.concatenate([batches[i] for i in rng.permutation(len(batches))])]


def contrastive_fine_tune(
    encoder: nn.Module,
    ids: torch.Tensor,
    targets: np.ndarray,
    *,
    max_steps: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
    iterations: int = CONTRASTIVE_ITERATIONS,
    batch_size: int = CONTRASTIVE_BATCH,
    learning_rate: float = CONTRASTIVE_LEARNING_RATE,
    pad_id: int | None = None,
    should_stop: ShouldStop = never_stop,
    on_progress: ContrastiveProgress | None = None,
) -> ContrastiveResult:
    """Fine-tune ``encoder`` in place on SetFit pairs of the labelled texts (see the module docstring).

    Parameters
    ----------
    encoder
        A sentence encoder: token ids ``(B, L)`` -> embeddings ``(B, F)``
        (:class:`~dmtl_studio.core.models.text_encoder.TextEncoder`). Every parameter learns during the pass;
        afterwards the encoder is in eval mode with each parameter's ``requires_grad`` as it was before.
    ids
        ``(N, L)`` int64 token ids of the labelled texts (padded with the encoder's pad id).
    targets
        ``(N,)`` their class indices.
    max_steps
        The most batches the pass takes (>= 1).
    pad_id
        The encoder's pad id. When given, pairs of similar length share a batch (the pairs are shuffled, cut into
        chunks of 32 batches, sorted by length within a chunk, and the batches shuffled again), so a batch
        carries little padding: several times faster on texts of mixed length, the same pairs seen.

    Returns
    -------
    ContrastiveResult

    Raises
    ------
    ValueError
        Fewer than two classes, ``max_steps`` < 1, or ``ids`` and ``targets`` of different lengths.
    Cancelled
        ``should_stop()`` turned true between two steps (the encoder is left part-tuned).
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, not {max_steps}")
    if len(ids) != len(targets):
        raise ValueError(f"{len(ids)} token rows for {len(targets)} targets")
    rng = np.random.default_rng(seed)
    pairs = setfit_pairs(np.asarray(targets), iterations, rng)
    pairs = pairs[rng.permutation(len(pairs))][: max_steps * batch_size]
    steps = -(-len(pairs) // batch_size)
    if pad_id is not None:
        pairs = _length_bucketed(pairs, (ids != pad_id).sum(1).numpy(), batch_size, rng)
    warmup = max(1, steps // 10)
    params = list(encoder.parameters())
    wanted = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    losses: list[float] = []
    encoder.train()
    try:
        # Dropout draws its own stream; the run's CPU and CUDA streams stay as they were (manual_seed seeds both).
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
            for step in range(steps):
                check(should_stop)
                batch = pairs[step * batch_size : (step + 1) * batch_size]
                both = torch.cat([ids[batch[:, 0]], ids[batch[:, 1]]]).to(device)
                embeddings = encoder(both)
                first, second = embeddings[: len(batch)], embeddings[len(batch) :]
                similarity = functional.cosine_similarity(first, second, dim=1)
                target = torch.as_tensor(batch[:, 2], dtype=similarity.dtype, device=similarity.device)
                loss = functional.mse_loss(similarity, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
                if on_progress is not None:
                    on_progress(step + 1, steps, time.perf_counter() - started)
    finally:
        encoder.eval()
        for p, flag in zip(params, wanted, strict=True):
            p.requires_grad_(flag)
            p.grad = None
    tail = losses[-max(1, len(losses) // 10) :]
    return ContrastiveResult(
        steps=len(losses),
        pairs=len(pairs),
        seconds=time.perf_counter() - started,
        final_loss=float(np.mean(tail)) if tail else float("nan"),
    )


def _cuda_devices(device: str | torch.device) -> list[int]:
    """The CUDA device index whose random state :func:`torch.random.fork_rng` must restore (none on the CPU)."""
    where = torch.device(device)
    if where.type != "cuda" or not torch.cuda.is_available():
        return []
    return [where.index if where.index is not None else torch.cuda.current_device()]
