"""Typing slips on a QWERTY keyboard: a neighbouring key, a missed key, a key pressed twice, two keys swapped.

The four kinds are the single-character edits of Damerau (1964, "A technique for computer detection and correction
of spelling errors"), which account for most typing errors; substitutions go to a key next to the intended one.
"""

from __future__ import annotations

_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
# Each row sits about half a key to the right of the one above: key j of a row touches keys j and j + 1 above
# and keys j - 1 and j below.


def _neighbours() -> dict[str, str]:
    table: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for j, key in enumerate(row):
            near = [row[j - 1] if j else "", row[j + 1] if j + 1 < len(row) else ""]
            if r > 0:
                above = _ROWS[r - 1]
                near += [above[i] for i in (j, j + 1) if i < len(above)]
            if r + 1 < len(_ROWS):
                below = _ROWS[r + 1]
                near += [below[i] for i in (j - 1, j) if 0 <= i < len(below)]
            # A slip to the number row and back is rare; letters go to letters, digits to digits.
            table[key] = "".join(sorted({k for k in near if k and k.isdigit() == key.isdigit()}))
    return table


#: The keys next to each key (lower-case letters and digits).
NEIGHBOURS = _neighbours()

#: The kinds of slip, in the order a uniform draw picks them.
SLIPS = ("neighbour", "omission", "duplication", "transposition")


def typo(word: str, position: int, kind_draw: float, key_draw: float) -> str:
    """``word`` with one slip at ``position``; the draws in ``[0, 1)`` pick the kind and the neighbouring key.

    An omission that would leave the word empty, a transposition at its last character or of two equal
    characters, and a neighbouring key for a character with none (punctuation inside a word) become a
    duplication. Upper-case letters stay upper-case. The result differs from ``word`` in one edit.
    """
    char = word[position]
    slip = SLIPS[int(kind_draw * len(SLIPS))]
    if slip == "omission" and len(word) == 1:
        slip = "duplication"
    if slip == "transposition" and (position + 1 >= len(word) or word[position + 1] == char):
        slip = "neighbour"
    if slip == "neighbour":
        keys = NEIGHBOURS.get(char.lower())
        if not keys:
            slip = "duplication"
        else:
            key = keys[int(key_draw * len(keys))]
            return word[:position] + (key.upper() if char.isupper() else key) + word[position + 1 :]
    if slip == "omission":
        return word[:position] + word[position + 1 :]
    if slip == "duplication":
        return word[:position] + char + word[position:]
    return word[:position] + word[position + 1] + char + word[position + 2 :]
