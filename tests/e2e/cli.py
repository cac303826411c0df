"""Running the command line in a child process, as a user would, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

#: This source tree: put first on the child's path, so the tests run this code from any working folder.
SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m dmtl_studio ARGS``; its exit status, stdout and stderr (text). Never raises on failure."""
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = os.pathsep.join([SOURCE_ROOT, environment.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return subprocess.run(
        [sys.executable, "-m", "dmtl_studio", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=environment,
        preexec_fn=preexec_fn,  # noqa: PLW1509 - only a plain setrlimit is ever passed
    )


def ctrl_c_not_ignored() -> None:
    """A ``preexec_fn``: SIGINT back to its default in the child, as in a terminal. A suite started as a shell's
    background job inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
