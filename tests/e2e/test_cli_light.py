"""Commands that neither train nor predict never load PyTorch (nor its model libraries)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dmtl_studio.core.project.demo import write_shapes_folder

HEAVY = ("torch", "torchvision", "timm")

#: Runs the real command line in this process, then prints which heavy packages it loaded.
_WRAPPER = """
import json, sys
from dmtl_studio.__main__ import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:  # --help and --version exit through argparse
    status = exc.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.stdin.read())))
print("LOADED " + json.dumps(heavy), file=sys.stderr)
sys.exit(status)
"""


def _loaded(*args: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    return json.loads(line.removeprefix("LOADED "))


@pytest.fixture(scope="module")
def light_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("light")
    images = write_shapes_folder(root / "images", 4, unlabelled=1, seed=0, size=32)
    return root, images


def test_import_loads_no_torch(light_project: tuple[Path, Path]) -> None:
    root, images = light_project
    assert _loaded("import", str(root / "imported"), str(images)) == []


@pytest.mark.parametrize(
    "command",
    [
        ("splits", "{project}", "--seed", "3"),
        (
            "labels",
            "export-csv",
            "{project}",
            "{root}/labels-again.csv",
        ),  # a new file: an existing one is kept
        ("labels", "import-csv", "{project}", "{root}/labels.csv"),
        ("labels", "export-folders", "{project}", "{root}/exported"),
        ("backup", "{project}", "{root}/copy.sqlite"),
        ("weights", "list"),
        ("--version",),
        ("--help",),
        ("import", "--help"),
    ],
    ids=lambda command: " ".join(part for part in command if "{" not in part),
)
def test_commands_that_do_not_train_load_no_torch(
    light_project: tuple[Path, Path], command: tuple[str, ...]
) -> None:
    root, images = light_project
    project = root / "project"
    if not project.exists():
        subprocess.run(
            [sys.executable, "-m", "dmtl_studio", "import", str(project), str(images)],
            check=True,
            timeout=300,
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dmtl_studio",
                "labels",
                "export-csv",
                str(project),
                str(root / "labels.csv"),
            ],
            check=True,
            timeout=300,
        )
    args = [part.format(project=project, root=root) for part in command]
    assert _loaded(*args) == []


def test_the_window_with_a_project_loads_no_torch(light_project: tuple[Path, Path]) -> None:
    root, images = light_project
    project = root / "window-project"
    subprocess.run(
        [sys.executable, "-m", "dmtl_studio", "import", str(project), str(images)], check=True, timeout=300
    )
    shown = {"DMTL_STUDIO_EXIT_WHEN_SHOWN": "1", "QT_QPA_PLATFORM": "offscreen"}
    assert _loaded(str(project), env=shown) == []


def test_importing_a_text_encoder_folder_loads_no_torch(light_project: tuple[Path, Path]) -> None:
    from tests.core.encoder_folders import write_small_encoder

    root, _images = light_project
    folder = write_small_encoder(root / "small-encoder")
    assert _loaded("weights", "import-encoder", str(folder), "--name", "light") == []
