"""The product reports to no one: onnxruntime's built-in telemetry (a device id and an event queue under
~/.cache/Microsoft, and look-ups of Microsoft's collector) stays off in every process that imports the product."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def _clean_env(home: Path) -> dict[str, str]:
    """The environment of a fresh user whose home (and cache, which onnxruntime reads from XDG_CACHE_HOME) is *home*."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY" and not k.startswith("XDG_")}
    env["HOME"] = str(home)
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    return env


def _files_left(home: Path, first: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(first=first)],
        env=_clean_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


def test_importing_the_product_switches_onnxruntime_telemetry_off_before_it_loads(tmp_path: Path) -> None:
    script = (
        "import sys, os\n"
        "import dmtl_studio\n"
        "assert 'onnxruntime' not in sys.modules\n"
        "print(os.environ.get('ORT_DISABLE_TELEMETRY'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=_clean_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_onnxruntime_leaves_no_telemetry_behind_once_the_product_is_imported(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "product").mkdir()
    # onnxruntime alone: its telemetry writes under the home folder's cache
    plain = _files_left(tmp_path / "plain", "")
    if not any(".onnxruntime" in name for name in plain):
        pytest.skip(f"onnxruntime alone wrote no telemetry here ({plain}): nothing to compare against")
    assert _files_left(tmp_path / "product", "import dmtl_studio") == []
