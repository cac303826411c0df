"""The deep-learning libraries imported once the window is up, in a background thread.

A training, evaluation or explanation thread imports PyTorch and timm on its first use. Their import runs C code
that holds the interpreter for tenths of a second at a time (the CUDA libraries' loading, module set-up): in an
event-loop probe on the demo project the longest pause in the 12 s after the first *Start training* was 301-319 ms
without this, 101-106 ms with it (docs/architecture.md). Imported while the window has just opened and waits for
the user, they cost their pauses once, at a moment with nothing to interrupt, and the first run starts about two
seconds sooner.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time

log = logging.getLogger(__name__)

#: What the workers import first: third-party packages only, which import nothing of this application (two
#: threads importing modules that import each other could wait on each other's import lock).
PRELOAD_MODULES = ("torch", "timm")
#: Milliseconds after the event loop starts before the import begins: the window is drawn first.
PRELOAD_DELAY_MS = 500


def preload_deep_learning(modules: tuple[str, ...] = PRELOAD_MODULES) -> threading.Thread:
    """Import ``modules`` in a new thread (started, returned). A module that fails to import is logged and left:
    the worker that needs it reports the failure as it always did.

    The thread is not a daemon: the interpreter waits for it at exit rather than stop it inside an import.
    Its objects are then frozen (:func:`gc.freeze`) as a training thread does, so that no full collection walks
    the hundreds of thousands of objects the libraries create.
    """

    def load() -> None:
        started = time.perf_counter()
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - the worker that needs it says why, in the window
                log.info("preloading %s failed (%s); its first use will report it", name, exc)
                return
        gc.freeze()
        log.info("preloaded %s in %.1f s", ", ".join(modules), time.perf_counter() - started)

    thread = threading.Thread(target=load, name="dmtl-preload", daemon=False)
    thread.start()
    return thread
