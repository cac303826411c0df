"""The frozen backbone's linear head fitted as a linear probe, in place of epochs of AdamW.

With a frozen backbone the head is a logistic regression on fixed features; fitting it to convergence with a
chosen L2 strength (:func:`~dmtl_studio.core.training.linear_probe.fit_linear_probe`) is the standard strong
baseline of transfer learning and costs seconds once the features exist. The rows are every cached augmented view
of each training image (its views share a cross-validation fold); the standardisation is folded into the head's
linear layer, so checkpoints, exports and ``predict`` carry it without a new operator. With unlabelled images to
learn from, the strength is chosen on the labelled rows alone, then the head is fitted again with the
class-balanced pseudo-labels of :mod:`~dmtl_studio.core.training.pseudo_labels` as extra rows (each pseudo-labelled
image with its augmented views, like a labelled one). When validation items joined the fit, their out-of-fold
logits are computed too (:mod:`~dmtl_studio.core.training.out_of_fold`): what calibration and a "not sure"
threshold are chosen on.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dmtl_studio.core.base.cancel import ShouldStop
from dmtl_studio.core.training.data import ImageDataset
from dmtl_studio.core.training.held_out import learns_from_unlabelled
from dmtl_studio.core.training.held_out import uses_linear_probe as uses_linear_probe
from dmtl_studio.core.training.linear_probe import ProbeProgress, fit_linear_probe
from dmtl_studio.core.training.out_of_fold import HeldOutLogits, out_of_fold_logits
from dmtl_studio.core.training.probe_model import LinearProbe, to_module
from dmtl_studio.core.training.pseudo_labels import pseudo_label
from dmtl_studio.core.training.setup import RunParts
from dmtl_studio.core.training.text_data import TextDataset
from dmtl_studio.core.training.text_semi import fit_semi_supervised_probe

#: The share of unlabelled texts self-training gives a pseudo-label (passed to ``fit_semi_supervised_probe``).
SELF_TRAINING_SHARE = 0.6

#: A probe run's note when its recipe has mixing steps: the closed-form fit has no batches to mix.
MIXING_UNUSED_BY_PROBE = (
    "linear probe: the recipe's mixing steps (mixup, cutmix, embedding mixup) are not used, as the probe is "
    "fitted once on the cached views with no batches to mix; turn the linear probe off to train the head by "
    "epochs with mixing"
)


def fit_probe_head(
    parts: RunParts, should_stop: ShouldStop, on_c: ProbeProgress | None = None
) -> tuple[float, float, LinearProbe, str | None, HeldOutLogits | None]:
    """Fit the head of ``parts`` (frozen backbone, cached features) as a linear probe and load it into the model.

    Returns
    -------
    tuple
        The labelled training rows' mean cross-entropy (nats) and accuracy with the fitted head, the probe itself
        (its chosen ``c`` and per-C cross-validation scores), and a note on the unlabelled items that joined the fit
        with a pseudo-label (None when the run does not learn from unlabelled items), and the out-of-fold logits of
        the validation items that joined the fit (None when none did, or when too few items per class make folds).

    Raises
    ------
    Cancelled
        ``should_stop`` became true during the feature pass or the fit.
    """
    assert parts.cache is not None, "a linear probe needs the frozen backbone's feature cache"
    data = parts.cache.train()  # features (V, N, F), targets (N,)
    views, count, width = data.features.shape
    rows = [data.features.reshape(views * count, width)]
    if data.clean is not None:  # cached for the consistency term: the clean view joins as one more row
        rows.append(data.clean)
    features = torch.cat(rows).float().cpu().numpy()
    repeats = len(features) // count  # rows per image
    labelled_targets = data.targets.cpu().numpy().astype(np.int64)
    targets = np.tile(labelled_targets, repeats)
    item_groups = content_groups(parts.train_contents, labelled_targets)
    groups = np.tile(item_groups, repeats)  # an item's views, and its copies, never straddle a fold
    cross_validated = (features, targets, groups)  # the rows the probe's C was chosen on
    config = parts.config
    class_weight = "balanced" if config.imbalance != "none" else None
    note = None
    semi = learns_from_unlabelled(config) and parts.unlabelled_set is not None
    text = _is_text(parts)
    if semi and text:
        # Sentence embeddings: class-balanced self-training of the probe is the rule that pays on texts
        # (docs/text.md), fitted on the clean embeddings as measured there; its cross-validation on the labels is
        # the one reported (the curve) and the one that chooses C.
        cross_validated = (_labelled_clean(parts, data), labelled_targets, item_groups)
        probe = fit_semi_supervised_probe(
            cross_validated[0],
            labelled_targets,
            parts.cache.unlabelled().clean.float().cpu().numpy(),
            groups=item_groups,
            num_classes=parts.num_classes,
            share=SELF_TRAINING_SHARE,
            class_weight=class_weight,
            seed=config.seed,
            should_stop=should_stop,
            on_progress=on_c,
        )
        unlabelled_count = len(parts.unlabelled_set)
        note = (
            f"self-training: {probe.pseudo_labelled} of {unlabelled_count} unlabelled text(s) joined the fit with "
            "a pseudo-label (the same number per class, the most confident first)"
        )
    else:
        probe = fit_linear_probe(
            features,
            targets,
            num_classes=parts.num_classes,
            groups=groups,
            # Held-out folds are scored on the clean views when there are some: the model predicts clean inputs,
            # and a strong recipe's hardest views would otherwise pull C towards heavy regularisation.
            scored=np.arange(len(features)) >= views * count if data.clean is not None else None,
            class_weight=class_weight,
            seed=config.seed,
            should_stop=should_stop,
            on_progress=on_c,
        )
    if semi and not text:
        unlabelled = parts.cache.unlabelled()  # views (V, M, F), clean (M, F)
        chosen = pseudo_label(
            _labelled_clean(parts, data),
            labelled_targets,
            unlabelled.clean.float().cpu().numpy(),
            parts.num_classes,
        )
        note = (
            f"label spreading: {len(chosen)} of {len(parts.unlabelled_set)} unlabelled image(s) joined the "
            "fit with a pseudo-label (the most confident half of each class, so no class is swamped)"
        )
        if len(chosen):  # C stays the one cross-validation chose on the true labels
            probe = fit_linear_probe(
                np.concatenate([features, _pseudo_rows(unlabelled, chosen.indices, data.clean is not None)]),
                np.concatenate([targets, np.tile(chosen.labels.astype(np.int64), repeats)]),
                num_classes=parts.num_classes,
                c_grid=[probe.c],
                class_weight=class_weight,
                seed=config.seed,
                should_stop=should_stop,
            ).with_strength_chosen_by(probe)
    layer = to_module(probe)
    head_linear = next(m for m in parts.model.head.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        head_linear.weight.copy_(layer.weight.to(head_linear.weight.device))
        head_linear.bias.copy_(layer.bias.to(head_linear.bias.device))
    parts.model.head.eval()
    with torch.no_grad():
        logits = parts.model.head(torch.from_numpy(features).to(parts.device))
        truth = torch.from_numpy(targets).to(parts.device)
        loss = float(nn.functional.cross_entropy(logits.float(), truth).item())
        accuracy = float((logits.argmax(1) == truth).float().mean().item())
    held_out = None
    if parts.joined_validation and probe.folds >= 2:
        held_out = _joined_validation_logits(parts, data, cross_validated, probe.c, probe.folds, should_stop)
    return loss, accuracy, probe, note, held_out


def _joined_validation_logits(
    parts: RunParts,
    data: object,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    c: float,
    folds: int,
    should_stop: ShouldStop,
) -> HeldOutLogits:
    """Out-of-fold logits of the clean views of the validation items that joined the fit (the last training items)."""
    count = len(parts.train_set)
    first = count - parts.joined_validation
    if data.clean is not None:
        clean = data.clean[first:]
    else:
        clean = parts.cache.clean_of(_items(parts.train_set, range(first, count)))
    logits = out_of_fold_logits(
        *rows,
        clean.float().cpu().numpy(),
        rows[2][first:count],  # the items' groups: the fitted rows' groups begin with one per item, in order
        c=c,
        folds=folds,
        num_classes=parts.num_classes,
        class_weight="balanced" if parts.config.imbalance != "none" else None,
        seed=parts.config.seed,
        should_stop=should_stop,
    )
    targets = data.targets.cpu().numpy().astype(np.int64)[first:]
    return HeldOutLogits(tuple(path for path, _ in parts.split.train[first:]), logits, targets)


def content_groups(contents: tuple[str, ...], targets: np.ndarray) -> np.ndarray:
    """Group number ``(N,)`` of each of ``N`` training items for the probe's cross-validation: items of one class
    with identical content (``contents``, one per item) share a group, so no fold scores an item on its copy.

    Copies counted as separate items were dealt into different folds: on two classes of pure noise with each
    picture saved three times, cross-validation chose the weakest regularisation (C = 10), the out-of-fold
    scores were all right, and ``predict --target-accuracy 0.95`` promised 100 % on a model at chance.
    Identical items under two labels stay apart (a group has one class). ``contents`` empty: one group per item.
    """
    if len(contents) != len(targets):
        return np.arange(len(targets))
    first: dict[str, int] = {}  # a group is numbered by its first item: without copies, the item numbers
    keys = (f"{int(target)}\0{content}" for content, target in zip(contents, targets, strict=True))
    return np.array([first.setdefault(key, item) for item, key in enumerate(keys)], dtype=np.int64)


def _items(dataset: object, indices: range) -> ImageDataset | TextDataset:
    """The items ``indices`` of a training set, not augmented (as validation items are read)."""
    targets = [dataset.targets[i] for i in indices]
    if isinstance(dataset, TextDataset):
        texts = [dataset.texts[i] for i in indices]
        return TextDataset(texts, targets, dataset.encoder, keys=[dataset.paths[i] for i in indices])
    return ImageDataset([dataset.paths[i] for i in indices], targets, dataset.preprocessing)


def _labelled_clean(parts: RunParts, data: object) -> np.ndarray:
    """``(N, F)`` clean features of the labelled training items (cached with the views, or computed now)."""
    clean = data.clean if data.clean is not None else parts.cache.train_clean()
    return clean.float().cpu().numpy()


def _is_text(parts: RunParts) -> bool:
    """Whether the run's backbone is a sentence encoder (its preprocessing tokenises texts)."""
    return type(parts.preprocessing).__name__ == "TextPreprocessing"


def _pseudo_rows(unlabelled: object, indices: np.ndarray, with_clean: bool) -> np.ndarray:
    """Rows ``(P * repeats, F)`` of the unlabelled images ``indices`` given a pseudo-label: their augmented views,
    then their clean view when the labelled rows have one, as for a labelled image."""
    index = torch.from_numpy(indices)
    stacks = [unlabelled.features[:, index].reshape(-1, unlabelled.features.shape[-1])]
    if with_clean:
        stacks.append(unlabelled.clean[index])
    return torch.cat(stacks).float().cpu().numpy()
