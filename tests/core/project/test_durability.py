"""Killing the process at any moment loses at most the label action in flight."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from dmtl_studio.core.project.store import ProjectStore

LABELLER = r"""
import sys
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.store import ProjectStore

store = ProjectStore.open(sys.argv[1])
editor = LabelEditor(store)
tag = sys.argv[2]
ids = [im.id for im in store.images()]
print("READY", flush=True)
i = 0
while True:
    image_id = ids[i % len(ids)]
    name = f"{tag}-{i % 7}"
    editor.assign([image_id], name)
    print(f"ACK {image_id} {name}", flush=True)  # acknowledged only after the commit returned
    i += 1
"""


def test_sigkill_at_random_moments_never_loses_an_acknowledged_label(tmp_path: Path) -> None:
    project = tmp_path / "p"
    with ProjectStore.create(project) as store:
        store.add_images([(f"/data/img_{i:03d}.png", None, None, None) for i in range(200)])
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    total_acknowledged = 0
    for round_number in range(25):
        process = subprocess.Popen(
            [sys.executable, "-c", LABELLER, str(project), f"r{round_number}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(process.pid, signal.SIGKILL)
        acknowledged: dict[int, str] = {}
        count = 0
        for line in process.stdout.read().splitlines():
            if line.startswith("ACK "):
                _, image_id, name = line.split()
                acknowledged[int(image_id)] = name  # the last acknowledgement of an image wins
                count += 1
        process.wait()
        with ProjectStore.open(project) as store:
            assert store.integrity_check() == "ok"
            images = store.images()
            labels = {im.id: im.label for im in images}
        # The one action in flight (the labeller goes round the images in order) may or may not have landed.
        in_flight = (images[count % len(images)].id, f"r{round_number}-{count % 7}")
        missing = {i: n for i, n in acknowledged.items() if labels[i] != n and (i, labels[i]) != in_flight}
        assert not missing, f"round {round_number}: acknowledged labels lost: {missing}"
        assert all(labels[i] is not None for i in acknowledged)
        total_acknowledged += count
    assert total_acknowledged > 100  # the kills really happened mid-work


OPEN_AND_EXIT = r"""
import sys
from dmtl_studio.core.project.store import ProjectStore

with ProjectStore.open(sys.argv[1]) as store:  # what any command does: `dmtl-studio info`, another window
    store.class_counts()
"""

READ_LABEL = r"""
import sys
from dmtl_studio.core.project.store import ProjectStore

with ProjectStore.open(sys.argv[1], read_only=True) as store:
    print(store.labels_of([int(sys.argv[2])])[int(sys.argv[2])])
"""


def test_another_process_that_opens_and_leaves_the_project_keeps_this_ones_write_ahead_log(
    tmp_path: Path,
) -> None:
    """A window keeps the project open while its workers open it again and a command opens it and exits: the
    window's later labels must reach the database that every other process reads (SQLite's locks on the file are
    the process's: closing any descriptor of the database file drops them, and the last process to leave would
    then delete a write-ahead log still in use)."""
    from dmtl_studio.core.project.labels import LabelEditor

    project = tmp_path / "p"
    with ProjectStore.create(project) as store:
        store.add_images([(f"/data/img_{i:03d}.png", None, None, None) for i in range(4)])
    window = ProjectStore.open(project)
    try:
        ids = [im.id for im in window.images()]
        with ProjectStore.open(project) as worker:  # a worker thread's own connection, opened and closed
            worker.class_counts()
        subprocess.run([sys.executable, "-c", OPEN_AND_EXIT, str(project)], check=True, timeout=120)
        LabelEditor(window).assign([ids[1]], "kept")
        wal = project / "project.dmtl.sqlite-wal"
        assert wal.exists(), "the write-ahead log in use was deleted by the other process"
        seen = subprocess.run(
            [sys.executable, "-c", READ_LABEL, str(project), str(ids[1])],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert seen.stdout.strip() == "kept"
    finally:
        window.close()
    with ProjectStore.open(project) as store:
        assert store.labels_of([ids[1]])[ids[1]] == "kept"
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
