"""The runs table of a project store: one row per training run, its status and its per-epoch metrics."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from dmtl_studio.core.project.run_lock import has_checkpoint, run_is_orphaned


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    created_at: float
    status: str
    run_dir: str
    config: dict
    final_metrics: dict
    #: Whether the run folder holds a saved epoch to continue from (Continue is offered for such runs).
    resumable: bool = False

    def best_accuracy(self) -> tuple[float | None, bool]:
        """:func:`best_accuracy` of the run's final metrics."""
        return best_accuracy(self.final_metrics)


def best_accuracy(metrics: dict | None) -> tuple[float | None, bool]:
    """The accuracy to compare runs by, from a run's final ``metrics``, and whether it is out-of-fold: the best
    epoch's validation accuracy, else (a linear probe, whose validation items joined its fit) those items' accuracy
    by the fold models that left them out; ``(None, False)`` when the run has neither."""
    best = (metrics or {}).get("best") or {}
    if isinstance(best.get("val_accuracy"), (int, float)):
        return float(best["val_accuracy"]), False
    if isinstance(best.get("out_of_fold_accuracy"), (int, float)):
        return float(best["out_of_fold_accuracy"]), True
    return None, False


def fitted_as_linear_probe(config: dict) -> bool:
    """Whether a stored run configuration fitted its head as a linear probe (a frozen backbone, a linear head,
    ``linear_probe``; :attr:`~dmtl_studio.core.training.config.TrainConfig.fits_linear_probe` of a live one)."""
    return (
        bool(config.get("linear_probe"))
        and config.get("transfer") == "frozen"
        and config.get("head", "linear") == "linear"
    )


#: Name prefix of a cross-validation fold's run (``cv-2of5-<stamp>``): it trained on its fold's split.
CROSSVAL_PREFIX = "cv-"
#: Statuses of a run that has ended without completing; one with a saved epoch can be continued.
CONTINUABLE = ("stopped", "failed", "interrupted")


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float


class RunsTable:
    """The run methods of :class:`~dmtl_studio.core.project.store.ProjectStore`, which provides the connection,
    the transactions and the runs folder."""

    _conn: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    runs_dir: Path

    def create_run(self, name: str, run_dir: Path, config: dict, created_at: float | None = None) -> int:
        """Record a new running run; ``created_at`` (seconds since the epoch; default now) is when it read the
        project's classes: a rename logged after it is one the run's model does not know (``class_names_now``)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs(name, created_at, status, run_dir, config_json) VALUES (?, ?, 'running', ?, ?)",
                (
                    name,
                    time.time() if created_at is None else created_at,
                    str(run_dir),
                    json.dumps(config, sort_keys=True),
                ),
            )
            return int(cursor.lastrowid)

    def record_epoch(self, run_id: int, metrics: EpochMetrics) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO epoch_metrics VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    metrics.epoch,
                    metrics.train_loss,
                    metrics.train_accuracy,
                    metrics.val_loss,
                    metrics.val_accuracy,
                    metrics.learning_rate,
                ),
            )

    def finish_run(self, run_id: int, status: str, final_metrics: dict) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, final_metrics_json = ? WHERE id = ?",
                (status, json.dumps(final_metrics, sort_keys=True), run_id),
            )

    def add_run_metrics(self, run_id: int, extra: dict) -> None:
        """Merge ``extra`` into run ``run_id``'s stored final metrics (the Auto strategy's choice, kept with the run
        it kept, so a reopened project still knows which of its two runs lost)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT final_metrics_json FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is not None:
                metrics = {**(json.loads(row[0]) if row[0] else {}), **extra}
                conn.execute(
                    "UPDATE runs SET final_metrics_json = ? WHERE id = ?",
                    (json.dumps(metrics, sort_keys=True), run_id),
                )

    def set_run_status(self, run_id: int, status: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))

    def delete_run(self, run_id: int) -> None:
        """Remove a run's row and its epochs (its folder is the caller's)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM epoch_metrics WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def forget_epochs_after(self, run_id: int, epoch: int) -> None:
        """Drop a run's epoch rows after ``epoch`` (recorded before a kill, never saved; trained again)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM epoch_metrics WHERE run_id = ? AND epoch > ?", (run_id, epoch))

    def mark_interrupted_runs(self) -> list[str]:
        """Runs still "running" whose process is gone (a crash, a kill, a power cut) become "interrupted".

        A live process that holds a run's lock is left alone, as is a lock held on another computer. An
        interrupted run that never saved an epoch's checkpoint is removed with its folder, as a stopped one is.
        Returns the names of the runs marked or removed. A read-only project is left as it is.
        """
        changed = []
        try:
            rows = self._conn.execute(
                "SELECT id, name, run_dir FROM runs WHERE status = 'running'"
            ).fetchall()
            for run_id, name, stored in rows:
                run_dir = self.run_folder(stored)
                if not run_is_orphaned(run_dir):
                    continue
                if has_checkpoint(run_dir):
                    self.set_run_status(run_id, "interrupted")
                else:
                    self.delete_run(run_id)
                    _remove_run_folder(self.runs_dir, run_dir)
                changed.append(name)
        except sqlite3.OperationalError:  # read-only media or a busy database: listing still works
            return changed
        return changed

    def run_folder(self, stored: str | os.PathLike[str]) -> Path:
        """Where a run recorded as ``stored`` is now: its folder's name inside this project's runs folder.

        Every run is made directly in the runs folder, and the database keeps the path it had then; a project
        copied or moved (its runs with it) must find, continue and write to its own runs, never the original's.
        """
        return self.runs_dir / Path(stored).name

    def run_states(self) -> list[tuple[int, str]]:
        """``(id, status)`` of every run, in id order: what a list of runs shows changes when this does."""
        return [tuple(row) for row in self._conn.execute("SELECT id, status FROM runs ORDER BY id")]

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first, each ``run_dir`` in this project's runs folder (:meth:`run_folder`)."""
        rows = self._conn.execute(
            "SELECT id, name, created_at, status, run_dir, config_json, final_metrics_json FROM runs ORDER BY id"
        )
        records = []
        for r in rows:
            run_dir = self.run_folder(r[4])
            records.append(
                RunRecord(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    str(run_dir),
                    json.loads(r[5]),
                    json.loads(r[6]),
                    resumable=r[3] in CONTINUABLE and has_checkpoint(run_dir),
                )
            )
        return records

    def run_at(self, run_dir: str | os.PathLike[str]) -> RunRecord | None:
        """The newest run of this project in ``run_dir`` (any spelling of the folder), or ``None``."""
        wanted = Path(run_dir).expanduser().resolve()
        for run in reversed(self.runs()):
            if Path(run.run_dir).resolve() == wanted:
                return run
        return None

    def epoch_metrics(self, run_id: int) -> list[EpochMetrics]:
        rows = self._conn.execute(
            "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate"
            " FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
            (run_id,),
        )
        return [EpochMetrics(*row) for row in rows]


def _remove_run_folder(runs_dir: Path, run_dir: Path) -> None:
    """Delete an empty run's folder, only when it lies inside the project's runs folder."""
    try:
        inside = run_dir.resolve().parent == runs_dir.resolve()
    except OSError:
        return
    if inside and run_dir.is_dir():
        shutil.rmtree(run_dir, ignore_errors=True)
