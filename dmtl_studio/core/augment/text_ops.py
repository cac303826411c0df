"""The built-in text operations: EDA's four word operations, keyboard typos, and mixup on sentence embeddings.

Word operations follow EDA (Wei & Zou 2019, "EDA: Easy Data Augmentation Techniques for Boosting Performance on
Text Classification Tasks", EMNLP): with ``rate`` α and a text of ``n`` words, synonym replacement, random
insertion and random swap each make ``max(1, int(α·n))`` changes (none when α = 0), and random deletion drops each
word with probability α, always keeping one. Unlike EDA's reference code the text is not lower-cased nor stripped
of punctuation: the operations act on words and leave the gaps between them (:mod:`.text_tokens`) where they were,
and a replacing word takes the case of the word it replaces. Stop words are never replaced nor used for insertion,
nor are words of one or two letters and acronyms in capitals: their WordNet senses are mostly other abbreviations
("CO" gives "cobalt" and "Colorado", "OK" "Sooner State", "x" "ecstasy"), which change what a text is about; nor
are capitalised words inside a sentence, which are names ("Windows" gave "Windowpane", "Excel" "Surpass").

Character noise imitates typing slips on a QWERTY keyboard (:mod:`.keyboard`). Mixup for text (Zhang et al. 2018,
applied to sentence embeddings as in Guo et al. 2019, "Augmenting Data with Mixup for Sentence Classification")
only draws the weight here; the training mixes the embeddings of a batch, as it mixes image features.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dmtl_studio.core.augment.keyboard import typo
from dmtl_studio.core.augment.registry import (
    BatchMixer,
    MixSample,
    Operation,
    ParamSpec,
    ParamValue,
    TextTransform,
    register,
)
from dmtl_studio.core.augment.text_tokens import Tokens, is_cjk_word, match_case
from dmtl_studio.core.augment.wordnet import require_wordnet, synonyms

#: Words never replaced nor inserted (EDA's list: function words, whose WordNet "synonyms" are letters and
#: abbreviations — "a" gives "angstrom", "in" gives "Indiana").
_STOP_WORDS = (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is are "
    "was were be been being have has had having do does did doing a an the and but if or because as until while "
    "of at by for with about against between into through during before after above below to from up down in out "
    "on off over under again further then once here there when where why how all any both each few more most "
    "other some such no nor not only own same so than too very s t can will just don should now"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())


def change_count(rate: float, total: int) -> int:
    """How many changes a rate asks for in ``total`` words or letters: ``max(1, int(rate·total))``, 0 for rate 0."""
    if rate <= 0.0 or total == 0:
        return 0
    return max(1, int(rate * total))


def _replaceable(word: str) -> bool:
    """Whether a word may be replaced by a synonym or give one for insertion (the module docstring)."""
    return word.isalpha() and len(word) > 2 and not word.isupper() and word.lower() not in STOP_WORDS


#: What ends a sentence in the gap before a word: a word after it may be capitalised for that reason alone.
_SENTENCE_END = frozenset(".!?\n")


def _replaceable_at(tokens: Tokens, index: int) -> bool:
    """:func:`_replaceable`, and not a capitalised word inside a sentence: a name ("Windows" gave "Windowpane",
    "Slack" "Abate", "Excel" "Surpass" in support tickets, h32). A capitalised first word of a sentence is any
    word, and may be replaced."""
    word = tokens.words[index]
    if not _replaceable(word):
        return False
    if not word[:1].isupper() or index == 0:
        return True
    return bool(_SENTENCE_END.intersection(tokens.gaps[index]))


class _SynonymReplacement(TextTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.rate = float(params["rate"])
        require_wordnet()

    def __call__(self, tokens: Tokens, rng: np.random.Generator) -> None:
        wanted = change_count(self.rate, len(tokens))
        if not wanted:
            return
        words = tokens.words
        done = 0
        for index in rng.permutation(len(words)).tolist():
            word = words[index]
            if not _replaceable_at(tokens, index):
                continue
            options = synonyms(word)
            if options:
                choice = options[int(rng.random() * len(options))]
                tokens.replace(index, match_case(choice, word), "synonym")
                done += 1
                if done == wanted:
                    return


class _RandomInsertion(TextTransform):
    #: EDA tries this many random words for one that has a synonym before giving up an insertion.
    TRIES = 10

    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.rate = float(params["rate"])
        require_wordnet()

    def __call__(self, tokens: Tokens, rng: np.random.Generator) -> None:
        wanted = change_count(self.rate, len(tokens))
        words = tokens.words
        for _ in range(wanted):
            draws = rng.random(self.TRIES + 2).tolist()
            for k in range(self.TRIES):
                at = int(draws[k] * len(words))
                word = words[at]
                options = synonyms(word) if _replaceable_at(tokens, at) else ()
                if options:
                    choice = options[int(draws[-2] * len(options))]
                    tokens.insert(int(draws[-1] * (len(words) + 1)), choice)
                    break


class _RandomSwap(TextTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.rate = float(params["rate"])

    def __call__(self, tokens: Tokens, rng: np.random.Generator) -> None:
        count = len(tokens)
        wanted = change_count(self.rate, count)
        if count < 2 or not wanted:
            return
        draws = rng.random(2 * wanted).tolist()
        for k in range(wanted):
            first = int(draws[2 * k] * count)
            second = int(draws[2 * k + 1] * (count - 1))
            tokens.swap(first, second + (second >= first))


class _RandomDeletion(TextTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.rate = float(params["rate"])

    def __call__(self, tokens: Tokens, rng: np.random.Generator) -> None:
        count = len(tokens)
        if self.rate <= 0.0 or count < 2:
            return
        draws = rng.random(count + 1).tolist()
        doomed = [k for k in range(count) if draws[k] < self.rate]
        if len(doomed) == count:  # never the whole text: one word, drawn at random, stays
            del doomed[int(draws[-1] * count)]
        for index in reversed(doomed):
            tokens.delete(index)


class _KeyboardTypos(TextTransform):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.rate = float(params["rate"])

    def __call__(self, tokens: Tokens, rng: np.random.Generator) -> None:
        words = tokens.words
        # A keyboard slip needs a keyboard's letters: Chinese and Japanese characters (typed through an input
        # method) are never hit.
        slots = [i for i, word in enumerate(words) if not is_cjk_word(word)]
        ends = np.cumsum([len(words[i]) for i in slots]).tolist() if slots else []
        total = ends[-1] if ends else 0
        wanted = change_count(self.rate, total)
        if not wanted:
            return
        positions = sorted(rng.choice(total, wanted, replace=False).tolist(), reverse=True)
        draws = rng.random(2 * wanted).tolist()
        index = len(slots) - 1
        # From the last position back, so that an edit never moves the positions still to come.
        for k, position in enumerate(positions):
            while index > 0 and ends[index - 1] > position:
                index -= 1
            start = ends[index - 1] if index else 0
            word = words[slots[index]]
            changed = typo(word, position - start, draws[2 * k], draws[2 * k + 1])
            if changed != word:
                tokens.replace(slots[index], changed, "typo")


class _EmbeddingMixup(BatchMixer):
    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self.alpha = float(params["alpha"])

    def sample(self, rng: np.random.Generator, height: int = 0, width: int = 0) -> MixSample:
        return MixSample(float(rng.beta(self.alpha, self.alpha)))


def _rate(default: float, help_text: str, maximum: float = 0.5) -> tuple[ParamSpec, ...]:
    return (ParamSpec("rate", "Rate", "float", default, 0.0, maximum, 0.01, "", help_text),)


_WORDS = "Fraction of the words changed: max(1, int(rate × words)); 0 changes nothing."
#: The operations that read WordNet (:mod:`~dmtl_studio.core.augment.wordnet`): unusable where it is not installed.
WORDNET_OPERATIONS = ("synonym_replacement", "random_insertion")
for _name, _label, _builder, _help, _probability in (
    (
        "synonym_replacement",
        "Synonym replacement",
        _SynonymReplacement,
        "Replace words (not stop words, nor names capitalised inside a sentence) with a WordNet synonym of any "
        "of their senses (EDA): keep the rate low. Needs WordNet.",
        0.5,
    ),
    (
        "random_insertion",
        "Random insertion",
        _RandomInsertion,
        "Insert a WordNet synonym of a word of the text at a random place (EDA). Needs WordNet.",
        0.5,
    ),
    (
        "random_swap",
        "Random swap",
        _RandomSwap,
        "Swap two words, as many times as the rate says; punctuation stays in place (EDA).",
        0.5,
    ),
):
    register(
        Operation(_name, _label, "words", _builder, _rate(0.1, _WORDS), _probability, _help, kind="text")
    )
register(
    Operation(
        "random_deletion",
        "Random deletion",
        "words",
        _RandomDeletion,
        _rate(0.1, "Each word is deleted with this probability; one word always stays."),
        0.5,
        "Delete words at random (EDA); the text is never emptied.",
        kind="text",
    )
)
register(
    Operation(
        "keyboard_typos",
        "Keyboard typos",
        "characters",
        _KeyboardTypos,
        _rate(0.03, "Fraction of the letters hit: max(1, int(rate × letters)); 0 changes nothing.", 0.3),
        0.5,
        "Typing slips on a QWERTY keyboard: a neighbouring key, a missed, doubled or swapped letter.",
        kind="text",
    )
)
register(
    Operation(
        "embedding_mixup",
        "Mixup (embeddings)",
        "mixing",
        _EmbeddingMixup,
        (
            ParamSpec(
                "alpha",
                "Alpha",
                "float",
                0.2,
                0.05,
                4.0,
                0.05,
                "",
                "Weights from Beta(alpha, alpha): small alpha keeps one text dominant.",
            ),
        ),
        0.5,
        "Blend the sentence embeddings of two training texts and their labels: z = a·e1 + (1 − a)·e2. "
        "Applies to whole batches in training; the texts themselves are not changed.",
        kind="text",
    )
)
