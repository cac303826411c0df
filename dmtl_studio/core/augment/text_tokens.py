"""A text cut into words and the gaps between them, so that word-level edits keep the text's own punctuation,
spacing and line breaks, and each change is remembered for the editor's preview.

A text is ``gap[0] word[0] gap[1] word[1] … word[n-1] gap[n]``: words are runs of letters and digits (with inner
apostrophes and hyphens, as in ``don't`` and ``well-known``), gaps are everything else (spaces, punctuation, new
lines). Chinese and Japanese, written without spaces, have each ideograph or kana as a word of its own (as BERT's
tokenizer, and so all-MiniLM-L6-v2, reads them): a sentence of Chinese is not one word. Operations change the words; joining the pieces back gives the augmented text, character for character the
original where nothing changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A character of a script written without spaces between words: CJK ideographs (with extension A and the
#: compatibility block), hiragana and katakana. Each is a word of its own.
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = f"[{_CJK_RANGES}]"
#: A word character of a script written with spaces: a letter, digit or underscore but no CJK one, or a combining
#: mark (an accent written as a character of its own after its letter, as macOS writes file names and some editors
#: write texts: "é" as "e" + U+0301 is one word character, not a gap).
_SPACED = f"(?:[^\\W{_CJK_RANGES}]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])"
#: A word: a CJK character, or word characters with inner apostrophes and hyphens (``don't``, ``re-use``). One
#: group: ``split`` keeps it.
WORD = re.compile(rf"({CJK}|{_SPACED}+(?:['’-]{_SPACED}+)*)")
_CJK_WORD = re.compile(CJK)


def count_words(text: str) -> int:
    """The words of ``text`` as :data:`WORD` finds them (a Chinese sentence counts its characters)."""
    return sum(1 for _ in WORD.finditer(text))


def is_cjk_word(word: str) -> bool:
    """Whether ``word`` (one of :data:`WORD`'s) is a CJK character."""
    return word >= "\u3040" and _CJK_WORD.fullmatch(word) is not None


#: The kinds of change a preview marks.
CHANGE_KINDS = ("synonym", "inserted", "swapped", "deleted", "typo")


@dataclass(frozen=True)
class TextChange:
    """One change in an augmented text.

    ``start`` and ``end`` are character offsets in the augmented text (``end`` excluded; a deletion is an empty
    span, ``start == end``, where the words were); ``kind`` is one of :data:`CHANGE_KINDS`; ``before`` is the text
    that was there (the replaced or deleted words; empty for an insertion).
    """

    start: int
    end: int
    kind: str
    before: str = ""


class Tokens:
    """A text's words and gaps, changed in place by the text operations.

    Besides the words, each word slot remembers what was there in the original text (``before``, empty for an
    inserted word) and how it was last changed (``tags``), and ``dropped[k]`` holds the words deleted just before
    slot ``k`` (``dropped[n]``: at the end) and ``cuts[k]`` where in gap ``k`` they stood, so that
    :meth:`render_changes` can mark every change where it was (``"was hurt, but"`` less ``hurt``: before the comma).
    """

    __slots__ = ("before", "cuts", "dropped", "gaps", "tags", "words")

    def __init__(self, text: str) -> None:
        pieces = WORD.split(text)
        self.gaps: list[str] = pieces[0::2]
        self.words: list[str] = pieces[1::2]
        self.before: list[str] = list(self.words)
        self.tags: list[str | None] = [None] * len(self.words)
        self.dropped: list[tuple[str, ...]] = [()] * (len(self.words) + 1)
        self.cuts: list[int] = [0] * (len(self.words) + 1)

    def __len__(self) -> int:
        return len(self.words)

    # ------------------------------------------------------------------ edits used by the operations
    def replace(self, index: int, word: str, kind: str) -> None:
        """Put ``word`` in slot ``index`` (a synonym, a typo)."""
        self.words[index] = word
        self.tags[index] = kind

    def swap(self, first: int, second: int) -> None:
        """Exchange the words of two slots; the gaps (and punctuation) stay where they were."""
        words, tags = self.words, self.tags
        words[first], words[second] = words[second], words[first]
        tags[first] = tags[second] = "swapped"

    def insert(self, index: int, word: str) -> None:
        """Insert ``word`` before slot ``index`` (``index == len(self)``: after the last word), one space apart."""
        if index < len(self.words):
            self.gaps.insert(index + 1, " ")
        else:
            self.gaps.insert(index, " ")
        self.words.insert(index, word)
        self.before.insert(index, "")
        self.tags.insert(index, "inserted")
        self.dropped.insert(index, ())
        self.cuts.insert(index, 0)

    def delete(self, index: int) -> None:
        """Remove the word of slot ``index`` and merge the gaps on either side of it.

        A gap of only spaces gives way to the other (``"big, red"`` less ``red`` is ``"big"`` + the next gap;
        ``"the dog."`` less ``dog`` is ``"the."``); at the very start the following separator goes too.
        """
        gaps, words = self.gaps, self.words
        before_gap, after_gap = gaps[index], gaps[index + 1]
        at = len(before_gap)  # where the word stood in the merged gap
        if index == 0:
            merged = before_gap  # an opening quote or indent stays; the separator after the word goes
        elif not before_gap.strip() and not after_gap.strip():
            last = index == len(words) - 1
            # Spaces on both sides: one of them, keeping a line break and the text's own ending.
            merged = after_gap if last or ("\n" in after_gap and "\n" not in before_gap) else before_gap
            at = 0
        elif not after_gap.strip():
            merged = before_gap
        elif not before_gap.strip():
            merged, at = after_gap, 0
        else:
            merged = before_gap + after_gap
        if self.dropped[index]:  # words deleted before this one stand where they stood (the start, when gone)
            at = self.cuts[index] if merged.startswith(before_gap) else 0
        gaps[index : index + 2] = [merged]
        word = () if self.tags[index] == "inserted" else (words[index],)
        gone = (*self.dropped[index], *word, *self.dropped[index + 1])
        del words[index], self.before[index], self.tags[index], self.dropped[index], self.cuts[index]
        self.dropped[index] = gone
        self.cuts[index] = at

    # ------------------------------------------------------------------ the text back
    def render(self) -> str:
        """The (augmented) text."""
        gaps, words = self.gaps, self.words
        out = [gaps[0]]
        for k, word in enumerate(words):
            out.append(word)
            out.append(gaps[k + 1])
        return "".join(out)

    def render_changes(self) -> tuple[str, tuple[TextChange, ...]]:
        """The augmented text and its changes, in order (see :class:`TextChange`).

        A word counts as changed when it differs from what stood in its slot (a word swapped back, or a typo
        that left it as it was, is not marked).
        """
        out: list[str] = []
        changes: list[TextChange] = []
        offset = 0
        for k in range(len(self.words) + 1):
            gap = self.gaps[k]
            if self.dropped[k]:  # marked where the words stood in the gap
                at = offset + min(self.cuts[k], len(gap))
                gone = self.dropped[k]
                joined = "".join(gone) if all(is_cjk_word(w) for w in gone) else " ".join(gone)
                changes.append(TextChange(at, at, "deleted", joined))
            out.append(gap)
            offset += len(gap)
            if k == len(self.words):
                break
            word = self.words[k]
            kind = self.tags[k]
            if kind is not None and (kind == "inserted" or word != self.before[k]):
                changes.append(TextChange(offset, offset + len(word), kind, self.before[k]))
            out.append(word)
            offset += len(word)
        return "".join(out), tuple(changes)


def match_case(word: str, model: str) -> str:
    """``word`` written in the case of ``model``: ``ALL CAPS``, ``Capitalised`` or as it is."""
    if len(model) > 1 and model.isupper():
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
