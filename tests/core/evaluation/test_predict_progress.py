"""Progress of a prediction counts finished files: it never reads 100 % before the model has run."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dmtl_studio.core.evaluation.predict import predict_files
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
