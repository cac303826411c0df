"""Frozen-backbone feature vectors of a project's images (and a text project's embeddings), for the data-quality
checks.

The checks read the same pooled features a frozen training run trains its head on: the backbone and
preprocessing come from the training configuration and the vectors from the product's feature cache
(:class:`~dmtl_studio.core.training.feature_cache.FeatureCache`, clean views, read from and written to the project's
on-disk cache), so features a run computed are not computed again here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig


def frozen_features(
    store: ProjectStore,
    paths: Sequence[str],
    config: TrainConfig | None = None,
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> np.ndarray:
    """Clean-view features of ``paths`` under the frozen backbone of ``config``.

    Parameters
    ----------
    store
        The open project the images belong to.
    paths
        Image files (usable images of the project), in the order wanted.
    config
        Backbone, input size, device, batch size and loader workers (default: the training defaults).
    should_stop
        Checked between batches; a stop raises :class:`~dmtl_studio.core.base.cancel.Cancelled`.
    on_progress
        Called with ``(images done, images planned, seconds)``.

    Returns
    -------
    numpy.ndarray
        ``(N, F)`` float32, one row per path.
    """
    # Imported here: this module stays cheap to import (no PyTorch) for callers that never compute features.
    from dmtl_studio.core.models.architectures import preprocessing_for
    from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
    from dmtl_studio.core.project.file_changes import check_image_files
    from dmtl_studio.core.training.data import ImageDataset
    from dmtl_studio.core.training.device import select_device
    from dmtl_studio.core.training.feature_cache import FeatureCache
    from dmtl_studio.core.training.image_inputs import feature_store

    config = config or TrainConfig()
    if not paths:
        return np.zeros((0, 0), dtype=np.float32)
    device = select_device(config.device)
    model = build_classifier(ModelSpec(backbone=config.backbone, num_classes=2), pretrained=True)
    model.to(device)
    preprocessing = preprocessing_for(model.backbone, config.input_size, config.resize_mode)
    dataset = ImageDataset(list(paths), [0] * len(paths), preprocessing)
    # Their recorded content hashes first brought up to date: a changed file, new features.
    wanted = set(paths)
    changes = check_image_files(store, [im for im in store.images(usable_only=True) if im.path in wanted])
    stale = changes.changed and store.read_only  # the project keeps the old hashes: its cache cannot serve
    # The one place the checks meet the feature cache: the clean (validation-style) view of every image.
    cache = FeatureCache(
        model.backbone,
        ImageDataset([], [], preprocessing),  # no training views: the progress counts the clean pass alone
        dataset,
        device,
        1,
        config.batch_size * 2,
        config.num_workers,
        should_stop,
        on_progress=on_progress,
        # The project's on-disk cache: views a run computed serve the checks, and back.
        store=None if stale else feature_store(store, config, model, preprocessing, device),
    )
    return cache.val().features[0].detach().to("cpu").numpy().astype(np.float32)


def text_embeddings(
    store: ProjectStore,
    item_ids: Sequence[int],
    config: TrainConfig | None = None,
    should_stop: ShouldStop = never_stop,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> np.ndarray:
    """The pretrained text encoder's embeddings of a text project's items: what :func:`frozen_features` is for
    images.

    The encoder is ``config.backbone`` when it names a text encoder, else the bundled default (read offline); the
    vectors go through the project's text feature cache, shared with frozen text runs.

    Parameters
    ----------
    store
        The open text project.
    item_ids
        Its items (usable ones: each has a text), in the order wanted.
    config
        Encoder, device and batch size (default: the training defaults).
    should_stop, on_progress
        As for :func:`frozen_features`.

    Returns
    -------
    numpy.ndarray
        ``(N, F)`` float32, one row per item.

    Raises
    ------
    dmtl_studio.core.models.text_encoder.TextEncoderError
        The encoder cannot be read.
    dmtl_studio.core.base.cancel.Cancelled
        When ``should_stop`` asks to stop.
    """
    from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER
    from dmtl_studio.core.models.text_classifier import is_text_encoder_name
    from dmtl_studio.core.models.text_encoder import load_text_encoder
    from dmtl_studio.core.training.device import select_device
    from dmtl_studio.core.training.text_data import TextDataset
    from dmtl_studio.core.training.text_features import TextFeatureCache, text_feature_store

    config = config or TrainConfig()
    if not item_ids:
        return np.zeros((0, 0), dtype=np.float32)
    bodies = store.texts(list(item_ids))
    name = config.backbone if is_text_encoder_name(config.backbone) else DEFAULT_TEXT_ENCODER
    encoder = load_text_encoder(name)
    device = select_device(config.device)
    encoder.to(device)
    dataset = TextDataset([bodies.get(i, "") for i in item_ids], [0] * len(item_ids), encoder)
    cache = TextFeatureCache(
        encoder,
        TextDataset([], [], encoder),  # no training views: the progress counts the clean pass alone
        dataset,
        device,
        1,
        config.batch_size * 2,
        0,
        should_stop,
        on_progress=on_progress,
        store=text_feature_store(store.folder, encoder, device),
    )
    return cache.val().features[0].detach().to("cpu").numpy().astype(np.float32)
