"""Crash-consistent runs: an epoch's checkpoint is one unit, a kill anywhere resumes exactly, a full disk fails
cleanly, crashed runs are found and marked interrupted."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dmtl_studio.core.models.checkpoint import WEIGHTS_NAME, CheckpointError
from dmtl_studio.core.project import run_lock
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training import run_state
from dmtl_studio.core.training.callbacks import StoreRecorder
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.errors import TrainingError
from dmtl_studio.core.training.events import EpochResult
from dmtl_studio.core.training.run import train

#: Every write point of an epoch's save, in order.
WRITE_POINTS = (
    "write last.safetensors",
    "write last.json",
    "write best.safetensors",
    "write best.json",
    "write state.pt",
    "write manifest.json",
    "commit",
    "publish model.safetensors",
    "publish model.json",
    "prune",
)


def _config() -> TrainConfig:
    return TrainConfig(
        epochs=3, batch_size=8, learning_rate=3e-3, input_size=32, device="cpu", seed=5, feature_views=1
    )


def _history(project: Path, run_dir: str) -> list[tuple]:
    with ProjectStore.open(project) as store:
        run = next(r for r in store.runs() if r.run_dir == run_dir)
        return [tuple(m.__dict__.values()) for m in store.epoch_metrics(run.id)]


def _final_weights(run_dir: str) -> tuple[dict, dict]:
    unit = run_state.latest_checkpoint(Path(run_dir))
    assert unit is not None
    return (
        load_file(str(unit.folder / run_state.LAST_WEIGHTS)),
        load_file(str(Path(run_dir) / WEIGHTS_NAME)),
    )


class _Killed(BaseException):
    """The process dying at a write point (raised by the fault hook)."""


def _dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return int(finished.stdout)


def _train_killed_at(project: Path, point: str, epoch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Train until ``point`` of ``epoch``'s save, where the process dies.

    In-process for speed: the hook raises, and what a dead process cannot do is disabled (marking the run
    failed, removing its lock); its lock then names a process that has exited, as after a real kill.
    """
    seen = {"n": 0}

    def kill(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == epoch:
                raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(run_state, "fault_hook", kill)
        patch.setattr(ProjectStore, "finish_run", lambda *args: None)
        patch.setattr(StoreRecorder, "on_fit_end", lambda self, trainer, status: None)
        patch.setattr(run_lock, "remove_lock", lambda run_dir: None)
        with pytest.raises(_Killed):
            train(project, _config())
    with ProjectStore.open(project) as store:
        run_dir = Path(store.runs()[-1].run_dir)
    lock = json.loads((run_dir / run_lock.LOCK_NAME).read_text())
    (run_dir / run_lock.LOCK_NAME).write_text(json.dumps({**lock, "pid": _dead_pid()}))


def test_a_kill_at_every_write_point_resumes_exactly(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    straight = train(project, _config())
    expected_history = _history(project, straight.run_dir)
    expected_last, expected_best = _final_weights(straight.run_dir)
    for point in WRITE_POINTS:
        _train_killed_at(project, point, 2, monkeypatch)
        with ProjectStore.open(project) as store:  # the kill left the run "running": found on open
            killed = store.runs()[-1]
            assert killed.status == "interrupted" and killed.resumable, point
        resumed = train(project, _config(), resume_from=killed.run_dir)
        assert resumed.status == "completed" and resumed.epochs_completed == 3, point
        assert _history(project, killed.run_dir) == expected_history, point
        last, best = _final_weights(killed.run_dir)
        for name, tensor in expected_last.items():
            assert torch.equal(last[name], tensor), (point, name)
        for name, tensor in expected_best.items():
            assert torch.equal(best[name], tensor), (point, name)
        leftovers = list((Path(killed.run_dir) / run_lock.CHECKPOINTS_DIR).iterdir())
        assert [p.name for p in leftovers] == ["epoch-000003"], point


def test_a_damaged_unit_is_refused_with_a_message_not_continued(project: Path) -> None:
    epochs: list[object] = []

    def count(event: object) -> None:
        if isinstance(event, EpochResult):
            epochs.append(event)

    summary = train(project, _config(), on_event=count, should_stop=lambda: len(epochs) >= 1)
    unit = Path(summary.run_dir) / run_lock.CHECKPOINTS_DIR / "epoch-000001"
    state = unit / run_state.STATE_NAME
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    with pytest.raises(TrainingError, match="no saved epoch is intact.*does not match its manifest"):
        train(project, _config(), resume_from=summary.run_dir)


def test_a_full_disk_during_a_save_fails_cleanly_and_keeps_the_last_epoch(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save

    def save_to_memory_only(obj: object, target: object, *args: object, **kwargs: object) -> None:
        # torch's own file writer aborts the process when the disk fills; the engine must never hand it a path.
        assert not isinstance(target, (str, os.PathLike)), f"torch.save wrote {target} itself"
        real_save(obj, target, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_to_memory_only)
    calls = {"n": 0}

    def disk_full(name: str) -> None:
        if name == "write best.safetensors":
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_state, "fault_hook", disk_full)
    with pytest.raises(CheckpointError) as caught:
        train(project, _config())
    message = str(caught.value)
    assert "could not save epoch 2" in message and "the disk is full" in message
    assert "epoch 1 is kept" in message and str(Path(project) / "runs") in message
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
    assert run.status == "failed" and run.resumable
    folders = sorted(p.name for p in (Path(run.run_dir) / run_lock.CHECKPOINTS_DIR).iterdir())
    assert folders == ["epoch-000001"]  # the half-written epoch 2 was removed
    monkeypatch.setattr(run_state, "fault_hook", None)
    resumed = train(project, _config(), resume_from=run.run_dir)
    assert resumed.status == "completed" and resumed.epochs_completed == 3


KILL_AFTER_FIRST_EPOCH = """
import json, os, signal, sys
from dmtl_studio.core.training import run_state
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train

def die(name):
    if name == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

run_state.fault_hook = die
train(sys.argv[1], TrainConfig.from_dict(json.loads(sys.argv[3])))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_is_marked_interrupted_and_a_live_one_is_left_alone(project: Path) -> None:
    config = json.dumps(_config().to_dict())
    for point in ("prune", "commit"):  # SIGKILL after epoch 1 was saved, and before it was
        killed = subprocess.run(
            [sys.executable, "-c", KILL_AFTER_FIRST_EPOCH, str(project), point, config],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
            capture_output=True,
            text=True,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    with ProjectStore.open(project) as store:
        runs = store.runs()
        # The run with a saved epoch is interrupted and can be continued; the one without is gone, folder too.
        assert [(r.status, r.resumable) for r in runs] == [("interrupted", True)]
        assert [p.name for p in store.runs_dir.iterdir()] == [Path(runs[0].run_dir).name]
        # A run whose lock names a live process on this computer (this one) is left alone.
        store.set_run_status(runs[0].id, "running")
        run_lock.write_lock(Path(runs[0].run_dir))
        assert store.mark_interrupted_runs() == []
        assert store.runs()[-1].status == "running"
    resumed = train(project, _config(), resume_from=runs[0].run_dir)
    assert resumed.status == "completed" and resumed.epochs_completed == 3


def test_an_older_version_s_running_row_without_a_lock_is_interrupted(tmp_path: Path) -> None:
    project = tmp_path / "p"
    with ProjectStore.create(project) as store:
        run_dir = store.runs_dir / "old"
        run_dir.mkdir()
        (run_dir / run_lock.LEGACY_STATE).write_bytes(b"state")
        store.create_run("old", run_dir, {})
    with ProjectStore.open(project) as store:
        run = store.runs()[-1]
    assert run.status == "interrupted" and run.resumable


def test_a_killed_process_not_yet_reaped_is_not_alive() -> None:
    """A window killed while its launcher had not reaped it (a zombie) kept its run "running" in `info` (h30)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
            assert time.monotonic() < deadline  # exited, not reaped: a zombie
            time.sleep(0.05)
        assert not run_lock._process_alive(child.pid)
        assert run_lock._process_alive(os.getpid())
    finally:
        child.wait()
