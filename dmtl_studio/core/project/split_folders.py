"""Which top folders of an imported folder are splits (``train/``, ``valid/``, ``test/``…) and which are classes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dmtl_studio.core.base.paths import DATABASE_NAME
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.folder_scan import PROJECT_OWN_FOLDERS


def parts_below(root: Path, path: Path) -> tuple[str, ...]:
    """``path.relative_to(root).parts``, by string slicing when it can (an import calls this per file)."""
    prefix = os.path.join(str(root), "")
    text = str(path)
    if text.startswith(prefix):
        return tuple(text[len(prefix) :].split(os.sep))
    return path.relative_to(root).parts


#: Top folder names (compared case-insensitively) that name a split rather than a class.
SPLIT_FOLDER_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",  # the development set: the usual name of the validation split in NLP datasets
    "development": "val",
    "test": "test",
    "testing": "test",
}


def split_layout(root: Path, files: list[Path]) -> dict[str, str]:
    """``{top folder: split}`` when the top folders of ``root`` name splits with classes below, else ``{}``.

    Raises
    ------
    ProjectError
        When split-named and other top folders are mixed, or split folders hold images but no class
        folders: either reading would mislabel images, so the import is refused with what to change.
    """
    tops: dict[str, bool] = {}  # top folder -> holds a sub-folder with images
    for path in files:
        parts = parts_below(root, path)
        if len(parts) > 1:
            tops[parts[0]] = tops.get(parts[0], False) or len(parts) > 2
    splits = {
        name: SPLIT_FOLDER_NAMES[name.casefold()] for name in tops if name.casefold() in SPLIT_FOLDER_NAMES
    }
    if not splits:
        return {}
    others = sorted(name for name in tops if name not in splits)
    named = ", ".join(f"{name}/" for name in sorted(splits))
    if others:
        raise ProjectError(
            f"{root} mixes split folders ({named}) with other folders ({', '.join(others[:5])}); nothing was "
            "imported. Put the class folders inside each split folder (train/cat/..., valid/cat/...); or, if "
            f"{named} {'is a class' if len(splits) == 1 else 'are classes'} too, import with --no-split-folders "
            "(the window asks)"
        )
    flat = sorted(name for name in splits if not tops[name])
    if flat:
        raise ProjectError(
            f"{root} has split folders ({named}) but {', '.join(f'{n}/' for n in flat)} holds files without "
            "class folders; nothing was imported. Put each split's files into class folders "
            "(train/cat/..., valid/cat/...), or rename the folders if they are classes"
        )
    return splits


def class_folders(root: Path, splits_by_folder: dict[str, str]) -> list[str]:
    """The folders of ``root`` an import reads as classes (below split folders when there are some), as
    ``name`` or ``split/name``; hidden ones and a project's own folders left out."""
    own = PROJECT_OWN_FOLDERS if (root / DATABASE_NAME).is_file() else ()

    def folders(path: Path) -> list[str]:
        with contextlib.suppress(OSError):
            return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
        return []

    if not splits_by_folder:
        return [name for name in folders(root) if name not in own]
    return [f"{top}/{name}" for top in sorted(splits_by_folder) for name in folders(root / top)]


def mixed_split_folders(root: Path) -> tuple[list[str], list[str]]:
    """``(split-named, other)`` top folders of ``root`` when it holds both (an import would refuse it, unless its
    split-named folders are read as classes), else two empty lists. Reads the top two levels only: a folder with
    nothing in it (an empty ``test/``) is left out, as the import leaves it."""

    def holds_something(name: str) -> bool:
        with contextlib.suppress(OSError), os.scandir(root / name) as entries:
            return any(not entry.name.startswith(".") for entry in entries)
        return False

    names = [name for name in class_folders(root, {}) if holds_something(name)]
    splits = [name for name in names if name.casefold() in SPLIT_FOLDER_NAMES]
    others = [name for name in names if name.casefold() not in SPLIT_FOLDER_NAMES]
    return (splits, others) if splits and others else ([], [])
