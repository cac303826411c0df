"""A distributed run on this machine's CPU: 2 processes with Gloo, started by torchrun, on a small generated
project — the same learning as one process, the documented steps, one writer, clean failures."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dmtl_studio.core.project.demo import write_shapes_folder
from dmtl_studio.core.project.run_lock import LOCK_NAME
from dmtl_studio.core.project.store import DATABASE_NAME, ProjectStore
from dmtl_studio.core.training.launch import free_port, threads_per_process
from tests.e2e.cli import SOURCE_ROOT, run_cli

WORKER = str(Path(__file__).with_name("distributed_worker.py"))
BATCH, EPOCHS = 8, 2
RUN = (
    "--no-linear-probe",
    "--device",
    "cpu",
    "--input-size",
    "64",
    "--batch-size",
    str(BATCH),
    "--seed",
    "0",
)


def _environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([SOURCE_ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _torchrun(project: Path, record: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc-per-node 2 distributed_worker.py train PROJECT ARGS`` (the documented torchrun path)."""
    record.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-port", str(free_port()), WORKER, "train", str(project), *args]
    env = _environment(DMTL_TEST_RECORD=str(record))
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=env)


def _summary(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _vectors(project: Path) -> int:
    return sum(1 for _ in (project / "cache").rglob("*.f32"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("distributed")
    images = write_shapes_folder(root / "images", 16, unlabelled=6, seed=1, size=48)
    done = run_cli(
        "import", str(root / "project"), str(images), "--val-fraction", "0.25", "--test-fraction", "0"
    )
    assert done.returncode == 0, done.stderr
    return root / "project"


@pytest.fixture(scope="module")
def runs(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same run with 2 processes (a fresh feature cache) and then with 1."""
    root = tmp_path_factory.mktemp("runs")
    project = root / "project"
    shutil.copytree(template, project)
    started = time.perf_counter()
    two = _torchrun(project, root / "record", *RUN, "--epochs", str(EPOCHS), "--json")
    seconds = time.perf_counter() - started
    summary_two = _summary(two)
    vectors_after_two = _vectors(project)
    one = _summary(run_cli("train", str(project), *RUN, "--epochs", str(EPOCHS), "--json"))
    records = {r: json.loads((root / "record" / f"rank{r}.json").read_text()) for r in (0, 1)}
    return {
        "project": project,
        "two": summary_two,
        "two_stderr": two.stderr,
        "one": one,
        "records": records,
        "seconds": seconds,
        "vectors": (vectors_after_two, _vectors(project)),
    }


def test_two_processes_learn_as_one_in_the_documented_steps(runs: dict) -> None:
    with ProjectStore.open(runs["project"], read_only=True) as store:
        train_images = sum(1 for im in store.images(usable_only=True) if im.label and im.split == "train")
    # docs/distributed.md: each rank takes ceil(ceil(N / world) / batch) steps per epoch (one process:
    # ceil(N / batch)); DDP averages the gradients, so both ranks take every step together.
    per_rank = math.ceil(train_images / 2)
    expected = EPOCHS * math.ceil(per_rank / BATCH)
    assert runs["records"][0]["steps"] == runs["records"][1]["steps"] == expected
    # DDP averaged every step's gradients: both ranks hold the same weights after the last step.
    assert runs["records"][0]["parameters"] == runs["records"][1]["parameters"] != ""
    assert expected < EPOCHS * math.ceil(train_images / BATCH)  # fewer, larger steps than one process
    two, one = runs["two"]["metrics"]["last"], runs["one"]["metrics"]["last"]
    assert runs["two"]["status"] == runs["one"]["status"] == "completed"
    # Within noise: 12 validation images, one image is 0.083; both well above chance (1/3).
    assert abs(two["val_accuracy"] - one["val_accuracy"]) <= 0.25
    assert two["val_accuracy"] > 0.5 and one["val_accuracy"] > 0.5
    assert "linear scaling rule" in runs["two_stderr"] and "2 processes × batch 8 = 16" in runs["two_stderr"]
    assert runs["seconds"] < 60


def test_rank_0_alone_writes_and_the_feature_pass_is_shared(runs: dict) -> None:
    rank0, rank1 = ([c for c in runs["records"][r]["connections"] if DATABASE_NAME in c] for r in (0, 1))
    assert rank1 and all("mode=ro" in uri for uri in rank1)  # rank 1 never opened the project writable
    assert any("mode=ro" not in uri for uri in rank0)
    with ProjectStore.open(runs["project"], read_only=True) as store:
        distributed, single = store.runs()
        assert [m.epoch for m in store.epoch_metrics(distributed.id)] == list(range(1, EPOCHS + 1))
        assert distributed.config["distributed"]["world_size"] == 2
        assert distributed.config["distributed"]["lr_factor"] == 2.0
        assert "distributed" not in single.config
    assert len(list((runs["project"] / "runs").iterdir())) == 2
    # The 2 ranks computed the features, each its share, and rank 0 stored all of them: one process then
    # reused every vector and computed none.
    after_two, after_one = runs["vectors"]
    assert after_two > 0 and after_two == after_one


def test_resume_a_distributed_run_on_one_process_and_back(runs: dict, tmp_path: Path) -> None:
    project = runs["project"]
    two_dir, one_dir = Path(runs["two"]["run_dir"]), Path(runs["one"]["run_dir"])
    resumed = _summary(run_cli("train", str(project), "--resume", str(two_dir), "--epochs", "3", "--json"))
    assert resumed["status"] == "completed" and resumed["epochs_completed"] == 3
    back = run_cli(
        "train", str(project), "--resume", str(one_dir), "--epochs", "3", "--json",
        "--nproc-per-node", "2", "--master-port", str(free_port()),
    )  # fmt: skip
    assert _summary(back)["epochs_completed"] == 3
    for run_dir, factor in ((two_dir, 1.0), (one_dir, 2.0)):
        state = torch.load(next(run_dir.glob("checkpoints/*/state.pt")), weights_only=True)
        assert state["epoch"] == 3 and state["lr_factor"] == factor
    with ProjectStore.open(project, read_only=True) as store:
        assert [[m.epoch for m in store.epoch_metrics(r.id)] for r in store.runs()] == [[1, 2, 3], [1, 2, 3]]
    from safetensors.torch import load_file

    assert not [k for k in load_file(str(two_dir / "model.safetensors")) if k.startswith("module.")]


def test_a_killed_rank_ends_the_run_cleanly(template: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(template, project)
    # DMTL with unlabelled images: two DDP forward passes per step (labelled, unlabelled), one backward.
    command = [
        sys.executable,
        "-m",
        "dmtl_studio",
        "train",
        str(project),
        *RUN,
        "--epochs",
        "40",
        "--unlabelled",
    ]
    command += ["--nproc-per-node", "2", "--master-port", str(free_port())]
    environment = {k: v for k, v in _environment().items() if k != "OMP_NUM_THREADS"}
    launcher = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=environment)
    before = []
    try:
        assert launcher.stderr is not None
        for line in launcher.stderr:
            before.append(line)
            if line.startswith("epoch 2/40:"):
                break
        workers = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout
        victim = next(
            int(pid)
            for pid in workers.split()
            if b"RANK=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        )
        # each process got its share of the cores, and torchrun did not print its four lines about it
        share = f"OMP_NUM_THREADS={threads_per_process(2)}".encode()
        assert share in Path(f"/proc/{victim}/environ").read_bytes().split(b"\0")
        assert not any("OMP_NUM_THREADS" in line for line in before), before
        killed = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        rest = launcher.stderr.read()
        launcher.wait(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert time.perf_counter() - killed < 60
    assert launcher.returncode == 2
    assert "rank 1 (local rank 1" in rest and "SIGKILL" in rest and "--resume" in rest
    with ProjectStore.open(project, read_only=True) as store:
        (run,) = store.runs()
        assert run.status in ("failed", "stopped") and len(store.epoch_metrics(run.id)) >= 2
    assert not (project / "runs" / Path(run.run_dir).name / LOCK_NAME).exists()
    connection = sqlite3.connect(f"file:{project / DATABASE_NAME}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()


def test_a_port_in_use_is_refused_before_anything_starts(template: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("train", str(template), *RUN, "--nproc-per-node", "2", "--master-port", str(port))
    assert done.returncode == 2
    assert f"port {port} is already in use" in done.stderr and "--master-port " in done.stderr


def test_more_processes_than_training_images_are_refused(template: Path) -> None:
    done = run_cli("train", str(template), *RUN, "--nproc-per-node", "64", "--master-port", str(free_port()))
    assert done.returncode == 2
    assert "64 processes are too many for 36 training image(s)" in done.stderr
    assert "torchrun" not in done.stderr  # refused before launching


def test_sync_bn_on_the_cpu_is_refused_in_one_line_before_any_process_starts(template: Path) -> None:
    done = run_cli(
        "train", str(template), *RUN, "--nproc-per-node", "2", "--sync-bn", "--master-port", str(free_port())
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "dmtl-studio train: --sync-bn needs CUDA GPUs (PyTorch's SyncBatchNorm does not run on the CPU)"
    ]
    assert not (template / "runs").exists() or not any((template / "runs").iterdir())
