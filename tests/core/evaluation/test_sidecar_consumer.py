"""A program that knows only the exported sidecar prepares images exactly as ``predict`` does.

The consumer below is what a third party writes: plain numpy, Pillow, OpenCV and onnxruntime, reading the
``model.onnx.json`` sidecar and nothing of DMTL Studio.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest
from PIL import Image, ImageOps
from skimage import data as photos

from dmtl_studio.core.evaluation.export import export_run
from dmtl_studio.core.evaluation.predict import predict_folder
from dmtl_studio.core.models.checkpoint import load_checkpoint
from dmtl_studio.core.models.preprocess import prepare_file
from tests.core.trained_run import trained_project


# ------------------------------------------------------------------ the third-party consumer
def _decode(path: Path, pre: dict) -> np.ndarray:
    decode = pre.get("decode", {})
    with Image.open(path) as image:
        image.seek(decode.get("frame", 0))
        reduced = decode.get("reduced_jpeg") and _reduce(image, pre)
        if reduced is not None:
            return reduced
        image.load()
        if "exif" in decode.get("exif_orientation", ""):
            image = ImageOps.exif_transpose(image) or image
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            over = decode.get("transparency", {}).get("composite_over_rgb", (255, 255, 255))
            background = Image.new("RGBA", rgba.size, (*over, 255))
            image = Image.alpha_composite(background, rgba)
        return np.asarray(image.convert("RGB"))


def _reduce(image: Image.Image, pre: dict) -> np.ndarray | None:
    """``decode.reduced_jpeg``, to the letter: a large plain JPEG decoded by draft, then shrunk to its scaled size."""
    size, resize, margin = int(pre["input_size"]), pre["resize"], pre["decode"]["reduced_jpeg"]["margin"]
    w, h = image.size
    if image.format != "JPEG" or image.mode not in ("RGB", "L") or getattr(image, "n_frames", 1) != 1:
        return None
    if resize["mode"] == "stretch":
        need = (margin * size, margin * size)
    else:
        need = (math.ceil(w * margin * size / max(w, h)), math.ceil(h * margin * size / max(w, h)))
    if w < 2 * need[0] or h < 2 * need[1]:
        return None
    turned = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    shown_w, shown_h = (h, w) if turned else (w, h)
    image.draft(None, need)
    image.load()
    rgb = np.asarray((ImageOps.exif_transpose(image) or image).convert("RGB"))
    if resize["mode"] == "stretch":
        target = (size, size)
    else:
        longer = max(shown_w, shown_h)
        target = (
            size if shown_w == longer else max(1, round(shown_w * size / longer)),
            size if shown_h == longer else max(1, round(shown_h * size / longer)),
        )
    return cv2.resize(rgb, target, interpolation=resize["opencv_flag_when_larger_in_both_dimensions"])


def _resize(rgb: np.ndarray, pre: dict) -> np.ndarray:
    size = int(pre["input_size"])
    resize = pre.get("resize")
    if resize is not None and resize["mode"] == "pad":  # the full description of padding, to the letter
        height, width = rgb.shape[:2]
        longer = max(height, width)
        scaled_height = size if height == longer else max(1, round(height * size / longer))
        scaled_width = size if width == longer else max(1, round(width * size / longer))
        if (scaled_height, scaled_width) != (height, width):
            shrinks = max(scaled_height, scaled_width) < longer
            flag = (
                resize["opencv_flag_when_larger_in_both_dimensions"]
                if shrinks
                else resize["opencv_flag_otherwise"]
            )
            rgb = cv2.resize(rgb, (scaled_width, scaled_height), interpolation=flag)
        canvas = np.empty((resize["height"], resize["width"], 3), np.uint8)
        canvas[...] = resize["pad_rgb"]
        top, left = (size - scaled_height) // 2, (size - scaled_width) // 2
        canvas[top : top + scaled_height, left : left + scaled_width] = rgb
        return canvas
    if resize is not None:  # the full description of a stretch: follow it to the letter
        height, width = rgb.shape[:2]
        if [height, width] == resize["unchanged_when_already"]:
            return rgb
        larger = height > resize["height"] and width > resize["width"]
        flag = (
            resize["opencv_flag_when_larger_in_both_dimensions"]
            if larger
            else resize["opencv_flag_otherwise"]
        )
        return cv2.resize(rgb, (resize["width"], resize["height"]), interpolation=flag)
    # Only the usual keys (input_size, interpolation, crop_pct): what most programs do with them — resize the
    # short side to size / crop_pct with that interpolation, then take the centre size x size.
    flags = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
    scale = size / float(pre.get("crop_pct", 1.0)) / min(rgb.shape[:2])
    height, width = max(size, round(rgb.shape[0] * scale)), max(size, round(rgb.shape[1] * scale))
    rgb = cv2.resize(
        rgb, (width, height), interpolation=flags.get(pre.get("interpolation"), cv2.INTER_LINEAR)
    )
    top, left = (height - size) // 2, (width - size) // 2
    return rgb[top : top + size, left : left + size]


def sidecar_inputs(sidecar: dict, paths: list[Path]) -> np.ndarray:
    pre = sidecar["preprocessing"]
    batch = []
    for path in paths:
        rgb = _resize(_decode(path, pre), pre)
        x = rgb.astype(np.float32) * np.float32(1 / 255)
        x = (x - np.asarray(pre["mean"], np.float32)) / np.asarray(pre["std"], np.float32)
        batch.append(x.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(batch), dtype=np.float32)


def sidecar_probabilities(model: Path, paths: list[Path]) -> np.ndarray:
    sidecar = json.loads(model.with_name(model.name + ".json").read_text())
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: sidecar_inputs(sidecar, paths)})[0]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ real-photo-like images at odd sizes
def _photos(folder: Path) -> list[Path]:
    folder.mkdir()
    astronaut, chelsea, coffee, rocket = (
        photos.astronaut(),
        photos.chelsea(),
        photos.coffee(),
        photos.rocket(),
    )
    files = {
        "astronaut-511x337.png": Image.fromarray(astronaut[:511, 100:437]),
        "chelsea-300x451.jpg": Image.fromarray(chelsea),
        "coffee-397x601.png": Image.fromarray(coffee[:397, :601]),
        "camera-grey.png": Image.fromarray(photos.camera()[:333, :479]),  # mode L
        "strip-40x300.png": Image.fromarray(cv2.resize(coffee, (300, 40), interpolation=cv2.INTER_AREA)),
        "tiny-21x33.png": Image.fromarray(chelsea[::14, ::14][:21, :33]),
    }
    alpha = np.tile(np.linspace(0, 255, chelsea.shape[1], dtype=np.uint8), (chelsea.shape[0], 1))
    files["chelsea-alpha.png"] = Image.fromarray(np.dstack([chelsea, alpha]), "RGBA")
    for name, image in files.items():
        image.save(folder / name, quality=92) if name.endswith(".jpg") else image.save(folder / name)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    Image.fromarray(rocket[:427, :639]).save(folder / "rocket-exif.jpg", exif=exif, quality=90)
    return sorted(folder.iterdir())


def test_a_sidecar_following_consumer_agrees_with_predict(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _, run_dir = trained_project(tmp_path_factory)
    model = export_run(run_dir, "onnx", tmp_path / "model.onnx").path
    paths = _photos(tmp_path / "photos")
    sidecar = json.loads(model.with_name(model.name + ".json").read_text())

    # The inputs themselves: what the consumer computes from the sidecar is what the product feeds its model.
    loaded = load_checkpoint(run_dir)
    product_inputs = np.stack([prepare_file(path, loaded.preprocessing) for path in paths])
    consumer_inputs = sidecar_inputs(sidecar, paths)
    assert np.abs(consumer_inputs - product_inputs).max(axis=(1, 2, 3)).tolist() == [0.0] * len(paths)

    # And the answers: predict's CSV rows against the consumer's onnxruntime probabilities.
    summary = predict_folder(run_dir, tmp_path / "photos", tmp_path / "predictions.csv")
    assert not summary.problems
    by_path = {Path(p.path).name: np.asarray(p.probabilities) for p in summary.predictions}
    expected = np.stack([by_path[path.name] for path in paths])
    got = sidecar_probabilities(model, paths)
    assert np.abs(got - expected).max() < 1e-4
    assert got.argmax(1).tolist() == expected.argmax(1).tolist()
    assert sidecar["preprocessing"]["crop"] is None and sidecar["preprocessing"]["crop_pct"] == 1.0
    assert sidecar["preprocessing"]["resize"]["mode"] == "pad"  # new runs keep the images' shape


def test_a_stretched_run_is_described_and_followed_as_before(tmp_path: Path) -> None:
    """A run made before the resize mode existed: its sidecar has no mode of its own, only a stretch step."""
    from dmtl_studio.core.models.preprocess import Preprocessing, describe_preprocessing

    old = Preprocessing(64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic", 1.0)
    described = describe_preprocessing(old)
    assert described["resize"]["mode"] == "stretch" and "pad_rgb" not in described["resize"]
    assert Preprocessing.from_dict(described) == old
    assert Preprocessing.from_dict({k: v for k, v in described.items() if k != "resize"}) == old
    paths = _photos(tmp_path / "photos")
    product = np.stack([prepare_file(path, old) for path in paths])
    consumer = sidecar_inputs({"preprocessing": described}, paths)
    assert np.abs(consumer - product).max() == 0.0
    with pytest.raises(ValueError, match="unknown resize mode 'crop'"):
        Preprocessing.from_dict({**described, "resize": {**described["resize"], "mode": "crop"}})


def test_a_run_fitted_by_an_unknown_resize_mode_is_refused_as_from_a_newer_version(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import shutil

    from dmtl_studio.core.models.checkpoint import SIDECAR_NAME
    from dmtl_studio.core.models.run_folder import CheckpointError

    _, run_dir = trained_project(tmp_path_factory)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    sidecar = json.loads((copy / SIDECAR_NAME).read_text())
    sidecar["preprocessing"]["resize_mode"] = "crop"
    (copy / SIDECAR_NAME).write_text(json.dumps(sidecar))
    with pytest.raises(
        CheckpointError, match="unknown resize mode 'crop'.*newer DMTL Studio: update to use it"
    ):
        load_checkpoint(copy)
    load_checkpoint(run_dir)  # the run itself still loads
