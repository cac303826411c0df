"""Reading the bytes of a text: the encodings tried, and what is said about texts too long for the model.

Encodings are tried in a fixed order, never guessed from statistics: a byte-order mark names UTF-8 or UTF-16
(little- or big-endian); without one the bytes must be valid UTF-8. Anything else (a legacy code page such as
Windows-1252, a binary file) is reported as undecodable rather than read as something the author did not write.
"""

from __future__ import annotations

import codecs

#: The encodings tried, in order, as the messages name them.
ENCODINGS_TRIED = "UTF-8, UTF-8 with BOM, UTF-16 with BOM (LE/BE)"

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


def decode_text_bytes(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of ``data``: ``encoding`` is ``"utf-8"``, ``"utf-8-sig"``, ``"utf-16-le"`` or
    ``"utf-16-be"``. A byte-order mark is removed from the text.

    Raises
    ------
    UndecodableText
        When ``data`` is not valid in the encoding its byte-order mark names, or has no mark and is not UTF-8.
    """
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8-sig", data[len(codecs.BOM_UTF8) :]
        codec = "utf-8"
    elif data.startswith(codecs.BOM_UTF16_LE) and not data.startswith(codecs.BOM_UTF32_LE):
        encoding, body, codec = "utf-16-le", data[2:], "utf-16-le"
    elif data.startswith(codecs.BOM_UTF16_BE):
        encoding, body, codec = "utf-16-be", data[2:], "utf-16-be"
    else:
        encoding, body, codec = "utf-8", data, "utf-8"
    try:
        return body.decode(codec), encoding
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(data) - len(body))
        raise UndecodableText(
            f"cannot be decoded: byte 0x{data[offset]:02x} at offset {offset} is not {_named(encoding)} "
            f"(tried {ENCODINGS_TRIED}); save it as UTF-8"
        ) from None


def _named(encoding: str) -> str:
    return {
        "utf-8": "UTF-8",
        "utf-8-sig": "UTF-8",
        "utf-16-le": "UTF-16 (little-endian, as its byte-order mark says)",
        "utf-16-be": "UTF-16 (big-endian, as its byte-order mark says)",
    }[encoding]


def encoding_note(encoding: str) -> str | None:
    """What to say about a text read in ``encoding``: ``None`` for UTF-8 (with or without a mark)."""
    if encoding.startswith("utf-16"):
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


def join_notes(*notes: str | None) -> str | None:
    """The notes that are not ``None``, joined with ``"; "`` (``None`` when there are none)."""
    kept = [note for note in notes if note]
    return "; ".join(kept) if kept else None
