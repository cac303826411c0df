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


class AppDataError(OSError):
    """The application's data folder cannot be made or written; the message names it and the way out."""


_DATA_DIR_ADVICE = (
    "it holds the settings, the demo projects, imported weights and logs; set DMTL_STUDIO_HOME to a writable "
    "folder (or start with a writable home folder)"
)


def _data_dir_path() -> Path:
    override = os.environ.get("DMTL_STUDIO_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP_DIR_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    xdg = os.environ.get("XDG_DATA_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share") / "dmtl-studio"


def app_data_dir() -> Path:
    """The per-user data folder (settings, the demo projects, imported weights and encoders, caches, logs):
    ``DMTL_STUDIO_HOME`` when set (tests, portable or lab-wide installs), else the platform's place
    (``$XDG_DATA_HOME/dmtl-studio`` on Linux, ``~/.local/share/dmtl-studio`` when ``XDG_DATA_HOME`` is unset, empty
    or relative, as the XDG specification says and as the installer's scripts read it).

    Raises
    ------
    AppDataError
        The folder cannot be made (a read-only home, a home that does not exist, a file of that name).
    """
    try:
        base = _data_dir_path()
    except RuntimeError as exc:  # Path.home() with no home folder at all
        raise AppDataError(f"{exc}: {_DATA_DIR_ADVICE}") from exc
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from dmtl_studio.core.base.fileio import describe_os_error

        raise AppDataError(
            f"the application's data folder {base} cannot be made ({describe_os_error(exc)}): {_DATA_DIR_ADVICE}"
        ) from exc
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
