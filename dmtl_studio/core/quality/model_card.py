"""The model card of an audit bundle: the metrics of a run with their 95 % Wilson score intervals, and the card
rendered as Markdown for a person (``model-card.md``; ``model-card.json`` holds the same facts for a program)."""

from __future__ import annotations

import json
import math

#: z of a two-sided 95 % interval (the 97.5 % quantile of the standard normal distribution).
Z_95 = 1.959963984540054
CI_METHOD = "Wilson score interval, 95 %, two-sided"


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / total``.

    Parameters
    ----------
    successes, total
        Counts, ``0 <= successes <= total``.
    z
        Standard-normal quantile (default: 95 % two-sided).

    Returns
    -------
    tuple of float
        ``(low, high)`` in ``[0, 1]``; ``(nan, nan)`` when ``total`` is 0.
    """
    if total <= 0:
        return (math.nan, math.nan)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _proportion(successes: int, total: int) -> dict:
    low, high = wilson_interval(successes, total)
    return {
        "value": successes / total if total else None,
        "successes": int(successes),
        "total": int(total),
        "ci95": [round(low, 6), round(high, 6)] if total else None,
    }


def card_metrics(result: object, contents: dict[str, str] | None = None) -> dict:
    """Accuracy and per-class recall with their intervals, from an evaluation's confusion matrix.

    ``contents`` maps a scored item's path to its content hash: when the split holds identical copies, the
    accuracy's interval counts each distinct item of a class once (copies are not independent trials: 24 copies of
    8 pictures gave an interval as narrow as 24 pictures would), and ``distinct_items`` says how many there were.
    """
    confusion = result.confusion
    total = int(confusion.sum())
    correct = int(confusion.trace())
    accuracy = _proportion(correct, total)
    if contents and total:
        right = result.predicted == result.targets
        once: dict[tuple[str, int], bool] = {}
        for path, target, hit in zip(result.paths, result.targets, right, strict=True):
            once.setdefault((contents.get(path, path), int(target)), bool(hit))
        if len(once) < total:
            accuracy = {
                **_proportion(sum(once.values()), len(once)),
                "distinct_items": len(once),
                "items": total,
            }
    return {
        "split": result.split,
        "split_title": result.split_title,
        "note": result.note,
        "ci_method": CI_METHOD,
        "images": total,
        # Labelled items of a class the run does not know (added or renamed since it was trained): not scored.
        "left_out": int(getattr(result, "skipped", 0)),
        "accuracy": accuracy,
        "balanced_accuracy": float(result.metrics.balanced_accuracy) if total else None,
        "recall": {
            name: _proportion(int(confusion[i, i]), int(confusion[i].sum()))
            for i, name in enumerate(result.classes)
        },
    }


def _format_proportion(entry: dict, noun: str = "image") -> str:
    if not entry["total"]:
        return f"no {noun}s"
    low, high = entry["ci95"]
    once = (
        f" distinct {noun}s, each counted once: the split holds copies, {entry['items']} {noun}s in all"
        if "distinct_items" in entry
        else ""
    )
    return (
        f"{entry['value']:.1%} (95 % CI {low:.1%} – {high:.1%}; {entry['successes']}/{entry['total']}{once})"
    )


def _md(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def calibration_on_split(result: object) -> dict | None:
    """The expected calibration error on the evaluated split, with the run's temperature and without it."""
    summary = result.calibration_summary() if result is not None else None
    if summary is None:
        return None
    return {
        "split_title": result.split_title,
        "ece": summary["ece"],
        "ece_without": summary["ece_uncalibrated"],
    }


def _calibration_lines(card: dict, noun: str) -> list[str]:
    """The card's calibration in sentences: how the temperature was fitted and what it did there, then the
    expected calibration error (15 bins) on the evaluated split."""
    fitted, lines = card["calibration"], []
    if isinstance(fitted, dict):
        text = (
            f"Temperature scaling: T = {fitted.get('temperature', float('nan')):.3f}, fitted on "
            f"{fitted.get('images', '?')} {fitted.get('fitted_on', '')} {noun}s; there the expected calibration "
            f"error (15 bins) went from {fitted.get('ece_before', float('nan')):.3f} to "
            f"{fitted.get('ece_after', float('nan')):.3f}."
        )
        if fitted.get("ece_after", 0.0) > fitted.get("ece_before", 0.0):
            text += " (The temperature minimises the log-loss, not this error, which it did not lower there.)"
        lines.append(text)
    else:
        lines.append(
            "Not calibrated: the probabilities are the model's own (too few validation "
            f"{noun}s to fit a temperature on, or a run made before calibration)."
        )
    split = card.get("calibration_on_split")
    if split:
        lines.append(
            f"On the {split['split_title']}: expected calibration error {split['ece']:.3f}"
            + (
                f" with the temperature, {split['ece_without']:.3f} without it."
                if isinstance(fitted, dict)
                else "."
            )
        )
    return lines


def model_card_markdown(card: dict) -> str:
    """The model card as Markdown (the same facts as ``model-card.json``); a text project's items are texts."""
    noun = "text" if card["data"].get("kind") == "text" else "image"
    lines = [
        f"# Model card: run {card['run']}",
        "",
        f"Made {card['created']} by DMTL Studio {card['made_by']}.",
        "",
    ]
    lines += ["## Data", "", "| class | train | val | test | total |", "|---|---:|---:|---:|---:|"]
    for name, counts in card["data"]["counts"].items():
        lines.append(
            f"| {_md(name)} | {counts['train']} | {counts['val']} | {counts['test']} | {counts['total']} |"
        )
    lines += ["", f"{card['data']['note']} Every {noun}'s hash is in `training-images.csv`.", ""]
    fitted, in_test = card["data"].get("fitted_listed"), card["data"].get("fitted_in_test")
    # Another project's items (audit --project), or this one's changed since the run: said loudly.
    if fitted == 0 and card["data"]["images_listed"]:
        lines += [
            f"**The run fitted on none of the {noun}s listed**: they are not its training data (another project's, or "
            "this project's changed since the run), and the figures below are on data it never saw.",
            "",
        ]
    elif fitted is not None:
        lines += [f"The run fitted on {fitted} of the {noun}s listed.", ""]
    gone = card["data"].get("gone_from_disk") or []
    if gone:
        shown = ", ".join(f"`{_md(path)}`" for path in gone[:5]) + (
            f" and {len(gone) - 5} more" if len(gone) > 5 else ""
        )
        lines += [
            f"**{len(gone)} {noun}(s) listed are no longer on disk** ({shown}): `training-images.csv` gives the hash "
            "they had when last read, and the figures below leave them out.",
            "",
        ]
    if in_test:
        lines += [
            f"**{in_test} {noun}(s) in the test split hold the content of {noun}s this run was fitted on** (identical "
            "copies in two splits, or the splits changed since it trained): its test figures below are optimistic.",
            "",
        ]
    model = card["model"]
    lines += [
        "## Model",
        "",
        f"- Backbone: {model['backbone']}",
        f"- Pretrained weights: {model['pretrained_weights']['source']}"
        + (
            f" (sha256 {model['pretrained_weights']['sha256']})"
            if model["pretrained_weights"]["sha256"]
            else ""
        ),
        f"- Trained weights sha256: {model['weights_sha256']}",
        "- ONNX export: "
        + (
            "model/model.onnx (outputs checked against PyTorch)"
            if model["onnx"]["included"]
            else f"not included ({model['onnx']['reason']})"
        ),
        f"- Classes: {', '.join(card['classes'])}",
        "",
        "## Metrics",
        "",
    ]
    metrics = card["metrics"]
    if metrics is None:
        lines.append("Not evaluated: the run's project could not be found.")
    else:
        lines.append(
            f"On the {metrics['split_title']}, {metrics['images']} {noun}(s). Intervals: {metrics['ci_method']}."
        )
        if metrics["note"]:
            lines.append(f"Note: {metrics['note']}")
        if metrics.get("left_out"):
            lines.append(
                f"Left out: {metrics['left_out']} {noun}(s) of the split labelled with a class the run does not "
                "know (added or renamed since it was trained); the figures below are on the rest."
            )
        lines += ["", f"- Accuracy: {_format_proportion(metrics['accuracy'], noun)}"]
        for name, entry in metrics["recall"].items():
            lines.append(f"- Recall of {_md(name)}: {_format_proportion(entry, noun)}")
    lines += ["", "## Calibration", "", *_calibration_lines(card, noun)]
    lines += ["", "## Known label issues", ""]
    issues = card["label_issues"]
    if not issues["checked"]:
        lines.append(f"Not checked: {issues['reason']}")
    else:
        lines.append(
            f"{len(issues['suspects'])} suspected label error(s) among {issues['images']} labelled {noun}(s) ({issues['method']}, {issues['folds']} folds)."
        )
        for suspect in issues["suspects"]:
            lines.append(
                f"- {_md(suspect['path'])}: given {_md(suspect['given'])}, suggested {_md(suspect['suggested'])}, "
                f"score {suspect['score']:.3f}"
            )
    lines += ["", "## Leaks and duplicates", ""]
    leaks = card["leaks"]
    lines.append(
        f"{len(leaks['warned'])} group(s) of identical or near-identical {noun}s span splits or labels "
        f"({leaks['groups']} duplicate group(s) among {leaks['images']} {noun}(s))."
    )
    for group in leaks["warned"]:
        members = "; ".join(
            f"{_md(m['path'])} ({m['split'] or 'no split'}, "
            f"{'unlabelled' if m['label'] is None else _md(m['label'])})"
            for m in group["members"]
        )
        lines.append(f"- {', '.join(group['warnings'])}: {members}")
    lines += ["", "## Training configuration", ""]
    lines += [f"- {key}: {_md(json.dumps(value))}" for key, value in sorted(card["config"].items())]
    unused = card.get("unused_settings") or {}
    if unused:
        lines += ["", "Settings this run did not use:", ""]
        lines += [f"- {key}: {_md(why)}" for key, why in sorted(unused.items())]
    lines += ["", "## Augmentation recipe", "", "```json", json.dumps(card["augmentation"], indent=2), "```"]
    lines += ["", "## Library versions", ""]
    lines += [f"- {key}: {value}" for key, value in sorted(card["versions"].items())]
    return "\n".join(lines) + "\n"
