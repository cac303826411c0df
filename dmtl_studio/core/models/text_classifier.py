"""A text classifier: a pretrained sentence encoder and a new head, as one :class:`Classifier`.

The same :class:`~dmtl_studio.core.models.classifier.Classifier` as for images, with a
:class:`~dmtl_studio.core.models.text_encoder.TextEncoder` as its backbone: it maps token ids ``(B, L)`` to logits
``(B, C)``. The transfer strategies (:mod:`dmtl_studio.core.models.transfer`) apply unchanged: the encoder's stages
are its embeddings and then each transformer layer, so ``partial`` with ``unfreeze_stages = 2`` fine-tunes the
last two layers. A checkpoint's :class:`~dmtl_studio.core.models.classifier.ModelSpec` names the encoder in
``backbone``; the sidecar's ``preprocessing`` is a :class:`TextPreprocessing` (``kind: "text"``).
"""

from __future__ import annotations

from dmtl_studio.core.models.architectures import WeightsError
from dmtl_studio.core.models.catalog import info_for
from dmtl_studio.core.models.classifier import HEADS, Classifier, ModelSpec, build_head
from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER, IMPORTED_PREFIX, TextEncoderError
from dmtl_studio.core.models.text_encoder import TextEncoder, TextPreprocessing, load_text_encoder

__all__ = [
    "HEADS",
    "TextEncoder",
    "TextPreprocessing",
    "build_head",
    "build_text_classifier",
    "is_text_encoder_name",
    "run_text_encoder",
    "text_classifier",
]


def is_text_encoder_name(name: str) -> bool:
    """Whether ``name`` names a text encoder (the default, an imported one, or an absolute folder)."""
    return name == DEFAULT_TEXT_ENCODER or name.startswith(IMPORTED_PREFIX) or name.startswith("/")


def run_text_encoder(name: str) -> tuple[str, str]:
    """The encoder a text run of the setting ``name`` uses, and a notice (``""`` when none): ``name`` when it names
    a text encoder, else the default when ``name`` is an image backbone's (the settings start from one).

    Raises
    ------
    TextEncoderError
        A name that is neither a text encoder nor an image backbone (a typo): the message lists the encoders.
    """
    if is_text_encoder_name(name):
        return name, ""
    if not (info_for(name) is not None or name.startswith(("timm/", "torchvision/")) or _is_timm_model(name)):
        from dmtl_studio.core.models.text_encoder_list import list_text_encoders

        known = ", ".join(row.name for row in list_text_encoders())
        raise TextEncoderError(
            f"unknown text encoder '{name}': the text encoders here are {known} (dmtl-studio weights list; "
            "dmtl-studio weights import-encoder FOLDER adds one)"
        )
    return DEFAULT_TEXT_ENCODER, f"{name} is an image backbone; this text project uses {DEFAULT_TEXT_ENCODER}"


def _is_timm_model(name: str) -> bool:
    import timm

    return bool(timm.is_model(name))


def text_classifier(encoder: TextEncoder, spec: ModelSpec) -> Classifier:
    """``encoder`` with a new head for ``spec`` (linear or MLP, with its dropout)."""
    if spec.head not in HEADS:
        raise WeightsError(f"unknown head '{spec.head}'; heads are {', '.join(HEADS)}")
    return Classifier(encoder, spec.num_classes, spec.dropout, spec.head, spec.hidden)


def build_text_classifier(spec: ModelSpec, pretrained: bool = True) -> Classifier:
    """A text classifier for ``spec``; with ``pretrained`` the encoder starts from its weights found offline,
    otherwise from its architecture alone (a checkpoint's weights are loaded over it).

    Raises
    ------
    TextEncoderError
        The encoder's folder cannot be found or read offline.
    """
    return text_classifier(load_text_encoder(spec.backbone, pretrained=pretrained), spec)
