"""The deep-learning libraries are imported in a background thread once the window is up (workers/preload.py)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from dmtl_studio.workers.preload import preload_deep_learning


def test_the_preload_imports_torch_and_timm_off_the_calling_thread_and_freezes_them() -> None:
    script = (
        "import gc, sys, threading\n"
        "from dmtl_studio.workers.preload import preload_deep_learning\n"
        "assert 'torch' not in sys.modules and 'timm' not in sys.modules\n"
        "thread = preload_deep_learning()\n"
        "assert thread is not threading.current_thread() and not thread.daemon\n"
        "thread.join()\n"
        "print('torch' in sys.modules, 'timm' in sys.modules, gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]


def test_a_module_that_fails_to_import_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dmtl_studio.workers.preload"):
        preload_deep_learning(("dmtl_no_such_module",)).join()
    assert "preloading dmtl_no_such_module failed" in caplog.text
