"""A project busy in another process: the command says at once who holds it, waits briefly, and then either
goes on or ends with one plain line (never SQLite's bare "database is locked" traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.cli import run_cli

HOLDER = """
import sys, time
from dmtl_studio.core.project.store import ProjectStore
store = ProjectStore.open(sys.argv[1])
with store.transaction():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
store.close()
"""


def _hold(project: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def _cli(wait: float, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**os.environ, "DMTL_STUDIO_BUSY_SECONDS": str(wait)}, timeout=120)


def test_a_busy_project_names_its_holder_and_fails_plainly(project: Path, shapes_dir: Path) -> None:
    holder = _hold(project, 60)
    try:
        started = time.monotonic()
        result = _cli(2, "import", str(project), str(shapes_dir))
        seconds = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "database is locked" not in result.stderr
    assert f"pid {holder.pid}" in result.stderr and "busy" in result.stderr, result.stderr
    assert seconds < 30


def test_a_command_waits_for_a_short_hold_and_goes_on(project: Path, shapes_dir: Path) -> None:
    holder = _hold(project, 3)
    try:
        result = _cli(30, "splits", str(project), "--seed", "3")
    finally:
        holder.wait(30)
    assert result.returncode == 0, result.stderr
    assert f"note: {project} is busy: pid {holder.pid}" in result.stderr
