"""The training engine: transfer learning on a project's labelled images, with no Qt and no threads.

Callers pass ``on_event`` (receives :mod:`dmtl_studio.core.events` objects) and ``should_stop``; a stop
request is honoured at the next batch boundary and the run ends with status ``"stopped"``, keeping the best
checkpoint written so far.
"""

from __future__ import annotations

import io
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, Sampler, WeightedRandomSampler

from dmtl_studio.core import run_lock, run_state
from dmtl_studio.core.augment import resolve_recipe
from dmtl_studio.core.backbones import Classifier, ModelSpec, build_classifier, preprocessing_for
from dmtl_studio.core.cancel import Cancelled, ShouldStop, check, never_stop
from dmtl_studio.core.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, CheckpointError, checkpoint_files
from dmtl_studio.core.config import MIN_TRAINING_BATCH, TrainConfig
from dmtl_studio.core.consistency import consistency_loss, rampup_factor
from dmtl_studio.core.data import EpochIndices, ImageDataset, drop_last_batch
from dmtl_studio.core.events import EpochResult, PreparationProgress, RunNotice, RunSummary, StepProgress
from dmtl_studio.core.feature_cache import FeatureCache, FeatureStore, mix_features
from dmtl_studio.core.fileio import file_sha256
from dmtl_studio.core.imaging import FileProblem
from dmtl_studio.core.mixing import mix_batch, soft_cross_entropy
from dmtl_studio.core.quality.calibration import calibrate
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


MISSING_REASON = "missing on disk (moved or deleted after the import); re-import its folder once it is back"


def leave_out_missing_files(store: ProjectStore) -> list[str]:
    """Mark the project's usable images that are no longer on disk as problem files; returns their paths.

    Folders get reorganised: a file that has gone must not end every later run with an error. Its label stays,
    and re-importing the folder where it now lives makes it usable again.
    """
    missing = [im.path for im in store.images(usable_only=True) if not os.path.isfile(im.path)]
    if missing:
        store.mark_problems((path, MISSING_REASON) for path in missing)
        log.warning("%d image(s) missing on disk marked as problems, first: %s", len(missing), missing[0])
    return missing


def missing_files_notice(missing: list[str]) -> str:
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return (
        f"{len(missing)} image(s) are no longer on disk and were left out ({missing[0]}{more}); they are listed "
        "among the problem files. If they were moved, import their new folder."
    )


def unlabelled_paths(store: ProjectStore) -> tuple[str, ...]:
    """The usable images of a project that have no label: material for the consistency term only."""
    return tuple(im.path for im in store.images(usable_only=True) if im.label is None)


def probe_device(requested: str) -> tuple[torch.device, str | None]:
    """The device to train on, checked with a tiny kernel; a GPU that fails the check gives the CPU.

    Returns the device and, when the choice differs from what was asked, a sentence saying why.
    """
    if requested == "cpu":
        return torch.device("cpu"), None
    candidates = []
    if torch.cuda.is_available():
        candidates.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if requested == "auto" and mps is not None and mps.is_available():
        candidates.append(torch.device("mps"))
    if not candidates:
        if requested == "cuda":
            raise TrainingError("a CUDA GPU was requested but none is available; choose 'auto' or 'cpu'")
        return torch.device("cpu"), None
    problems = []
    for device in candidates:
        try:
            x = torch.arange(64 * 64, dtype=torch.float32, device=device).reshape(64, 64) / 4096
            value = float((x @ x).sum().item())
            if not math.isclose(value, float((x.cpu() @ x.cpu()).sum()), rel_tol=1e-3):
                raise RuntimeError("it computed a wrong result")
            return device, None
        except Exception as exc:  # a driver fault must not end the run: the CPU can still train
            problems.append(f"{device.type}: {exc}")
    if requested == "cuda":
        raise TrainingError(f"the GPU failed a simple check ({'; '.join(problems)})")
    return torch.device("cpu"), f"the GPU failed a simple check ({'; '.join(problems)}); training on the CPU"


def select_device(requested: str) -> torch.device:
    device, notice = probe_device(requested)
    if notice:
        log.warning(notice)
    return device


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


def schedule_factor(schedule: str, progress: float, warmup_fraction: float) -> float:
    """Learning-rate factor at ``progress`` (0..1 of the whole run).

    A function of progress rather than of a step count, so a run whose batch size changes (after running out
    of GPU memory) or that resumes keeps the same schedule.
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "onecycle":
        peak = 0.3
        if progress < peak:  # from 1/25 of the peak up to the peak, then down to almost nothing
            return 0.04 + 0.96 * 0.5 * (1 - math.cos(math.pi * progress / peak))
        return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * (progress - peak) / (1 - peak)))
    if warmup_fraction > 0 and progress < warmup_fraction:
        return max(progress / warmup_fraction, 1e-3)
    rest = (progress - warmup_fraction) / max(1e-9, 1 - warmup_fraction)
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * rest))


def class_weights(targets: list[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, normalised so a balanced set gets 1 for every class."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


@torch.no_grad()
def evaluate(
    model: Classifier,
    loader: DataLoader,
    device: torch.device,
    num_classes: int,
    should_stop: ShouldStop,
    scores: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[float, float, np.ndarray]:
    """Mean loss, accuracy and confusion matrix (rows: true class, columns: predicted).

    With ``scores``, each batch's ``(logits (B, C) float32, targets (B,))`` is appended to it (for calibration).
    """
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
        if scores is not None:
            scores.append((logits.float().cpu().numpy(), targets.cpu().numpy()))
        np.add.at(confusion, (targets.cpu().numpy(), predicted.cpu().numpy()), 1)
        count += len(targets)
    accuracy = float(np.trace(confusion)) / max(1, count)
    return total_loss / max(1, count), accuracy, confusion


def _new_run_dir(store: ProjectStore, prefix: str = "") -> tuple[str, Path]:
    stamp = prefix + time.strftime("%Y%m%d-%H%M%S")
    name, suffix = stamp, 1
    while (store.runs_dir / name).exists():
        suffix += 1
        name = f"{stamp}-{suffix}"
    path = store.runs_dir / name
    path.mkdir(parents=True)
    return name, path


LEGACY_LAST_DIR = "last"  # where runs saved by older versions keep their latest weights


def _rng_state() -> dict:
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        "torch": torch.get_rng_state(),
    }


def _set_rng_state(state: dict) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])


def _serialise(state: dict) -> bytes:
    """The training state as bytes (written by the caller; never streamed to disk by torch's own writer)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def content_hashes(store: ProjectStore) -> Callable[[str], str]:
    """``hash_of(path)``: an image's content hash from the project (computed from the file if it has none)."""
    known = {im.path: im.sha256 for im in store.images() if im.sha256}

    def hash_of(path: str) -> str:
        if path not in known:
            known[path] = file_sha256(path)
        return known[path]

    return hash_of


def feature_store(
    store: ProjectStore, config: TrainConfig, model: Classifier, preprocessing: object, device: torch.device
) -> FeatureStore:
    """The project's on-disk feature cache for a frozen backbone (shared by runs, folds and the LR finder)."""
    channels_last = device.type == "cuda" and config.channels_last
    return FeatureStore.for_backbone(
        store.folder,
        config.backbone,
        model.backbone,
        preprocessing,
        device,
        channels_last,
        content_hashes(store),
    )


class TrainingRun:
    """One run: data, model, optimiser and the loop. Built by :func:`train`; not reused between runs."""

    def __init__(
        self,
        store: ProjectStore,
        config: TrainConfig,
        emit: EventCallback,
        should_stop: ShouldStop,
        resume_from: Path | None,
        split: LabelledSplit | None = None,
        run_prefix: str = "",
    ) -> None:
        self.store, self.config, self.emit = store, config, emit
        self._stop_wait = 0.0  # seconds spent inside should_stop (a paused run waits there)

        def timed_should_stop() -> bool:
            started = time.perf_counter()
            try:
                return should_stop()
            finally:
                self._stop_wait += time.perf_counter() - started

        self.should_stop = timed_should_stop
        seed_everything(config.seed)
        self.recipe = resolve_recipe(config.recipe)
        self.compiled = self.recipe.compile()
        self.device, notice = probe_device(config.device)
        if notice:
            emit(RunNotice(notice))
        missing = leave_out_missing_files(store)
        if missing:
            emit(RunNotice(missing_files_notice(missing)))
            if split is not None:  # folds chosen before: drop the gone files from them too
                gone = set(missing)
                split = LabelledSplit(
                    split.classes,
                    tuple(item for item in split.train if item[0] not in gone),
                    tuple(item for item in split.val if item[0] not in gone),
                )
        self.split = split if split is not None else labelled_split(store)
        self.num_classes = len(self.split.classes)
        self.spec = ModelSpec(
            backbone=config.backbone,
            num_classes=self.num_classes,
            head=config.head,
            dropout=config.dropout,
            hidden=config.hidden_size,
        )
        self.model = build_classifier(self.spec, pretrained=True)
        self.preprocessing = preprocessing_for(self.model.backbone, config.input_size)
        cuda = self.device.type == "cuda"
        self.channels_last = cuda and config.channels_last
        self.amp_dtype: torch.dtype | None = None
        if cuda and config.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.train_targets = [t for _, t in self.split.train]
        self.train_set = ImageDataset(
            [p for p, _ in self.split.train],
            self.train_targets,
            self.preprocessing,
            augment=True,
            seed=config.seed,
            recipe=self.recipe,
        )
        self.val_set = ImageDataset(
            [p for p, _ in self.split.val], [t for _, t in self.split.val], self.preprocessing
        )
        # The DMTL objective. Unlabelled images live in their own dataset, read only by the consistency term:
        # they cannot reach the supervised loss, whose batches come from the labelled loader alone.
        self.dmtl = config.consistency_weight > 0
        self.unlabelled_set: ImageDataset | None = None
        if self.dmtl and config.use_unlabelled:
            paths = unlabelled_paths(store)
            if len(paths) >= MIN_TRAINING_BATCH:
                self.unlabelled_set = ImageDataset(
                    paths,
                    [-1] * len(paths),
                    self.preprocessing,
                    augment=True,
                    seed=config.seed + 1,
                    recipe=self.recipe,
                )
            elif paths:  # one image cannot make an unlabelled batch: BatchNorm does not train on a batch of one
                emit(
                    RunNotice(
                        "the project has only 1 unlabelled image, too few for an unlabelled batch (at least "
                        f"{MIN_TRAINING_BATCH}); consistency uses the labelled images only"
                    )
                )
            else:
                emit(
                    RunNotice("the project has no unlabelled images; consistency uses the labelled ones only")
                )
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.groups = configure_transfer(self.model, config)
        for group in self.groups:
            group["base_lr"] = group["lr"]
        # A frozen backbone gives each image the same features every epoch: compute them once (lazily, so a
        # stop request during the computation ends the run cleanly) and train the head on the cache.
        self.cache: FeatureCache | None = None
        if config.transfer == "frozen":
            self.cache = FeatureCache(
                self.model.backbone,
                self.train_set,
                self.val_set,
                self.device,
                config.feature_views,
                config.batch_size * 2,
                config.num_workers,
                self.should_stop,
                clean_views=self.dmtl,
                unlabelled_set=self.unlabelled_set,
                on_progress=self._preparation_progress,
                store=feature_store(store, config, self.model, self.preprocessing, self.device),
            )
        self.scored = self.model.head if self.cache is not None else self.model  # what evaluation runs on
        self.optimizer = torch.optim.AdamW(self.groups, weight_decay=config.weight_decay)
        weights = None
        sampler_wanted = config.imbalance == "balanced_sampler"
        if config.imbalance == "weighted_loss" or (sampler_wanted and self.cache is not None):
            weights = class_weights(self.train_targets, self.num_classes).to(self.device)
            if sampler_wanted:
                emit(RunNotice("with a frozen backbone, class imbalance is handled by a weighted loss"))
        self.use_sampler = sampler_wanted and self.cache is None
        self.criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
        self.batch_size = config.batch_size
        self.generator = torch.Generator()
        self._build_loaders()

        self.augmentation = self.recipe.to_dict()
        self.run_config = {
            **config.to_dict(),
            "recipe": self.augmentation,
            "device_used": str(self.device),
            "amp": str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "off",
            "classes": list(self.split.classes),
        }
        self.first_epoch = 1
        self.best_score = -math.inf
        self.best_val_loss = math.inf
        self.stale_epochs = 0
        self.best_metrics: dict = {}
        self.last_metrics: dict = {}
        self.best_files: dict[str, bytes] = {}
        self.saved_epoch = 0  # the newest epoch whose checkpoint unit is on disk
        self._training_started: float | None = None  # ETA: the training phase's own clock
        self._steps_timed = 0
        if resume_from is None:
            try:
                self.run_name, self.run_dir = _new_run_dir(store, run_prefix)
                # The lock first: a "running" row is never without the process that answers for it.
                run_lock.write_lock(self.run_dir)
            except OSError as exc:
                if getattr(self, "run_dir", None) is not None:
                    shutil.rmtree(self.run_dir, ignore_errors=True)
                raise TrainingError(
                    f"cannot create a run folder in {store.runs_dir}: {exc.strerror or exc}; nothing was changed"
                ) from None
            self.run_id = store.create_run(self.run_name, self.run_dir, self.run_config)
        else:
            self._resume(Path(resume_from))

    def _preparation_progress(self, done: int, total: int, seconds: float) -> None:
        cache = self.cache
        self.emit(
            PreparationProgress(
                done,
                total,
                seconds,
                reused=cache.reused if cache is not None else 0,
                eta_seconds=cache.eta_seconds() if cache is not None else None,
                epochs_completed=self.saved_epoch,
            )
        )

    # ------------------------------------------------------------------ pieces
    def _build_loaders(self) -> None:
        config = self.config
        if self.cache is not None:
            self.train_loader = self.cache.train_loader(self.batch_size, config.seed)
            self.val_loader = self.cache.val_loader(self.batch_size * 2)
            return
        # The order comes from the run's generator (reseeded each epoch) through the sampler alone; the loader
        # gets a generator of its own for the seed it draws each time it starts (not each epoch with persistent
        # workers), so that draw can shift neither the order nor the global RNG that dropout uses.
        if self.use_sampler:
            per_sample = class_weights(self.train_targets, self.num_classes)[torch.tensor(self.train_targets)]
            order: Sampler[int] = WeightedRandomSampler(
                per_sample.double(), len(self.train_targets), generator=self.generator
            )
        else:
            order = RandomSampler(self.train_set, generator=self.generator)
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
            drop_last=drop_last_batch(len(self.train_set), self.batch_size),
            **extra,
        )
        self.val_loader = DataLoader(
            self.val_set, batch_size=self.batch_size * 2, num_workers=workers, **extra
        )

    def _resume(self, run_dir: Path) -> None:
        record = self.store.run_at(run_dir)
        if record is None:
            raise TrainingError(f"{run_dir} is not a run of this project")
        self.run_id, self.run_name = record.id, record.name
        try:
            unit = run_state.latest_checkpoint(run_dir)
        except CheckpointError as exc:
            raise TrainingError(str(exc)) from None
        if unit is not None:
            state_bytes = (unit.folder / run_state.STATE_NAME).read_bytes()
            last_weights = unit.folder / run_state.LAST_WEIGHTS
            self.best_files = {
                WEIGHTS_NAME: (unit.folder / run_state.BEST_WEIGHTS).read_bytes(),
                SIDECAR_NAME: (unit.folder / run_state.BEST_SIDECAR).read_bytes(),
            }
            for note in unit.notes:
                self.emit(RunNotice(note))
        elif (run_dir / run_lock.LEGACY_STATE).is_file():  # saved by an older version, file by file
            state_bytes = (run_dir / run_lock.LEGACY_STATE).read_bytes()
            last_weights = run_dir / LEGACY_LAST_DIR / WEIGHTS_NAME
            if (run_dir / WEIGHTS_NAME).is_file() and (run_dir / SIDECAR_NAME).is_file():
                self.best_files = {
                    WEIGHTS_NAME: (run_dir / WEIGHTS_NAME).read_bytes(),
                    SIDECAR_NAME: (run_dir / SIDECAR_NAME).read_bytes(),
                }
        else:
            raise TrainingError(f"{run_dir} cannot be resumed: it has no saved training state")
        state = torch.load(io.BytesIO(state_bytes), map_location="cpu", weights_only=True)
        if state["classes"] != list(self.split.classes):
            raise TrainingError(
                "the project's classes changed since this run was saved "
                f"({', '.join(state['classes'])} -> {', '.join(self.split.classes)}); start a new run instead"
            )
        self.model.load_state_dict(load_file(str(last_weights)), strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        for group, base in zip(self.optimizer.param_groups, state["base_lrs"], strict=True):
            group["base_lr"] = base
        self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        self.batch_size = int(state["batch_size"])
        self._build_loaders()
        self.first_epoch = int(state["epoch"]) + 1
        self.saved_epoch = int(state["epoch"])
        self.best_score = float(state["best_score"])
        self.best_val_loss = float(state["best_val_loss"])
        self.stale_epochs = int(state["stale_epochs"])
        self.best_metrics = dict(state["best_metrics"])
        self.last_metrics = dict(state["last_metrics"])
        self.run_dir = run_dir
        if not self.best_files:  # a legacy run without a best model: the latest weights are the best known
            self.best_files = self._files(self.best_metrics or self.last_metrics)
        # Epochs recorded after the saved one (a kill before their checkpoint was committed) are trained again.
        self.store.forget_epochs_after(self.run_id, self.saved_epoch)
        try:
            run_lock.write_lock(run_dir)
        except OSError as exc:
            raise TrainingError(
                f"cannot write in {run_dir}: {exc.strerror or exc}; the run was left as it was"
            ) from None
        self.store.set_run_status(self.run_id, "running")
        self.emit(RunNotice(f"resumed run {self.run_name} after epoch {self.first_epoch - 1}"))

    def _files(self, metrics: dict, calibration: dict | None = None) -> dict[str, bytes]:
        return checkpoint_files(
            self.model,
            spec=self.spec,
            preprocessing=self.preprocessing,
            classes=list(self.split.classes),
            config=self.run_config,
            augmentation=self.augmentation,
            metrics=metrics,
            calibration=calibration,
        )

    def _save_epoch(self, epoch: int, improved: bool, calibration: dict | None = None) -> None:
        """The epoch's checkpoint as one unit: latest and best model, and the whole training state.

        ``calibration`` is the temperature fitted on this epoch's validation logits (the sidecar's entry).
        """
        last = self._files(self.last_metrics, calibration)
        if improved or not self.best_files:
            self.best_files = last if improved else self._files(self.best_metrics)
        state = _serialise(
            {
                "epoch": epoch,
                "classes": list(self.split.classes),
                "optimizer": self.optimizer.state_dict(),
                "base_lrs": [group["base_lr"] for group in self.optimizer.param_groups],
                "scaler": self.scaler.state_dict(),
                "rng": _rng_state(),
                "batch_size": self.batch_size,
                "best_score": self.best_score,
                "best_val_loss": self.best_val_loss,
                "stale_epochs": self.stale_epochs,
                "best_metrics": self.best_metrics,
                "last_metrics": self.last_metrics,
            }
        )
        run_state.save_epoch(
            self.run_dir,
            epoch,
            {
                run_state.LAST_WEIGHTS: last[WEIGHTS_NAME],
                run_state.LAST_SIDECAR: last[SIDECAR_NAME],
                run_state.BEST_WEIGHTS: self.best_files[WEIGHTS_NAME],
                run_state.BEST_SIDECAR: self.best_files[SIDECAR_NAME],
                run_state.STATE_NAME: state,
            },
        )
        self.saved_epoch = epoch

    def _calibration(self, scores: list[tuple[np.ndarray, np.ndarray]]) -> dict | None:
        """Temperature scaling fitted on the validation logits just computed (None with too few images)."""
        logits = np.concatenate([s[0] for s in scores]) if scores else np.zeros((0, self.num_classes))
        targets = np.concatenate([s[1] for s in scores]) if scores else np.zeros(0, np.int64)
        fitted = calibrate(logits, targets, fitted_on="validation")
        if fitted is None:
            log.info("run %s: %d validation image(s), too few to calibrate", self.run_name, len(targets))
        return fitted

    def _set_learning_rate(self, progress: float) -> float:
        factor = schedule_factor(self.config.schedule, progress, self.config.warmup_fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        return self.optimizer.param_groups[-1]["lr"]

    def _forward_loss(
        self, images: torch.Tensor, targets: torch.Tensor, epoch: int, step: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Loss, logits and the class each sample counts as (the larger weight of a mixed label)."""
        # Batch mixing draws from its own generator per (seed, epoch, step): reproducible runs.
        mix_rng = np.random.default_rng((self.config.seed, epoch, step, 1))
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        ):
            if self.cache is not None:
                images, soft = mix_features(
                    images, targets, self.num_classes, self.compiled, mix_rng, self.preprocessing.input_size
                )
                logits = self.model.head(images)
            else:
                if self.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                images, soft = mix_batch(images, targets, self.num_classes, self.compiled, mix_rng)
                logits = forward(self.model, images, self.config)
            logits = logits.float()
            loss = self.criterion(logits, targets) if soft is None else soft_cross_entropy(logits, soft)
        return loss, logits, targets if soft is None else soft.argmax(1)

    def _unlabelled_batches(self, epoch: int) -> Iterator[torch.Tensor]:
        """Endless index batches over the unlabelled images, ``unlabelled_ratio`` per labelled image.

        Drawn from a generator seeded by the epoch alone, so a resumed run sees the same batches.
        """
        assert self.unlabelled_set is not None
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_033 + epoch + 17)
        count = len(self.unlabelled_set)
        size = min(count, max(MIN_TRAINING_BATCH, self.batch_size * self.config.unlabelled_ratio))
        pending = torch.empty(0, dtype=torch.long)
        while True:
            while len(pending) < size:
                pending = torch.cat([pending, torch.randperm(count, generator=generator)])
            batch, pending = pending[:size], pending[size:]
            if self.cache is not None:
                # One of the cached augmented views per image, from the same generator.
                yield torch.stack([batch, torch.randint(self.cache.views, (size,), generator=generator)])
            else:
                yield batch

    def _consistency(
        self,
        images: torch.Tensor,
        logits: torch.Tensor,
        index: torch.Tensor,
        unlabelled: Iterator[torch.Tensor] | None,
        progress: float,
    ) -> tuple[torch.Tensor, float]:
        """The consistency term of a batch: labelled images, plus an unlabelled batch when enabled.

        Mixing (mixup, cutmix) applies to the supervised part only: the consistency term compares the clean
        view with the un-mixed augmented view, whose prediction is the supervised one when the recipe mixes
        nothing (no second forward pass then).
        """
        config = self.config
        index = index.cpu()
        if self.cache is not None:
            clean = [self.cache.train_clean()[index.to(self.cache.train_clean().device)]]
            augmented = [images]
            if unlabelled is not None:
                picked, views = next(unlabelled)
                data = self.cache.unlabelled()
                picked, views = picked.to(data.features.device), views.to(data.features.device)
                clean.append(data.clean[picked])
                augmented.append(data.features[views, picked])
        else:
            clean = [torch.stack([self.train_set.clean_item(int(i))[0] for i in index])]
            augmented = [images]
            if unlabelled is not None:
                picked = next(unlabelled).tolist()
                clean.append(torch.stack([self.unlabelled_set.clean_item(i)[0] for i in picked]))
                augmented.append(torch.stack([self.unlabelled_set[i][0] for i in picked]))
        reuse = not self.compiled.mixers  # the supervised logits are those of the un-mixed augmented views
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        ):
            with torch.no_grad():
                clean_logits = torch.cat([self._logits(x) for x in clean]).float()
            parts = [logits] if reuse else [self._logits(images)]
            parts += [self._logits(x) for x in augmented[1:]]
            augmented_logits = torch.cat(parts).float()
        return consistency_loss(
            clean_logits, augmented_logits, config.consistency_temperature, config.consistency_threshold
        )

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = inputs.to(self.device, non_blocking=True)
        if self.cache is not None:
            return self.model.head(inputs)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return forward(self.model, inputs, self.config)

    def _train_epoch(self, epoch: int) -> tuple[float, float]:
        config = self.config
        while True:
            try:
                return self._train_epoch_once(epoch)
            except torch.OutOfMemoryError:
                self.optimizer.zero_grad(set_to_none=True)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                # Never below what the modules in training mode take (BatchNorm needs 2 images).
                smallest = 1 if self.cache is not None else MIN_TRAINING_BATCH
                if self.batch_size <= smallest:
                    raise TrainingError(
                        f"the GPU ran out of memory even with a batch of {self.batch_size} image(s); choose a "
                        "smaller backbone or input size, or train on the CPU"
                    ) from None
                self.batch_size = max(smallest, self.batch_size // 2)
                self._build_loaders()
                self.emit(
                    RunNotice(
                        f"out of GPU memory: the batch size is now {self.batch_size}; epoch {epoch} restarts"
                    )
                )
                log.warning(
                    "out of memory; batch size halved to %d (configured %d)",
                    self.batch_size,
                    config.batch_size,
                )

    def _train_epoch_once(self, epoch: int) -> tuple[float, float]:
        config = self.config
        self.train_set.set_epoch(epoch)
        if self.unlabelled_set is not None and self.cache is None:
            self.unlabelled_set.set_epoch(epoch)
        self.generator.manual_seed(config.seed * 1_000_003 + epoch)  # shuffling depends on the epoch alone
        if self.cache is not None:
            self.train_loader.epoch = epoch - 1  # the cache loader numbers its epochs itself
        set_train_mode(self.model)
        loss_sum, correct, seen = 0.0, 0, 0
        started = time.perf_counter()
        steps = len(self.train_loader)
        consistency_sum = kept_sum = 0.0
        unlabelled = (
            self._unlabelled_batches(epoch) if self.dmtl and self.unlabelled_set is not None else None
        )
        for step, (images, targets, index) in enumerate(self.train_loader, start=1):
            if self._training_started is None:  # after the feature pass (computed as the loader starts)
                self._training_started = time.perf_counter()
                self._excluded_at_start = self._excluded_seconds()
            check(self.should_stop)
            progress = (epoch - 1 + (step - 1) / steps) / config.epochs
            learning_rate = self._set_learning_rate(progress)
            images = images.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            loss, logits, truth = self._forward_loss(images, targets, epoch, step)
            supervised = loss
            consistency_value = None
            if self.dmtl:
                consistency, kept = self._consistency(images, logits, index, unlabelled, progress)
                weight = config.consistency_weight * rampup_factor(progress, config.consistency_rampup)
                loss = supervised + weight * consistency
                consistency_value = float(consistency.item())
                consistency_sum += consistency_value * len(targets)
                kept_sum += kept * len(targets)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss.item()} at epoch {epoch}, step {step}; the run was stopped "
                    "and no non-finite weights were saved. Try a lower learning rate."
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            batch = len(targets)
            loss_value = float(supervised.item())
            loss_sum += loss_value * batch
            correct += int((logits.argmax(1) == truth).sum().item())
            seen += batch
            elapsed = time.perf_counter() - started
            self._steps_timed += 1
            self.emit(
                StepProgress(
                    epoch=epoch,
                    epochs=config.epochs,
                    step=step,
                    steps=steps,
                    loss=loss_value,
                    learning_rate=learning_rate,
                    images_per_second=seen / elapsed if elapsed > 0 else 0.0,
                    consistency_loss=consistency_value,
                    eta_seconds=self._training_eta(config.epochs * steps - ((epoch - 1) * steps + step)),
                    epochs_completed=self.saved_epoch,
                )
            )
        if self.dmtl:
            self.consistency_epoch = (consistency_sum / max(1, seen), kept_sum / max(1, seen))
        return loss_sum / max(1, seen), correct / max(1, seen)

    def _excluded_seconds(self) -> float:
        """Time that is not training: feature computation and waiting while paused."""
        return self._stop_wait + (self.cache.seconds if self.cache is not None else 0.0)

    def _training_eta(self, steps_left: int) -> float | None:
        """Seconds for ``steps_left`` more steps at this run's own training rate (validation included)."""
        if self._training_started is None or not self._steps_timed:
            return None
        spent = time.perf_counter() - self._training_started
        spent -= self._excluded_seconds() - self._excluded_at_start
        return max(0.0, spent) / self._steps_timed * steps_left

    def _discard_if_empty(self) -> bool:
        """Remove a run that ended before saving any epoch: no empty rows or folders in the history.

        The features it computed stay in the project's feature cache, so the next run starts from them.
        """
        if self.saved_epoch or run_lock.has_checkpoint(self.run_dir):
            return False
        self.store.delete_run(self.run_id)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        log.info("run %s ended before its first epoch was saved and was removed", self.run_name)
        return True

    # ------------------------------------------------------------------ the loop
    def run(self) -> RunSummary:
        config = self.config
        status = "completed"
        epochs_done = self.first_epoch - 1
        try:
            for epoch in range(self.first_epoch, config.epochs + 1):
                train_loss, train_accuracy = self._train_epoch(epoch)
                val_loss = val_accuracy = None
                confusion = calibration = None
                if len(self.val_set):
                    scores: list[tuple[np.ndarray, np.ndarray]] = []
                    val_loss, val_accuracy, confusion = evaluate(
                        self.scored, self.val_loader, self.device, self.num_classes, self.should_stop, scores
                    )
                    calibration = self._calibration(scores)
                learning_rate = self.optimizer.param_groups[-1]["lr"]
                self.store.record_epoch(
                    self.run_id,
                    EpochMetrics(epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate),
                )
                epochs_done = epoch
                self.last_metrics = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_accuracy": train_accuracy,
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                }
                consistency = mask = None
                if self.dmtl:
                    consistency, mask = self.consistency_epoch
                    self.last_metrics["consistency_loss"] = consistency
                    self.last_metrics["consistency_mask"] = mask
                score = val_accuracy if val_accuracy is not None else train_accuracy
                improved = score > self.best_score
                if improved:
                    self.best_score, self.best_metrics = score, dict(self.last_metrics)
                if val_loss is not None and val_loss < self.best_val_loss - 1e-6:
                    self.best_val_loss, self.stale_epochs = val_loss, 0
                else:
                    self.stale_epochs += 1
                # Every epoch, as one unit: the latest and best weights and the whole training state, so Stop
                # or a crash at any moment resumes from one consistent epoch.
                self._save_epoch(epoch, improved, calibration)
                self.emit(
                    EpochResult(
                        epoch=epoch,
                        epochs=config.epochs,
                        train_loss=train_loss,
                        train_accuracy=train_accuracy,
                        val_loss=val_loss,
                        val_accuracy=val_accuracy,
                        learning_rate=learning_rate,
                        confusion=confusion,
                        classes=self.split.classes,
                        consistency_loss=consistency,
                        consistency_mask=mask,
                    )
                )
                patience = config.early_stopping_patience
                if (
                    patience
                    and val_loss is not None
                    and self.stale_epochs >= patience
                    and epoch < config.epochs
                ):
                    self.emit(
                        RunNotice(
                            f"stopped early after epoch {epoch}: no better validation loss for {patience} epochs"
                        )
                    )
                    break
        except Cancelled:
            status = "stopped"
        except BaseException:
            if not self._discard_if_empty():
                self.store.finish_run(self.run_id, "failed", self.last_metrics)
                run_lock.remove_lock(self.run_dir)
            raise
        final = {"best": self.best_metrics, "last": self.last_metrics}
        removed = self._discard_if_empty()
        if not removed:
            self.store.finish_run(self.run_id, status, final)
            run_lock.remove_lock(self.run_dir)
        log.info("run %s %s after %d epoch(s)", self.run_name, status, epochs_done)
        return RunSummary(
            removed=removed,
            run_id=self.run_id,
            run_dir=str(self.run_dir),
            status=status,
            epochs_completed=epochs_done,
            classes=self.split.classes,
            device=str(self.device),
            metrics=final,
        )


def train(
    project_dir: str | Path,
    config: TrainConfig,
    on_event: EventCallback | None = None,
    should_stop: ShouldStop = never_stop,
    resume_from: str | Path | None = None,
    split: LabelledSplit | None = None,
    run_prefix: str = "",
) -> RunSummary:
    """Train a classifier on a project's labelled images and store the run in the project.

    Parameters
    ----------
    project_dir
        The project folder; the engine opens its own connection (safe in any thread).
    config
        What to train and how. When resuming, pass the run's own configuration (``epochs`` may be raised).
    on_event
        Receives :class:`StepProgress` after each batch, :class:`EpochResult` after each epoch and
        :class:`RunNotice` for fallbacks (device, memory) and early stopping.
    should_stop
        Polled at each batch boundary; when true the run stops cleanly with status ``"stopped"``.
    resume_from
        A run folder of this project to continue after its last completed epoch: model, optimiser, scaler,
        random state and epoch are restored, so the result is the same as an uninterrupted run.
    split
        Train and validate on these images instead of the project's own split (cross-validation folds).
    run_prefix
        Put before the run's name (``"cv-"`` marks cross-validation runs in the history).
    """
    emit = on_event or (lambda event: None)
    with ProjectStore.open(project_dir) as store:
        try:
            run = TrainingRun(
                store,
                config,
                emit,
                should_stop,
                Path(resume_from) if resume_from else None,
                split,
                run_prefix,
            )
            return run.run()
        except FileProblem as exc:
            # A file changed on disk since the import: say which, keep it out of the next run, lose nothing else.
            if exc.path:
                store.mark_problems([(exc.path, f"cannot be read any more: {exc.reason}")])
            raise TrainingError(
                f"{exc} — the file changed on disk after the import. It is now listed among the problem files "
                "and left out of the next run; start the run again."
            ) from None
