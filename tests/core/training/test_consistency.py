"""The consistency term: zero for identical views, positive otherwise, masked by confidence, sharpened by T."""

from __future__ import annotations

import math

import pytest
import torch

from dmtl_studio.core.training.consistency import consistency_loss, rampup_factor


def test_identical_views_give_zero_and_different_views_a_positive_loss() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    loss, kept = consistency_loss(logits, logits.clone())
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and kept == 1.0
    other = logits + torch.randn(6, 4)
    loss, kept = consistency_loss(logits, other)
    assert loss.item() > 1e-3 and kept == 1.0


def test_matches_kl_divergence_and_the_gradient_flows_into_the_augmented_view_only() -> None:
    clean = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    augmented = torch.tensor([[0.0, 1.0, 0.0]], requires_grad=True)
    loss, _ = consistency_loss(clean, augmented)
    p = torch.softmax(clean.detach(), 1)
    q = torch.softmax(augmented.detach(), 1)
    assert loss.item() == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-5)
    loss.backward()
    assert clean.grad is None and augmented.grad.abs().sum() > 0


def test_threshold_keeps_only_confident_targets() -> None:
    confident = torch.tensor([[6.0, 0.0, 0.0]])
    unsure = torch.tensor([[0.1, 0.0, 0.0]])
    clean = torch.cat([confident, unsure])
    augmented = torch.zeros(2, 3)
    loss, kept = consistency_loss(clean, augmented, threshold=0.9)
    assert kept == 0.5
    only_confident, _ = consistency_loss(confident, torch.zeros(1, 3))
    assert loss.item() == pytest.approx(only_confident.item(), rel=1e-6)
    none, kept = consistency_loss(unsure, torch.zeros(1, 3, requires_grad=True), threshold=0.9)
    assert none.item() == 0.0 and kept == 0.0 and none.requires_grad


def test_a_temperature_below_one_sharpens_the_target() -> None:
    clean = torch.tensor([[1.0, 0.5, 0.0]])
    augmented = clean.clone()  # the same prediction: zero without sharpening, positive with it
    plain, _ = consistency_loss(clean, augmented, temperature=1.0)
    sharp, _ = consistency_loss(clean, augmented, temperature=0.4)
    assert plain.item() == pytest.approx(0.0, abs=1e-7) and sharp.item() > 0.01
    _, kept = consistency_loss(clean, augmented, temperature=0.1, threshold=0.9)
    assert kept == 1.0  # a sharpened target is confident enough
    with pytest.raises(ValueError):
        consistency_loss(clean, augmented, temperature=0.0)


def test_rampup_rises_to_one_and_stays() -> None:
    values = [rampup_factor(p / 100, 0.3) for p in range(101)]
    assert values[0] == pytest.approx(math.exp(-5)) and values[30] == 1.0 and values[-1] == 1.0
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert rampup_factor(0.0, 0.0) == 1.0
