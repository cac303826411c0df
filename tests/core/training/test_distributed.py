"""The pieces of a distributed run, each on its own: the learning-rate rule, the ranks' shares of the labelled and
unlabelled images, checkpoint keys, the launcher's checks and its failure report, the read-only store."""

from __future__ import annotations

import math
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure
from torch.utils.data import DistributedSampler

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.distributed import (
    EpochDistributedSampler,
    World,
    clean_state_keys,
    lost_contact,
    shard,
)
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.launch import (
    LaunchError,
    LaunchPlan,
    check_port,
    check_world_size,
    failure_message,
    free_port,
    lr_scale,
    port_in_use,
    worker_arguments,
)
from dmtl_studio.core.training.objective import unlabelled_batches
from dmtl_studio.core.training.settings import ConfigError


def test_learning_rates_scale_by_the_documented_rule() -> None:
    assert [lr_scale(n) for n in (1, 2, 8)] == [1.0, 2.0, 8.0]  # linear, the default
    assert lr_scale(4, "sqrt") == 2.0 and lr_scale(4, "none") == 1.0
    with pytest.raises(ConfigError, match="unknown learning-rate scaling"):
        lr_scale(2, "cubic")
    world = World(0, 4)
    assert world.lr_factor == 4.0
    note = world.describe(16)
    assert "4 processes × batch 16 = 64 images per step" in note and "Goyal" in note


@pytest.mark.parametrize(("count", "world_size"), [(10, 3), (12, 4), (7, 2), (3, 3)])
def test_each_rank_gets_distributed_samplers_share(count: int, world_size: int) -> None:
    parts = [shard(torch.arange(count), rank, world_size).tolist() for rank in range(world_size)]
    expected = [
        list(DistributedSampler(range(count), num_replicas=world_size, rank=rank, shuffle=False))
        for rank in range(world_size)
    ]
    assert parts == expected  # torch's own split, used for cached features and unlabelled images
    assert all(len(p) == math.ceil(count / world_size) for p in parts)  # same steps on every rank
    assert set().union(*map(set, parts)) == set(range(count))


class _Epoched(torch.utils.data.Dataset):
    def __init__(self, count: int) -> None:
        self.count, self.epoch = count, 0

    def __len__(self) -> int:
        return self.count


def test_the_image_loaders_sampler_follows_the_loops_epoch() -> None:
    data = _Epoched(20)
    samplers = [EpochDistributedSampler(data, World(rank, 2), seed=3) for rank in (0, 1)]
    first = [list(s) for s in samplers]
    assert not set(first[0]) & set(first[1]) and len(first[0]) == len(first[1]) == 10
    data.epoch = 1
    second = [list(s) for s in samplers]
    assert second != first and sorted(second[0] + second[1]) == list(range(20))


def test_the_unlabelled_ratio_holds_per_rank() -> None:
    config = TrainConfig(batch_size=4, unlabelled_ratio=2, seed=5)
    batches = {}
    for rank in (0, 1):
        parts = SimpleNamespace(
            config=config, world=World(rank, 2), unlabelled_set=range(20), batch_size=4, cache=None
        )
        stream = unlabelled_batches(parts, epoch=1)
        batches[rank] = [next(stream) for _ in range(5)]
    for rank in (0, 1):
        # each rank's step: a labelled batch of 4 and an unlabelled one of 4 x 2, from its own share
        assert all(len(batch) == 8 for batch in batches[rank])
    first_pass = [torch.cat(batches[r])[:10].tolist() for r in (0, 1)]
    assert not set(first_pass[0]) & set(first_pass[1])
    assert sorted(first_pass[0] + first_pass[1]) == list(range(20))
    alone = SimpleNamespace(config=config, world=None, unlabelled_set=range(20), batch_size=4, cache=None)
    assert len(next(unlabelled_batches(alone, epoch=1))) == 8  # the same ratio as one process


def test_checkpoint_keys_lose_the_ddp_prefix() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    wrapped = {"module." + key: value for key, value in model.state_dict().items()}
    cleaned = clean_state_keys(wrapped)
    assert list(cleaned) == list(model.state_dict())
    model.load_state_dict(cleaned, strict=True)
    plain = model.state_dict()
    assert clean_state_keys(plain) is plain


def test_a_port_in_use_is_named_with_a_free_one() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(LaunchError, match=rf"port {port} is already in use.*--master-port \d+"):
            check_port(LaunchPlan(2, master_port=port))
        check_port(LaunchPlan(2, nnodes=2, node_rank=1, master_port=port))  # hosted elsewhere: not checked
    assert not port_in_use(free_port())


def test_the_world_size_must_fit_the_training_images() -> None:
    check_world_size(4, 4)
    check_world_size(4, 8, per_process=2)
    with pytest.raises(TrainingError, match="5 processes are too many for 4 training image"):
        check_world_size(5, 4)
    check_world_size(4, 7, per_process=2)  # 2 each, the last rank's second one padded from the start
    with pytest.raises(TrainingError, match="use at most 6 process"):
        check_world_size(7, 7, per_process=2)  # a rank would get 1 image: BatchNorm needs 2


def test_launch_plans_are_checked_and_written_as_torchrun() -> None:
    with pytest.raises(ConfigError, match="--node-rank"):
        LaunchPlan(2, nnodes=2, node_rank=2).check()
    with pytest.raises(ConfigError):
        LaunchPlan(0).check()
    argv = ["train", "P", "--nproc-per-node", "2", "--epochs", "3", "--master-port=29600", "--nnodes", "1"]
    worker = worker_arguments(argv)
    assert worker == ["train", "P", "--epochs", "3"]
    line = LaunchPlan(2, master_port=29600).command_line(worker)
    assert line.startswith("torchrun --nnodes 1 --nproc-per-node 2") and line.endswith(
        "-m dmtl_studio train P --epochs 3"
    )


def test_the_failure_report_names_the_rank_that_failed_first() -> None:
    killed = ProcessFailure(local_rank=1, pid=4321, exitcode=-9, error_file="/nonexistent")
    stopped = ProcessFailure(local_rank=0, pid=4320, exitcode=2, error_file="/nonexistent")
    message = failure_message({0: stopped, 1: killed}, (1, killed))
    assert (
        "rank 1 (local rank 1, pid 4321) was killed by SIGKILL" in message
        and "rank(s) 0 also ended" in message
    )
    world = World(0, 2)
    plain = lost_contact(RuntimeError("[gloo/transport/tcp/pair.cc:545] Connection reset by peer"), world)
    assert plain is not None and "rank 0 of 2 stopped" in str(plain) and "--resume" in str(plain)
    assert "within 600 s" in str(lost_contact(RuntimeError("Gloo: Timed out waiting 600000ms"), world))
    assert lost_contact(RuntimeError("a bug"), world) is None


def test_other_ranks_open_the_project_read_only(project: Path) -> None:
    with ProjectStore.open(project, read_only=True) as store:
        assert store.read_only and store.images()
        with pytest.raises(ProjectError):
            store.set_meta("touched", "yes")
    with ProjectStore.open(project) as store:
        assert not store.read_only and store.get_meta("touched") is None
