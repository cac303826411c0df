"""The parts of a run, built in one place: training, the learning-rate finder and cross-validation all use
:func:`build_run`, so a tool never measures a different model, data or objective than the run it serves.

:class:`RunParts` holds what a run is made of — the split, the classifier and its preprocessing, the datasets and
loaders, the transfer groups, the optimiser, the criterion, the frozen backbone's feature cache, the device and its
precision — and nothing about when or why it trains (that is :mod:`dmtl_studio.core.training.engine`) or what is
kept of it (:mod:`dmtl_studio.core.training.callbacks`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, Sampler, WeightedRandomSampler

from dmtl_studio.core.augment.presets import resolve_recipe
from dmtl_studio.core.augment.recipe import CompiledRecipe, Recipe
from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.models.architectures import Preprocessing, preprocessing_for
from dmtl_studio.core.models.classifier import Classifier, ModelSpec, build_classifier
from dmtl_studio.core.models.pretrained import weights_found
from dmtl_studio.core.models.run_folder import UNUSED_KEY, flips_views
from dmtl_studio.core.models.text_encoder import TextPreprocessing
from dmtl_studio.core.models.transfer import configure_transfer, forward
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.config_finetune import UNMIRRORED_NOTICE
from dmtl_studio.core.training.data import EpochIndices, ImageDataset, drop_last_batch
from dmtl_studio.core.training.device import amp_dtype_for, probe_device, seed_everything
from dmtl_studio.core.training.distributed import (
    EpochDistributedSampler,
    FeatureShards,
    World,
    broadcast,
    device_request,
    wrap,
)
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.feature_cache import FeatureCache
from dmtl_studio.core.training.held_out import HeldOutPlan, plan_for_project
from dmtl_studio.core.training.image_inputs import feature_store, unlabelled_images
from dmtl_studio.core.training.labelled import (
    LabelledSplit,
    class_weights,
    content_hashes,
    files_for_run,
)
from dmtl_studio.core.training.launch import check_world_size
from dmtl_studio.core.training.settings import MIN_TRAINING_BATCH
from dmtl_studio.core.training.unused_options import fit_stage_count, unused_settings

log = logging.getLogger(__name__)

EventCallback = Callable[[object], None]


@dataclass(eq=False)
class RunParts:
    """Everything a run is made of (see the module docstring). Built by :func:`build_run`.

    ``cache`` is set with a frozen backbone: the loaders then yield cached feature vectors ``(B, F)`` instead of
    images ``(B, 3, H, W)``, and :attr:`scored` (what evaluation runs) is the head alone. ``batch_size`` is the
    one in use: it is halved when the GPU runs out of memory, and :meth:`build_loaders` follows it.
    """

    config: TrainConfig
    split: LabelledSplit
    spec: ModelSpec
    model: Classifier
    preprocessing: Preprocessing
    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    recipe: Recipe
    compiled: CompiledRecipe
    train_set: ImageDataset
    val_set: ImageDataset
    unlabelled_set: ImageDataset | None
    groups: list[dict]
    cache: FeatureCache | None
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    scaler: torch.amp.GradScaler
    use_sampler: bool
    batch_size: int
    #: Whether the best epoch is picked (and early stopping judged) on the validation images; see
    #: :mod:`dmtl_studio.core.training.held_out`.
    pick_on_validation: bool = True
    #: Validation items that joined the fit: the last ones of ``train_set`` (:class:`HeldOutPlan`'s ``joined``).
    joined_validation: int = 0
    #: The settings of the strategy this run is a phase of (Auto's), if any: its unused settings are judged by them.
    strategy: TrainConfig | None = None
    #: Each training item's content hash (the project's: texts normalised): the probe's folds keep copies together.
    train_contents: tuple[str, ...] = ()
    generator: torch.Generator = field(default_factory=torch.Generator)
    train_loader: object = None
    val_loader: object = None
    #: This process's place in a distributed run, and what trains wrapped in DistributedDataParallel there.
    world: World | None = None
    wrapped: nn.Module | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return self.split.classes

    @property
    def num_classes(self) -> int:
        return len(self.split.classes)

    @property
    def train_targets(self) -> list[int]:
        return [t for _, t in self.split.train]

    @property
    def dmtl(self) -> bool:
        """Whether the objective has the consistency term (lambda > 0)."""
        return self.config.consistency_weight > 0

    @property
    def scored(self) -> nn.Module:
        """What evaluation runs: the head on cached features, else the whole classifier."""
        return self.model.head if self.cache is not None else self.model

    @property
    def is_main(self) -> bool:
        """Whether this process writes (the only one, or rank 0 of a distributed run)."""
        return self.world is None or self.world.is_main

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision where the run uses it (CUDA with ``amp``), else a no-op."""
        return torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        )

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` for a batch of images ``(B, 3, H, W)`` or, with the cache, features ``(B, F)``."""
        inputs = inputs.to(self.device, non_blocking=True)
        # A step that builds a graph goes through DDP, whose backward averages the gradients across ranks.
        distributed = self.wrapped is not None and torch.is_grad_enabled()
        if self.cache is not None:
            return (self.wrapped if distributed else self.model.head)(inputs)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.wrapped(inputs) if distributed else forward(self.model, inputs, self.config)

    def build_loaders(self) -> None:
        """(Re)build the training and validation loaders for the current :attr:`batch_size`."""
        config = self.config
        if self.cache is not None:
            self.cache.world = self.world
            self.train_loader = self.cache.train_loader(self.batch_size, config.seed)
            self.val_loader = self.cache.val_loader(self.batch_size * 2)
            return
        # The order comes from the run's generator (reseeded each epoch) through the sampler alone; the loader
        # gets a generator of its own for the seed it draws each time it starts (not each epoch with persistent
        # workers), so that draw can shift neither the order nor the global RNG that dropout uses.
        if self.use_sampler:
            targets = self.train_targets
            per_sample = class_weights(targets, self.num_classes)[torch.tensor(targets)].double()
            order: Sampler[int] = WeightedRandomSampler(per_sample, len(targets), generator=self.generator)
        elif self.world is not None:
            order = EpochDistributedSampler(self.train_set, self.world, config.seed)
        else:
            order = RandomSampler(self.train_set, generator=self.generator)
        count = len(order)
        workers = config.num_workers
        extra: dict = {}
        if workers > 0:
            # Spawned workers are safe beside Qt's threads and work in the frozen application too.
            extra = {"multiprocessing_context": "spawn", "persistent_workers": True}
        self.train_loader = DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=EpochIndices(self.train_set, order),  # the epoch travels with each index to the workers
            generator=torch.Generator().manual_seed(config.seed),
            num_workers=workers,
            drop_last=drop_last_batch(count, self.batch_size),
            **extra,
        )
        val_batch = self.batch_size * 2
        self.val_loader = DataLoader(self.val_set, batch_size=val_batch, num_workers=workers, **extra)

    def run_config(self) -> dict:
        """The configuration as stored with the run: the settings plus what was resolved (recipe, device)."""
        return {
            **self.config.to_dict(),
            # What the run does: a fine-tune or an mlp head is trained by epochs whatever the option said.
            "linear_probe": self.config.fits_linear_probe,
            "recipe": self.recipe.to_dict(),
            "device_used": str(self.device),
            "amp": str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "off",
            "classes": list(self.split.classes),
            **({"distributed": self.world.to_dict()} if self.world is not None else {}),
            **({"strategy": self.strategy.transfer} if self.strategy is not None else {}),
            # Settings of another strategy or option, with why: reports list them apart (UNUSED_KEY).
            UNUSED_KEY: dict(unused_settings(self.strategy or self.config, self.config.to_dict(), self.kind)),
        }

    @property
    def kind(self) -> str:
        """``"text"`` for a text encoder's run, else ``"images"``."""
        return "text" if isinstance(self.preprocessing, TextPreprocessing) else "images"


def build_run(
    store: ProjectStore,
    config: TrainConfig,
    emit: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    split: LabelledSplit | None = None,
    on_preparing: Callable[[int, int, float], None] | None = None,
    world: World | None = None,
) -> RunParts:
    """Build the parts of a run of ``config`` on a project's images (nothing is trained or stored yet).

    Parameters
    ----------
    store
        The open project; images missing on disk are marked as problem files here (with a notice).
    config
        What to train and how.
    emit
        Receives a :class:`~dmtl_studio.core.training.events.RunNotice` for each fallback (device, sampler,
        too few unlabelled images, missing files).
    should_stop
        Polled by the frozen backbone's feature pass (which runs lazily, when the first batch is asked for).
    split
        Train and validate on these images instead of the project's own split (cross-validation folds; rank 0's
        split on the other ranks of a distributed run).
    on_preparing
        Called during the feature pass with (image views done, views planned, seconds so far).
    world
        This process's place in a distributed run (:mod:`~dmtl_studio.core.training.distributed`): loaders and
        feature pass sharded, rates scaled, what trains wrapped in DDP (:attr:`RunParts.wrapped`).

    Raises
    ------
    TrainingError
        Fewer than 2 labelled classes, a class without training images, a CUDA device asked for and absent, or
        more processes than training images.
    WeightsError
        The backbone's pretrained weights cannot be found offline.
    """
    emit = emit or (lambda event: None)
    weights_found(config.backbone)  # a wrong name or missing weights first, before any note on the data
    config = config.with_changes(contrastive_steps=0)  # a text encoder's step: an image run stores it off
    seed_everything(config.seed)  # first: the new head's initial weights come from this seed
    recipe = resolve_recipe(config.recipe)
    if flips_views({"config": config.to_dict()}) and not recipe.mirrors:  # asked, and the model would flip
        config = config.with_changes(tta_flip=False)  # stored so: the run predicts as it was validated
        emit(RunNotice(UNMIRRORED_NOTICE))
    device, notice = probe_device(config.device if world is None else device_request(config.device))
    if notice:
        emit(RunNotice(notice))
    folds = split is not None
    content_of = content_hashes(store)  # read once: the plan, the feature cache and the probe's folds
    plan = HeldOutPlan(split) if split is not None else None
    if world is None or world.is_main:  # the other ranks pass rank 0's split, sent here
        plan = plan_for_project(store, files_for_run(store, split, emit), config, emit, folds, content_of)
        split = plan.split
        broadcast(split, world)
    if world is not None:  # BatchNorm trains on the images unless the backbone is frozen: 2 per rank then
        smallest = 1 if config.transfer == "frozen" else MIN_TRAINING_BATCH
        check_world_size(world.world_size, len(split.train), smallest)
    spec = ModelSpec(
        backbone=config.backbone,
        num_classes=len(split.classes),
        head=config.head,
        dropout=config.dropout,
        hidden=config.hidden_size,
    )
    model = build_classifier(spec, pretrained=True)
    model.flip_views = flips_views({"config": config.to_dict()})  # validated as it will predict
    preprocessing = preprocessing_for(model.backbone, config.input_size, config.resize_mode)
    amp_dtype = amp_dtype_for(device, config.amp)
    train_set = ImageDataset(
        [p for p, _ in split.train],
        [t for _, t in split.train],
        preprocessing,
        augment=True,
        seed=config.seed,
        recipe=recipe,
    )
    val_set = ImageDataset([p for p, _ in split.val], [t for _, t in split.val], preprocessing)
    processes = world.world_size if world is not None else 1
    unlabelled_set = unlabelled_images(store, config, preprocessing, recipe, emit, processes)
    channels_last = device.type == "cuda" and config.channels_last
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    config = fit_stage_count(config, model.backbone, emit)
    groups = configure_transfer(model, config)
    for group in groups:
        group["lr"] *= world.lr_factor if world is not None else 1.0
        group["base_lr"] = group["lr"]
    # A frozen backbone gives each image the same features every epoch: compute them once (lazily, so a stop
    # request during the computation ends the run cleanly) and train the head on the cache.
    cache = None
    if config.transfer == "frozen":
        cache = FeatureCache(
            model.backbone,
            train_set,
            val_set,
            device,
            config.feature_views,
            config.batch_size * 2,
            config.num_workers,
            should_stop,
            clean_views=config.consistency_weight > 0,
            unlabelled_set=unlabelled_set,
            on_progress=on_preparing,
            store=feature_store(store, config, model, preprocessing, device, content_of),
        )
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    weights = None
    sampler_wanted = config.imbalance == "balanced_sampler"
    if config.imbalance == "weighted_loss" or (sampler_wanted and cache is not None):
        weights = class_weights([t for _, t in split.train], len(split.classes)).to(device)
        if sampler_wanted:
            emit(RunNotice("with a frozen backbone, class imbalance is handled by a weighted loss"))
    parts = RunParts(
        config=config,
        split=split,
        spec=spec,
        model=model,
        preprocessing=preprocessing,
        device=device,
        amp_dtype=amp_dtype,
        channels_last=channels_last,
        recipe=recipe,
        compiled=recipe.compile(),
        train_set=train_set,
        val_set=val_set,
        unlabelled_set=unlabelled_set,
        groups=groups,
        cache=cache,
        optimizer=optimizer,
        criterion=nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing),
        scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        use_sampler=sampler_wanted and cache is None,
        batch_size=config.batch_size,
        pick_on_validation=plan.pick_on_validation,
        joined_validation=plan.joined,
        world=world,
        train_contents=tuple(map(content_of, train_set.paths)),
    )
    if world is not None:
        if cache is not None:
            cache.shards = FeatureShards(world)
        # Last: its construction is the ranks' first meeting after the others have read the project.
        parts.wrapped = wrap(parts.scored, device, world)
    parts.build_loaders()
    return parts
