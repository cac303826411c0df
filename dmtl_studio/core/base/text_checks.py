"""Checks of short texts the user names things with (ids, recipe names): one rule for what is a control
character, the Unicode category Cc (C0 controls, line breaks included, DEL and the C1 controls)."""

from __future__ import annotations

import unicodedata


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control character (a line break, a tab, NUL, DEL, a C1 control)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)
