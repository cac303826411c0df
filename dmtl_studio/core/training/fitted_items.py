"""Which items a run's final model was fitted on, kept with the run so that whatever is later chosen on "held-out"
items (the "not sure" threshold of ``predict --target-accuracy``) can leave the fitted ones out.

The validation items do not always stay held out: a linear probe takes them into its fit when a test split keeps
the evaluation honest, and so does an epoch run whose validation split is too small to pick an epoch on
(:mod:`dmtl_studio.core.training.held_out`); splits can also be reassigned after training. The run folder keeps
the content hash of every item it fitted (``fitted-items.txt``, one hash a line), so the check also holds after
splits are reassigned, and an item with the same content as a fitted one counts as fitted. For the validation items
a linear probe fitted, the run also keeps their out-of-fold logits (:mod:`~dmtl_studio.core.training.out_of_fold`),
on which the threshold is chosen instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.models.run_folder import FITTED_NAME, read_fitted_hashes
from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.held_out import plan_held_out
from dmtl_studio.core.training.labelled import LabelledSplit


def write_fitted_items(store: ProjectStore, run_dir: Path, train: Sequence[tuple[str, int]]) -> None:
    """Write the content hashes of the items ``train`` (``(path, class index)``) into ``run_dir``.

    Raises
    ------
    OSError
        When the file cannot be written.
    """
    wanted = {path for path, _ in train}
    hashes = sorted({im.sha256 for im in store.images() if im.path in wanted and im.sha256})
    atomic_write_bytes(Path(run_dir) / FITTED_NAME, "".join(f"{h}\n" for h in hashes).encode("ascii"))


def fitted_hashes(
    run_dir: str | os.PathLike[str], store: ProjectStore, config: dict, records: Sequence[ImageRecord]
) -> frozenset[str]:
    """The content hashes a run was fitted on, of those among ``records`` (the project's validation items).

    A run trained before runs kept the list: its validation items count as fitted when the run's settings would
    take them into the fit on the project as it is now (:func:`~dmtl_studio.core.training.held_out.plan_held_out`).
    """
    kept = read_fitted_hashes(run_dir)
    if kept is not None:
        return kept
    classes = tuple(sorted({im.label for im in records if im.label}))
    split = LabelledSplit(classes, (), tuple((im.path, 0) for im in records))
    has_test = store.split_counts().get("test", 0) > 0
    plan = plan_held_out(split, TrainConfig.from_dict(config), has_test, kind=store.kind)
    return frozenset(im.sha256 for im in records if im.sha256) if not plan.split.val else frozenset()
