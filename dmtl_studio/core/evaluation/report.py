"""One self-contained HTML report per run: curves, confusion matrix, per-class scores, example misclassified
images, configuration, recipe, environment and dataset summary. Charts are inline SVG and example images inline
JPEG thumbnails; nothing is loaded from files or the network. Numbers are rounded for reading; the reference
sections (model, configuration, recipe, environment) are collapsed.
"""

from __future__ import annotations

import base64
import html
import os
import platform
import time
from pathlib import Path

import cv2

from dmtl_studio.core.base.cancel import ShouldStop, never_stop
from dmtl_studio.core.evaluation.inference import evaluate_run, project_of_run
from dmtl_studio.core.evaluation.metrics import NOT_DEFINED, nothing_scored
from dmtl_studio.core.evaluation.report_charts import curves_html, reliability_svg
from dmtl_studio.core.evaluation.results import EvaluationResult
from dmtl_studio.core.models.checkpoint import atomic_write_bytes, load_checkpoint
from dmtl_studio.core.models.run_folder import used_and_unused
from dmtl_studio.core.models.run_notes import read_run_notes
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.imaging import load_rgb
from dmtl_studio.core.project.runs_table import EpochMetrics
from dmtl_studio.core.project.store import ProjectStore

REPORT_NAME = "report.html"
EXAMPLES = 12  # misclassified images shown as thumbnails
TEXT_EXCERPT = 200  # characters of a misclassified text's first line shown in its place
THUMBNAIL_PX = 112

_STYLE = (
    """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:right}
th{background:#f4f6f8}td.l,th.l{text-align:left}.note{background:#fff4e0;border-left:4px solid #e67e22;padding:.6em 1em}
.muted{color:#777}pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}.charts{display:flex;gap:1em;flex-wrap:wrap}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}.examples{display:flex;gap:.8em;flex-wrap:wrap}
figure{margin:0;width:"""
    + str(THUMBNAIL_PX)
    + """px;font-size:.8em}figure img{display:block;border:1px solid #ccc}blockquote.text{margin:0 0 .3em;padding:.4em;border-left:3px solid #c33;background:#f6f6f6}
"""
)


def _e(value: object) -> str:
    return html.escape(str(value))


def calibration_html(result: EvaluationResult) -> str:
    """ECE with and without the run's temperature, and the reliability diagram (inline SVG)."""
    summary = result.calibration_summary()
    if summary is None:
        return ""
    if summary["calibrated"]:
        fitted = summary["fitted"] or {}
        text = (
            f"Expected calibration error (15 bins) <b>{summary['ece']:.3f}</b> with the temperature "
            f"{summary['temperature']:.3f} fitted on {fitted.get('images', '?')} {_e(fitted.get('fitted_on', ''))} "
            f"{result.noun}s; {summary['ece_uncalibrated']:.3f} without it."
        )
        if fitted.get("note"):
            text += f" <span class='muted'>{_e(fitted['note'])}</span>"
        uncalibrated = result.reliability(calibrated=False).to_dict()
    else:
        text = (
            f"Expected calibration error (15 bins) <b>{summary['ece']:.3f}</b>; the run is not calibrated "
            f"(too few validation {result.noun}s held out to fit it on, or they joined the training; or trained "
            "before calibration)."
        )
        uncalibrated = None
    return f"<p>{text}</p><figure>{reliability_svg(summary['bins'], uncalibrated, noun=result.noun)}</figure>"


def confusion_table_html(result: EvaluationResult) -> str:
    """The confusion matrix as an HTML table heat map (rows: true class, columns: prediction)."""
    matrix = result.confusion
    rows = ["<table><tr><th class='l'>true ↓ · predicted →</th>"]
    rows += [f"<th>{_e(c)}</th>" for c in result.classes]
    rows.append("</tr>")
    for i, name in enumerate(result.classes):
        total = max(1, int(matrix[i].sum()))
        rows.append(f"<tr><th class='l'>{_e(name)}</th>")
        for j in range(len(result.classes)):
            share = matrix[i, j] / total
            base = (46, 134, 222) if i == j else (192, 57, 43)
            color = "#{:02x}{:02x}{:02x}".format(*(int(255 - (255 - c) * share) for c in base))
            text = "white" if share > 0.55 else "#222"
            rows.append(
                f"<td style='background:{color};color:{text};text-align:center'>{int(matrix[i, j])}</td>"
            )
        rows.append("</tr>")
    rows.append("</table>")
    return "".join(rows)


def _per_class_html(result: EvaluationResult) -> str:
    m = result.metrics
    rows = [
        "<table><tr><th class='l'>class</th><th>precision</th><th>recall</th><th>F1</th>"
        f"<th>{result.noun}s</th></tr>"
    ]
    for i, name in enumerate(result.classes):
        cells = "".join(f"<td>{NOT_DEFINED if v is None else f'{v:.3f}'}</td>" for v in m.defined(i))
        rows.append(f"<tr><td class='l'>{_e(name)}</td>{cells}<td>{int(m.support[i])}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def format_value(value: object) -> str:
    """A value as a person reads it: floats to 4 significant digits, lists and mappings as plain text.

    ``0.51234567890123`` -> ``0.5123``; ``3e-06`` -> ``3e-06``; ``[0.485, 0.456]`` -> ``0.485, 0.456``;
    ``{"a": 1}`` -> ``a 1``; ``None`` -> ``—``; booleans -> ``yes`` / ``no``.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return (
            "; ".join(f"{str(key).replace('_', ' ')} {format_value(item)}" for key, item in value.items())
            or "—"
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(item) for item in value) or "—"
    return str(value)


def _dict_table(data: dict) -> str:
    rows = ["<table>"]
    for key in sorted(data):
        rows.append(
            f"<tr><th class='l'>{_e(key.replace('_', ' '))}</th><td class='l'>{_e(format_value(data[key]))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _transfer(config: dict) -> str:
    """The run's transfer strategy in words: a phase of Auto says so (its probe is a frozen run)."""
    transfer = str(config.get("transfer", "?"))
    if config.get("strategy") == "auto":
        return f"Auto: its {'linear probe' if transfer == 'frozen' else transfer + ' fine-tune'}"
    return f"{transfer} transfer"


def _collapsed(title: str, body: str) -> str:
    """A reference section, closed until clicked (the headline figures stay in view)."""
    return f"<details><summary>{_e(title)}</summary>{body}</details>"


def _recipe_html(recipe: object) -> str:
    """The augmentation recipe as a table of its steps, not as its file's JSON."""
    if not isinstance(recipe, dict) or not isinstance(recipe.get("steps"), list):
        return f"<p>{_e(format_value(recipe))}</p>"
    rows = [
        f"<p>Recipe <b>{_e(recipe.get('name', 'custom'))}</b>, {len(recipe['steps'])} step(s), in order:</p>",
        "<table><tr><th class='l'>step</th><th>probability</th><th class='l'>settings</th></tr>",
    ]
    for step in recipe["steps"]:
        if not isinstance(step, dict):
            continue
        off = "" if step.get("enabled", True) else " <span class='muted'>(off)</span>"
        rows.append(
            f"<tr><td class='l'>{_e(str(step.get('operation', '?')).replace('_', ' '))}{off}</td>"
            f"<td>{_e(format_value(step.get('probability')))}</td>"
            f"<td class='l'>{_e(format_value(step.get('params') or {}))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _thumbnail_uri(path: str) -> str | None:
    """A small JPEG of the image as a data URI (``None`` if it cannot be read)."""
    try:
        image = load_rgb(path)
    except (ImageProblem, OSError):
        return None
    height, width = image.shape[:2]
    scale = THUMBNAIL_PX / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _text_excerpt(text: str | None) -> str:
    """A text's first non-empty line, cut at :data:`TEXT_EXCERPT` characters, as an HTML block."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    if not line:
        return "<p class='muted'>(no text)</p>"
    cut = line if len(line) <= TEXT_EXCERPT else line[: TEXT_EXCERPT - 1] + "…"
    return f"<blockquote class='text'>{_e(cut)}</blockquote>"


def misclassified_examples_html(
    result: EvaluationResult, limit: int = EXAMPLES, texts: dict[int, str] | None = None
) -> str:
    """Up to ``limit`` misclassified images as embedded thumbnails (texts: their first line, from ``texts`` by
    item id), the most confident mistakes first."""
    wrong = [k for k in range(len(result.image_ids)) if result.predicted[k] != result.targets[k]]
    if not wrong:
        return f"<p class='muted'>No {result.noun} was misclassified.</p>"
    wrong.sort(key=lambda k: -float(result.confidence[k]))
    figures = []
    for k in wrong[:limit]:
        true, predicted = result.classes[int(result.targets[k])], result.classes[int(result.predicted[k])]
        caption = f"{_e(true)} → <b>{_e(predicted)}</b> {float(result.confidence[k]):.0%}"
        if result.kind == "text":
            picture = _text_excerpt((texts or {}).get(int(result.image_ids[k])))
        else:
            uri = _thumbnail_uri(result.paths[k])
            picture = (
                f"<img src='{uri}' alt='{_e(Path(result.paths[k]).name)}'>"
                if uri
                else "<p class='muted'>(unreadable)</p>"
            )
        figures.append(
            f"<figure>{picture}<figcaption>{caption}<br><span class='muted'>{_e(Path(result.paths[k]).name)}"
            "</span></figcaption></figure>"
        )
    shown = f"the {len(figures)} most confident of {len(wrong)}" if len(wrong) > len(figures) else "all"
    return (
        f"<p class='muted'>Misclassified {result.noun}s ({shown}): true class → prediction and its confidence.</p>"
        f"<div class='examples'>{''.join(figures)}</div>"
    )


#: Stored settings that only an image run uses (the input size, CUDA's memory layout, flip test-time augmentation).
IMAGE_ONLY_SETTINGS = ("input_size", "resize_mode", "channels_last", "tta_flip")


def build_report(
    run_dir: str | os.PathLike[str],
    result: EvaluationResult | None,
    epochs: list[EpochMetrics],
    class_counts: dict[str, dict[str, int]] | None,
    sidecar: dict,
    run_status: str = "",
    texts: dict[int, str] | None = None,
    run_notes: list[str] | tuple[str, ...] = (),
) -> str:
    """The report's HTML text (pure: everything it shows is passed in); ``run_notes``: what the training said
    of how it trained (:mod:`~dmtl_studio.core.models.run_notes`)."""
    name = Path(run_dir).name
    config, unused = used_and_unused(sidecar.get("config", {}))
    if sidecar.get("kind") == "text":  # settings of image models only: a text run shows none of them
        for key in IMAGE_ONLY_SETTINGS:
            config.pop(key, None)
    recipe = config.pop("recipe", None) or sidecar.get("augmentation")
    spec = sidecar.get("model", {})
    parts = [
        f"{REPORT_START}{_e(name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Run {_e(name)}</h1>",
        f"<p class='muted'>{_e(spec.get('backbone', '?'))} · {_e(_transfer(config))} · "
        f"{len(sidecar.get('classes', []))} classes{' · ' + _e(run_status) if run_status else ''} · "
        f"report written {_e(time.strftime('%Y-%m-%d %H:%M'))}</p>",
    ]
    if run_notes:
        items = "".join(f"<li>{_e(note)}</li>" for note in run_notes)
        parts.append(f"<h2>How the run trained</h2><ul class='notes'>{items}</ul>")
    parts.append("<h2>Evaluation</h2>")
    if result is None:
        parts.append("<p class='note'>No evaluation: the run's project could not be found.</p>")
    else:
        m = result.metrics
        if result.note:
            parts.append(f"<p class='note'>{_e(result.note)}</p>")
        if result.scored:
            parts.append(
                f"<p>{len(result.image_ids)} {result.noun}(s) of the <b>{_e(result.split_title)}</b>: accuracy "
                f"<b>{m.accuracy:.1%}</b>, balanced accuracy <b>{m.balanced_accuracy:.1%}</b>{_e(result.balanced_scope())}.</p>"
            )
        else:
            parts.append(
                f"<p><b>{nothing_scored(result.noun).capitalize()}</b> in the {_e(result.split_title)}: no accuracy.</p>"
            )
        if result.skipped:
            parts.append(
                f"<p class='muted'>{result.skipped} {result.noun}(s) of classes unknown to the run left out.</p>"
            )
        if result.unreadable:
            parts.append(f"<p class='muted'>{len(result.unreadable)} {result.noun}(s) could not be read.</p>")
        if result.scored:
            parts.append("<h3>Confusion matrix</h3>" + confusion_table_html(result))
            parts.append("<h3>Per class</h3>" + _per_class_html(result))
            parts.append("<h3>Calibration</h3>" + calibration_html(result))
            parts.append("<h3>Misclassified examples</h3>" + misclassified_examples_html(result, texts=texts))
    parts.append("<h2>Training curves</h2>" + curves_html(epochs, probe=bool(config.get("linear_probe"))))
    best = sidecar.get("metrics", {})
    if best:
        parts.append("<h3>Saved epoch</h3>" + _dict_table(best))
    parts.append("<h2>Dataset</h2>")
    if class_counts:
        rows = [
            "<table><tr><th class='l'>class</th><th>total</th><th>train</th><th>val</th><th>test</th></tr>"
        ]
        for cls, c in class_counts.items():
            rows.append(
                f"<tr><td class='l'>{_e(cls)}</td><td>{c['total']}</td><td>{c['train']}</td>"
                f"<td>{c['val']}</td><td>{c['test']}</td></tr>"
            )
        rows.append(
            f"</table><p class='muted'>The project's labelled {sidecar.get('kind') == 'text' and 'texts' or 'images'} now (they may have changed "
            "since the run).</p>"
        )
        parts.append("".join(rows))
    else:
        parts.append("<p class='muted'>The run's project could not be found.</p>")
    parts.append("<h2>Reference</h2><p class='muted'>How the run was made; click a heading to open it.</p>")
    # A linear head has no hidden layer: its spec's default "hidden 256" read as part of the model.
    shown_spec = {k: v for k, v in spec.items() if spec.get("head") == "mlp" or k != "hidden"}
    parts.append(_collapsed("Model", _dict_table(shown_spec)))
    parts.append(_collapsed("Preprocessing", _dict_table(sidecar.get("preprocessing", {}))))
    parts.append(_collapsed("Configuration", _dict_table(config)))
    if unused:
        parts.append(_collapsed("Settings this run did not use", _dict_table(unused)))
    parts.append(_collapsed("Augmentation recipe", _recipe_html(recipe)))
    environment = dict(sidecar.get("versions", {}))
    environment["report platform"] = platform.platform()
    parts.append(_collapsed("Environment", _dict_table(environment)))
    parts.append("</body></html>")
    return "\n".join(parts)


#: How every report this product writes begins (:func:`build_report`): what marks a file as one of them.
REPORT_START = "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>DMTL Studio run "


def is_report_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file holding an HTML report this product wrote (one that may be written anew)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(REPORT_START.encode())) == REPORT_START.encode()
    except OSError:
        return False


def write_report(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    result: EvaluationResult | None = None,
    should_stop: ShouldStop = never_stop,
) -> tuple[Path, EvaluationResult | None]:
    """Write ``run_dir/report.html`` (or ``out``); evaluates the run unless ``result`` is given."""
    run_dir = Path(run_dir)
    loaded = load_checkpoint(run_dir)
    project = Path(project_dir) if project_dir is not None else project_of_run(run_dir)
    epochs: list[EpochMetrics] = []
    counts = None
    status = ""
    texts: dict[int, str] | None = None
    if project is not None:
        if result is None:
            result = evaluate_run(project, run_dir, loaded=loaded, should_stop=should_stop)
        with ProjectStore.open(project) as store:
            counts = store.class_counts()
            for run in store.runs():
                if Path(run.run_dir).name == run_dir.name:
                    epochs = store.epoch_metrics(run.id)
                    status = run.status
            if result.kind == "text":
                texts = store.texts(result.misclassified_ids()[:EXAMPLES])
    text = build_report(
        run_dir, result, epochs, counts, loaded.sidecar, status, texts, run_notes=read_run_notes(run_dir)
    )
    target = Path(out) if out is not None else run_dir / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, text.encode("utf-8"))
    return target, result
