"""Ctrl-C during a cross-validation or a distributed run: what was kept is said, the runs are stored as
interrupted (never failed), the JSON is printed with --json and the exit status is 130."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.launch import free_port
from tests.e2e.cli import SOURCE_ROOT, ctrl_c_not_ignored, run_cli

#: A quick run on the frozen backbone's features (the same as the plain ``train`` interrupt test).
QUICK = ("--no-linear-probe", "--feature-views", "1", "--input-size", "64", "--device", "cpu")

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or os.name == "nt", reason="sends SIGINT to a process group"
)


def _ctrl_c(args: list[str], *after: str) -> tuple[int, str, str]:
    """Run ``dmtl-studio ARGS``; once lines matching each of ``after`` were printed in turn, send SIGINT to its
    whole process group, as a terminal's Ctrl-C does; returns ``(exit status, stdout, stderr)``."""
    environment = {**os.environ, "PYTHONPATH": SOURCE_ROOT, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "dmtl_studio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
        preexec_fn=ctrl_c_not_ignored,
    )
    waiting = list(after)
    seen: list[str] = []
    try:
        assert child.stderr is not None
        for line in child.stderr:
            seen.append(line)
            if re.match(waiting[0], line):
                waiting.pop(0)
                if not waiting:
                    break
        else:
            pytest.fail("the command ended before the moment to interrupt it:\n" + "".join(seen))
        os.killpg(child.pid, signal.SIGINT)
        out, rest = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return child.returncode, out, "".join(seen) + rest


def test_ctrl_c_during_cross_validation_says_which_folds_finished_and_to_run_it_again(project: Path) -> None:
    # Enough epochs that the second fold is still training when the signal lands, however loaded the machine.
    args = ["train", str(project), *QUICK, "--epochs", "40", "--folds", "2", "--json"]
    code, out, err = _ctrl_c(
        args, r"^fold 1/2:", r"^epoch 1/40:"
    )  # in the second fold, after its first epoch
    assert code == 130, err
    assert "Traceback" not in err and "unexpected error" not in err, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["resumable"] is False
    assert summary["interrupted_fold"] == 2 and [f["fold"] for f in summary["completed"]] == [1]
    with ProjectStore.open(project, read_only=True) as store:
        runs = {Path(run.run_dir): run.status for run in store.runs()}
    finished, interrupted = (
        Path(summary["completed"][0]["run_dir"]),
        Path(summary["interrupted_fold_run_dir"]),
    )
    assert runs == {finished: "completed", interrupted: "interrupted"}
    line = next(line for line in err.splitlines() if line.startswith("dmtl-studio train: cross-validation"))
    assert "interrupted during fold 2/2" in line and "1 of 2 fold(s) finished" in line
    assert str(finished) in line and str(interrupted) in line
    assert "cannot be continued" in line
    again = shlex.split(line.split("run it again from the start: ", 1)[1])
    assert again == ["dmtl-studio", *args]


def test_ctrl_c_during_a_distributed_run_keeps_it_and_names_the_command_that_continues_it(
    project: Path,
) -> None:
    port = str(free_port())
    args = ["train", str(project), *QUICK, "--epochs", "5000", "--nproc-per-node", "2", "--master-port", port]
    code, out, err = _ctrl_c([*args, "--json"], r"^epoch 1/5000:")
    assert code == 130, err
    assert "Traceback" not in err and "unexpected error" not in err and "SignalException" not in err, err
    assert "\ninterrupted\n" not in err  # no bare word from the other ranks
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["epochs_completed"] >= 1
    run_dir = summary["run_dir"]
    with ProjectStore.open(project, read_only=True) as store:
        (run,) = store.runs()
    assert run.status == "interrupted" and Path(run.run_dir) == Path(run_dir)
    (hint,) = [line for line in err.splitlines() if line.startswith("dmtl-studio train: interrupted")]
    assert run_dir in hint
    continue_with = shlex.split(hint.split("continue it with: ", 1)[1])
    assert continue_with[:3] == ["dmtl-studio", "train", str(project)]
    assert continue_with[continue_with.index("--resume") + 1] == run_dir
    assert continue_with[continue_with.index("--nproc-per-node") + 1] == "2"
    assert continue_with[continue_with.index("--master-port") + 1] == port

    # The command it names continues the run with 2 processes.
    resumed = run_cli(*continue_with[1:], "--epochs", str(summary["epochs_completed"] + 1), "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    finished = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert finished["status"] == "completed" and finished["run_dir"] == run_dir
