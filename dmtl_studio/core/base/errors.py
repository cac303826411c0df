"""One way to turn any failure into the one plain sentence a person sees (CLI, window), and where the rest goes.

The product's own errors already speak plainly; disk errors are put in plain words with the file they concern;
anything else is unexpected: its traceback goes to a log file in the application's folder and the person gets
one line naming that file. Nothing here imports PyTorch or Qt.
"""

from __future__ import annotations

import csv
import datetime
import os
import sqlite3
import sys
import traceback
from pathlib import Path

from dmtl_studio.core.base.fileio import FileWriteError, describe_os_error, is_disk_full

#: The product's errors whose message is already meant for a person, as ``(module, class)``. They are looked up
#: among the loaded modules only: a module that was never imported cannot have raised its error, and naming them
#: this way loads nothing (a command that does not train never imports PyTorch for its error handling).
USER_ERRORS = (
    ("dmtl_studio.core.project.store", "ProjectError"),
    ("dmtl_studio.core.training.errors", "TrainingError"),
    ("dmtl_studio.core.models.checkpoint", "CheckpointError"),
    ("dmtl_studio.core.models.run_folder", "CheckpointError"),  # the same class, loaded without PyTorch
    ("dmtl_studio.core.base.fileio", "OutputExistsError"),
    ("dmtl_studio.core.training.settings", "ConfigError"),
    ("dmtl_studio.core.models.architectures", "WeightsError"),
    ("dmtl_studio.core.evaluation.export", "ExportError"),
    ("dmtl_studio.core.evaluation.predict", "NoImagesError"),
    ("dmtl_studio.core.augment.registry", "RecipeError"),
    ("dmtl_studio.core.models.weight_store", "WeightStoreError"),
    ("dmtl_studio.core.project.imaging", "ImageProblem"),
    ("dmtl_studio.core.evaluation.gradcam", "GradCamUnavailable"),
    ("dmtl_studio.core.models.selftest", "SelfTestFailure"),
    ("dmtl_studio.core.base.csvfile", "CsvLimitError"),
    ("dmtl_studio.core.quality.label_errors", "QualityError"),
    ("dmtl_studio.core.quality.audit", "AuditError"),
    ("dmtl_studio.core.models.text_catalog", "TextEncoderError"),
    ("dmtl_studio.core.quality.reject", "RejectError"),
    ("dmtl_studio.core.evaluation.text_attribution", "NothingToExplain"),
    ("dmtl_studio.core.evaluation.explain_files", "ExplainError"),
    ("dmtl_studio.core.base.paths", "AppDataError"),
)
_UNKNOWN_BACKBONE = ("dmtl_studio.core.models.catalog", "UnknownBackbone")


def _loaded(names: tuple[tuple[str, str], ...]) -> tuple[type[BaseException], ...]:
    return tuple(getattr(sys.modules[module], name) for module, name in names if module in sys.modules)


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the product's plain errors or a disk error (as opposed to a bug)."""
    known = (OSError, csv.Error, *_loaded((*USER_ERRORS, _UNKNOWN_BACKBONE)))
    return isinstance(exc, known) or _sqlite_disk_error(exc)


def _sqlite_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (is_disk_full(exc) or "readonly" in str(exc))


def plain_message(exc: BaseException) -> str:
    """One line for a person: the error's own message, a disk error in plain words, or "unexpected error"."""
    if isinstance(exc, _loaded((_UNKNOWN_BACKBONE,))):
        return f"unknown backbone {exc}"
    if isinstance(exc, (*_loaded(USER_ERRORS), FileWriteError)):
        return _one_line(str(exc))
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        target = f" ({exc.filename2})" if exc.filename2 is not None else ""
        return _one_line(f"{where}{target}: {describe_os_error(exc)}" if where else describe_os_error(exc))
    if isinstance(exc, csv.Error):
        return _one_line(f"a CSV file is malformed ({exc})")
    if _sqlite_disk_error(exc):
        reason = "the disk is full" if is_disk_full(exc) else "the project is read-only"
        return f"the project database could not be written: {reason}; what was saved before is kept"
    detail = _one_line(str(exc))
    return f"unexpected error ({type(exc).__name__}{': ' + detail if detail else ''})"


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = " ".join(lines[:3]) if lines else ""
    # A long message (a damaged file quoted whole, say) is cut in its middle: its end usually says what was kept
    # or what to do. The product's own refusals with their advice stay whole (the longest are near 700).
    return line if len(line) <= 1000 else line[:600] + " … " + line[-397:]


def write_error_log(exc: BaseException, what: str) -> Path | None:
    """Write ``exc``'s traceback to a new file under the application's ``logs`` folder; its path, or ``None``
    where even that cannot be written (a full disk)."""
    from dmtl_studio.core.base.paths import app_data_dir

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        folder = app_data_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"error-{stamp}-{os.getpid()}.log"
        text = f"{what}\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        path.write_text(text, encoding="utf-8", errors="replace")
    except OSError:
        return None
    return path


def failure_line(exc: BaseException, what: str) -> str:
    """The one line to show for a failure of ``what``; an unexpected one also gets its log file named."""
    message = plain_message(exc)
    if is_user_error(exc):
        return message
    log = write_error_log(exc, what)
    return f"{message}; details in {log}" if log is not None else message
