"""Starting a distributed run from the command line: ``torchrun``'s elastic launcher (``torch.distributed.run``)
in this process, with the checks that turn its failures into plain messages. Nothing here imports PyTorch until
:func:`launch` runs, so the command line builds its options from this module for free.

``dmtl-studio train PROJECT --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]`` is the
same as ``torchrun --nnodes M --nproc-per-node N --node-rank R --master-addr A --master-port P --max-restarts 0
-m dmtl_studio train PROJECT …``: this module builds that command line and runs it. Before anything starts it
checks the rendezvous port (on the node that hosts it) and the number of processes against the training images;
when a process fails, the launcher stops the others (SIGTERM, which a rank takes as a stop request) and the
message names the rank that failed first (torchrun's failure report).
"""

from __future__ import annotations

import errno
import math
import os
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.base.cores import usable_cores
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.settings import ConfigError

#: How the learning rates follow the number of processes (see :func:`lr_scale`).
LR_RULES = ("linear", "sqrt", "none")
#: Seconds a rank waits for the others in a collective before the run fails (a rank that hangs or died).
DEFAULT_TIMEOUT_S = 600.0


def lr_scale(world_size: int, rule: str = "linear") -> float:
    """The factor every learning rate is multiplied by when ``world_size`` processes each train on a batch.

    ``linear``: ``world_size`` (Goyal et al. 2017: k times the batch, k times the rate); ``sqrt``:
    ``sqrt(world_size)`` (Krizhevsky 2014, often preferred with Adam); ``none``: 1.

    Raises
    ------
    ConfigError
        An unknown rule or a world size below 1.
    """
    if world_size < 1:
        raise ConfigError(f"the number of processes must be at least 1, not {world_size}")
    if rule == "linear":
        return float(world_size)
    if rule == "sqrt":
        return math.sqrt(world_size)
    if rule == "none":
        return 1.0
    raise ConfigError(f"unknown learning-rate scaling {rule!r}; choose one of {', '.join(LR_RULES)}")


@dataclass(frozen=True)
class DistributedOptions:
    """What a distributed run adds to its :class:`~dmtl_studio.core.training.config.TrainConfig`."""

    lr_scaling: str = "linear"
    sync_bn: bool = False  # BatchNorm statistics over every rank's batch (SyncBatchNorm; CUDA only)
    timeout_s: float = DEFAULT_TIMEOUT_S


def check_world_size(world_size: int, train_images: int, per_process: int = 1) -> None:
    """Refuse more processes than the training images can feed.

    Each rank's share is ``ceil(N / world_size)`` images (see :mod:`~dmtl_studio.core.training.distributed`); it
    must hold at least one image no other rank has, and ``per_process`` in all.

    Raises
    ------
    TrainingError
        A process would get fewer than ``per_process`` images (2 where BatchNorm trains on the images).
    """
    if world_size < 1:
        raise TrainingError(f"the number of processes must be at least 1, not {world_size}")

    def fits(processes: int) -> bool:
        return train_images >= processes and math.ceil(train_images / processes) >= per_process

    if fits(world_size):
        return
    most = max([n for n in range(1, min(world_size, max(1, train_images)) + 1) if fits(n)], default=1)
    raise TrainingError(
        f"{world_size} processes are too many for {train_images} training image(s): each process needs at least "
        f"{per_process} of its own; use at most {most} process(es) or label more images"
    )


#: The command line's options that belong to the launcher (left out of what each process is given).
LAUNCH_FLAGS = ("--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port")
#: torchrun's own default rendezvous port.
DEFAULT_PORT = 29500


class LaunchError(TrainingError):
    """A distributed run could not start, or one of its processes failed; the message says which and why."""


@dataclass(frozen=True)
class LaunchPlan:
    """Where the processes of a run start: ``nproc_per_node`` on each of ``nnodes`` machines, this one being
    ``node_rank``; rank 0's machine hosts the rendezvous at ``master_addr:master_port``."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = DEFAULT_PORT

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    def check(self) -> None:
        """Raises :class:`ConfigError` for numbers that cannot describe a run."""
        if self.nproc_per_node < 1 or self.nnodes < 1:
            raise ConfigError("--nproc-per-node and --nnodes must be at least 1")
        if not 0 <= self.node_rank < self.nnodes:
            raise ConfigError(f"--node-rank must be from 0 to {self.nnodes - 1} with --nnodes {self.nnodes}")
        if not 1 <= self.master_port <= 65535:
            raise ConfigError(f"--master-port must be from 1 to 65535, not {self.master_port}")

    def torchrun_args(self, worker_args: Sequence[str]) -> list[str]:
        """torchrun's arguments: this plan, no restarts, then ``-m dmtl_studio`` and the command."""
        return [
            "--nnodes",
            str(self.nnodes),
            "--nproc-per-node",
            str(self.nproc_per_node),
            "--node-rank",
            str(self.node_rank),
            "--master-addr",
            self.master_addr,
            "--master-port",
            str(self.master_port),
            "--max-restarts",
            "0",
            "-m",
            "dmtl_studio",
            *worker_args,
        ]

    def command_line(self, worker_args: Sequence[str]) -> str:
        """The equivalent ``torchrun …`` command, to show or to put in a batch script."""
        return "torchrun " + shlex.join(self.torchrun_args(worker_args))


def worker_arguments(argv: Sequence[str]) -> list[str]:
    """``argv`` without the launcher's options (:data:`LAUNCH_FLAGS`, as ``--flag value`` or ``--flag=value``,
    or a prefix argparse accepted for one)."""
    kept: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        name, has_value = token.split("=", 1)[0], "=" in token
        if len(name) > 2 and name.startswith("--") and any(flag.startswith(name) for flag in LAUNCH_FLAGS):
            skip = not has_value
            continue
        kept.append(token)
    return kept


def port_in_use(port: int) -> bool:
    """Whether a server already listens on ``port`` here (what the rendezvous would fail to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the rendezvous store binds
        try:
            probe.bind(("", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port() -> int:
    """A port nobody listens on now (the system's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def check_port(plan: LaunchPlan) -> None:
    """Refuse a rendezvous port already taken on the node that hosts it (node 0; others cannot tell).

    Raises
    ------
    LaunchError
        Naming the port and a free one to use instead.
    """
    if plan.node_rank == 0 and port_in_use(plan.master_port):
        raise LaunchError(
            f"port {plan.master_port} is already in use on this machine (another distributed run or program "
            f"listens on it); choose another with --master-port {free_port()}"
        )


def check_images(project_dir: str | Path, world_size: int, per_process: int) -> None:
    """Refuse more processes than the project's training images can feed, before any starts (on machine 0, before
    its processes: nothing else has the project open for the run yet). Raises :class:`TrainingError`."""
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.training.labelled import labelled_split

    with ProjectStore.open(project_dir) as store:
        train_images = len(labelled_split(store).train)
    check_world_size(world_size, train_images, per_process)


class LaunchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a distributed run: the launcher stopped its processes, and rank 0 (which caught the same
    Ctrl-C) has kept the run as ``"interrupted"`` and said how to continue it."""


def launch_options(plan: LaunchPlan) -> list[str]:
    """The launcher's options of ``train`` that describe ``plan`` (those left at their defaults left out), to
    repeat in the command that continues an interrupted run."""
    default = LaunchPlan(plan.nproc_per_node)
    options = ["--nproc-per-node", str(plan.nproc_per_node)]
    for flag, value, usual in (
        ("--nnodes", plan.nnodes, default.nnodes),
        ("--node-rank", plan.node_rank, default.node_rank),
        ("--master-addr", plan.master_addr, default.master_addr),
        ("--master-port", plan.master_port, default.master_port),
    ):
        if value != usual:
            options += [flag, str(value)]
    return options


def _interrupted(failures: dict[int, object]) -> bool:
    """Whether every failed process ended from Ctrl-C (exit status 130, or killed by SIGINT)."""
    return bool(failures) and all(
        int(getattr(failure, "exitcode", 1)) in (130, -2) for failure in failures.values()
    )


def failure_message(failures: dict[int, object], first: tuple[int, object]) -> str:
    """One sentence for torchrun's failure report: which rank failed first and how (exit code or signal)."""
    rank, failure = first
    code = int(getattr(failure, "exitcode", 1))
    how = (
        f"was killed by {failure.signal_name()}"
        if code < 0 and hasattr(failure, "signal_name")
        else f"ended with exit code {code}"
    )
    others = sorted(r for r in failures if r != rank)
    also = f" (rank(s) {', '.join(map(str, others))} also ended)" if others else ""
    return (
        f"the distributed run stopped: rank {rank} (local rank {getattr(failure, 'local_rank', '?')}, pid "
        f"{getattr(failure, 'pid', '?')}) {how}{also}; the launcher stopped the other processes. What was saved "
        "up to the last completed epoch is kept; continue with --resume RUN_DIR"
    )


def launch(plan: LaunchPlan, worker_args: Sequence[str]) -> None:
    """Run the plan's processes on this node with ``torch.distributed.run`` and wait for them.

    Raises
    ------
    LaunchError
        The port is taken, or a process failed (the first to fail is named).
    LaunchInterrupted
        Ctrl-C: the launcher stopped the processes (rank 0 keeps the run as interrupted).
    """
    plan.check()
    check_port(plan)
    import signal

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # Each process's share of this machine's cores (torchrun would give each one thread, and say so in four
    # lines); a value the user set is kept.
    threads_set = "OMP_NUM_THREADS" in os.environ
    if not threads_set:
        os.environ["OMP_NUM_THREADS"] = str(threads_per_process(plan.nproc_per_node))
    try:
        run(parse_args(plan.torchrun_args(worker_args)))
    except SignalException as exc:
        if exc.sigval != signal.SIGINT:
            raise LaunchError(
                f"the distributed run's launcher was stopped ({signal.Signals(exc.sigval).name}) and stopped its "
                "processes; what was saved up to the last completed epoch is kept; continue with --resume RUN_DIR"
            ) from None
        raise LaunchInterrupted() from None
    except ChildFailedError as exc:
        if _interrupted(exc.failures):
            raise LaunchInterrupted() from None
        raise LaunchError(failure_message(exc.failures, exc.get_first_failure())) from None
    finally:
        if not threads_set:
            os.environ.pop("OMP_NUM_THREADS", None)


def threads_per_process(processes: int) -> int:
    """CPU threads each of ``processes`` processes on this machine gets: the cores this process may run on,
    shared out evenly, one at least."""
    return max(1, usable_cores() // max(1, processes))
