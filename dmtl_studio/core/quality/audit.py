"""The audit bundle of a run: one zip file that shows how a model was made.

A regulated lab keeps, for every model it uses, the model itself, what data it was trained on, how it was trained
and how good it is, with the uncertainty of that figure. The bundle holds:

- ``model/model.safetensors`` and ``model/model.json``: the run's weights and sidecar, byte for byte; on request
  also ``model/model.onnx`` and its sidecar (:func:`dmtl_studio.core.evaluation.export.export_run`, checked against PyTorch);
- ``model-card.md`` and ``model-card.json``: the same facts for a person and for a program: data counts per class
  and split, augmentation recipe, backbone and weights hashes, training configuration, library versions, metrics
  on the test split (validation split if none, said) with 95 % Wilson score intervals, calibration, known label
  issues and leaks (duplicate groups that span splits or labels);
- ``report.html``: the run's HTML report (:mod:`dmtl_studio.core.evaluation.report`);
- ``training-images.csv``: path, sha256, label and split of every labelled image of the train, validation and
  test splits now, and ``fitted``: whether the run fitted on it (``model/fitted-items.txt``, the run's own list
  of content hashes; empty for a run that keeps none) (formula-safe, :mod:`dmtl_studio.core.base.csvfile`);
- ``manifest.json``: the sha256 of every other member.

Everything is computed first, then the zip is written once through :func:`dmtl_studio.core.base.fileio.atomic_write`,
so a failure (full disk, read-only folder, a stop) leaves no file at the target.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.models.run_folder import FITTED_NAME, read_fitted_hashes, used_and_unused
from dmtl_studio.core.quality.model_card import calibration_on_split, card_metrics, model_card_markdown

#: The whole bundle's work in percent, and where each step ends in it (the label check's feature pass and the
#: duplicate search take most of the time; their own progress moves inside their shares).
STEPS = 100
_SHARES = {"evaluated": 10, "labels": 65, "leaks": 85, "report": 95}


class AuditError(ValueError):
    """An audit bundle that cannot be made (no project for the run, the target exists); the message says why."""


def _label_issues(
    project: Path,
    config: dict,
    classes: Sequence[str],
    should_stop: ShouldStop,
    on_progress: Callable[[int, int], None],
) -> dict:
    from dmtl_studio.core.base.cancel import Cancelled
    from dmtl_studio.core.quality.label_errors import find_label_errors
    from dmtl_studio.core.training.config import TrainConfig

    try:
        # The check reads the backbone (a text project: its encoder), seed and batch size; it never augments, so
        # the run's recipe is left out (nothing of it is used, so nothing in it can stop the check).
        settings = {key: value for key, value in config.items() if key != "recipe"}
        check_config = TrainConfig.from_dict({**settings, "device": "cpu"})
        report = find_label_errors(
            project,
            config=check_config,
            should_stop=should_stop,
            on_progress=lambda done, total, _seconds: on_progress(done, total),
            fit_folds=True,
            classes=classes,  # the run's: a class added since it was trained is not its concern (h35)
        )
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - the card records why the check could not run; the bundle is made
        from dmtl_studio.core.base.errors import plain_message

        return {"checked": False, "reason": plain_message(exc)}
    return {"checked": True, "method": "confident learning on out-of-fold probabilities", **report.to_dict()}


def _leaks(project: Path, should_stop: ShouldStop, on_progress: Callable[[int, int], None]) -> dict:
    from dmtl_studio.core.quality.duplicates import find_duplicates

    report = find_duplicates(project, should_stop=should_stop, on_progress=on_progress, remember=False)
    warned = [group.to_dict() for group in report.groups if group.warnings]
    return {"checked": True, "images": report.images, "groups": len(report.groups), "warned": warned}


def _onnx_export(run_dir: Path) -> tuple[dict[str, bytes], dict]:
    """The run as ONNX (``{member: bytes}``) and what the card says of it; a failed export is said, not raised."""
    from dmtl_studio.core.evaluation.export import export_run

    with tempfile.TemporaryDirectory(prefix="dmtl-audit-onnx-") as folder:
        try:
            result = export_run(run_dir, "onnx", Path(folder) / "model.onnx")
            files = {
                "model/model.onnx": result.path.read_bytes(),
                "model/model.onnx.json": result.sidecar.read_bytes(),
            }
        except Exception as exc:  # noqa: BLE001 - the ONNX copy is optional: the card says why it is missing
            from dmtl_studio.core.base.errors import plain_message

            return {}, {"included": False, "reason": plain_message(exc)}
    return files, {"included": True, "max_abs_difference_vs_pytorch": result.max_abs_difference}


def _pretrained_weights(backbone: str) -> dict:
    from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER
    from dmtl_studio.core.models.text_classifier import is_text_encoder_name
    from dmtl_studio.core.models.weight_store import latest_for

    if backbone and is_text_encoder_name(backbone):
        where = "bundled with DMTL Studio" if backbone == DEFAULT_TEXT_ENCODER else "imported"
        return {"source": f"the text encoder {backbone} ({where})", "sha256": None}

    stored = latest_for(backbone) if backbone else None
    if stored is not None:
        return {"source": f"imported file {stored.source_name}", "sha256": stored.sha256}
    from dmtl_studio.core.base.fileio import file_sha256
    from dmtl_studio.core.models.catalog import bundled_file, info_for

    info = info_for(backbone) if backbone else None
    bundled = bundled_file(info) if info is not None else None
    if bundled is not None:  # the weights DMTL Studio ships (an offline package), as the run loaded them
        return {"source": f"{bundled.name} of the package {info.package}", "sha256": file_sha256(bundled)}
    return {"source": "the library's own pretrained weights (timm / torchvision)", "sha256": None}


def _training_images(store: object) -> list[tuple[str, str, str, str]]:
    """``(path, sha256, label, split)`` of every usable labelled image in a split, sorted by split then path."""
    from dmtl_studio.core.base.fileio import file_sha256

    rows = []
    for image in store.images(usable_only=True):
        if image.label is None or image.split not in ("train", "val", "test"):
            continue
        digest = image.sha256
        if not digest:
            try:
                digest = file_sha256(image.path)
            except OSError:
                digest = ""
        rows.append((image.path, digest, image.label, image.split))
    order = {"train": 0, "val": 1, "test": 2}
    return sorted(rows, key=lambda row: (order[row[3]], row[0]))


def write_audit_bundle(
    run_dir: str | os.PathLike[str],
    out_zip: str | os.PathLike[str],
    *,
    project_dir: str | os.PathLike[str] | None = None,
    label_check: bool = True,
    onnx: bool = False,
    overwrite: bool = False,
    should_stop: ShouldStop = never_stop,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the audit bundle of a run (see the module docstring) to ``out_zip``.

    Parameters
    ----------
    run_dir
        The run folder (``model.safetensors`` + ``model.json``).
    out_zip
        The zip file to write; an existing file is refused unless ``overwrite``.
    project_dir
        The run's project (default: the project the run folder is in).
    label_check
        Look for label errors (a feature pass); off, the card says it was not checked.
    onnx
        Also hold the run's ONNX export (a few seconds); an export that fails is said in the card.
    should_stop
        Polled between steps and inside them; a stop raises :class:`~dmtl_studio.core.base.cancel.Cancelled`.
    progress
        Called with ``(done, STEPS)``: the share of the work done, out of :data:`STEPS`, moving inside the label
        check's feature pass and the duplicate search, which take most of the time.

    Returns
    -------
    pathlib.Path
        ``out_zip``.

    Raises
    ------
    AuditError
        No project for the run, or ``out_zip`` exists and ``overwrite`` is false.
    dmtl_studio.core.models.checkpoint.CheckpointError
        ``run_dir`` holds no usable model.
    dmtl_studio.core.base.fileio.FileWriteError
        The disk refused the zip (full, read-only); nothing is left at ``out_zip``.
    """
    from dmtl_studio.core.base.csvfile import csv_bytes
    from dmtl_studio.core.base.fileio import atomic_write
    from dmtl_studio.core.evaluation.inference import evaluate_run, project_of_run
    from dmtl_studio.core.evaluation.report import write_report
    from dmtl_studio.core.models.checkpoint import SIDECAR_NAME, WEIGHTS_NAME, load_checkpoint
    from dmtl_studio.core.project.store import ProjectStore

    run_dir, out_zip = Path(run_dir), Path(out_zip)
    report_progress = progress or (lambda done, total: None)
    if out_zip.exists() and not overwrite:
        raise AuditError(f"{out_zip} already exists: choose another file name (nothing was written)")
    if out_zip.is_dir():
        raise AuditError(f"{out_zip} is a folder: give a .zip file name")
    loaded = load_checkpoint(run_dir)
    project = Path(project_dir) if project_dir is not None else project_of_run(run_dir)
    if project is None:
        raise AuditError(f"{run_dir} is not inside a project: name the project it was trained on (--project)")
    sidecar = loaded.sidecar
    config, unused = used_and_unused(sidecar.get("config", {}))
    recipe = config.pop("recipe", None) or sidecar.get("augmentation")

    def within(start: int, end: int) -> Callable[[int, int], None]:
        """A step's own ``(done, total)`` as the share of ``[start, end]`` of the whole."""
        return lambda done, total: report_progress(start + (end - start) * done // max(1, total), STEPS)

    check(should_stop)
    result = evaluate_run(project, run_dir, loaded=loaded, should_stop=should_stop)
    report_progress(_SHARES["evaluated"], STEPS)
    if label_check:
        issues = _label_issues(
            project,
            sidecar.get("config", {}),
            loaded.classes,
            should_stop,
            within(_SHARES["evaluated"], _SHARES["labels"]),
        )
    else:
        issues = {"checked": False, "reason": "the label check was turned off for this bundle"}
    report_progress(_SHARES["labels"], STEPS)
    leaks = _leaks(project, should_stop, within(_SHARES["labels"], _SHARES["leaks"]))
    report_progress(_SHARES["leaks"], STEPS)
    with ProjectStore.open(project) as store:
        counts = store.class_counts()
        images = _training_images(store)
        kind = store.kind
    with tempfile.TemporaryDirectory(prefix="dmtl-audit-") as folder:
        report_path, _ = write_report(
            run_dir, Path(folder) / "report.html", project_dir=project, result=result, should_stop=should_stop
        )
        report_html = report_path.read_bytes()
    onnx_files, onnx_note = (
        _onnx_export(run_dir) if onnx else ({}, {"included": False, "reason": "not asked for"})
    )
    report_progress(_SHARES["report"], STEPS)
    check(should_stop)

    # What the run itself fitted on (its content hashes), beside the project's splits now: they differ when the
    # splits were redrawn or items came back since the run.
    fitted = read_fitted_hashes(run_dir)
    rows = [(*row, "" if fitted is None else ("yes" if row[1] in fitted else "no")) for row in images]
    fitted_file = {"model/" + FITTED_NAME: (run_dir / FITTED_NAME).read_bytes()} if fitted is not None else {}
    fitted_in_test = sum(1 for row in rows if row[3] == "test" and row[4] == "yes")
    # An image deleted or moved since its import keeps its last hash in the list: the card says how many.
    gone = [row[0] for row in rows if kind != "text" and not os.path.isfile(row[0])]
    backbone = sidecar.get("model", {}).get("backbone", config.get("backbone", ""))
    card = {
        "schema_version": 1,
        "run": run_dir.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "made_by": sidecar.get("versions", {}).get("dmtl_studio", "?"),
        "classes": list(loaded.classes),
        "data": {
            "counts": counts,
            "images_listed": len(images),
            "kind": kind,
            "note": f"The project's usable labelled {'texts' if kind == 'text' else 'images'} when the bundle was "
            "made (they may have changed since the run); the 'fitted' column of training-images.csv says which the "
            "run fitted on (empty: the run keeps no list of them).",
            "fitted_listed": None if fitted is None else sum(1 for row in rows if row[4] == "yes"),
            "fitted_in_test": None if fitted is None else fitted_in_test,
            "gone_from_disk": gone,
        },
        "model": {
            "backbone": backbone,
            "spec": sidecar.get("model", {}),
            "weights_sha256": sidecar.get("weights_sha256"),
            "pretrained_weights": _pretrained_weights(backbone),
            "onnx": onnx_note,
        },
        "config": config,
        "unused_settings": unused,
        "augmentation": recipe,
        "preprocessing": sidecar.get("preprocessing", {}),
        "versions": sidecar.get("versions", {}),
        "metrics": card_metrics(result, {row[0]: row[1] for row in images}),
        "calibration": sidecar.get("calibration") or "not calibrated",
        "calibration_on_split": calibration_on_split(result),
        "label_issues": issues,
        "leaks": leaks,
    }
    members = {
        "model/" + WEIGHTS_NAME: (run_dir / WEIGHTS_NAME).read_bytes(),
        "model/" + SIDECAR_NAME: (run_dir / SIDECAR_NAME).read_bytes(),
        **onnx_files,
        "model-card.md": model_card_markdown(card).encode("utf-8"),
        "model-card.json": json.dumps(card, indent=2, sort_keys=True, default=str).encode("utf-8"),
        "report.html": report_html,
        "training-images.csv": csv_bytes(("path", "sha256", "label", "split", "fitted"), rows),
        **fitted_file,
    }
    manifest = {
        "schema_version": 1,
        "run": run_dir.name,
        "algorithm": "sha256",
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    members["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")

    def write(stream: io.BufferedWriter) -> None:
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for name, data in members.items():
                check(should_stop)
                bundle.writestr(name, data)

    atomic_write(out_zip, write)
    report_progress(STEPS, STEPS)
    return out_zip
