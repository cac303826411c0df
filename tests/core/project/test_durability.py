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
