"""Model-assisted labelling: the "uncertain first" order, and accepted suggestions as undoable human labels."""

from __future__ import annotations

import numpy as np
import pytest

from dmtl_studio.core.evaluation.inference import suggest_labels
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.suggestions import (
    accept_suggestions,
    build_suggestions,
    uncertain_first,
    uncertainty,
)
from tests.core.trained_run import copy_project

PROBS = np.array(
    [
        [0.98, 0.01, 0.01],  # sure
        [0.34, 0.33, 0.33],  # as unsure as it gets
        [0.50, 0.49, 0.01],  # two classes tied: low margin, medium entropy
        [0.60, 0.20, 0.20],  # spread over three: higher entropy than row 2, but a clear margin
    ]
)


def test_entropy_order() -> None:
    scores = uncertainty(PROBS, "entropy")
    assert scores[1] == pytest.approx(1.0, abs=1e-3) and scores[0] < 0.15
    assert uncertain_first(PROBS, "entropy").tolist() == [1, 3, 2, 0]


def test_margin_order_differs_where_two_classes_tie() -> None:
    scores = uncertainty(PROBS, "margin")
    assert scores[2] == pytest.approx(0.99)
    assert uncertain_first(PROBS, "margin").tolist() == [1, 2, 3, 0]


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        uncertainty(PROBS, "variance")


def test_suggestion_set_is_in_queue_order() -> None:
    found = build_suggestions("run", "run", ("a", "b", "c"), [10, 11, 12, 13], PROBS, "margin")
    assert found.queue() == [11, 12, 13, 10]
    assert found.by_id()[10].label == "a" and found.by_id()[10].confidence == pytest.approx(0.98)


def test_suggestions_for_unlabelled_images_and_accepting_them(tmp_path_factory) -> None:  # noqa: ANN001
    project, run_dir = copy_project(tmp_path_factory)
    found = suggest_labels(project, run_dir)
    with ProjectStore.open(project) as store:
        unlabelled = {im.id for im in store.images(usable_only=True) if im.label is None}
        assert set(found.queue()) == unlabelled and len(unlabelled) == 6
        scores = [s.uncertainty for s in found.suggestions]
        assert scores == sorted(scores, reverse=True)

        editor = LabelEditor(store)
        first, second = found.suggestions[:2]
        store.set_label([second.image_id], "circle")  # a person labelled this one meanwhile
        actions = accept_suggestions(editor, [first, second])
        labels = store.labels_of([first.image_id, second.image_id])
        assert labels[first.image_id] == first.label  # stored as a label like any other
        assert labels[second.image_id] == "circle"  # a suggestion never overwrites a person's label
        # A model-proposed label trains later models; it never scores them.
        assert store.images_by_id([first.image_id])[0].split == "train"
        assert len(actions) == 1 and editor.can_undo()
        editor.undo()
        assert store.labels_of([first.image_id])[first.image_id] is None
