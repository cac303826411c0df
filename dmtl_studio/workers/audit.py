"""Thread for the audit bundle: a thin adapter over :func:`dmtl_studio.core.quality.audit.write_audit_bundle`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from dmtl_studio.workers.registry import CoreThread


class AuditThread(CoreThread):
    """Writes a run's audit bundle; emits the zip's path as a string.

    ``overwrite`` is for a target the user already agreed to replace (the save dialog asks).
    """

    what = "the audit bundle"

    def __init__(
        self,
        project_dir: Path,
        run_dir: str,
        out: str,
        overwrite: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project_dir, self.run_dir, self.out, self.overwrite = Path(project_dir), run_dir, out, overwrite

    def work(self) -> object:
        from dmtl_studio.core.quality.audit import write_audit_bundle

        path = write_audit_bundle(
            self.run_dir,
            self.out,
            project_dir=self.project_dir,
            overwrite=self.overwrite,
            should_stop=self.isInterruptionRequested,
            progress=self._on_progress,
        )
        return str(path)
