"""Where a command writes its output: the folders it makes for it, said on stderr (``output_folders``), and with
``--json`` the JSON summary alone on stdout (``json_mode``, ``print_json``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

#: Where :func:`print_json` writes: the real stdout while :func:`json_mode` sends the rest to stderr.
_JSON_STREAMS: list[TextIO] = []


def first_missing_folder(path: Path | None) -> Path | None:
    """The top-most folder above ``path`` that does not exist yet (``None`` when its parent exists)."""
    if path is None:
        return None
    missing = None
    folder = path.parent
    while not folder.exists() and folder.parent != folder:
        missing, folder = folder, folder.parent
    return missing


@contextlib.contextmanager
def output_folders(path: Path | None) -> Iterator[None]:
    """Around an output command's work: refuse a ``path`` under a file before any work, and afterwards name the
    folders the command created above ``path`` (a mistyped path would otherwise make a folder tree unseen); when the
    command fails, the folders it created are removed again while empty.

    Raises
    ------
    OutputExistsError
        A file stands where a folder above ``path`` must be (nothing is done).
    """
    from dmtl_studio.core.base.fileio import OutputExistsError

    if path is None:
        yield
        return
    missing = first_missing_folder(path)
    existing = missing.parent if missing is not None else path.parent
    if existing.exists() and not existing.is_dir():
        raise OutputExistsError(
            f"{existing} is a file, not a folder: choose another place for {path.name} (nothing was written)"
        )
    try:
        yield
    except BaseException:
        if missing is not None:  # what the command made, while empty: the deepest first
            folder = path.parent
            while folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                if folder == missing:
                    break
                folder = folder.parent
        raise
    if missing is not None and path.parent.is_dir():
        where = str(missing) if missing == path.parent else f"{missing} (down to {path.parent})"
        print(f"note: created the folder {where}, which did not exist", file=sys.stderr)


def add_json_option(parser: object) -> None:
    """A command's ``--json`` option (see :func:`json_mode`)."""
    parser.add_argument(  # type: ignore[attr-defined]
        "--json", action="store_true", help="print a JSON summary, alone on stdout (the rest goes to stderr)"
    )


@contextlib.contextmanager
def json_mode(enabled: bool) -> Iterator[None]:
    """Around a command given ``--json``: everything it prints goes to stderr, and only :func:`print_json`'s one
    line to stdout, so ``dmtl-studio info P --json | jq .`` reads valid JSON (the human summary printed before it
    broke that). Without ``enabled`` nothing changes."""
    if not enabled:
        yield
        return
    _JSON_STREAMS.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _JSON_STREAMS.pop()


def print_json(data: object, **dumps: object) -> None:
    """Print ``data`` as one line of JSON on the command's stdout (the real one inside :func:`json_mode`)."""
    stream = _JSON_STREAMS[-1] if _JSON_STREAMS else sys.stdout
    print(json.dumps(data, **dumps), file=stream, flush=True)  # type: ignore[arg-type]
