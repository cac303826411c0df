"""What an image run reads besides its labelled split: the project's feature cache for a frozen backbone and the
unlabelled images (the text runs' counterparts are in :mod:`dmtl_studio.core.training.text_features`)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dmtl_studio.core.augment.recipe import Recipe
from dmtl_studio.core.models.architectures import Preprocessing
from dmtl_studio.core.models.classifier import Classifier
from dmtl_studio.core.models.features import FeatureStore
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.data import ImageDataset
from dmtl_studio.core.training.events import RunNotice
from dmtl_studio.core.training.held_out import learns_from_unlabelled
from dmtl_studio.core.training.labelled import content_hashes, unlabelled_paths
from dmtl_studio.core.training.settings import MIN_TRAINING_BATCH


def feature_store(
    store: ProjectStore,
    config: TrainConfig,
    model: Classifier,
    preprocessing: object,
    device: torch.device,
    content_of: Callable[[str], str] | None = None,
) -> FeatureStore:
    """The project's on-disk feature cache for a frozen backbone (shared by runs, folds and the LR finder), its
    entries keyed by ``content_of(path)`` (default: :func:`~dmtl_studio.core.training.labelled.content_hashes`)."""
    channels_last = device.type == "cuda" and config.channels_last
    return FeatureStore.for_backbone(
        store.folder,
        config.backbone,
        model.backbone,
        preprocessing,
        device,
        channels_last,
        content_of or content_hashes(store),
    )


def unlabelled_images(
    store: ProjectStore,
    config: TrainConfig,
    preprocessing: Preprocessing,
    recipe: Recipe,
    emit: Callable[[object], None],
    processes: int = 1,
) -> ImageDataset | None:
    """The unlabelled images for the consistency term or the probe's pseudo-labels (never in the supervised loss);
    ``None``, with a :class:`RunNotice` when the run wanted them, when the run learns nothing from them or the
    project has too few for a batch of :data:`MIN_TRAINING_BATCH` on every one of ``processes``."""
    if not learns_from_unlabelled(config):
        return None
    paths = unlabelled_paths(store)
    if len(paths) >= MIN_TRAINING_BATCH * processes:  # an unlabelled batch of at least 2 on every rank
        return ImageDataset(
            paths, [-1] * len(paths), preprocessing, augment=True, seed=config.seed + 1, recipe=recipe
        )
    if paths:  # one image cannot make an unlabelled batch: BatchNorm does not train on a batch of one
        emit(
            RunNotice(
                f"the project has only {len(paths)} unlabelled image(s), too few for an unlabelled batch (at "
                f"least {MIN_TRAINING_BATCH} per process); consistency uses the labelled images only"
            )
        )
    else:
        emit(RunNotice("the project has no unlabelled images; consistency uses the labelled ones only"))
    return None
