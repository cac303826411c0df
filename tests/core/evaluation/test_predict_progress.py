"""Progress of a prediction (pictures, texts) counts finished items: it never reads 100 % before the model has run,
and reaches it once."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dmtl_studio.core.evaluation.predict import predict_files
from dmtl_studio.core.evaluation.text_predict import predict_texts
from dmtl_studio.core.models.architectures import Preprocessing


def test_progress_counts_predicted_files_not_files_read(tmp_path: Path) -> None:
    paths = []
    for i in range(5):
        path = tmp_path / f"im{i}.png"
        cv2.imwrite(str(path), np.full((16, 16, 3), 40 * i, np.uint8))
        paths.append(str(path))
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    paths.insert(2, str(tmp_path / "broken.png"))
    reported: list[tuple[int, int]] = []
    seen_by_model: list[int] = []

    def probabilities(batch: np.ndarray) -> np.ndarray:
        # What the bar showed when the model started on this batch.
        seen_by_model.append(reported[-1][0] if reported else 0)
        return np.tile([0.25, 0.75], (len(batch), 1))

    preprocessing = Preprocessing(16, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear", 1.0)
    summary = predict_files(
        paths,
        ["a", "b"],
        preprocessing,
        probabilities,
        batch_size=4,
        progress=lambda d, t: reported.append((d, t)),
    )
    assert len(summary.predictions) == 5 and len(summary.problems) == 1
    assert reported[-1] == (6, 6)
    assert all(done < total for done, total in reported[:-1])  # 100 % only once everything is done
    assert all(shown < len(paths) for shown in seen_by_model)
    assert [d for d, _ in reported] == sorted(d for d, _ in reported)


@pytest.mark.parametrize("problems", [(), (("bad.txt", "empty text"),)])
def test_predict_texts_reports_each_batch_and_reaches_the_total_once(problems: tuple) -> None:
    texts = [(f"t{k}.txt", "word " * (k + 1)) for k in range(5)]
    calls: list[tuple[int, int]] = []

    def record(done: int, total: int) -> None:
        calls.append((done, total))

    def by_length(batch: list[str]) -> np.ndarray:  # two classes: short and long texts
        long = np.asarray([len(t.split()) > 2 for t in batch], dtype=float)
        return np.stack([1.0 - long, long], axis=1)

    summary = predict_texts(texts, ["short", "long"], by_length, problems, batch_size=2, progress=record)
    total = 5 + len(problems)
    assert [p.label for p in summary.predictions] == ["short", "short", "long", "long", "long"]
    assert calls[:3] == [(2, total), (4, total), (5, total)]
    assert calls.count((total, total)) == 1 and calls[-1] == (total, total)
