"""The colours of a heat map (Grad-CAM): one ramp for the window's overlay and the command line's PNGs."""

from __future__ import annotations

import numpy as np

#: Colour ramp of the heat map (low to high): blue, cyan, yellow, red; low values are nearly transparent.
RAMP = np.array([[0, 0, 255], [0, 200, 255], [255, 230, 0], [255, 0, 0]], dtype=np.float32)
#: Opacity of the hottest part (of 255).
MAX_ALPHA = 200


def heat_rgba(heatmap: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA of a ``(H, W)`` heat map in [0, 1] (values outside are clipped): the colour of
    :data:`RAMP`, and an opacity that grows with the heat (cold parts stay see-through, no hard edge)."""
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    position = heat * (len(RAMP) - 1)
    low = np.floor(position).astype(np.int64).clip(0, len(RAMP) - 2)
    fraction = (position - low)[..., None]
    rgb = RAMP[low] * (1 - fraction) + RAMP[low + 1] * fraction
    alpha = MAX_ALPHA * heat**0.8
    return np.ascontiguousarray(np.dstack([rgb, alpha]).astype(np.uint8))
