"""Small text-encoder folders for the listing and import tests: the bundled encoder's configuration and tokenizer
files with a tiny safetensors file of known shapes (the folder passes every check; it is listed and imported, not
loaded as a model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from dmtl_studio.core.models.text_catalog import bundled_encoder_folder

#: The tensors of :func:`write_small_encoder`'s weights file: 100 x 8 + 2 x (8 x 8 + 8) values.
SMALL_SHAPES = {
    "embeddings.word_embeddings.weight": (100, 8),
    "encoder.layer.0.attention.self.query.weight": (8, 8),
    "encoder.layer.0.attention.self.query.bias": (8,),
    "encoder.layer.1.attention.self.query.weight": (8, 8),
    "encoder.layer.1.attention.self.query.bias": (8,),
}
SMALL_PARAMETERS = 100 * 8 + 2 * (8 * 8 + 8)
#: An integer buffer stored beside them (as BERT stores its position ids): not a parameter.
SMALL_BUFFERS = {"embeddings.position_ids": (1, 128)}


def write_small_encoder(folder: Path, weights: bool = True, tokenizer: bool = True) -> Path:
    """``folder`` with a 2-layer, 8-wide BERT configuration, the bundled tokenizer (unless ``tokenizer`` is
    False), its sentence-transformers files and, with ``weights``, ``model.safetensors`` of
    :data:`SMALL_SHAPES` and :data:`SMALL_BUFFERS`."""
    source = bundled_encoder_folder()
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config.update(hidden_size=8, num_hidden_layers=2, max_position_embeddings=128)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    names = ["modules.json", "sentence_bert_config.json"]
    if tokenizer:
        names += ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]
    for name in names:
        shutil.copy(source / name, folder / name)
    shutil.copytree(source / "1_Pooling", folder / "1_Pooling", dirs_exist_ok=True)
    if weights:
        tensors = {name: np.zeros(shape, dtype=np.float32) for name, shape in SMALL_SHAPES.items()}
        tensors.update({name: np.zeros(shape, dtype=np.int64) for name, shape in SMALL_BUFFERS.items()})
        save_file(tensors, str(folder / "model.safetensors"))
    return folder
