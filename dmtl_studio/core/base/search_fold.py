"""One rule for what a search box matches: case and accents ignored, composed and decomposed letters equal.

A file name written on macOS keeps its letters decomposed (``e`` + combining acute), one typed on Linux or
Windows composed (``é``); both fold to ``e`` here, as do "Café", "CAFÉ" and "cafe". Case folding is Unicode's
(``"Straße"`` folds to ``"strasse"``), compatibility forms fold to their plain letters (``"ﬁ"`` to ``"fi"``),
as in the find bars of web browsers with *Match Diacritics* off.
"""

from __future__ import annotations

import unicodedata


def search_fold(text: str) -> str:
    """``text`` without case, accents and compatibility forms: NFKD, combining marks dropped, ``str.casefold``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
