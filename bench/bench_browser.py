"""Dataset browser benchmark: scan/index time and memory, thumbnail throughput, time to first paint.

Usage::

    .venv/bin/python bench/bench_browser.py [--images 20000] [--folder /tmp/dmtl-bench-20k]

The image folder is generated once (10 classes of JPEGs, 192x160, plus 5 % unlabelled) and reused. Each
measurement runs in its own process so its peak memory is its own. Results are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def generate(folder: Path, count: int) -> None:
    from dmtl_studio.core.project.demo import CLASSES, draw_shape

    marker = folder / ".complete"
    if marker.exists() and int(marker.read_text()) == count:
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    unlabelled = count // 20
    per_class = (count - unlabelled) // 10
    for c in range(10):
        sub = folder / f"class_{c:02d}"
        sub.mkdir(parents=True)
        for i in range(per_class):
            image = draw_shape(CLASSES[c % 3], rng, 160)
            image = cv2.resize(image, (192, 160))
            cv2.imwrite(str(sub / f"img_{i:05d}.jpg"), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    for i in range(count - per_class * 10):
        cv2.imwrite(str(folder / f"loose_{i:05d}.jpg"), draw_shape("circle", rng, 160)[:, :, ::-1])
    marker.write_text(str(count))


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


INDEX = """
import json, resource, sys, time
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
start = time.perf_counter()
with ProjectStore.create(sys.argv[1]) as store:
    summary = import_folder(store, sys.argv[2])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "images": summary.scanned,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

THUMBS = """
import json, sys, time
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.thumbcache import ThumbnailCache
with ProjectStore.open(sys.argv[1]) as store:
    records = store.images(usable_only=True)[: int(sys.argv[2])]
cache = ThumbnailCache(sys.argv[1])
result = {}
for label in ("cold", "warm"):
    start = time.perf_counter()
    for r in records:
        cache.get(r.path, r.sha256)
    result[label] = len(records) / (time.perf_counter() - start)
print(json.dumps(result))
"""

PAINT = """
import json, resource, sys, time
from pathlib import Path
start = time.perf_counter()
from PySide6.QtWidgets import QApplication
app = QApplication([])
from dmtl_studio.app import build_window
imported = time.perf_counter()
window, controller = build_window(Path(sys.argv[1]))
window.show()
shown = time.perf_counter()
first = []
controller.thumbnails.ready.connect(lambda *a: first or first.append(time.perf_counter()))
while not first and time.perf_counter() - shown < 30:
    app.processEvents()
rows = window.browser.model.total()
# Scroll through the whole grid, page by page, letting thumbnails arrive: memory must stay bounded.
bar = window.browser.view.verticalScrollBar()
scroll_start = time.perf_counter()
pages = 0
while True:
    app.processEvents()
    if window.browser.model.canFetchMore(window.browser.model.index(-1, -1)):
        window.browser.model.fetchMore(window.browser.model.index(-1, -1))
    if bar.value() >= bar.maximum() and not window.browser.model.canFetchMore(window.browser.model.index(-1, -1)):
        break
    bar.setValue(bar.value() + bar.pageStep())
    pages += 1
    t = time.perf_counter()
    while time.perf_counter() - t < 0.02:
        app.processEvents()
scroll_seconds = time.perf_counter() - scroll_start
controller.shutdown()
print(json.dumps({
    "qt_and_app_import_s": imported - start,
    "window_shown_s": shown - imported,
    "first_thumbnail_after_show_s": first[0] - shown if first else None,
    "first_thumbnail_total_s": first[0] - imported if first else None,
    "rows": rows, "pages_scrolled": pages, "scroll_seconds": scroll_seconds,
    "peak_mb_after_scrolling_all": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "thumbnails_in_memory": window.browser.model.thumbnail_count(),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/dmtl-bench-20k"))
    parser.add_argument("--thumbnails", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    generate(args.folder / "images", args.images)
    print(f"dataset ready in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    project = args.folder / "project"
    shutil.rmtree(project, ignore_errors=True)
    index = _child(INDEX, str(project), str(args.folder / "images"))
    thumbs = _child(THUMBS, str(project), str(args.thumbnails))
    shutil.rmtree(project / ".thumbnails", ignore_errors=True)
    paint_cold = _child(PAINT, str(project))
    paint_warm = _child(PAINT, str(project))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\n### Browser on {index['images']} images ({machine})\n")
    print("| measure | value |\n| --- | --- |")
    print(
        f"| scan + decode check + hash + index | {index['seconds']:.1f} s "
        f"({index['images'] / index['seconds']:.0f} images/s) |"
    )
    print(f"| peak memory of the import process | {index['peak_mb']:.0f} MB |")
    print(f"| thumbnails, cold (decode + write cache), one thread | {thumbs['cold']:.0f} /s |")
    print(f"| thumbnails, warm (read from the project's cache), one thread | {thumbs['warm']:.0f} /s |")
    for label, paint in (("cold cache", paint_cold), ("warm cache", paint_warm)):
        print(f"| window shown, {label} | {paint['window_shown_s']:.2f} s after imports |")
        print(
            f"| first thumbnail painted, {label} | {paint['first_thumbnail_after_show_s']:.3f} s after show |"
        )
    print(
        f"| scrolled all {paint_warm['rows']} rows ({paint_warm['pages_scrolled']} pages) | "
        f"{paint_warm['scroll_seconds']:.1f} s, peak memory {paint_warm['peak_mb_after_scrolling_all']:.0f} MB, "
        f"{paint_warm['thumbnails_in_memory']} thumbnails held |"
    )
    print(f"| Qt + app import time | {paint_warm['qt_and_app_import_s']:.2f} s |")
    _ = resource  # measured in the children


if __name__ == "__main__":
    main()
