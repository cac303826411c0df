"""The Linux installer's scripts on a stand-in bundle (the frozen one is tried by ``packaging/smoke_test.sh``): the
menu entry for a home folder with a space and an ampersand, the leftovers of a stopped install, and what
``uninstall.sh --purge`` keeps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LINUX = Path(__file__).resolve().parents[2] / "packaging" / "linux"
pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("sh") is None, reason="POSIX sh, Linux"
)


def _bundle(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "_internal").mkdir()
    program = folder / "dmtl-studio"
    program.write_text("#!/bin/sh\necho 'DMTL Studio 0'\n")
    program.chmod(0o755)
    (folder / "dmtl-studio.png").write_bytes(b"png")
    for name in ("install.sh", "uninstall.sh", "dmtl-studio.desktop"):
        shutil.copy2(LINUX / name, folder / name)
    return folder


def _run(script: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_DATA_HOME": ""}
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=120)


def _exec_arguments(value: str) -> list[str]:
    """An ``Exec`` value split as the Desktop Entry specification reads it: string escapes first, then quoting."""
    unescaped = value.replace("\\\\", "\0")  # the string rule: \\ is one backslash
    unescaped = unescaped.replace("\\s", " ").replace("\0", "\\")
    args, current, quoted, k = [], "", False, 0
    while k < len(unescaped):
        ch = unescaped[k]
        if quoted and ch == "\\" and k + 1 < len(unescaped) and unescaped[k + 1] in '"`$\\':
            current, k = current + unescaped[k + 1], k + 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            args, current = [*args, current] if current else args, ""
        else:
            current += ch
        k += 1
    args = [*args, current] if current else args
    return [arg if arg in ("%f", "%F", "%u", "%U") else arg.replace("%%", "%") for arg in args]  # field codes


def test_the_menu_entry_names_the_program_in_a_home_with_a_space_and_an_ampersand(tmp_path: Path) -> None:
    """sed's & pasted the matched text into the path, and the path was not quoted: the entry did not start."""
    home = tmp_path / "weird home" / "Jörg & Co $x `y` 100%"
    home.mkdir(parents=True)
    bundle = _bundle(tmp_path / "unpacked")
    prefix = home / ".local" / "opt" / "dmtl-studio"
    stale = Path(f"{prefix}.new.999")  # the copy of an install stopped by force
    stale.mkdir(parents=True)
    done = _run(bundle / "install.sh", home)
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and not list(prefix.parent.glob("dmtl-studio.new.*"))
    entry = (home / ".local" / "share" / "applications" / "dmtl-studio.desktop").read_text(encoding="utf-8")
    lines = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
    assert _exec_arguments(lines["Exec"]) == [str(prefix / "dmtl-studio"), "%f"]
    assert lines["TryExec"].replace("\\\\", "\\") == str(prefix / "dmtl-studio")
    assert "%%" in lines["Exec"]  # a literal % is doubled
    assert subprocess.run(
        [str(home / ".local/bin/dmtl-studio")], capture_output=True, text=True
    ).stdout.strip()


def test_purge_keeps_the_weights_a_user_imported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bundle = _bundle(tmp_path / "unpacked")
    assert _run(bundle / "install.sh", home).returncode == 0
    data = home / ".local" / "share" / "dmtl-studio"
    for folder in ("demo-project", "cache/onnx", "logs", "weights", "text_encoders/mine"):
        (data / folder).mkdir(parents=True)
    (data / "settings.ini").write_text("[x]\n")
    (data / "weights" / "resnet18.safetensors").write_bytes(b"kept")
    done = _run(home / ".local" / "opt" / "dmtl-studio" / "uninstall.sh", home, "--purge")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in data.iterdir()) == ["text_encoders", "weights"]
    assert "Kept your imported weights and text encoders" in done.stdout
    again = _run(bundle / "uninstall.sh", home)
    assert again.returncode == 0 and "was not installed" in again.stdout
