"""The bundled sentence encoder loads offline, embeds exactly as sentence-transformers does, truncates with a
count, refuses pickle weights, and a text classifier's checkpoint loads back to the same predictions."""

from __future__ import annotations

import json
import logging
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from dmtl_studio.core.models.checkpoint import load_checkpoint, save_checkpoint
from dmtl_studio.core.models.classifier import ModelSpec
from dmtl_studio.core.models.text_catalog import (
    DEFAULT_TEXT_ENCODER,
    TextEncoderError,
    bundled_encoder_folder,
    import_text_encoder,
    resolve_text_encoder,
    tokenizer_files,
)
from dmtl_studio.core.models.text_classifier import text_classifier
from dmtl_studio.core.models.text_encoder import TextEncoder, load_text_encoder
from dmtl_studio.core.models.transfer import configure_transfer
from dmtl_studio.core.training.config import TrainConfig

TEXTS = [
    "The cat sat on the mat.",
    "Stocks fell sharply after the announcement; investors sold bonds.",
    "A",
    "Ünïcode and emoji 🙂 still embed",
    "word " * 300,  # longer than the encoder reads: truncated
]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return load_text_encoder(DEFAULT_TEXT_ENCODER)


def test_the_bundled_encoder_loads_with_the_hub_offline_and_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("the network was used")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    encoder = load_text_encoder(DEFAULT_TEXT_ENCODER)
    assert encoder.num_features == 384 and encoder.max_length == 256
    assert encoder.preprocessing.pooling == "mean" and encoder.preprocessing.normalize
    embedding = encoder.encode(["offline"])
    assert embedding.shape == (1, 384) and torch.allclose(embedding.norm(dim=1), torch.ones(1))


def test_embeddings_equal_sentence_transformers_on_the_same_texts(encoder: TextEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(bundled_encoder_folder()), device="cpu", local_files_only=True)
    expected = reference.encode(TEXTS, convert_to_numpy=True, batch_size=2)
    ours = encoder.encode(TEXTS, batch_size=3).numpy()  # other batches: other padding, same embeddings
    assert ours.shape == expected.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert not np.allclose(ours[0], ours[1], atol=1e-2)


def test_longer_texts_are_truncated_to_the_models_maximum_and_counted(encoder: TextEncoder) -> None:
    tokens = encoder.tokenize(TEXTS)
    assert tokens.ids.shape == (len(TEXTS), 256) and tokens.ids.dtype == torch.long
    assert tokens.truncated == 1
    assert encoder.tokenize(["exactly " * 254]).truncated == 0  # 254 words + [CLS] + [SEP] = 256: fits


def test_counting_truncated_texts_prints_no_library_warning(encoder: TextEncoder) -> None:
    getattr(encoder.tokenizer, "deprecation_warnings", {}).clear()  # the library warns once per tokenizer
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    library = logging.getLogger("transformers")
    library.addHandler(handler)
    try:
        assert encoder.tokenize(["word " * 600]).truncated == 1
    finally:
        library.removeHandler(handler)
    assert not [r for r in records if "sequence length" in r.getMessage()]  # the product reports the count


def test_partial_transfer_trains_the_last_transformer_layers_and_the_head(encoder: TextEncoder) -> None:
    stages = encoder.parameter_stages()
    assert len(stages) == 7 and all("embeddings" in n for n in stages[0])
    assert sum(len(s) for s in stages) == len(list(encoder.parameters()))
    model = text_classifier(encoder, ModelSpec(DEFAULT_TEXT_ENCODER, 3))
    try:
        groups = configure_transfer(model, TrainConfig(transfer="partial", unfreeze_stages=2))
        learning = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
        assert learning == set(stages[-2]) | set(stages[-1])
        assert any(".layer.5." in n for n in learning) and not any(".layer.3." in n for n in learning)
        assert [g["name"] for g in groups] == ["backbone", "head"]
        configure_transfer(model, TrainConfig(transfer="frozen"))
        assert not any(p.requires_grad for p in model.backbone.parameters())
    finally:
        for parameter in encoder.parameters():
            parameter.requires_grad_(True)


def test_layer_wise_decay_gives_each_transformer_layer_its_own_rate(encoder: TextEncoder) -> None:
    stages = encoder.parameter_stages()
    model = text_classifier(encoder, ModelSpec(DEFAULT_TEXT_ENCODER, 3))
    try:
        config = TrainConfig(transfer="full", learning_rate=1e-3, backbone_lr_factor=0.5, layer_decay=0.8)
        groups = configure_transfer(model, config)
        assert [g["name"] for g in groups] == [f"backbone.stage{i}" for i in range(7)] + ["head"]
        # The embeddings (stage 0) learn slowest, the last transformer layer (stage 6) at head rate x factor.
        assert [g["lr"] for g in groups] == pytest.approx([5e-4 * 0.8 ** (6 - i) for i in range(7)] + [1e-3])
        named = dict(encoder.named_parameters())
        for stage, group in zip(stages, groups, strict=False):
            assert [id(p) for p in group["params"]] == [id(named[n]) for n in stage]
    finally:
        for parameter in encoder.parameters():
            parameter.requires_grad_(True)


def test_pickle_weights_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    folder.mkdir()
    source = bundled_encoder_folder()
    for name in ("config.json", "tokenizer.json", "vocab.txt"):
        shutil.copy(source / name, folder / name)
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(TextEncoderError, match="pickle.*safetensors"):
        load_text_encoder(str(folder))
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(TextEncoderError, match="no model weights"):
        resolve_text_encoder(str(folder))
    with pytest.raises(TextEncoderError, match="unknown text encoder"):
        resolve_text_encoder("bert-base-uncased")  # never looked up on a hub


def test_an_imported_folder_loads_under_its_name_without_its_pickle_files(tmp_path: Path) -> None:
    folder = tmp_path / "my-encoder"
    shutil.copytree(bundled_encoder_folder(), folder)
    (folder / "pytorch_model.bin").write_bytes(b"never copied")
    name = import_text_encoder(folder)
    assert name == "text/my-encoder"
    stored = resolve_text_encoder(name)
    assert not (stored / "pytorch_model.bin").exists() and (stored / "model.safetensors").is_file()
    assert {p.name for p in tokenizer_files(stored)} >= {"tokenizer.json", "vocab.txt"}
    with pytest.raises(TextEncoderError, match="already imported"):
        import_text_encoder(folder)
    imported = load_text_encoder(name)
    assert imported.preprocessing.encoder == name
    np.testing.assert_allclose(
        imported.encode(TEXTS[:2]), load_text_encoder(DEFAULT_TEXT_ENCODER).encode(TEXTS[:2])
    )


def test_a_text_classifier_checkpoint_loads_back_to_the_same_logits(
    encoder: TextEncoder, tmp_path: Path
) -> None:
    spec = ModelSpec(DEFAULT_TEXT_ENCODER, 2, head="mlp", hidden=16)
    torch.manual_seed(0)
    model = text_classifier(encoder, spec).eval()
    save_checkpoint(
        tmp_path,
        model,
        spec=spec,
        preprocessing=encoder.preprocessing,
        classes=["a", "b"],
        config={},
        augmentation={"kind": "text", "steps": []},
        metrics={},
    )
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["kind"] == "text" and sidecar["model"]["backbone"] == DEFAULT_TEXT_ENCODER
    assert sidecar["preprocessing"]["max_length"] == 256 and sidecar["preprocessing"]["kind"] == "text"
    loaded = load_checkpoint(tmp_path)
    ids = encoder.tokenize(TEXTS[:3]).ids
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids), model(ids))
    assert loaded.preprocessing == encoder.preprocessing


def test_the_listing_says_what_the_loaded_encoder_is(encoder: TextEncoder, tmp_path: Path) -> None:
    from dmtl_studio.core.models.text_encoder_list import encoder_row, list_text_encoders

    row = list_text_encoders()[0]
    assert (row.embedding_width, row.max_tokens) == (encoder.num_features, encoder.max_length)
    assert row.stages == len(encoder.parameter_stages())  # what partial transfer's slider counts
    assert row.parameters == sum(p.numel() for p in encoder.transformer.parameters())
    # Without sentence-transformers' length, the tokenizer's limit is the one both read.
    folder = tmp_path / "plain"
    shutil.copytree(bundled_encoder_folder(), folder)
    (folder / "sentence_bert_config.json").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 100}), "utf-8")
    assert (
        encoder_row(str(folder), "folder", folder).max_tokens
        == 100
        == load_text_encoder(str(folder)).max_length
    )
