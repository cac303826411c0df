"""The one check of names and paths that come from outside: class names, image paths and written files.

Every door that brings a class name into a project (the window, the CLI, label CSV files, folder imports,
rename and merge) goes through :func:`clean_class_name`, because a class name becomes a folder name when labels
are exported as class folders. Every image path a label file names goes through :func:`resolve_image_file`.
Every file written under a chosen folder is checked with :func:`path_inside`.

Image paths may lie anywhere the user can read, not only under the folders imported so far: images are
referenced in place, and a label file made elsewhere legitimately lists them where they are. What is refused is
what cannot be an image file: a folder, a device or pipe, something missing.
"""

from __future__ import annotations

import math
import os
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path

#: Names Windows gives to devices in every folder (with any extension): no folder can have them.
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)

#: Longest class name, in characters (it becomes a folder name; 255 bytes is the common file-name limit).
MAX_CLASS_NAME = 100


#: Unicode's explicit bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): in a name
#: they reverse the text shown around it in every list ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def class_name_problem(name: str) -> str | None:
    """Why ``name`` (already stripped) cannot be a class name, or ``None`` when it can."""
    if not name:
        return "a class needs a name"
    if len(name) > MAX_CLASS_NAME:
        return f"a class name may have at most {MAX_CLASS_NAME} characters ({len(name)} given)"
    if "/" in name or "\\" in name or name in (".", ".."):
        return f"'{name}' cannot be a class name: it is used as a folder name on export (no / or \\, not . or ..)"
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        return f"'{name}' cannot be a class name: it reads as a drive on Windows"
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        return f"{name!r} cannot be a class name: it holds control characters"
    if any(unicodedata.category(ch) == "Cs" for ch in name):  # a folder name's bytes that are not UTF-8
        shown = os.fsencode(name).decode("utf-8", errors="backslashreplace")
        return (
            f"'{shown}' cannot be a class name: its bytes are not UTF-8 (Latin-1 perhaps: a folder named on an old "
            "Windows share or in a zip, or a CSV that Excel saved in Windows' encoding): rename the folder, or save "
            "the CSV as 'CSV UTF-8' (or name its encoding: labels import-csv --encoding cp1252), then import again"
        )
    if any(ch in _BIDI_CONTROLS for ch in name):
        return (
            f"{name!r} cannot be a class name: it holds a text-direction control that reverses what is shown"
        )
    if name.split(".")[0].strip().upper() in _WINDOWS_DEVICES:
        return f"'{name}' cannot be a class name: Windows reserves it for a device"
    return None


def normal_class_name(name: str) -> str:
    """``name`` as the project stores it: without surrounding spaces, in Unicode NFC form (a name typed on one
    system and read from a folder name on another, say "é" as one character or as "e" and an accent, is one
    class)."""
    return unicodedata.normalize("NFC", name.strip())


def _number(name: str) -> float | None:
    """The finite number a class name spells (``1``, ``1.0``, ``1e0``), or ``None``."""
    try:
        value = float(name)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _variant_key(name: str) -> str:
    number = _number(name)
    return name.casefold() if number is None else f"#{number!r}"


def case_variants(existing: Iterable[str], new: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs ``(new name, other name)`` where a new class name differs only in case from an existing one or
    from another new one (they would share one folder on Windows and macOS), or spells the same number (``1``
    and ``1.0``: a spreadsheet rewrote some rows): they stay separate classes, with a warning."""
    seen: dict[str, str] = {}
    for name in existing:
        seen.setdefault(_variant_key(name), name)
    pairs = []
    for name in new:
        other = seen.setdefault(_variant_key(name), name)
        if other != name:
            pairs.append((name, other))
    return pairs


def describe_case_variants(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """One warning per pair of :func:`case_variants`, naming both classes and how to make them one."""

    def how(new: str, other: str) -> str:
        if _number(new) is not None:
            return f"is the same number as class '{other}' (a spreadsheet may have rewritten some rows)"
        return f"differs from class '{other}' only in case"

    return [
        f"warning: class '{new}' {how(new, other)}, and is kept as a separate class (if they are one, merge them "
        f"in the classes panel, or: dmtl-studio labels rename PROJECT '{new}' '{other}' --merge)"
        for new, other in pairs
    ]


def clean_class_name(name: str) -> str:
    """``name`` without surrounding spaces and in NFC form (:func:`normal_class_name`), checked to be usable as
    a class (and folder) name.

    Raises
    ------
    ValueError
        Empty after stripping, longer than :data:`MAX_CLASS_NAME`, a path separator, ``.`` or ``..``, a drive
        prefix, control characters (NUL included), or a Windows device name. The message says which.
    """
    name = normal_class_name(name)
    problem = class_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


def resolve_image_file(path: str, base: Path) -> Path:
    """The real, absolute path of an image file named in a label file (relative paths start at ``base``).

    ``.``/``..`` parts and symbolic links are resolved, so every spelling of one file gives one path.

    Raises
    ------
    FileNotFoundError
        Nothing is there.
    ValueError
        It is not a regular file (a folder, a device, a pipe), or the name holds a NUL.
    """
    if "\x00" in path:
        raise ValueError("the path holds a NUL character")
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = Path(os.path.realpath(candidate))
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise ValueError("not a file" if stat.S_ISDIR(mode) else "not a regular file (a device or a pipe)")
    return resolved


def path_inside(folder: str | os.PathLike[str], *parts: str) -> Path:
    """``folder/parts…`` after checking that it lies inside ``folder`` once both are resolved.

    Raises
    ------
    ValueError
        The joined path would leave ``folder`` (``..``, an absolute part, a link pointing out).
    """
    root = Path(os.path.realpath(folder))
    target = Path(os.path.realpath(root.joinpath(*parts)))
    if target == root or root not in target.parents:
        raise ValueError(
            f"{Path(folder).joinpath(*parts)} would be written outside {folder}; nothing written"
        )
    return target
