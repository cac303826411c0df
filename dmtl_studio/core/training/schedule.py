"""The learning-rate schedules, as a factor of the peak rate at a point of the run."""

from __future__ import annotations

import math


def schedule_factor(schedule: str, progress: float, warmup_fraction: float) -> float:
    """Learning-rate factor at ``progress`` (0..1 of the whole run) for ``"cosine"`` or ``"onecycle"``.

    A function of progress rather than of a step count, so a run whose batch size changes (after running out
    of GPU memory) or that resumes keeps the same schedule. Cosine: linear warm-up over ``warmup_fraction``, then
    cosine decay to 1 % of the peak. One-cycle (Smith, 2018): from 1/25 of the peak up to it at 30 %, then down
    to almost nothing.
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "onecycle":
        peak = 0.3
        if progress < peak:
            return 0.04 + 0.96 * 0.5 * (1 - math.cos(math.pi * progress / peak))
        return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * (progress - peak) / (1 - peak)))
    if warmup_fraction > 0 and progress < warmup_fraction:
        return max(progress / warmup_fraction, 1e-3)
    rest = (progress - warmup_fraction) / max(1e-9, 1 - warmup_fraction)
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * rest))
