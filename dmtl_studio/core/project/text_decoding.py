"""Reading the bytes of a text: the encodings tried, and what is said about texts too long for the model.

Encodings are tried in a fixed order, never guessed from statistics: a byte-order mark names UTF-8 or UTF-16
(little- or big-endian); without one the bytes must be valid UTF-8, or be in the encoding the user names
(``--encoding cp1252``: what Excel writes for "CSV (Comma delimited)" on Windows). Anything else (a legacy code
page not named, a binary file) is reported as undecodable rather than read as something the author did not write.
"""

from __future__ import annotations

import codecs
import re

#: The encodings tried, in order, as the messages name them.
ENCODINGS_TRIED = "UTF-8, UTF-8 with BOM, UTF-16 with BOM (LE/BE)"
#: What to do with bytes that are none of them.
UNDECODABLE_ADVICE = (
    "save it as UTF-8, or name its encoding (--encoding, or Encoding in the window; Excel on Windows saves "
    "CSV as cp1252)"
)

#: Largest text read from one ``.txt`` file or one row, in bytes; a larger one is a problem, not read.
MAX_TEXT_BYTES = 10 * 1024 * 1024

#: Word-pieces the default text encoder reads of a text (all-MiniLM-L6-v2: 256); the rest is cut off.
MODEL_READ_TOKENS = 256
#: Characters per word-piece in English prose, on average: 256 word-pieces are about 1,000 characters.
CHARS_PER_TOKEN = 4
#: Texts longer than this (characters) get a note that the model sees only their first part.
MODEL_READ_CHARS = MODEL_READ_TOKENS * CHARS_PER_TOKEN


class UndecodableText(ValueError):
    """Bytes that are none of the encodings tried; the message says where the first bad byte is."""


def encoding_of(data: bytes, named: str | None = None) -> str:
    """The encoding of ``data`` by its first bytes: the one a byte-order mark names (``"utf-8-sig"``,
    ``"utf-16-le"``, ``"utf-16-be"``), else ``named`` (see :func:`checked_encoding`), else ``"utf-8"``."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE) and not data.startswith(codecs.BOM_UTF32_LE):
        return "utf-16-le"
    if data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    return named or "utf-8"


def bom_length(encoding: str) -> int:
    """Bytes of the byte-order mark :func:`encoding_of` found for ``encoding``."""
    return {"utf-8-sig": len(codecs.BOM_UTF8), "utf-16-le": 2, "utf-16-be": 2}.get(encoding, 0)


def checked_encoding(name: str) -> str:
    """The codec name of the text encoding ``name`` (``"Windows-1252"`` → ``"cp1252"``, ``"latin1"`` →
    ``"iso8859-1"``), as Python's :mod:`codecs` knows it.

    Raises
    ------
    ValueError
        ``name`` is no text encoding Python knows (or a bytes-to-bytes codec such as ``base64``).
    """
    try:
        codec = codecs.lookup(name.strip())
        "".encode(codec.name)  # a bytes-to-bytes codec (base64, zlib) raises LookupError here
    except LookupError:
        raise ValueError(
            f"{name!r} is no text encoding known here; give one such as cp1252 (Windows, Western Europe), "
            "latin-1, cp1250 (Central Europe), shift_jis, gb18030 or utf-8"
        ) from None
    return {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig"}.get(codec.name, codec.name)


_C1 = re.compile(rb"[\x80-\x9f]")


def refuse_latin1_controls(data: bytes, encoding: str) -> None:
    """Bytes 0x80–0x9F are invisible control characters in Latin-1 and letters or signs (€, –, “…) in Windows-1252:
    a file named Latin-1 that holds them was written by a Windows program, and reading it as Latin-1 would drop
    them.

    Raises
    ------
    UndecodableText
        ``encoding`` is Latin-1 and ``data`` holds such a byte (the message names it and cp1252).
    """
    found = _C1.search(data) if encoding == "iso8859-1" else None
    if found is not None:
        raise UndecodableText(
            f"cannot be decoded: byte 0x{data[found.start()]:02x} at offset {found.start()} is an invisible control "
            "character in Latin-1 and a letter or sign (€, –, “…) in Windows-1252, which a Windows program most "
            "likely wrote: name cp1252 as its encoding"
        )


def decode_text_bytes(data: bytes, named: str | None = None, final: bool = True) -> tuple[str, str]:
    """``(text, encoding)`` of ``data``: ``encoding`` is ``"utf-8"``, ``"utf-8-sig"``, ``"utf-16-le"``,
    ``"utf-16-be"`` or ``named`` (a codec name from :func:`checked_encoding`, used for bytes without a byte-order
    mark). A byte-order mark is removed from the text. ``final`` false: ``data`` is the start of a file cut
    anywhere (a preview), and a character cut off at its end is left out.

    Raises
    ------
    UndecodableText
        When ``data`` is not valid in the encoding its byte-order mark names, or has no mark and is not valid in
        ``named`` (UTF-8 when none is named).
    """
    encoding = encoding_of(data, named)
    skip = bom_length(encoding)
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    refuse_latin1_controls(data, encoding)
    try:
        return codecs.getincrementaldecoder(codec)().decode(data[skip:], final=final), encoding
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        tried = "the encoding named" if encoding == named else f"tried {ENCODINGS_TRIED}"
        raise UndecodableText(
            f"cannot be decoded: byte 0x{data[offset]:02x} at offset {offset} is not {_named(encoding)} "
            f"({tried}); {UNDECODABLE_ADVICE}"
        ) from None


#: Codec names as people know them.
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "iso8859-1": "Latin-1",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "mac-roman": "Mac Roman",
    "shift_jis": "Shift JIS",
    "gb18030": "GB 18030",
}


def describe_encoding(encoding: str) -> str:
    """``encoding`` (a codec name) as people know it: ``"Windows-1252"`` for ``"cp1252"``; else the name."""
    return ENCODING_NAMES.get(encoding, encoding)


def _named(encoding: str) -> str:
    return {
        "utf-8": "UTF-8",
        "utf-8-sig": "UTF-8",
        "utf-16-le": "UTF-16 (little-endian, as its byte-order mark says)",
        "utf-16-be": "UTF-16 (big-endian, as its byte-order mark says)",
    }.get(encoding, describe_encoding(encoding))


def named_note(named: str | None) -> str:
    """What to add to a refusal of a table read in the encoding the user ``named``: it may be the wrong one."""
    return f" (read as {describe_encoding(named)}, as named: is that its encoding?)" if named else ""


def encoding_note(encoding: str) -> str | None:
    """What to say about a text read in ``encoding``: ``None`` for UTF-8 (with or without a mark)."""
    if encoding.startswith("utf-16") or encoding not in ("utf-8", "utf-8-sig"):
        return f"read as {_named(encoding)}"
    return None


def estimated_tokens(text: str) -> int:
    """About how many word-pieces ``text`` makes (characters / :data:`CHARS_PER_TOKEN`, rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def length_note(text: str) -> str | None:
    """The note for a text longer than the model reads (:data:`MODEL_READ_CHARS`), else ``None``."""
    if len(text) <= MODEL_READ_CHARS:
        return None
    return (
        f"longer than the model reads ({estimated_tokens(text):,} tokens approx.; it reads {MODEL_READ_TOKENS}); "
        "the model sees the first part"
    )


#: An ANSI terminal escape sequence (colours, cursor moves: ``ESC [ 31 m``), as terminal logs hold them.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
#: Names of the control characters texts most often hold.
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x1B: "ESC", 0x7F: "DEL"}
#: Control characters other than tab, line feed and carriage return (NUL, bell, escape, DEL, C1 controls).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def without_control_characters(text: str) -> tuple[str, str | None]:
    """``text`` without terminal escape sequences and control characters (tab and line breaks kept), and the
    note saying what was removed (``None`` when nothing was). No model reads them (the tokenizers drop them), but
    a NUL or an escape written into an exported CSV breaks the programs that read it."""
    if not _CONTROL.search(text):
        return text, None
    escapes = len(_ANSI_ESCAPE.findall(text))
    cleaned = _ANSI_ESCAPE.sub("", text)
    found = _CONTROL.findall(cleaned)
    cleaned = _CONTROL.sub("", cleaned)
    kinds = ", ".join(_CONTROL_NAMES.get(ord(c), f"U+{ord(c):04X}") for c in dict.fromkeys(found[:50]))
    removed = [f"{escapes} terminal escape sequence(s)"] if escapes else []
    removed += [f"{len(found)} control character(s) ({kinds})"] if found else []
    return cleaned, f"control characters removed: {' and '.join(removed)}"


def join_notes(*notes: str | None) -> str | None:
    """The notes that are not ``None``, joined with ``"; "`` (``None`` when there are none)."""
    kept = [note for note in notes if note]
    return "; ".join(kept) if kept else None
