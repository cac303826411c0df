"""Is the window responsive while training runs? Event-loop lag (QTimer probe) and Stop latency.

Usage::

    .venv/bin/python bench/bench_responsiveness.py [--transfer frozen|full] [--seconds 40] [--input-size 224]

A demo project is trained in the real window (offscreen). A 10 ms QTimer records how late each of its ticks is;
lateness is the event loop's lag. Then Stop is pressed and the time until the training thread has ended is the
Stop latency. Goals: lag p99 under 50 ms and max under 100 ms; Stop acts within one step or 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dmtl_studio.app import build_window  # noqa: E402
from dmtl_studio.core.project.demo import create_demo_project  # noqa: E402

PROBE_MS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfer", default="full", choices=("frozen", "partial", "full"))
    parser.add_argument("--seconds", type=float, default=40.0, help="how long to probe while training")
    parser.add_argument("--input-size", type=int, default=224)
    args = parser.parse_args()

    app = QApplication([])
    project = Path(tempfile.mkdtemp(prefix="dmtl-resp-")) / "demo"
    create_demo_project(project)
    window, controller = build_window(project)
    window.show()
    panel = window.model_panel
    original = type(panel).config
    type(panel).config = lambda self: original(self).with_changes(  # type: ignore[method-assign]
        transfer=args.transfer, epochs=1000, input_size=args.input_size, device="cpu"
    )

    lags: list[float] = []
    clock = QElapsedTimer()
    expected = [0.0]
    timer = QTimer()
    timer.setInterval(PROBE_MS)

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        lags.append(max(0.0, now - expected[0]))
        expected[0] = now + PROBE_MS

    timer.timeout.connect(tick)
    controller.start_training()
    thread = controller.training_thread
    steps = [0]
    speed = [0.0]

    def on_progress(event: object) -> None:
        steps[0] += 1
        speed[0] = event.images_per_second  # type: ignore[attr-defined]

    thread.progress.connect(on_progress)
    # Probe only once batches flow (model building and the first decode are not what the user waits on).
    start = time.monotonic()
    while steps[0] == 0 and time.monotonic() - start < 300:
        app.processEvents()
        time.sleep(0.005)
    clock.start()
    expected[0] = PROBE_MS
    timer.start()
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and thread.isRunning():
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    progress_signals = steps[0]
    stop_clock = time.monotonic()
    controller.stop_training()
    while thread.isRunning():
        app.processEvents()
        time.sleep(0.001)
    stop_latency = time.monotonic() - stop_clock
    controller.shutdown()

    values = np.array(lags)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"### Responsiveness while training ({args.transfer}, {args.input_size} px, CPU; {machine})\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| probe ticks ({PROBE_MS} ms timer) over {args.seconds:.0f} s | {len(values)} |")
    print(
        f"| event-loop lag p50 / p99 / max | {np.percentile(values, 50):.1f} / "
        f"{np.percentile(values, 99):.1f} / {values.max():.1f} ms |"
    )
    print(f"| progress signals received | {progress_signals} |")
    print(f"| Stop pressed -> thread ended | {stop_latency * 1000:.0f} ms |")
    batch = thread.config.batch_size
    if speed[0] > 0:
        print(
            f"| one training step (batch {batch} / {speed[0]:.1f} images/s) | {batch / speed[0] * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
