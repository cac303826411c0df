"""Which kind of project an import source makes, and the one rule for a project's kind on import.

A project is of one kind, images or text (:data:`~dmtl_studio.core.project.texts_table.PROJECT_KINDS`). A kind
chosen at creation (the New project form, ``dmtl-studio new --kind``) is kept: importing the other kind into it
is refused with what to do instead. A project whose kind was never chosen takes the kind of its first import.
"""

from __future__ import annotations

import os
from pathlib import Path

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.folder_scan import is_image_name
from dmtl_studio.core.project.store import ProjectStore

#: Extensions (lower case) of files imported as one text each.
TEXT_FILE_SUFFIXES = frozenset({".txt"})
#: Extensions (lower case) of tabular text files, with their default delimiter (None: JSON Lines).
TABLE_SUFFIXES: dict[str, str | None] = {
    ".csv": ",",
    ".tsv": "\t",
    ".tab": "\t",
    ".jsonl": None,
    ".ndjson": None,
}


def is_table_file(path: str | os.PathLike[str]) -> bool:
    """True for a file named as CSV, TSV or JSON Lines (by extension, case-insensitive)."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def is_text_file_name(path: str | os.PathLike[str]) -> bool:
    """True for a ``.txt`` file name (case-insensitive) that is not hidden."""
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in TEXT_FILE_SUFFIXES


def source_kind(source: str | os.PathLike[str]) -> str | None:
    """The kind of project ``source`` is imported into: ``"text"`` for a CSV/TSV/JSON Lines or ``.txt`` file, or
    a folder holding ``.txt`` files and no image files (by name); ``"images"`` for a folder holding image files
    or an image file; ``None`` when it holds neither (or does not exist). Hidden files and folders are ignored.
    """
    path = Path(source)
    if path.is_file():
        if is_table_file(path) or is_text_file_name(path):
            return "text"
        return "images" if is_image_name(path) else None
    if not path.is_dir():
        return None
    has_text = False
    for _folder, dirs, files in os.walk(path, followlinks=False):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        if any(is_image_name(name) for name in files):
            return "images"  # a README.txt or labels.txt beside images does not make a text project
        has_text = has_text or any(is_text_file_name(name) for name in files)
    return "text" if has_text else None


def kind_was_chosen(store: ProjectStore) -> bool:
    """True when the project's kind was chosen explicitly (at creation, or by an import)."""
    return store.get_meta("kind") is not None


def kind_undecided(store: ProjectStore) -> bool:
    """True for a project that holds nothing and whose kind was never chosen: its first import decides it."""
    return not store.image_count() and not kind_was_chosen(store)


def choose_kind(store: ProjectStore, kind: str) -> None:
    """Fix the project's kind to ``kind``, recorded as chosen (even ``"images"``, the default).

    Raises
    ------
    ProjectError
        For an unknown kind, or when the project holds items of the other kind.
    """
    store.set_kind(kind)
    if not kind_was_chosen(store):
        store.set_meta("kind", kind)


def adopt_kind(store: ProjectStore, kind: str) -> None:
    """Make ready to import ``kind`` into ``store``: a project whose kind was never chosen and that holds
    nothing takes ``kind``; a project of ``kind`` is left as it is.

    Raises
    ------
    ProjectError
        When the project is of the other kind (chosen, or holding items): the message says what to do.
    """
    if store.kind == kind and kind_was_chosen(store):
        return
    if store.kind != kind and (kind_was_chosen(store) or store.image_count()):
        what = {"images": "images", "text": "texts"}
        raise ProjectError(
            f"{store.folder} is {_a(store.kind)} {store.kind} project; {what[kind]} "
            f"cannot be imported into it (a project is of one kind). Make {_a(kind)} {kind} project for them: "
            f"File ▸ New project… or dmtl-studio new PROJECT --kind {kind}"
        )
    if store.image_count() == 0:
        choose_kind(store, kind)


def _a(kind: str) -> str:
    """The article before ``kind`` ("an images project", "a text project")."""
    return "an" if kind[:1] in "aeiou" else "a"


def create_project(folder: str | os.PathLike[str], kind: str | None = None) -> ProjectStore:
    """Create (or open) the project in ``folder``; a ``kind`` given is recorded as chosen.

    Raises
    ------
    ProjectError
        As :meth:`ProjectStore.create`, and when the project there is of another kind.
    """
    store = ProjectStore.create(folder, kind=kind)
    if kind is not None:
        try:
            choose_kind(store, kind)
        except BaseException:
            store.close()
            raise
    return store
