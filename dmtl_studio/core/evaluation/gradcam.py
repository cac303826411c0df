"""Grad-CAM: which part of an image made a convolutional classifier choose a class.

The map is the last spatial feature map of the backbone, each channel weighted by the mean gradient of the class
score with respect to it, summed and passed through ReLU (Selvaraju et al., 2017), then resized to the model's
input and scaled to [0, 1]. A model that averages its prediction with the mirror image's (flip test-time
augmentation) is explained as a whole: the mirror view's weighted map, flipped back, is added before the ReLU.
The layer is found by running the model once: the last module whose output is a 4-D map larger than 1x1, so the
same code serves timm and torchvision networks. Backbones without such a map (vision transformers) raise
:class:`GradCamUnavailable` with a message for the user.

A map scaled to its own maximum always shows a strongest place, even where nothing in the image differs from
anything else: a blank image of one colour showed confident red blobs along its edges (h35), where the network's
padding meets the uniform picture. Such an image (each colour channel of its decoded pixels spread by at most
:data:`BLANK_SPREAD` levels: one colour, whichever, with a camera's or a file's noise) gets an empty map and a note
saying so (:attr:`CamResult.note`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dmtl_studio.core.models.checkpoint import LoadedModel, load_checkpoint
from dmtl_studio.core.models.preprocess import decode_for_input, fit_to_input, image_box, to_tensor

#: Largest standard deviation (levels of 255) over the pixels of each colour channel of a blank image: one colour,
#: with the noise of a sensor or a lossy file (a white frame with +-3 levels of noise: 1.7; h38). Measured per
#: channel: a pure red frame spreads by 120 over its three channels pooled, and was drawn with blobs.
BLANK_SPREAD = 3.0
#: The note of a blank image's map.
BLANK_NOTE = (
    "the image is blank (one colour, at most a few levels of noise): no part of it stands out, so there is no "
    "place to show; the prediction comes from the colour alone"
)


class GradCamUnavailable(Exception):
    """Grad-CAM does not apply to this model; the message says why in plain words."""


@dataclass(frozen=True)
class CamResult:
    """A heat map in [0, 1] over the image, in model input pixels (rows, columns), for ``class_index``; ``note``:
    what to read instead of the map, when it shows nothing to read (a blank image: :data:`BLANK_NOTE`)."""

    heatmap: np.ndarray
    class_index: int
    class_name: str
    probabilities: tuple[float, ...]
    layer: str
    note: str = ""


def _leaf_modules(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in module.named_modules() if not list(m.children())]


def find_target_layer(model: nn.Module, input_size: int) -> tuple[str, nn.Module]:
    """The last module of ``model.backbone`` (or ``model``) whose output is a spatial map larger than 1x1."""
    backbone = getattr(model, "backbone", model)
    seen: list[tuple[str, nn.Module]] = []
    tokens_after = {"count": 0}
    hooks = []
    for name, module in _leaf_modules(backbone):

        def record(mod: nn.Module, _inputs: object, output: object, name: str = name) -> None:
            if not isinstance(output, torch.Tensor):
                return
            if output.dim() == 4 and output.shape[-1] > 1 and output.shape[-2] > 1:
                seen.append((name, mod))
                tokens_after["count"] = 0
            elif output.dim() == 3 and output.shape[1] > 1:
                tokens_after["count"] += 1  # a sequence of tokens: a transformer works on from here

        hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    if not seen or tokens_after["count"]:
        raise GradCamUnavailable(
            "Grad-CAM needs a convolutional backbone whose last feature map is spatial; this model has "
            "none (a vision transformer works on a sequence of patch tokens). Choose a run with a "
            "convolutional backbone such as EfficientNet, ResNet, MobileNet or ConvNeXt."
        )
    return seen[-1]


def grad_cam(
    model: nn.Module, images: torch.Tensor, class_index: int | None = None, layer: nn.Module | None = None
) -> tuple[np.ndarray, int, np.ndarray]:
    """Grad-CAM of one image tensor ``(1, 3, H, W)``.

    Returns the heat map ``(H, W)`` in [0, 1], the class explained (the predicted one unless ``class_index``
    is given) and the class probabilities.
    """
    if images.dim() != 4 or images.shape[0] != 1:
        raise ValueError("grad_cam explains one image: a tensor of shape (1, 3, H, W)")
    if layer is None:
        _, layer = find_target_layer(model, int(images.shape[-1]))
    captured: dict[str, torch.Tensor] = {}

    def keep(_mod: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        captured["activations"] = output
        output.register_hook(lambda grad: captured.__setitem__("gradients", grad))

    was_training = model.training
    model.eval()
    hook = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            inputs = images.detach().clone().requires_grad_(True)
            logits = model(inputs)
            probabilities = logits.softmax(1)[0].detach().cpu().numpy()
            target = int(probabilities.argmax()) if class_index is None else int(class_index)
            model.zero_grad(set_to_none=True)
            logits[0, target].backward()
    finally:
        hook.remove()
        model.train(was_training)
    activations = captured["activations"].detach()
    gradients = captured.get("gradients")
    if gradients is None:
        raise GradCamUnavailable("the class score does not depend on the chosen feature map")
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    maps = (weights * activations).sum(dim=1, keepdim=True)
    if maps.shape[0] == 2:  # flip test-time augmentation: the mirror view's map, flipped back, adds to it
        maps = maps[:1] + maps[1:].flip(-1)
    cam = F.relu(maps)
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam.cpu().numpy().astype(np.float32)
    top = float(cam.max())
    heatmap = cam / top if top > 0 else np.zeros_like(cam)
    return heatmap, target, probabilities


def explain_image(
    source: LoadedModel | str | os.PathLike[str], path: str, class_index: int | None = None
) -> CamResult:
    """Grad-CAM of the image file ``path`` under a trained run (a run folder or an already loaded model).

    The map covers the whole image and nothing else (a padded run's padding is cropped away), in model input
    pixels: ``(box_height, box_width)`` of :func:`~dmtl_studio.core.models.preprocess.image_box`, the image's own
    shape; resize it to the image's size to overlay it.
    """
    loaded = source if isinstance(source, LoadedModel) else load_checkpoint(source)
    size = loaded.preprocessing.input_size
    name, layer = find_target_layer(loaded.model, size)
    pixels = decode_for_input(path, loaded.preprocessing)
    image = fit_to_input(pixels, loaded.preprocessing)
    device = next(loaded.model.parameters()).device
    tensor = to_tensor(image, loaded.preprocessing)[None].to(device)
    heatmap, target, probabilities = grad_cam(loaded.model, tensor, class_index, layer)
    top, left, height, width = image_box(*pixels.shape[:2], loaded.preprocessing)
    heatmap = heatmap[top : top + height, left : left + width]
    peak = float(heatmap.max()) if heatmap.size else 0.0
    blank = float(pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max()) <= BLANK_SPREAD
    if blank:
        heatmap = np.zeros_like(heatmap)
    elif peak > 0:  # the strongest part of the image is 1 again
        heatmap = heatmap / peak
    return CamResult(
        heatmap=heatmap,
        class_index=target,
        class_name=loaded.classes[target],
        probabilities=tuple(float(p) for p in probabilities),
        layer=name,
        note=BLANK_NOTE if blank else "",
    )
