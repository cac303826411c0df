"""The report's charts as inline SVG (training curves, reliability diagram): plain strings, no plotting library,
nothing loaded from files."""

from __future__ import annotations

import html
from collections.abc import Sequence

from dmtl_studio.core.project.runs_table import EpochMetrics

COLORS = ("#2e86de", "#e67e22", "#27ae60", "#8e44ad")


def _e(value: object) -> str:
    return html.escape(str(value))


def line_chart_svg(
    title: str,
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    y_label: str,
    width: int = 460,
    height: int = 260,
) -> str:
    """A line chart as inline SVG: ``series`` holds ``(name, xs, ys)``."""
    points = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys, strict=True)]
    left, right, top, bottom = 52, 12, 28, 36
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">{_e(title)}</text>',
    ]
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text></svg>')
        return "".join(parts)
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = (y1 - y0) * 0.08 or 0.05
    # The padding never takes a quantity that cannot be negative (a learning rate, a loss) below 0 on its axis.
    y0, y1 = (y0 - pad if y0 < 0 else max(0.0, y0 - pad)), y1 + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>')
    for k in range(5):
        value = y0 + (y1 - y0) * k / 4
        y = sy(value)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{value:.3g}</text>'
        )
    for x in sorted({p[0] for p in points}):
        parts.append(
            f'<text x="{sx(x):.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="10">{x:g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" font-size="11">epoch</text>'
        f'<text x="12" y="{top + plot_h / 2}" font-size="11" transform="rotate(-90 12 {top + plot_h / 2})" '
        f'text-anchor="middle">{_e(y_label)}</text>'
    )
    for i, (name, xs, ys) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True))
        if coords:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
            for x, y in zip(xs, ys, strict=True):
                parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        parts.append(
            f'<text x="{left + 8}" y="{top + 14 + 14 * i}" font-size="11" fill="{color}">{_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def reliability_svg(
    calibrated: dict, uncalibrated: dict | None, width: int = 360, height: int = 300, noun: str = "image"
) -> str:
    """A reliability diagram as inline SVG from :meth:`Reliability.to_dict` data: accuracy per confidence bin
    (filled bars), the uncalibrated accuracy (outlined bars) when given, and the diagonal of perfect calibration;
    each bar's tooltip counts its items (``noun``: ``"image"`` or ``"text"``)."""
    left, right, top, bottom = 44, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + x * plot_w

    def sy(y: float) -> float:
        return top + (1 - y) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="Reliability diagram"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">Reliability diagram</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>',
    ]
    for k in range(6):
        v = k / 5
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{sy(v) + 4:.1f}" text-anchor="end" font-size="10">{v:.1f}</text>'
        )
        parts.append(
            f'<text x="{sx(v):.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="10">{v:.1f}</text>'
        )
    for data, style in ((calibrated, 'fill="#2e86de" fill-opacity="0.7" stroke="white"'),
                        (uncalibrated, 'fill="none" stroke="#c0392b" stroke-width="1.5"')):  # fmt: skip
        if not data:
            continue
        edges = data["edges"]
        for k, accuracy in enumerate(data["accuracy"]):
            if accuracy is None:
                continue
            x, w = sx(edges[k]), sx(edges[k + 1]) - sx(edges[k])
            parts.append(
                f'<rect x="{x:.1f}" y="{sy(accuracy):.1f}" width="{w:.1f}" height="{sy(0) - sy(accuracy):.1f}" '
                f"{style}><title>confidence {edges[k]:.2f}-{edges[k + 1]:.2f}: {data['counts'][k]} {noun}(s), "
                f"accuracy {accuracy:.2f}</title></rect>"
            )
    parts.append(
        f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="#555" stroke-dasharray="5,4"/>'
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" font-size="11">'
        "confidence (top probability)</text>"
        f'<text x="12" y="{top + plot_h / 2}" font-size="11" transform="rotate(-90 12 {top + plot_h / 2})" '
        'text-anchor="middle">accuracy</text>'
        f'<text x="{left + 6}" y="{top + 14}" font-size="10" fill="#2e86de">calibrated</text>'
    )
    if uncalibrated:
        parts.append(
            f'<text x="{left + 6}" y="{top + 27}" font-size="10" fill="#c0392b">without calibration</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def curves_html(metrics: list[EpochMetrics], probe: bool = False) -> str:
    """Loss, accuracy and learning-rate charts; ``probe``: the head was fitted as a linear probe (no rate)."""
    if not metrics:
        return "<p class='muted'>No per-epoch figures are recorded for this run in its project.</p>"
    if (
        probe and len(metrics) == 1
    ):  # one fit to convergence: charts of one point say nothing a sentence does not
        m = metrics[0]
        held_out = (
            f"; on the validation split loss {m.val_loss:.3f}, accuracy {m.val_accuracy:.1%}"
            if m.val_loss is not None and m.val_accuracy is not None
            else ""
        )
        return (
            "<p>The head was fitted once, to convergence (a linear probe, its L2 strength chosen by "
            f"cross-validation): on the items it was fitted on, loss {m.train_loss:.3f}, accuracy "
            f"{m.train_accuracy:.1%}{held_out}. Charts by epoch are drawn for runs trained by epochs.</p>"
        )
    epochs = [m.epoch for m in metrics]
    val = [(m.epoch, m.val_loss, m.val_accuracy) for m in metrics if m.val_loss is not None]
    loss = [("train", epochs, [m.train_loss for m in metrics])]
    accuracy = [("train", epochs, [m.train_accuracy for m in metrics])]
    if val:
        loss.append(("validation", [v[0] for v in val], [v[1] for v in val]))
        accuracy.append(("validation", [v[0] for v in val], [v[2] for v in val]))
    rates = [m.learning_rate for m in metrics]
    # A head fitted as a linear probe (L-BFGS to convergence) has no learning rate: no line of an unused setting.
    rate_chart = (
        line_chart_svg("Learning rate (end of epoch)", [("head", epochs, rates)], "learning rate")
        if not probe
        else "<p class='muted'>No learning rate: the head was fitted to convergence (a linear probe).</p>"
    )
    return (
        "<div class='charts'>"
        + line_chart_svg("Loss", loss, "cross-entropy")
        + line_chart_svg("Accuracy", accuracy, "fraction correct")
        + rate_chart
        + "</div>"
    )
