"""The parts of a text run: the same :class:`~dmtl_studio.core.training.setup.RunParts` as an image run, so the
same loop, objective, callbacks, learning-rate finder and cross-validation train it.

What differs is inside the parts: the classifier's backbone is a pretrained sentence encoder
(:mod:`dmtl_studio.core.models.text_encoder`), the datasets yield token ids
(:class:`~dmtl_studio.core.training.text_data.TextDataset`), the augmentation ``T(x)`` is a text augmentation
(a recipe's mixing steps mix sentence embeddings, never token ids), and a frozen encoder's embeddings are cached
in the project by text hash (:class:`~dmtl_studio.core.training.text_features.TextFeatureCache`). The transfer
strategies keep their names: ``frozen`` (embeddings once; with ``linear_probe`` the head is the same L-BFGS probe
as for images), ``partial`` (the last ``unfreeze_stages`` transformer layers learn too) and ``full``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from dmtl_studio.core.augment.presets import resolve_recipe, without_wordnet
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.augment.wordnet import WordNetMissing
from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.models.classifier import ModelSpec
from dmtl_studio.core.models.text_classifier import run_text_encoder, text_classifier
from dmtl_studio.core.models.text_encoder import load_text_encoder
from dmtl_studio.core.models.transfer import configure_transfer
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.texts_table import text_sha256
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.device import amp_dtype_for, probe_device, seed_everything
from dmtl_studio.core.training.events import PreparationProgress, RunNotice
from dmtl_studio.core.training.held_out import learns_from_unlabelled, plan_for_project
from dmtl_studio.core.training.labelled import LabelledSplit, class_weights, labelled_split, unlabelled_paths
from dmtl_studio.core.training.settings import MIN_TRAINING_BATCH
from dmtl_studio.core.training.setup import EventCallback, RunParts, build_run
from dmtl_studio.core.training.text_contrastive import contrastive_fine_tune
from dmtl_studio.core.training.text_data import (
    TextAugment,
    TextAugmentation,
    TextDataset,
    no_text_augmentation,
)
from dmtl_studio.core.training.text_features import TextFeatureCache, text_feature_store
from dmtl_studio.core.training.text_head_rate import head_rate_notice, scale_head_rate
from dmtl_studio.core.training.unused_options import fit_stage_count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextCorpus:
    """What a text run learns from: the labelled split by source key, each key's text, the unlabelled keys."""

    split: LabelledSplit
    texts: dict[str, str]
    unlabelled: tuple[str, ...] = field(default=())

    @classmethod
    def from_lists(
        cls,
        classes: Sequence[str],
        train: Sequence[tuple[str, int]],
        val: Sequence[tuple[str, int]] = (),
        unlabelled: Sequence[str] = (),
    ) -> TextCorpus:
        """A corpus from plain ``(text, class index)`` pairs (keys ``train:i``, ``val:i``, ``unlabelled:i``)."""
        texts: dict[str, str] = {}

        def keyed(prefix: str, items: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
            out = []
            for i, (text, target) in enumerate(items):
                texts[f"{prefix}:{i}"] = text
                out.append((f"{prefix}:{i}", int(target)))
            return tuple(out)

        split = LabelledSplit(tuple(classes), keyed("train", train), keyed("val", val))
        free = keyed("unlabelled", [(t, -1) for t in unlabelled])
        return cls(split, texts, tuple(k for k, _ in free))


def project_corpus(store: ProjectStore, split: LabelledSplit | None = None) -> TextCorpus:
    """A text project's corpus: its labelled split (or ``split``, for cross-validation folds), every usable
    item's text, and the unlabelled items.

    Raises
    ------
    TrainingError
        Fewer than 2 labelled classes, or a class without training texts.
    """
    split = split if split is not None else labelled_split(store)
    ids = {im.path: im.id for im in store.images(usable_only=True)}
    bodies = store.texts(list(ids.values()))
    texts = {path: bodies[i] for path, i in ids.items() if i in bodies}
    unlabelled = tuple(p for p in unlabelled_paths(store) if p in texts)
    return TextCorpus(split, texts, unlabelled)


def text_encoder_name(config: TrainConfig, emit: EventCallback) -> str:
    """:func:`~dmtl_studio.core.models.text_classifier.run_text_encoder` of ``config.backbone``, its notice
    emitted (raises its ``TextEncoderError``)."""
    name, notice = run_text_encoder(config.backbone)
    if notice:
        emit(RunNotice(notice))
    return name


def build_text_parts(
    corpus: TextCorpus,
    config: TrainConfig,
    emit: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    on_preparing: Callable[[int, int, float], None] | None = None,
    augment: TextAugment | CompiledTextRecipe | None = None,
    augmentation: dict | None = None,
    feature_dir: str | os.PathLike[str] | None = None,
    joined: int = 0,
) -> RunParts:
    """Build the parts of a text run of ``config`` on ``corpus`` (nothing is trained or stored yet).

    Parameters
    ----------
    corpus
        The labelled split, the texts and the unlabelled texts (these join the consistency term only, with
        ``consistency_weight > 0`` and ``use_unlabelled``; never the supervised loss).
    config
        What to train and how; ``backbone`` names the text encoder (an image backbone's name means the default).
    augment
        The text augmentation ``T(x)``: a compiled text recipe (its mixing steps mix the sentence embeddings of
        each batch and their labels: the cached ones of a frozen run, the encoder's output before the head
        otherwise) or any ``augment(text, rng) -> text``; ``None`` trains on the texts as they are.
    augmentation
        The augmentation's description, stored with the run and keying the cached views (default: no steps).
    feature_dir
        A project folder whose feature cache keeps the frozen encoder's embeddings across runs.
    joined
        The validation texts that joined the fit: the last ``joined`` of ``corpus.split.train``
        (:class:`~dmtl_studio.core.training.held_out.HeldOutPlan`). The contrastive step leaves them out, so
        their out-of-fold scores — which calibrate the run and choose ``--target-accuracy`` thresholds — come
        from an encoder that never learnt their labels.

    Raises
    ------
    TextEncoderError
        The encoder cannot be found or read offline.
    """
    emit = emit or (lambda event: None)
    seed_everything(config.seed)  # first: the new head's initial weights come from this seed
    device, notice = probe_device(config.device)
    if notice:
        emit(RunNotice(notice))
    split = corpus.split
    name = text_encoder_name(config, emit)
    config = config.with_changes(backbone=name)  # the run's stored settings name the encoder it used
    encoder = load_text_encoder(name)
    spec = ModelSpec(
        backbone=name,
        num_classes=len(split.classes),
        head=config.head,
        dropout=config.dropout,
        hidden=config.hidden_size,
    )
    model = text_classifier(encoder, spec)
    recipe = TextAugmentation.of(augment, augmentation)
    texts = corpus.texts
    train_set = TextDataset(
        [texts[k] for k, _ in split.train],
        [t for _, t in split.train],
        encoder,
        recipe,
        seed=config.seed,
        keys=[k for k, _ in split.train],
    )
    val_set = TextDataset(
        [texts[k] for k, _ in split.val], [t for _, t in split.val], encoder, keys=[k for k, _ in split.val]
    )
    unlabelled_set = None
    if learns_from_unlabelled(config):
        if len(corpus.unlabelled) >= MIN_TRAINING_BATCH:
            unlabelled_set = TextDataset(
                [texts[k] for k in corpus.unlabelled],
                [-1] * len(corpus.unlabelled),
                encoder,
                recipe,
                seed=config.seed + 1,
                keys=list(corpus.unlabelled),
            )
        else:
            emit(
                RunNotice(
                    f"the project has {len(corpus.unlabelled) or 'no'} unlabelled text(s), too few to learn from "
                    f"(at least {MIN_TRAINING_BATCH} are needed): the run learns from the labelled texts only"
                )
            )
    truncated = sum(d.truncated for d in (train_set, val_set, unlabelled_set) if d is not None)
    if truncated:
        emit(
            RunNotice(
                f"{truncated} text(s) are longer than {encoder.max_length} tokens, the most {name} reads: the "
                "model sees the beginning of each"
            )
        )
    model.to(device)
    adapted = config.transfer == "frozen" and config.contrastive_steps > 0
    if adapted:
        _adapt_encoder(model.backbone, train_set, joined, config, device, emit, should_stop)
    config = fit_stage_count(config, model.backbone, emit)
    groups = configure_transfer(model, config)
    preprocessing = model.backbone.preprocessing
    factor = scale_head_rate(
        groups, model.backbone.num_features, preprocessing.normalize, config.transfer, config.head
    )
    if factor != 1.0 and not config.fits_linear_probe:
        emit(RunNotice(head_rate_notice(factor, config.learning_rate)))
    for group in groups:
        group["base_lr"] = group["lr"]
    cache = None
    if config.transfer == "frozen":
        cache = TextFeatureCache(
            model.backbone,
            train_set,
            val_set,
            device,
            config.feature_views,
            config.batch_size * 2,
            0,
            should_stop,
            clean_views=config.consistency_weight > 0,
            unlabelled_set=unlabelled_set,
            on_progress=on_preparing,
            # An adapted encoder's embeddings are this run's alone: the project's cache keeps the pretrained ones.
            store=text_feature_store(feature_dir, encoder, device)
            if feature_dir is not None and not adapted
            else None,
        )
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    weights = None
    sampler_wanted = config.imbalance == "balanced_sampler"
    if config.imbalance == "weighted_loss" or (sampler_wanted and cache is not None):
        weights = class_weights([t for _, t in split.train], len(split.classes)).to(device)
    amp_dtype = amp_dtype_for(device, config.amp)
    parts = RunParts(
        config=config,
        split=split,
        spec=spec,
        model=model,
        preprocessing=encoder.preprocessing,  # type: ignore[arg-type]
        device=device,
        amp_dtype=amp_dtype,
        channels_last=False,
        recipe=recipe,  # type: ignore[arg-type]
        compiled=recipe,  # type: ignore[arg-type]
        train_set=train_set,  # type: ignore[arg-type]
        val_set=val_set,  # type: ignore[arg-type]
        unlabelled_set=unlabelled_set,  # type: ignore[arg-type]
        groups=groups,
        cache=cache,
        optimizer=optimizer,
        criterion=nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing),
        scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        use_sampler=sampler_wanted and cache is None,
        batch_size=config.batch_size,
        train_contents=tuple(map(text_sha256, train_set.texts)),  # identical as the project's duplicates are
    )
    parts.build_loaders()
    return parts


def _adapt_encoder(
    encoder: nn.Module,
    train_set: TextDataset,
    joined: int,
    config: TrainConfig,
    device: torch.device,
    emit: EventCallback,
    should_stop: ShouldStop,
) -> None:
    """SetFit's contrastive step on the labelled training texts before a frozen encoder's embeddings are cached
    (:func:`~dmtl_studio.core.training.text_contrastive.contrastive_fine_tune`), the last ``joined`` of them (the
    validation texts that joined the fit) left out; its progress is a :class:`PreparationProgress` of phase
    ``"contrastive"``, its outcome a notice."""
    learnt = len(train_set) - joined

    def progress(done: int, total: int, seconds: float) -> None:
        eta = seconds / done * (total - done) if done else None
        emit(PreparationProgress(done, total, seconds, eta_seconds=eta, phase="contrastive"))

    result = contrastive_fine_tune(
        encoder,
        train_set.clean_ids[:learnt],
        np.asarray(train_set.targets[:learnt]),
        max_steps=config.contrastive_steps,
        seed=config.seed,
        device=device,
        pad_id=train_set.encoder.preprocessing.pad_id,
        should_stop=should_stop,
        on_progress=progress,
    )
    emit(
        RunNotice(
            f"contrastive fine-tuning (SetFit): the encoder learnt from {result.pairs:,} pairs of the "
            f"{learnt:,} labelled training texts in {result.steps:,} steps, {result.seconds:.0f} s "
            f"(final loss {result.final_loss:.3f}); the head is fitted on its new embeddings"
            + (
                f"; the {joined:,} validation text(s) that joined the fit were left out of it, so their "
                "out-of-fold scores stay held out"
                if joined
                else ""
            )
        )
    )


def build_text_run(
    store: ProjectStore,
    config: TrainConfig,
    emit: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    split: LabelledSplit | None = None,
    on_preparing: Callable[[int, int, float], None] | None = None,
    augment: TextAugment | CompiledTextRecipe | None = None,
    augmentation: dict | None = None,
) -> RunParts:
    """:func:`build_text_parts` on a text project (the signature of
    :func:`~dmtl_studio.core.training.setup.build_run`); the validation texts are planned as an image run's
    (:func:`~dmtl_studio.core.training.held_out.plan_for_project`)."""
    emit = emit or (lambda event: None)
    # A wrong name first, before any note on the data.
    config = config.with_changes(backbone=text_encoder_name(config, emit))
    plan = plan_for_project(
        store, split if split is not None else labelled_split(store), config, emit, folds=split is not None
    )
    if augment is None:
        augment, augmentation = _project_augmentation(config, emit)
    parts = build_text_parts(
        project_corpus(store, plan.split),
        config,
        emit,
        should_stop,
        on_preparing,
        augment,
        augmentation,
        feature_dir=store.folder,
        joined=plan.joined,
    )
    parts.pick_on_validation = plan.pick_on_validation
    parts.joined_validation = plan.joined
    return parts


def _project_augmentation(config: TrainConfig, emit: EventCallback) -> tuple[CompiledTextRecipe | None, dict]:
    """``T(x)`` of a text project's run: its text recipe (``config.recipe``; the default text recipe when None)
    compiled (word and character steps, mixing steps), and the recipe as stored with the run.

    Where WordNet is not installed, the recipe's synonym steps are left out of the run, with a notice, and the
    run stores the recipe it used.

    Raises
    ------
    RecipeError
        A recipe of the other kind.
    """
    recipe = resolve_recipe(config.recipe, "text")
    try:
        compiled = recipe.compile()
    except WordNetMissing as exc:
        recipe, left_out = without_wordnet(recipe)
        said = str(exc).rstrip(".")  # one sentence with what follows (it read ".;")
        if not any(step.enabled for step in recipe.steps):
            emit(RunNotice(f"{said}; the texts train without augmentation"))
            return None, no_text_augmentation()
        emit(
            RunNotice(
                f"{said}; this run leaves out the recipe's {left_out} synonym step(s) and uses its others"
            )
        )
        compiled = recipe.compile()
    return compiled, recipe.to_dict()  # type: ignore[return-value]


def build_project_run(
    store: ProjectStore,
    config: TrainConfig,
    emit: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    split: LabelledSplit | None = None,
    on_preparing: Callable[[int, int, float], None] | None = None,
) -> RunParts:
    """The parts of a run of ``config`` on a project of either kind: :func:`build_text_run` for a text project,
    :func:`~dmtl_studio.core.training.setup.build_run` for images (same arguments, same errors)."""
    if store.kind == "text":
        return build_text_run(store, config, emit, should_stop, split, on_preparing)
    return build_run(store, config, emit, should_stop, split, on_preparing)
