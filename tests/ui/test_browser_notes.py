"""What decoding had to do to an image (rescaled values, one page of several) is visible in the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from dmtl_studio.app import build_window
from dmtl_studio.core.project.store import ProjectStore


def test_import_summary_and_browser_show_image_notes(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    images = tmp_path / "images"
    (images / "cells").mkdir(parents=True)
    ramp = np.tile(np.linspace(0.0, 1.0, 32, dtype=np.float32), (32, 1))
    ramp[0, 0] = np.nan
    tifffile.imwrite(images / "cells" / "nan.tif", ramp)
    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(images / "cells" / "plain.png")
    (images / "cells" / "protocol.txt").write_text("not a picture")
    with ProjectStore.create(tmp_path / "project"):
        pass
    window, controller = build_window(tmp_path / "project")
    qtbot.addWidget(window)
    window.show()
    try:
        controller.import_images(str(images))
        qtbot.waitUntil(lambda: "Import:" in window.statusBar().currentMessage(), timeout=30_000)
        message = window.statusBar().currentMessage()
        assert "1 image(s) with a note" in message and "skipped 1 non-image file(s)" in message
        browser = window.browser
        qtbot.waitUntil(lambda: browser.model.rowCount() == 2, timeout=10_000)
        rows = {Path(browser.model.record(r).path).name: r for r in range(2)}
        tip = browser.model.data(browser.model.index(rows["nan.tif"]), 3)  # Qt.ToolTipRole
        assert "note:" in tip and "not finite" in tip
        assert "note:" not in browser.model.data(browser.model.index(rows["plain.png"]), 3)
        browser.view.setCurrentIndex(browser.model.index(rows["nan.tif"]))
        assert "not finite" in browser._caption(browser.model.record(rows["nan.tif"]))
    finally:
        controller.shutdown()
