"""The training engine: transfer learning on a project's labelled images, with no Qt and no threads.

Callers pass ``on_event`` (receives :mod:`dmtl_studio.core.events` objects) and ``should_stop``; a stop
request is honoured at the next batch boundary and the run ends with status ``"stopped"``, keeping the best
checkpoint written so far.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from dmtl_studio.core.augment import resolve_recipe
from dmtl_studio.core.backbones import Classifier, ModelSpec, build_classifier, preprocessing_for
from dmtl_studio.core.cancel import Cancelled, ShouldStop, check, never_stop
from dmtl_studio.core.checkpoint import save_checkpoint
from dmtl_studio.core.config import TrainConfig
from dmtl_studio.core.data import ImageDataset
from dmtl_studio.core.events import EpochResult, RunSummary, StepProgress
from dmtl_studio.core.feature_cache import FeatureCache, mix_features
from dmtl_studio.core.mixing import mix_batch, soft_cross_entropy
from dmtl_studio.core.store import EpochMetrics, ProjectStore
from dmtl_studio.core.transfer import configure_transfer, forward, set_train_mode

log = logging.getLogger(__name__)

EventCallback = Callable[[object], None]


class TrainingError(Exception):
    """A run that cannot start or go on; the message says what to do."""


@dataclass(frozen=True)
class LabelledSplit:
    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]
    val: tuple[tuple[str, int], ...]


def labelled_split(store: ProjectStore) -> LabelledSplit:
    """The usable labelled images of a project, as ``(path, class index)`` per split."""
    images = [im for im in store.images(usable_only=True) if im.label is not None]
    present = {im.label for im in images}
    classes = tuple(name for name in store.class_names() if name in present)
    if len(classes) < 2:
        raise TrainingError(
            f"training needs labelled images of at least 2 classes; this project has {len(classes)}. "
            "Label some images first."
        )
    index = {name: i for i, name in enumerate(classes)}
    train = tuple((im.path, index[im.label]) for im in images if im.split in (None, "train"))
    val = tuple((im.path, index[im.label]) for im in images if im.split == "val")
    missing = [name for name in classes if not any(t == index[name] for _, t in train)]
    if missing:
        raise TrainingError(f"no training images for class(es): {', '.join(missing)}")
    return LabelledSplit(classes, train, val)


def select_device(requested: str) -> torch.device:
    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        raise TrainingError("a CUDA GPU was requested but none is available; choose 'auto' or 'cpu'")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def warmup_cosine(total_steps: int, warmup_fraction: float) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then cosine decay to 1% of the peak."""
    warmup = max(1, int(total_steps * warmup_fraction)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


@torch.no_grad()
def evaluate(
    model: Classifier, loader: DataLoader, device: torch.device, num_classes: int, should_stop: ShouldStop
) -> tuple[float, float, np.ndarray]:
    """Mean loss, accuracy and confusion matrix (rows: true class, columns: predicted)."""
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    total_loss, count = 0.0, 0
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for images, targets, _ in loader:
        check(should_stop)
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        total_loss += float(criterion(logits, targets).item())
        predicted = logits.argmax(1)
        np.add.at(confusion, (targets.cpu().numpy(), predicted.cpu().numpy()), 1)
        count += len(targets)
    accuracy = float(np.trace(confusion)) / max(1, count)
    return total_loss / max(1, count), accuracy, confusion


def _new_run_dir(store: ProjectStore) -> tuple[str, Path]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name, suffix = stamp, 1
    while (store.runs_dir / name).exists():
        suffix += 1
        name = f"{stamp}-{suffix}"
    path = store.runs_dir / name
    path.mkdir(parents=True)
    return name, path


def train(
    project_dir: str | Path,
    config: TrainConfig,
    on_event: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
) -> RunSummary:
    """Train a classifier on a project's labelled images and store the run in the project.

    Parameters
    ----------
    project_dir
        The project folder; the engine opens its own connection (safe in any thread).
    config
        What to train and how.
    on_event
        Receives :class:`StepProgress` after each batch and :class:`EpochResult` after each epoch.
    should_stop
        Polled at each batch boundary; when true the run stops cleanly with status ``"stopped"``.
    """
    emit = on_event or (lambda event: None)
    seed_everything(config.seed)
    recipe = resolve_recipe(config.recipe)
    compiled = recipe.compile()
    device = select_device(config.device)
    with ProjectStore.open(project_dir) as store:
        split = labelled_split(store)
        spec = ModelSpec(
            backbone=config.backbone,
            num_classes=len(split.classes),
            head=config.head,
            dropout=config.dropout,
            hidden=config.hidden_size,
        )
        model = build_classifier(spec, pretrained=True)
        preprocessing = preprocessing_for(model.backbone, config.input_size)
        train_set = ImageDataset(
            [p for p, _ in split.train],
            [t for _, t in split.train],
            preprocessing,
            augment=True,
            seed=config.seed,
            recipe=recipe,
        )
        val_set = ImageDataset([p for p, _ in split.val], [t for _, t in split.val], preprocessing)
        generator = torch.Generator().manual_seed(config.seed)
        train_loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=config.num_workers,
            drop_last=len(train_set) > config.batch_size,
        )
        val_loader = DataLoader(val_set, batch_size=config.batch_size * 2, num_workers=config.num_workers)

        model.to(device)
        groups = configure_transfer(model, config)
        # A frozen backbone gives each image the same features every epoch: compute them once (lazily, so a
        # stop request during the computation ends the run cleanly) and train the head on the cache.
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
            )
            train_loader = cache.train_loader(config.batch_size, config.seed)
            val_loader = cache.val_loader(config.batch_size * 2)
        scored = model.head if cache is not None else model  # what evaluation runs on
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
        steps_per_epoch = len(train_loader)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(steps_per_epoch * config.epochs, config.warmup_fraction)
        )
        criterion = nn.CrossEntropyLoss()

        run_name, run_dir = _new_run_dir(store)
        # The run records the recipe it really used (the default preset spelled out when none was given).
        augmentation = recipe.to_dict()
        run_config = {
            **config.to_dict(),
            "recipe": augmentation,
            "device_used": str(device),
            "classes": list(split.classes),
        }
        run_id = store.create_run(run_name, run_dir, run_config)
        best_score = -math.inf
        best_metrics: dict = {}
        last_metrics: dict = {}
        epochs_done = 0
        status = "completed"
        try:
            for epoch in range(1, config.epochs + 1):
                train_set.set_epoch(epoch)
                set_train_mode(model)
                loss_sum, correct, seen = 0.0, 0, 0
                started = time.perf_counter()
                for step, (images, targets, _) in enumerate(train_loader, start=1):
                    check(should_stop)
                    images, targets = images.to(device), targets.to(device)
                    # Batch mixing draws from its own generator per (seed, epoch, step): reproducible runs.
                    mix_rng = np.random.default_rng((config.seed, epoch, step, 1))
                    if cache is not None:
                        images, soft_targets = mix_features(
                            images, targets, len(split.classes), compiled, mix_rng, preprocessing.input_size
                        )
                        logits = model.head(images)
                    else:
                        images, soft_targets = mix_batch(
                            images, targets, len(split.classes), compiled, mix_rng
                        )
                        logits = forward(model, images, config)
                    if soft_targets is None:
                        loss = criterion(logits, targets)
                    else:
                        loss = soft_cross_entropy(logits, soft_targets)
                    if not torch.isfinite(loss):
                        raise TrainingError(
                            f"the loss became {loss.item()} at epoch {epoch}, step {step}; the run was stopped "
                            "and no non-finite weights were saved. Try a lower learning rate."
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    batch = len(targets)
                    loss_sum += float(loss.item()) * batch
                    # On a mixed batch, a prediction counts as right when it names the larger label weight.
                    truth = targets if soft_targets is None else soft_targets.argmax(1)
                    correct += int((logits.argmax(1) == truth).sum().item())
                    seen += batch
                    elapsed = time.perf_counter() - started
                    emit(
                        StepProgress(
                            epoch=epoch,
                            epochs=config.epochs,
                            step=step,
                            steps=steps_per_epoch,
                            loss=float(loss.item()),
                            learning_rate=scheduler.get_last_lr()[-1],
                            images_per_second=seen / elapsed if elapsed > 0 else 0.0,
                        )
                    )
                train_loss, train_accuracy = loss_sum / max(1, seen), correct / max(1, seen)
                val_loss = val_accuracy = None
                confusion = None
                if len(val_set):
                    val_loss, val_accuracy, confusion = evaluate(
                        scored, val_loader, device, len(split.classes), should_stop
                    )
                learning_rate = scheduler.get_last_lr()[-1]
                store.record_epoch(
                    run_id,
                    EpochMetrics(epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate),
                )
                epochs_done = epoch
                last_metrics = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_accuracy": train_accuracy,
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                }
                score = val_accuracy if val_accuracy is not None else train_accuracy
                if score > best_score:
                    best_score, best_metrics = score, dict(last_metrics)
                    save_checkpoint(
                        run_dir,
                        model,
                        spec=spec,
                        preprocessing=preprocessing,
                        classes=list(split.classes),
                        config=run_config,
                        augmentation=augmentation,
                        metrics=best_metrics,
                    )
                emit(
                    EpochResult(
                        epoch=epoch,
                        epochs=config.epochs,
                        train_loss=train_loss,
                        train_accuracy=train_accuracy,
                        val_loss=val_loss,
                        val_accuracy=val_accuracy,
                        learning_rate=learning_rate,
                        confusion=confusion,
                        classes=split.classes,
                    )
                )
        except Cancelled:
            status = "stopped"
        except BaseException:
            store.finish_run(run_id, "failed", last_metrics)
            raise
        final = {"best": best_metrics, "last": last_metrics}
        store.finish_run(run_id, status, final)
    log.info("run %s %s after %d epoch(s)", run_name, status, epochs_done)
    return RunSummary(
        run_id=run_id,
        run_dir=str(run_dir),
        status=status,
        epochs_completed=epochs_done,
        classes=split.classes,
        device=str(device),
        metrics=final,
    )
