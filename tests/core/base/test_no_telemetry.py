"""The product reports to no one: onnxruntime's built-in telemetry (a device id and an event queue under
~/.cache/Microsoft, and look-ups of Microsoft's collector) stays off in every process that imports the product."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
{first}
import numpy as np
import onnxruntime
from onnx import TensorProto, helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
assert session.run(None, {{"x": np.ones(1, np.float32)}})[0][0] == 1.0
"""


def _files_left(home: Path, first: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(first=first)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


def test_onnxruntime_leaves_no_telemetry_behind_once_the_product_is_imported(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "product").mkdir()
    # onnxruntime alone: its telemetry writes under the home folder (the check can fail)
    plain = _files_left(tmp_path / "plain", "")
    assert any(".onnxruntime" in name for name in plain), f"this onnxruntime keeps no telemetry: {plain}"
    assert _files_left(tmp_path / "product", "import dmtl_studio") == []
