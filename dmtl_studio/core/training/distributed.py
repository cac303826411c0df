"""One run over several processes: PyTorch's DistributedDataParallel (DDP), with the processes started by
``torchrun`` (``torch.distributed.run``), on one machine or many.

Each process (a *rank*) holds a whole copy of the model and trains on its own share of the images; DDP averages
the gradients across ranks in every backward pass (Li et al., "PyTorch Distributed: Experiences on Accelerating
Data Parallel Training", VLDB 2020), so every rank takes the same optimiser step. NCCL carries the gradients
between GPUs, Gloo between CPU processes.

What this module decides, and :mod:`dmtl_studio.core.training.setup` applies:

- **Shares.** Each rank sees ``ceil(N / world)`` of the ``N`` training images per epoch: the order drawn for the
  epoch (the same on every rank) is padded to a multiple of the world size by repeating its start, and rank ``r``
  takes every ``world``-th index from ``r`` — :class:`torch.utils.data.DistributedSampler`'s own split, used as
  is for the image loader and through :func:`shard` for cached features and unlabelled images.
- **Batch and learning rate.** ``batch_size`` is per process, so a step sees ``world × batch_size`` images; the
  learning rates scale by :func:`lr_scale` (``linear`` by default: Goyal et al., "Accurate, Large Minibatch SGD",
  2017).
- **Who writes.** Rank 0 alone writes the project, the checkpoints, the feature cache and the progress; the other
  ranks open the project read-only while the run is prepared, and receive rank 0's split and saved state.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.launch import DistributedOptions, lr_scale
from dmtl_studio.core.training.settings import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """This process's place in a distributed run (what ``torchrun`` sets in the environment)."""

    rank: int
    world_size: int
    local_rank: int = 0
    options: DistributedOptions = field(default_factory=DistributedOptions)

    @classmethod
    def from_environment(
        cls, options: DistributedOptions | None = None, environ: dict[str, str] | None = None
    ) -> World | None:
        """The world ``torchrun`` started this process in (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), or
        ``None`` when it was not started by a launcher."""
        environ = os.environ if environ is None else environ
        if "RANK" not in environ or "WORLD_SIZE" not in environ:
            return None
        return cls(
            int(environ["RANK"]),
            int(environ["WORLD_SIZE"]),
            int(environ.get("LOCAL_RANK", "0")),
            options or DistributedOptions(),
        )

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes."""
        return self.rank == 0

    @property
    def lr_factor(self) -> float:
        return lr_scale(self.world_size, self.options.lr_scaling)

    def share(self, count: int) -> int:
        """Items each rank gets of ``count`` per pass (``ceil(count / world_size)``)."""
        return math.ceil(count / self.world_size)

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This rank's part of an order that is the same on every rank (DistributedSampler's split)."""
        return shard(order, self.rank, self.world_size)

    def describe(self, batch_size: int) -> str:
        """The sentence a run's notes carry: processes, batch per step and the learning-rate rule."""
        rule = {
            "linear": "× the number of processes (linear scaling rule, Goyal et al. 2017)",
            "sqrt": "× the square root of the number of processes",
            "none": "× 1 (not scaled)",
        }[self.options.lr_scaling]
        return (
            f"distributed run: {self.world_size} processes × batch {batch_size} = {self.world_size * batch_size} "
            f"images per step; learning rates {rule}: ×{self.lr_factor:g}"
        )

    def to_dict(self) -> dict:
        return {"world_size": self.world_size, **asdict(self.options), "lr_factor": self.lr_factor}


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s ``ceil(len / world)`` items of ``order`` (padded with its start, then strided).

    This is :class:`~torch.utils.data.DistributedSampler`'s split with ``drop_last=False``: every rank gets the
    same number of items, so every rank takes the same number of steps (DDP needs it).
    """
    count = len(order)
    if count == 0 or world_size == 1:
        return order
    total = math.ceil(count / world_size) * world_size
    if total > count:
        order = torch.cat([order, order.repeat(math.ceil((total - count) / count))[: total - count]])
    return order[rank:total:world_size]


class EpochDistributedSampler(DistributedSampler):
    """A :class:`~torch.utils.data.DistributedSampler` whose epoch is its dataset's, read as each pass starts
    (the training loop sets the dataset's epoch), so the loop needs no sampler of its own to tell."""

    def __init__(self, dataset: Dataset, world: World, seed: int) -> None:
        super().__init__(dataset, world.world_size, world.rank, shuffle=True, seed=seed)

    def __iter__(self):
        self.set_epoch(int(getattr(self.dataset, "epoch", 0)))
        return super().__iter__()


def backend_for(device_kind: str) -> str:
    """NCCL between CUDA GPUs, Gloo between CPU processes."""
    return "nccl" if device_kind == "cuda" else "gloo"


def device_request(requested: str) -> str:
    """The device a rank asks for: CUDA when asked or present with ``auto``, else the CPU (DDP has no MPS)."""
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def _refuse_sync_bn_without_cuda(sync_bn: bool, kind: str) -> None:
    if sync_bn and kind != "cuda":
        raise ConfigError("--sync-bn needs CUDA GPUs (PyTorch's SyncBatchNorm does not run on the CPU)")


def check_devices(sync_bn: bool, requested_device: str, processes_per_node: int) -> None:
    """What this machine's devices allow, checked by the launcher before any process starts (each rank checks
    again in :func:`start`).

    Raises
    ------
    ConfigError
        ``--sync-bn`` without CUDA, or more processes per node than this machine has GPUs.
    """
    kind = device_request(requested_device)
    _refuse_sync_bn_without_cuda(sync_bn, kind)
    if kind == "cuda" and processes_per_node > torch.cuda.device_count():
        raise ConfigError(
            f"{processes_per_node} processes per node, but this machine has {torch.cuda.device_count()} GPU(s): "
            "start at most that many (--nproc-per-node)"
        )


def start(world: World, requested_device: str) -> None:
    """Join the run's process group (the launcher's rendezvous, from the environment).

    Raises
    ------
    ConfigError
        ``--sync-bn`` without CUDA, or more processes on this node than it has GPUs.
    """
    kind = device_request(requested_device)
    _refuse_sync_bn_without_cuda(world.options.sync_bn, kind)
    if kind == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {world.local_rank} has no GPU: this node has {torch.cuda.device_count()}; start at "
                "most that many processes per node"
            )
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(
        backend_for(kind),
        rank=world.rank,
        world_size=world.world_size,
        timeout=timedelta(seconds=world.options.timeout_s),
    )
    log.info("rank %d of %d joined (%s)", world.rank, world.world_size, backend_for(kind))


def stop() -> None:
    """Leave the process group (nothing when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def lost_contact(exc: BaseException, world: World) -> TrainingError | None:
    """The plain error for a collective that failed because another rank died or hung (``None`` for any other
    error): Gloo reports a closed connection or a timeout, NCCL a backend error."""
    text = str(exc)
    if not (
        isinstance(exc, dist.DistError) or any(word in text for word in ("gloo", "Gloo", "NCCL", "nccl"))
    ):
        return None
    if "imed out" in text or "timeout" in text.lower():
        why = f"another process did not answer within {world.options.timeout_s:g} s (--dist-timeout)"
    else:
        why = "another process of the run stopped (its connection closed)"
    detail = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return TrainingError(
        f"rank {world.rank} of {world.world_size} stopped: {why}. The launcher's report names the rank that "
        f"failed first. What was saved up to the last completed epoch is kept; continue with --resume RUN_DIR "
        f"[{detail[:200]}]"
    )


_terminated: list[int] = []


def stop_on_terminate() -> Callable[[], bool]:
    """Make SIGTERM (the launcher stopping the other ranks after one failed) a stop request; returns the check.

    The request is honoured at the next batch boundary, like the window's Stop, so no write is cut in half.
    """

    def note(signum: int, frame: object) -> None:
        _terminated.append(signum)

    signal.signal(signal.SIGTERM, note)
    return lambda: bool(_terminated)


def interrupt_once() -> None:
    """Make only the first SIGINT a ``KeyboardInterrupt``, and ignore those after it.

    Ctrl-C reaches every process of the terminal, and the launcher, stopping its processes, sends them SIGINT
    again: a second ``KeyboardInterrupt`` would cut short the one already keeping the run as interrupted.
    """
    received: list[int] = []

    def first_only(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first_only)


def broadcast(value: object, world: World | None) -> object:
    """Rank 0's ``value`` on every rank (``value`` is ignored on the others); unchanged without a world."""
    if world is None:
        return value
    box = [value if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: object, world: World) -> list[object]:
    """Every rank's ``value``, in rank order, on every rank."""
    values: list[object] = [None] * world.world_size
    dist.all_gather_object(values, value)
    return values


class FeatureShards:
    """The frozen backbone's feature pass split across ranks and gathered on every rank.

    ``extract(indices, keep)`` computes the items ``indices`` and calls ``keep(features (B, F), indices (B,))``
    per batch (:meth:`~dmtl_studio.core.training.feature_cache.FeatureCache._extract`'s contract).
    """

    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def writes(self) -> bool:
        return self.world.is_main

    def compute(
        self,
        missing: Sequence[int],
        extract: Callable[[list[int], Callable[[torch.Tensor, torch.Tensor], None]], None],
    ) -> tuple[int, dict[int, np.ndarray]]:
        """Every rank's missing items (the union, so all ranks agree on what is computed), each computed by one
        rank; returns how many this rank computed and ``{index: vector (F,)}`` for all of them."""
        union = sorted({int(i) for part in gather(list(missing), self.world) for i in part})
        mine = union[self.world.rank :: self.world.world_size]
        rows: dict[int, np.ndarray] = {}

        def keep(features: torch.Tensor, indices: torch.Tensor) -> None:
            for row, index in zip(features.detach().float().cpu().numpy(), indices.tolist(), strict=True):
                rows[int(index)] = row.copy()

        if mine:
            extract(mine, keep)
        merged: dict[int, np.ndarray] = {}
        for part in gather(rows, self.world):
            merged.update(part)
        return len(mine), merged


def wrap(module: nn.Module, device: torch.device, world: World) -> nn.Module:
    """``module`` (what trains) inside :class:`~torch.nn.parallel.DistributedDataParallel`; BatchNorm made
    :class:`~torch.nn.SyncBatchNorm` first when the options ask. The module's own parameters stay its own, so
    checkpoints written from it carry no ``module.`` prefix."""
    if world.options.sync_bn:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = (
        [device.index if device.index is not None else torch.cuda.current_device()]
        if device.type == "cuda"
        else None
    )
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def clean_state_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict without the ``module.`` prefix that a DDP (or DataParallel) wrapper puts on every key."""
    prefix = "module."
    if not any(key.startswith(prefix) for key in state):
        return state
    return {key.removeprefix(prefix): value for key, value in state.items()}
