"""Draw the application icon (packaging/icons/dmtl-studio.png, 256 x 256 RGBA): the demo's three shapes.

    .venv/bin/python packaging/icons/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = 256
SCALE = 4  # drawn 4x larger, then shrunk: smooth edges


def draw() -> np.ndarray:
    s = SIZE * SCALE
    image = np.zeros((s, s, 4), np.uint8)
    margin, radius = 8 * SCALE, 44 * SCALE
    tile = np.zeros((s, s), np.uint8)
    cv2.rectangle(tile, (margin + radius, margin), (s - margin - radius, s - margin), 255, -1)
    cv2.rectangle(tile, (margin, margin + radius), (s - margin, s - margin - radius), 255, -1)
    for cx in (margin + radius, s - margin - radius):
        for cy in (margin + radius, s - margin - radius):
            cv2.circle(tile, (cx, cy), radius, 255, -1)
    image[tile > 0] = (64, 46, 32, 255)  # BGRA: dark slate blue
    cv2.circle(image, (int(s * 0.33), int(s * 0.36)), int(s * 0.17), (86, 180, 255, 255), -1)  # orange
    cv2.rectangle(image, (int(s * 0.55), int(s * 0.2)), (int(s * 0.83), int(s * 0.48)), (180, 220, 90, 255), -1)
    triangle = np.array([[s * 0.5, s * 0.55], [s * 0.76, s * 0.85], [s * 0.24, s * 0.85]], np.int32)
    cv2.fillPoly(image, [triangle], (240, 200, 120, 255))
    return cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    target = Path(__file__).with_name("dmtl-studio.png")
    cv2.imwrite(str(target), draw())
    print(f"wrote {target}")
