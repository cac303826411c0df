"""The FixMatch rule: confident pseudo-labels only, the gradient through the strong view only, distribution
alignment, the weak and strong views, and a real partial fine-tune whose unlabelled images never reach the
supervised loss."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional

from dmtl_studio.core.augment.presets import preset
from dmtl_studio.core.augment.wordnet import SYSTEM_WORDNET
from dmtl_studio.core.models.architectures import Preprocessing
from dmtl_studio.core.training import objective
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.data import ImageDataset
from dmtl_studio.core.training.events import EpochResult, StepProgress
from dmtl_studio.core.training.fixmatch import (
    align_distribution,
    class_prior,
    fixmatch_loss,
    pseudo_labels,
    unlabelled_views,
    view_recipes,
)
from dmtl_studio.core.training.run import train
from dmtl_studio.core.training.settings import ConfigError


def _logits(probabilities: list[list[float]]) -> torch.Tensor:
    return torch.tensor(probabilities).log()


# ------------------------------------------------------------------------------------------------ the loss
def test_only_pseudo_labels_above_the_threshold_contribute() -> None:
    weak = _logits([[0.97, 0.02, 0.01], [0.50, 0.30, 0.20], [0.01, 0.96, 0.03], [0.40, 0.40, 0.20]])
    strong = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)).requires_grad_()
    loss, kept = fixmatch_loss(weak, strong, threshold=0.95)
    assert kept == 0.5
    expected = (functional.cross_entropy(strong[0], torch.tensor(0)) + functional.cross_entropy(strong[2], torch.tensor(1))) / 4  # fmt: skip
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)  # the whole batch divides, as in FixMatch
    loss.backward()
    assert strong.grad[[1, 3]].abs().max() == 0  # unsure images teach nothing
    assert strong.grad[[0, 2]].abs().min() > 0
    # Changing an unsure image's strong view changes nothing; lowering the threshold lets it in.
    other = strong.detach().clone()
    other[1] += 5.0
    assert fixmatch_loss(weak, other, 0.95)[0].item() == pytest.approx(loss.item())
    assert fixmatch_loss(weak, strong.detach(), 0.45)[1] == 0.75
    none, nothing_kept = fixmatch_loss(weak, strong, threshold=0.99)
    assert nothing_kept == 0.0 and none.item() == 0.0 and none.requires_grad


def test_the_gradient_flows_through_the_strong_view_only() -> None:
    torch.manual_seed(1)
    model = nn.Linear(5, 3)
    weak_inputs, strong_inputs = torch.randn(6, 5), torch.randn(6, 5)
    with torch.no_grad():
        model.weight.mul_(8)  # confident predictions, so some pseudo-labels pass the threshold
    weak_logits = model(weak_inputs)  # built with a graph on purpose: the loss must not use it
    weak_logits.retain_grad()
    loss, kept = fixmatch_loss(weak_logits, model(strong_inputs), threshold=0.9)
    assert 0 < kept < 1
    loss.backward()
    assert weak_logits.grad is None  # nothing flowed back through the weak predictions
    through_model = model.weight.grad.clone()
    # The same gradient with the pseudo-labels as fixed numbers: only the strong view's path counts.
    labels, mask = pseudo_labels(weak_logits, 0.9)
    model.zero_grad()
    fixed = (functional.cross_entropy(model(strong_inputs), labels, reduction="none") * mask).sum() / 6
    fixed.backward()
    assert torch.allclose(through_model, model.weight.grad, atol=1e-6)


def test_distribution_alignment_lets_swamped_classes_in() -> None:
    # Nine images the model gives confidently to class 0; three each it leans to class 1 and 2, short of 0.95.
    weak = _logits([[0.97, 0.02, 0.01]] * 9 + [[0.03, 0.94, 0.03]] * 3 + [[0.03, 0.03, 0.94]] * 3)
    labels, mask = pseudo_labels(weak, 0.95)
    assert torch.bincount(labels[mask], minlength=3).tolist() == [9, 0, 0]  # only the favoured class
    prior = class_prior([0, 0, 1, 1, 2, 2], 3)  # the labelled images: equal shares
    labels, mask = pseudo_labels(weak, 0.95, prior)
    # Aligned, the over-predicted class loses confidence and the others gain it: the batch's pseudo-labels now
    # teach the two swamped classes, and the favoured one waits until the model predicts it less often.
    assert torch.bincount(labels[mask], minlength=3).tolist() == [0, 3, 3]
    probabilities = functional.softmax(weak, dim=1)
    aligned = align_distribution(probabilities, prior)
    assert (aligned.mean(0) - prior).abs().sum() < (probabilities.mean(0) - prior).abs().sum()
    assert torch.allclose(aligned.sum(1), torch.ones(15))
    assert torch.equal(aligned.argmax(1), probabilities.argmax(1))  # nobody's class changes here, only trust
    # A batch that already predicts the prior's shares is left as it is.
    balanced = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    assert torch.allclose(align_distribution(balanced, torch.full((3,), 1 / 3)), balanced, atol=1e-6)


def test_the_prior_is_the_labelled_class_shares_or_equal_shares() -> None:
    assert class_prior([0, 0, 0, 1], 3).tolist() == pytest.approx([0.75, 0.25, 0.0])
    assert class_prior([0, 0, 0, 1], 3, uniform=True).tolist() == pytest.approx([1 / 3] * 3)


# ------------------------------------------------------------------------------------------------ the views
def _dataset(tmp_path: Path) -> ImageDataset:
    import cv2

    paths = []
    rng = np.random.default_rng(0)
    for i in range(3):
        image = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        image[5:20, 5:30] = (250, 20, 20)
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], image)
    preprocessing = Preprocessing(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bilinear", 1.0)
    return ImageDataset(paths, [-1, -1, -1], preprocessing, augment=True, seed=3)


def test_weak_and_strong_views_flip_only_where_the_recipe_does(tmp_path: Path) -> None:
    weak, strong = view_recipes(preset("light"))
    assert [s.operation for s in weak.steps] == ["hflip", "translate"] and strong == preset("strong")
    weak, strong = view_recipes(preset("documents"))  # text has a reading direction
    assert "hflip" not in {s.operation for s in weak.steps + strong.steps}
    assert "one_of" in {s.operation for s in strong.steps}
    dataset = _dataset(tmp_path)
    first = unlabelled_views(dataset, preset("light"), [0, 2], epoch=1)
    again = unlabelled_views(dataset, preset("light"), [0, 2], epoch=1)
    later = unlabelled_views(dataset, preset("light"), [0, 2], epoch=2)
    assert first[0].shape == first[1].shape == (2, 3, 32, 32) and first[0].dtype == torch.float32
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])  # reproducible
    assert not torch.equal(first[0], first[1])  # two different views of each image
    assert not torch.equal(first[1], later[1])  # new draws each epoch


# ------------------------------------------------------------------------------------------------ the engine
def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(
        transfer="partial",
        epochs=1,
        batch_size=8,
        learning_rate=3e-3,
        input_size=64,
        device="cpu",
        seed=5,
        consistency_weight=1.0,
        use_unlabelled=True,
        unlabelled_rule="fixmatch",
        unlabelled_ratio=1,
    )
    return base.with_changes(**changes)


def test_a_partial_fine_tune_learns_from_unlabelled_images_by_fixmatch_without_their_labels(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervised: list[tuple[int, object]] = []
    views: list[list[int]] = []
    original_loss, original_views = objective.supervised_loss, objective.unlabelled_views

    def recording_loss(parts, images, targets, epoch, step):  # noqa: ANN001, ANN202
        assert bool((targets >= 0).all())  # an unlabelled image (target -1) would show here
        supervised.append((len(targets), parts))
        return original_loss(parts, images, targets, epoch, step)

    def recording_views(dataset, recipe, indices, epoch):  # noqa: ANN001, ANN202
        views.append(list(indices))
        return original_views(dataset, recipe, indices, epoch)

    monkeypatch.setattr(objective, "supervised_loss", recording_loss)
    monkeypatch.setattr(objective, "unlabelled_views", recording_views)
    events: list[object] = []
    # Threshold 0: every unlabelled image keeps its pseudo-label, so the term certainly trains.
    summary = train(project, _config(pseudo_label_threshold=0.0), on_event=events.append)
    assert summary.status == "completed"
    run = supervised[0][1]
    assert run.unlabelled_set is not None and len(run.unlabelled_set) == 6
    assert not set(run.unlabelled_set.paths) & set(run.train_set.paths)
    assert sum(n for n, _ in supervised) == len(run.train_set)  # the labelled images, each once, nothing else
    assert len(views) == len(supervised) and all(len(v) == 6 for v in views)  # 6 = every unlabelled image
    epochs = [e for e in events if isinstance(e, EpochResult)]
    assert epochs[-1].consistency_mask == 1.0  # the share of unlabelled images kept, as the window shows it
    assert all(e.consistency_loss is not None for e in events if isinstance(e, StepProgress))
    assert summary.metrics["last"]["consistency_mask"] == 1.0


def test_the_fixmatch_threshold_and_weight_change_the_run(project: Path) -> None:
    def losses(**changes: object) -> tuple[list[float], list[float]]:
        events: list[object] = []
        train(project, _config(**changes), on_event=events.append)
        masks = [e.consistency_mask for e in events if isinstance(e, EpochResult)]
        return [e.loss for e in events if isinstance(e, StepProgress)], masks

    strict, strict_mask = losses(pseudo_label_threshold=1.0)  # nothing is ever that sure: no unlabelled term
    off, _ = losses(unlabelled_weight=0.0)
    kept, kept_mask = losses(pseudo_label_threshold=0.0)
    assert strict_mask == [0.0] and kept_mask == [1.0]
    assert strict == pytest.approx(off)  # a term that keeps nothing is the same as weight 0
    assert kept != pytest.approx(strict)  # and one that keeps everything trains differently


@pytest.mark.skipif(
    not (SYSTEM_WORDNET / "data.noun").is_file(),
    reason="the default text recipe's synonym steps need Debian's wordnet-base (apt-get install wordnet-base)",
)
def test_only_an_image_fine_tune_with_unlabelled_images_uses_the_rule() -> None:
    def parts(**changes: object) -> SimpleNamespace:
        base = {
            "config": TrainConfig(unlabelled_rule="fixmatch"),
            "cache": None,
            "compiled": preset("light").compile(),
            "unlabelled_set": object(),
        }
        return SimpleNamespace(**{**base, **changes})

    assert objective.uses_fixmatch(parts())
    assert not objective.uses_fixmatch(parts(config=TrainConfig(unlabelled_rule="consistency")))
    assert not objective.uses_fixmatch(parts(cache=object()))  # a frozen backbone's cached features
    assert not objective.uses_fixmatch(parts(compiled=preset("eda_light", "text").compile()))  # a text run
    assert not objective.uses_fixmatch(parts(unlabelled_set=None))


def test_fixmatch_settings_are_checked_and_old_configurations_keep_the_consistency_rule() -> None:
    with pytest.raises(ConfigError, match="unlabelled rule must be one of consistency, fixmatch"):
        TrainConfig(unlabelled_rule="mixmatch")
    with pytest.raises(ConfigError, match="pseudo-label threshold"):
        TrainConfig(pseudo_label_threshold=1.5)
    with pytest.raises(ConfigError, match="unlabelled weight"):
        TrainConfig(unlabelled_weight=-1)
    old = TrainConfig.from_dict({"transfer": "partial", "consistency_weight": 1.0, "use_unlabelled": True})
    assert old.unlabelled_rule == "consistency"  # a stored run keeps meaning what it meant
    new = TrainConfig.recommended()
    assert (new.unlabelled_rule, new.pseudo_label_threshold, new.unlabelled_weight) == ("fixmatch", 0.95, 1.0)
    assert new.distribution_alignment
