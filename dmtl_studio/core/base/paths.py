"""Where the application keeps its own files (never inside the user's image folders)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "DMTL Studio"
#: The file a trained run's folder (``PROJECT/runs/NAME``) holds beside its weights: the model's sidecar, written by
#: :mod:`dmtl_studio.core.models.run_folder`. Here, below every layer that asks whether a folder is a run's.
RUN_SIDECAR_NAME = "model.json"
#: The file that makes a folder a project: its SQLite database (:mod:`dmtl_studio.core.project.store`).
DATABASE_NAME = "project.dmtl.sqlite"


def app_data_dir() -> Path:
    """The per-user data folder; ``DMTL_STUDIO_HOME`` overrides it (tests, portable installs)."""
    override = os.environ.get("DMTL_STUDIO_HOME")
    if override:
        base = Path(override)
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP_DIR_NAME
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "dmtl-studio"
    base.mkdir(parents=True, exist_ok=True)
    return base


def absolute_path(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against the current folder, ``~`` expanded and ``..`` removed (links kept as typed).

    Every door (the command line's arguments, the window's open) passes user paths through here once, so what
    the product stores is absolute and a run found from one working folder is found from any other.
    """
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def demo_project_dir() -> Path:
    return app_data_dir() / "demo-project"


def demo_text_project_dir() -> Path:
    return app_data_dir() / "demo-text-project"


def force_offline() -> None:
    """Tell every model hub library to stay offline: the product never downloads at run time, and reports to no
    one (onnxruntime's telemetry is turned off by the package itself, before anything can load it)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
