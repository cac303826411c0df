"""One rule for what a search box matches: case and accents ignored, composed and decomposed letters equal.

A file name written on macOS keeps its letters decomposed (``e`` + combining acute), one typed on Linux or
Windows composed (``é``); both fold to ``e`` here, as do "Café", "CAFÉ" and "cafe". Case folding is Unicode's
(``"Straße"`` folds to ``"strasse"``), compatibility forms fold to their plain letters (``"ﬁ"`` to ``"fi"``),
as in the find bars of web browsers with *Match Diacritics* off. Only the accents of the Latin, Greek and
Cyrillic scripts are dropped (the combining diacritical marks): the marks that make other letters (Japanese
voiced kana, a Devanagari virama) are kept, so "バス" and "ハス" stay apart.
"""

from __future__ import annotations

import re
import unicodedata

#: Combining Diacritical Marks (U+0300-U+036F) and their Supplement (U+1DC0-U+1DFF).
_ACCENTS = re.compile("[\u0300-\u036f\u1dc0-\u1dff]")


def search_fold(text: str) -> str:
    """``text`` without case, accents and compatibility forms: NFKD, accents dropped, ``str.casefold``.

    Plain ASCII, most texts and file names, is only case-folded: a search folds every text of a project.
    """
    if text.isascii():
        return text.casefold()
    return _ACCENTS.sub("", unicodedata.normalize("NFKD", text)).casefold()
