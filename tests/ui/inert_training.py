"""A training thread that never runs, for window tests of what happens before a run's first event."""

from __future__ import annotations


class _Signal:
    def connect(self, slot: object) -> None:
        pass


class InertTrainingThread:
    """Stands in for :class:`~dmtl_studio.workers.TrainingThread`: records each configuration it is given
    (``configs``), and every signal the window connects to is a no-op."""

    configs: list = []

    def __init__(self, project_dir, config, parent, resume_from=None) -> None:  # noqa: ANN001
        InertTrainingThread.configs.append(config)

    def __getattr__(self, name: str) -> _Signal:
        return _Signal()

    def isRunning(self) -> bool:  # noqa: N802
        return False

    def start(self) -> None:
        pass
