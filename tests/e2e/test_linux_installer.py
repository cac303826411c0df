"""The Linux installer scripts (packaging/linux), run on a small stand-in for the frozen bundle.

The smoke test (`make package-smoke`) runs them on the real bundle; these check what it cannot afford to: that
a disk without room for the copy is refused before anything changes, and that installing again keeps working.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")


def _bundle(folder: Path) -> Path:
    bundle = folder / "dmtl-studio"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "_internal" / "payload.bin").write_bytes(b"\0" * 200_000)
    exe = bundle / "dmtl-studio"
    exe.write_text("#!/bin/sh\necho 'DMTL Studio 0.0-test'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    for name in ("install.sh", "uninstall.sh", "dmtl-studio.desktop"):
        shutil.copy2(LINUX / name, bundle / name)
    shutil.copy2(ROOT / "packaging" / "icons" / "dmtl-studio.png", bundle / "dmtl-studio.png")
    return bundle


def _run(script: Path, home: Path, path_first: Path | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "XDG_DATA_HOME"}
    env["HOME"] = str(home)
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)


def test_install_again_and_uninstall(tmp_path):
    bundle = _bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    for _ in range(2):  # installing again replaces the previous version
        done = _run(bundle / "install.sh", home)
        assert done.returncode == 0, done.stderr
    installed = home / ".local" / "opt" / "dmtl-studio"
    assert (installed / "_internal" / "payload.bin").stat().st_size == 200_000
    assert not list(installed.parent.glob("dmtl-studio.new.*"))
    command = subprocess.run([str(home / ".local" / "bin" / "dmtl-studio")], capture_output=True, text=True)
    assert command.stdout.startswith("DMTL Studio")
    desktop = home / ".local" / "share" / "applications" / "dmtl-studio.desktop"
    assert f'Exec="{installed}/dmtl-studio" %f' in desktop.read_text().splitlines()  # quoted (spec)

    done = _run(installed / "uninstall.sh", home)
    assert done.returncode == 0, done.stderr
    assert not installed.exists() and not desktop.exists()
    assert not (home / ".local" / "bin" / "dmtl-studio").is_symlink()


def test_install_without_room_for_the_copy_changes_nothing(tmp_path):
    bundle = _bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    assert _run(bundle / "install.sh", home).returncode == 0
    installed = home / ".local" / "opt" / "dmtl-studio"
    (installed / "_internal" / "previous-version").write_text("kept")

    # A df that reports 100 KiB free, less than the bundle's 200 kB payload.
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    df = fake / "df"
    df.write_text(
        "#!/bin/sh\n"
        "echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"
        "echo '/dev/fake 1000000 999900 100 100% /'\n"
    )
    df.chmod(0o755)
    done = _run(bundle / "install.sh", home, path_first=fake)

    assert done.returncode == 1
    assert "GiB free in" in done.stderr and "Nothing was changed" in done.stderr
    assert "Installing" not in done.stdout
    assert (installed / "_internal" / "previous-version").read_text() == "kept"
    assert not list(installed.parent.glob("dmtl-studio.new.*"))
