"""How the model panel shows a text project's encoders: the list entries, the details and the wording that speaks
of texts and encoders instead of images and backbones.

The rows are :class:`~dmtl_studio.core.models.text_encoder_list.TextEncoderRow` (plain data read by core);
nothing here reads a folder.
"""

from __future__ import annotations

from dmtl_studio.core.models.text_encoder_list import TextEncoderRow
from dmtl_studio.ui.muted import muted_color

SEARCH_TEXT = "Search text encoders (name, width, imported…)"
IMPORT_TEXT = "Import encoder folder…"
IMPORT_TIP = (
    "Use a sentence encoder you have as a local Hugging Face / sentence-transformers folder: config.json, the "
    "tokenizer files and weights in .safetensors (pickle weights such as pytorch_model.bin are refused, because "
    "reading them can run code). The folder is copied into DMTL Studio's own store; nothing is downloaded."
)
TRANSFER_HELP = {
    "frozen": "Feature extraction: the encoder first takes a short contrastive fine-tuning on pairs of your "
    "labelled texts (SetFit; its steps are set below, 0 turns it off), then stays fixed and only the new head "
    "learns on each text's embedding, computed once. Best with few labels.",
    "partial": "Parameter transfer: the last transformer layers of the encoder adapt to your texts too; the "
    "word embeddings and earlier layers keep their pretrained weights.",
    "full": "Fine-tuning: every layer of the encoder adapts, at a fraction of the head's learning rate. Slowest; "
    "best with many texts.",
}
LAMBDA_HELP = (
    "λ (lambda), the consistency weight: how much the model is also asked to give the same answer for a "
    "text and for a changed copy of it (synonyms swapped, words dropped, typos…). This needs no labels, so "
    "unlabelled texts can help. 0 learns from the labels alone; 1 counts both equally; higher trusts "
    "consistency more."
)
DMTL_NOTE = "Supervised loss on augmented texts + λ × consistency between clean and augmented."
UNLABELLED_TIP = (
    "Unlabelled texts teach the model through the consistency term (with a linear probe: class-balanced "
    "self-training, the probe's most confident pseudo-labels joining its fit); they never count as labelled."
)
CROSSVAL_TIP = (
    "Trains the current settings once per fold, each time holding out a different part of the labelled texts, "
    "and reports the mean ± std accuracy"
)
CROSSVAL_IDLE = "With few texts, k folds give a fairer comparison than one split."
LR_IDLE = "Plots loss against learning rate on this project's texts."
#: The tooltips of the learning settings whose help speaks of images.
FIELD_TIPS = {
    "epochs": "Passes over the training texts",
    "batch_size": "Texts per training step",
    "unlabelled_ratio": "Unlabelled texts per labelled text in each batch",
}
CONTRASTIVE_TIP = (
    "Before a frozen encoder's embeddings are computed, fine-tune it on pairs of labelled texts: the same "
    "class (pulled together) or two classes (pushed apart), as SetFit does. At most this many steps of 16 "
    "pairs; with few labels it is SetFit's 20 rounds of pairs. Measured: +3 to +7 points of balanced accuracy "
    "at 8 labels per class (docs/text.md), for minutes on a CPU. Off: the pretrained embeddings as they are."
)


def _short_problem(row: TextEncoderRow, limit: int = 110) -> str:
    """The reason without the folder it names (the details show that), cut to one list line."""
    text = row.problem.replace(row.folder, "").strip() if row.folder else row.problem
    return text if len(text) <= limit else text[: limit - 1] + "…"


def item_text(row: TextEncoderRow) -> str:
    """The list entry: ``all-MiniLM-L6-v2   22.7 M · 384-d · 256 tokens · bundled``, or why it is unusable."""
    if not row.available:
        return f"{row.title}   unavailable\n    {_short_problem(row)}"
    parts = [row.parameters_text]
    if row.embedding_width is not None:
        parts.append(f"{row.embedding_width}-d")
    if row.max_tokens is not None:
        parts.append(f"{row.max_tokens} tokens")
    parts.append(row.source)
    return f"{row.title}   " + " · ".join(parts)


def haystack(row: TextEncoderRow) -> str:
    """What the search box matches against, lower case."""
    words = (row.name, row.source, row.model_type, row.description, item_text(row))
    return " ".join(words).lower()


def stages_tip(row: TextEncoderRow | None) -> str:
    if row is None or row.layers is None:
        return "The encoder's stages: its embeddings, then each transformer layer."
    return f"The encoder's {row.stages} stages: its embeddings, then each of its {row.layers} transformer layers."


def details_html(row: TextEncoderRow) -> str:
    """The details under the list: what the encoder is, its sizes, where its files are and its state."""

    def known(value: int | None, suffix: str = "") -> str:
        return "not stated" if value is None else f"{value:,}{suffix}"

    stages = "not stated" if row.stages is None else f"{row.stages} (embeddings + {row.layers} layers)"
    status = row.reason if row.available else f"unavailable: {row.reason}"
    name = "" if row.title == row.name else f" <span style='color:{muted_color()}'>({row.name})</span>"
    return (
        f"<b>{row.title}</b>{name}<br>"
        f"{row.description}<br>"
        f"<b>Parameters</b> {known(row.parameters)} &nbsp; <b>Embedding</b> {known(row.embedding_width, '-d')}"
        f" &nbsp; <b>Stages</b> {stages}<br>"
        f"<b>Input</b> up to {known(row.max_tokens)} tokens (longer texts are cut) &nbsp; "
        f"<b>Size</b> {row.size_mb:.1f} MB<br>"
        f"<b>Files</b> {row.folder or 'missing'}<br>"
        f"<b>Status</b> {status}"
    )
