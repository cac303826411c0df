"""A folder that is not a run: the sidecar reader says so, and points at an exported model inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmtl_studio.core.models.run_folder import CheckpointError, read_sidecar


def test_a_folder_without_a_model_is_refused_and_an_export_in_it_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as refused:
        read_sidecar(tmp_path)
    assert str(refused.value) == f"{tmp_path} holds no trained model (model.json is missing)"
    (tmp_path / "model.onnx").write_bytes(b"")  # an export folder: the model file beside its sidecar
    (tmp_path / "model.onnx.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CheckpointError) as refused:
        read_sidecar(tmp_path)
    assert str(refused.value).endswith(
        f"; to use the exported model in it, give the file: {tmp_path / 'model.onnx'}"
    )
