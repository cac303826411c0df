"""Explanations for the command line (``dmtl-studio explain``): Grad-CAM maps laid over images, written as PNG
files, and the word attributions of texts. The window shows the same explanations live (the large view's
Grad-CAM button, the text view's Explain words), from :mod:`~dmtl_studio.core.evaluation.gradcam` and
:mod:`~dmtl_studio.core.evaluation.text_attribution`.

Classes are named as the project names them now (a class renamed or merged since the run was trained,
:func:`~dmtl_studio.core.evaluation.names_now.run_names_now`), as predictions are.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dmtl_studio.core.base.cancel import ShouldStop, check, never_stop
from dmtl_studio.core.base.fileio import atomic_write_bytes, refuse_existing
from dmtl_studio.core.base.heat_ramp import heat_rgba
from dmtl_studio.core.evaluation.gradcam import explain_image
from dmtl_studio.core.evaluation.names_now import run_names_now
from dmtl_studio.core.evaluation.text_attribution import NothingToExplain, TextExplanation, explain_text
from dmtl_studio.core.models.checkpoint import LoadedModel, load_checkpoint
from dmtl_studio.core.project import imaging
from dmtl_studio.core.project.image_problems import ImageProblem
from dmtl_studio.core.project.image_shape import file_shape_note

#: Longer side (pixels) of a written Grad-CAM picture at most: a 100-megapixel scan is shown at this size.
OVERLAY_SIDE = 1024
#: A smaller image is enlarged (each pixel a block) until its longer side is at least this, so its heat map can
#: be seen: an 8 x 8 image's Grad-CAM was an 8 x 8 picture.
MIN_OVERLAY_SIDE = 256
#: What follows an image's name in the name of its Grad-CAM picture.
OVERLAY_SUFFIX = ".gradcam.png"


class ExplainError(ValueError):
    """An explanation cannot be made as asked (an unknown class, an exported model, a text run given images);
    the message says what to do instead."""


@dataclass(frozen=True)
class ImageExplanation:
    """One image's Grad-CAM: the picture written (``out``), the class explained and its probability; or the
    ``problem`` that kept the image from being explained (nothing is written for it). ``note``: what an import
    would note of the image's shape (:func:`~dmtl_studio.core.project.image_shape.shape_note`: a 1 x 1
    placeholder is explained as confidently as a photo), and that a blank image's map is empty
    (:data:`~dmtl_studio.core.evaluation.gradcam.BLANK_NOTE`)."""

    path: str
    out: Path | None = None
    class_name: str | None = None
    probability: float | None = None
    problem: str | None = None
    note: str | None = None


def load_run(run_dir: str | os.PathLike[str], kind: str) -> tuple[LoadedModel, list[str]]:
    """The run's model and its class names now.

    Raises
    ------
    ExplainError
        ``run_dir`` is not a run folder (an exported model cannot be explained: it has no gradients and no
        project), or its model is of the other kind than ``kind`` (``"images"`` or ``"text"``).
    CheckpointError
        The run's model cannot be read.
    """
    if not Path(run_dir).is_dir():
        raise ExplainError(
            f"{run_dir} is not a run folder: explanations are made with a run (its folder under the project's "
            "runs), not with an exported model"
        )
    loaded = load_checkpoint(run_dir)
    is_text = loaded.sidecar.get("kind") == "text"
    if is_text != (kind == "text"):
        said = (
            "a text run: give it texts (.txt files or --text)" if is_text else "an image run: give it images"
        )
        raise ExplainError(f"{Path(run_dir).name} is {said}")
    return loaded, run_names_now(run_dir, loaded.classes) or list(loaded.classes)


def class_index(loaded: LoadedModel, names: Sequence[str], wanted: str | None) -> int | None:
    """The index among the run's classes of ``wanted`` (a class name now, or the run's own name), ``None`` for
    the predicted class.

    Raises
    ------
    ExplainError
        ``wanted`` is no class of the run.
    """
    if wanted is None:
        return None
    if wanted in names:
        return list(names).index(wanted)
    if wanted in loaded.classes:
        return list(loaded.classes).index(wanted)
    raise ExplainError(f"'{wanted}' is not a class of the run ({', '.join(dict.fromkeys(names))})")


def overlay_picture(path: str | os.PathLike[str], heatmap: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8: the image at ``path`` (its longer side at most :data:`OVERLAY_SIDE`) with the
    ``(h, w)`` heat map in [0, 1] (Grad-CAM's, covering the whole image) laid over it in the window's colours.

    Raises
    ------
    ImageProblem
        The file cannot be decoded.
    """
    rgb = imaging.load_rgb_for_longer_side(path, OVERLAY_SIDE)
    height, width = rgb.shape[:2]
    if max(height, width) > OVERLAY_SIDE:
        scale = OVERLAY_SIDE / max(height, width)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))
    elif max(height, width) < MIN_OVERLAY_SIDE:
        factor = -(-MIN_OVERLAY_SIDE // max(height, width))  # a whole number: every pixel the same block
        height, width = height * factor, width * factor
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.NEAREST))
    heat = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    rgba = heat_rgba(np.asarray(heat)).astype(np.float32)
    alpha = rgba[..., 3:] / 255.0
    return (rgb.astype(np.float32) * (1 - alpha) + rgba[..., :3] * alpha).round().astype(np.uint8)


def overlay_name(path: str | os.PathLike[str]) -> str:
    """The file name of an image's Grad-CAM picture: ``photo.jpg`` → ``photo.jpg.gradcam.png``."""
    return Path(path).name + OVERLAY_SUFFIX


def overlay_names(paths: Sequence[str]) -> dict[str, str]:
    """:func:`overlay_name` of each of ``paths`` (each path once), with as many of its folders in front, joined
    by ``__``, as make the names of images that share a file name different: ``cats/0.png`` and ``dogs/0.png``
    become ``cats__0.png.gradcam.png`` and ``dogs__0.png.gradcam.png``."""
    unique = list(dict.fromkeys(str(Path(p)) for p in paths))
    depth = {path: 0 for path in unique}
    while True:
        names = {path: "__".join(Path(path).parts[-1 - depth[path] :]) + OVERLAY_SUFFIX for path in unique}
        taken: dict[str, list[str]] = {}
        for path, name in names.items():
            taken.setdefault(name, []).append(path)
        clashes = [group for group in taken.values() if len(group) > 1]
        if not clashes:
            return names
        for group in clashes:
            for path in group:
                depth[path] = min(depth[path] + 1, len(Path(path).parts) - 1)


def explain_images(
    run_dir: str | os.PathLike[str],
    paths: Sequence[str],
    out_dir: str | os.PathLike[str],
    class_name: str | None = None,
    should_stop: ShouldStop = never_stop,
    on_result: Callable[[ImageExplanation], None] | None = None,
) -> list[ImageExplanation]:
    """Grad-CAM of each image of ``paths`` under the image run ``run_dir`` for ``class_name`` (default: each
    image's predicted class), laid over the image and written to ``out_dir`` (made if missing) as
    :func:`overlay_names` (images sharing a file name are told apart by their folders). An image that cannot be decoded is reported in its result, not raised. ``on_result``
    is given each result as it is made.

    Raises
    ------
    ExplainError
        As :func:`load_run` and :func:`class_index`.
    OutputExistsError
        A picture to write exists already (nothing is written).
    GradCamUnavailable
        The backbone has no spatial feature map (a vision transformer).
    Cancelled
        ``should_stop()`` turned true between two images (the pictures written stay).
    """
    loaded, class_names = load_run(run_dir, "images")
    target = class_index(loaded, class_names, class_name)
    out = Path(out_dir)
    names = overlay_names(paths)
    for name in names.values():
        refuse_existing(out / name, remedy="choose another --out folder")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in names:
        check(should_stop)
        try:
            cam = explain_image(loaded, path, target)
            picture = overlay_picture(path, cam.heatmap)
        except ImageProblem as exc:
            results.append(ImageExplanation(path, problem=str(exc)))
        else:
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, "PNG")
            atomic_write_bytes(out / names[path], buffer.getvalue(), durable=False)
            probability = cam.probabilities[cam.class_index]
            results.append(
                ImageExplanation(
                    path,
                    out / names[path],
                    class_names[cam.class_index],
                    probability,
                    note="; ".join(part for part in (file_shape_note(path), cam.note) if part) or None,
                )
            )
        if on_result is not None:
            on_result(results[-1])
    return results


def explain_texts(
    run_dir: str | os.PathLike[str],
    texts: Sequence[str],
    class_name: str | None = None,
    should_stop: ShouldStop = never_stop,
) -> tuple[list[TextExplanation | str], list[str]]:
    """Word attributions (occlusion) of each of ``texts`` under the text run ``run_dir`` for ``class_name``
    (default: each text's predicted class), and the run's class names now (a :class:`TextExplanation`'s
    ``target`` indexes them). A text without a word gives the sentence saying so in its place.

    Raises
    ------
    ExplainError
        As :func:`load_run` and :func:`class_index`.
    Cancelled
        ``should_stop()`` turned true between two texts.
    """
    loaded, names = load_run(run_dir, "text")
    target = class_index(loaded, names, class_name)
    results: list[TextExplanation | str] = []
    for text in texts:
        check(should_stop)
        try:
            results.append(explain_text(loaded, text, target))
        except NothingToExplain as exc:
            results.append(str(exc))
    return results, names
