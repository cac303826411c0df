"""Grad-CAM: its shape, that it points at the patch that decides the class, and a clear refusal for ViT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from torch import nn

from dmtl_studio.core.evaluation.gradcam import GradCamUnavailable, explain_image, find_target_layer, grad_cam
from dmtl_studio.core.models.architectures import preprocessing_for
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
from dmtl_studio.core.models.preprocess import to_tensor
from tests.core.trained_run import INPUT_SIZE, trained_project

SIZE = 224
PATCH = 56
COLOURS = ((220, 40, 40), (40, 90, 230))  # class 0: a red patch, class 1: a blue patch


def _picture(
    rng: np.random.Generator, label: int, top: int, left: int, size: int = SIZE, patch: int = PATCH
) -> np.ndarray:
    """Grey clutter everywhere; the class is decided only by the colour of one square patch."""
    image = rng.integers(70, 190, size=(size, size, 1)).repeat(3, axis=2).astype(np.float64)
    blob = size // 10
    for _ in range(3):  # grey distractor blobs, the same for both classes
        y, x = rng.integers(0, size - blob, size=2)
        image[y : y + blob, x : x + blob] = rng.integers(0, 255)
    image[top : top + patch, left : left + patch] = COLOURS[label]
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _train_head(model: nn.Module, parameters, batch: torch.Tensor, labels: np.ndarray, steps: int) -> None:  # noqa: ANN001
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    targets = torch.from_numpy(labels)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(batch), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert (model(batch).argmax(1) == targets).float().mean() == 1.0


def _inside_and_outside(heatmap: np.ndarray, top: int, left: int, patch: int) -> tuple[float, float]:
    mask = np.zeros(heatmap.shape, dtype=bool)
    mask[top : top + patch, left : left + patch] = True
    return float(heatmap[mask].mean()), float(heatmap[~mask].mean())


class TinyCNN(nn.Module):
    """A small convolutional classifier with a 16x16 feature map at 64 px: Grad-CAM can be precise on it."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def _normalise(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0)


@pytest.fixture(scope="module")
def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    batch = torch.stack(
        [_normalise(_picture(rng, int(y), *rng.integers(0, 64 - 16, size=2), 64, 16)) for y in labels]
    )
    model = TinyCNN()
    _train_head(model, model.parameters(), batch, labels, 120)
    return model.eval()


@pytest.mark.parametrize("label, top, left", [(0, 2, 3), (1, 44, 46), (0, 24, 45), (1, 46, 4), (1, 20, 22)])
def test_the_map_peaks_on_the_deciding_patch(tiny_cnn: nn.Module, label: int, top: int, left: int) -> None:
    image = _picture(np.random.default_rng(100 + top), label, top, left, 64, 16)
    heatmap, target, probabilities = grad_cam(tiny_cnn, _normalise(image)[None])
    assert heatmap.shape == (64, 64) and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
    assert target == label and probabilities[label] > 0.5
    y, x = np.unravel_index(int(heatmap.argmax()), heatmap.shape)
    assert top - 2 <= y < top + 18 and left - 2 <= x < left + 18, (y, x)
    inside, outside = _inside_and_outside(heatmap, top, left, 16)
    assert inside > 3 * outside


@pytest.fixture(scope="module")
def efficientnet_patch_classifier() -> tuple[nn.Module, object]:
    """EfficientNet-Lite0 (frozen, ImageNet weights) with a linear head trained on red vs blue patches."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = build_classifier(ModelSpec("efficientnet_lite0", 2, dropout=0.0), pretrained=True).eval()
    pre = preprocessing_for(model.backbone, SIZE)
    labels = np.arange(32) % 2
    images = [_picture(rng, int(y), *rng.integers(0, SIZE - PATCH, size=2)) for y in labels]
    with torch.no_grad():
        features = model.features(torch.stack([to_tensor(im, pre) for im in images]))
    _train_head(model.head, model.head.parameters(), features, labels, 150)
    return model, pre


@pytest.mark.parametrize("label, top, left", [(0, 10, 14), (1, 150, 152)])
def test_the_real_backbone_also_highlights_the_patch(
    efficientnet_patch_classifier, label: int, top: int, left: int
) -> None:  # noqa: ANN001
    model, pre = efficientnet_patch_classifier
    image = _picture(np.random.default_rng(100 + top), label, top, left)
    heatmap, target, _ = grad_cam(model, to_tensor(image, pre)[None])
    assert heatmap.shape == (SIZE, SIZE) and target == label
    inside, outside = _inside_and_outside(heatmap, top, left, PATCH)
    assert inside > 1.5 * outside  # a 7x7 map of a deep network: coarse, but on the patch


def test_a_flip_averaging_model_is_explained_on_the_image_not_its_mirror(
    efficientnet_patch_classifier,
) -> None:  # noqa: ANN001
    model, pre = efficientnet_patch_classifier
    top, left = 30, 150  # near the right edge: its mirror position is far away on the left
    image = _picture(np.random.default_rng(3), 0, top, left)
    model.flip_views = True
    try:
        heatmap, target, probabilities = grad_cam(model, to_tensor(image, pre)[None])
    finally:
        model.flip_views = False
    assert target == 0 and probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    inside, outside = _inside_and_outside(heatmap, top, left, PATCH)
    mirrored, _ = _inside_and_outside(heatmap, top, SIZE - left - PATCH, PATCH)
    assert inside > 1.5 * outside
    # The mirror view's map is flipped back onto the patch: nothing lights up where the patch is in the mirror.
    assert mirrored < 0.05


def test_explaining_an_image_file_with_a_trained_run(tmp_path_factory) -> None:  # noqa: ANN001
    project, run_dir = trained_project(tmp_path_factory)
    image = next((project.parent / "images" / "circle").glob("*.png"))
    result = explain_image(run_dir, str(image))
    assert result.heatmap.shape == (INPUT_SIZE, INPUT_SIZE)
    assert result.class_name in ("circle", "square", "triangle") and len(result.probabilities) == 3
    assert result.layer  # the name of the feature map used
    other = (result.class_index + 1) % 3
    assert explain_image(run_dir, str(image), class_index=other).class_index == other


def test_a_padded_runs_map_covers_the_image_not_its_padding(tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    project, run_dir = trained_project(tmp_path_factory)
    square = Image.open(next((project.parent / "images" / "circle").glob("*.png"))).convert("RGB")
    wide = tmp_path / "wide.png"
    square.resize((128, 32)).save(
        wide
    )  # 4:1 -> a 64 x 16 band in the 64 px input, 24 rows of padding each side
    result = explain_image(run_dir, str(wide))
    assert result.heatmap.shape == (16, 64)  # the image's own shape, in input pixels
    assert float(result.heatmap.max()) == pytest.approx(1.0)


def test_a_model_without_a_spatial_map_gets_a_clear_message() -> None:
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=3).eval()
    with pytest.raises(GradCamUnavailable, match="vision transformer"):
        find_target_layer(vit, 224)
    with pytest.raises(ValueError, match="one image"):
        grad_cam(
            nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()), torch.zeros(2, 3, 8, 8)
        )


def test_a_blank_image_gets_an_empty_map_and_a_note(tmp_path_factory, tmp_path: Path) -> None:  # noqa: ANN001
    """A blank white image showed confident red blobs where the padding meets it (h35): its map is empty and a
    note says why, while a picture with a speck on the same white is explained as usual."""
    from dmtl_studio.core.evaluation.gradcam import BLANK_NOTE

    _project, run_dir = trained_project(tmp_path_factory)
    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (80, 80), (250, 250, 250)).save(blank, quality=90)  # a lossy file: the same colour
    result = explain_image(run_dir, str(blank))
    assert float(np.abs(result.heatmap).max()) == 0.0 and result.note == BLANK_NOTE
    assert len(result.probabilities) == 3  # still a prediction: the note says what it rests on
    from dmtl_studio.core.evaluation.explain_files import explain_images

    assert BLANK_NOTE in (
        explain_images(run_dir, [str(blank)], tmp_path / "out")[0].note or ""
    )  # CLI, --json
    # Any one colour, with a sensor's noise, is blank too (h38: a pure red frame and a white one with +-3 levels
    # of noise were drawn with blobs).
    rng = np.random.default_rng(0)
    for colour in ((255, 0, 0), (250, 250, 250)):
        noisy = np.clip(np.array(colour) + rng.integers(-3, 4, (80, 80, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(tmp_path / "frame.png")
        assert explain_image(run_dir, str(tmp_path / "frame.png")).note == BLANK_NOTE, colour
    speck = tmp_path / "speck.png"
    pixels = np.full((80, 80, 3), 250, np.uint8)
    pixels[30:42, 30:42] = (200, 40, 40)
    Image.fromarray(pixels).save(speck)
    seen = explain_image(run_dir, str(speck))
    assert seen.note == "" and float(seen.heatmap.max()) == pytest.approx(1.0)
