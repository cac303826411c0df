"""The bundled ImageNet weights are really in effect, and bad weights fail loudly."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from skimage import data as sample_images

from dmtl_studio.core.models.architectures import WeightsError, preprocessing_for
from dmtl_studio.core.models.pretrained import load_bundled_imagenet_model, map_state_dict_by_order

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


def _top5(model: torch.nn.Module, image: np.ndarray) -> list[int]:
    pre = preprocessing_for(model)
    resized = np.asarray(Image.fromarray(image).resize((pre.input_size, pre.input_size), Image.BICUBIC))
    x = (resized.astype(np.float32) / 255 - np.array(pre.mean, np.float32)) / np.array(pre.std, np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(x.transpose(2, 0, 1)).unsqueeze(0))
    return logits.topk(5).indices[0].tolist()


def test_bundled_weights_recognise_real_photos() -> None:
    model = load_bundled_imagenet_model("efficientnet_lite0")
    cat = _top5(model, sample_images.chelsea())  # CC0 photo of a cat
    coffee = _top5(model, sample_images.coffee())  # a cup of coffee
    assert cat[0] in CAT_CLASSES and len(CAT_CLASSES & set(cat[:3])) >= 2
    assert coffee[0] in COFFEE_CLASSES and set(coffee) >= COFFEE_CLASSES


def test_random_weights_would_fail_the_same_check() -> None:
    torch.manual_seed(0)
    model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    cat = _top5(model, sample_images.chelsea())
    coffee = _top5(model, sample_images.coffee())
    assert not (cat[0] in CAT_CLASSES and coffee[0] in COFFEE_CLASSES)


def test_preprocessing_comes_from_the_model_config() -> None:
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    pre = preprocessing_for(model)
    config = timm.data.resolve_model_data_config(model)
    assert pre.input_size == config["input_size"][-1]
    assert pre.mean == tuple(config["mean"]) and pre.std == tuple(config["std"])
    assert preprocessing_for(model, 160).input_size == 160


def test_shape_and_count_mismatches_fail_loudly() -> None:
    target = OrderedDict(a=torch.zeros(2, 3), b=torch.zeros(4))
    with pytest.raises(WeightsError, match="shape"):
        map_state_dict_by_order(OrderedDict(x=torch.zeros(3, 2), y=torch.zeros(4)), target)
    with pytest.raises(WeightsError, match="tensors"):
        map_state_dict_by_order(OrderedDict(x=torch.zeros(2, 3)), target)
    mapped = map_state_dict_by_order(OrderedDict(x=torch.ones(2, 3), y=torch.ones(4)), target)
    assert list(mapped) == ["a", "b"] and mapped["a"].sum() == 6


@pytest.mark.parametrize("arch", ["efficientnet_lite1", "efficientnet_lite2"])
def test_larger_bundled_lites_recognise_a_real_photo(arch: str) -> None:
    model = load_bundled_imagenet_model(arch)
    cat = _top5(model, sample_images.chelsea())
    assert cat[0] in CAT_CLASSES and len(CAT_CLASSES & set(cat[:3])) >= 2
    assert preprocessing_for(model).input_size == {"efficientnet_lite1": 240, "efficientnet_lite2": 260}[arch]
