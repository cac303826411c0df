"""WordNet synonyms, offline: the Princeton WordNet 3.0 database files read with nltk's WordNet reader.

Where the files are (first found wins): the folder named by ``DMTL_STUDIO_WORDNET``; ``wordnet`` in the bundle of a
frozen installation (``sys._MEIPASS``); Debian's ``wordnet-base`` package (``/usr/share/wordnet``). A folder counts
when it holds the ``index.*`` and ``data.*`` files of the four parts of speech.

Debian's package has no ``lexnames`` file, which nltk's reader opens when it starts; the standard list of WordNet's
45 lexicographer files is supplied instead (:data:`LEXNAMES`). nltk reads only folders registered on its data path,
so the folder found is added to ``nltk.data.path``.

Synonyms of a word are the lemmas of all its synsets (nouns, verbs, adjectives and adverbs, after nltk's
``morphy`` lemmatisation), without the word itself; multiword lemmas are written with spaces (``hot dog``). Each
word is looked up once per process and remembered.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import warnings
from functools import lru_cache
from pathlib import Path

from dmtl_studio.core.augment.registry import RecipeError

#: The environment variable that names a WordNet folder (checked first).
WORDNET_ENV = "DMTL_STUDIO_WORDNET"
#: Debian/Ubuntu's ``wordnet-base`` package.
SYSTEM_WORDNET = Path("/usr/share/wordnet")
#: Files a WordNet folder must hold.
REQUIRED_FILES = tuple(
    f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")
)

_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive "
    "noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity "
    "noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
)
#: WordNet's lexicographer files, numbered 0-44 (the ``lexnames`` file of the Princeton distribution).
LEXNAMES = tuple(_LEXNAMES.split())
_LEXNAME_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


class WordNetMissing(RecipeError):
    """No WordNet database was found; the message says what to install."""


def candidate_folders() -> list[Path]:
    """Where WordNet is looked for, in order (see the module docstring)."""
    folders = []
    named = os.environ.get(WORDNET_ENV)
    if named:
        folders.append(Path(named))
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        folders.append(Path(bundle) / "wordnet")
    folders.append(SYSTEM_WORDNET)
    return folders


def find_wordnet() -> Path | None:
    """The first folder of :func:`candidate_folders` that holds a WordNet database, or ``None``.

    An environment variable that names a folder without WordNet is not passed over: it is the user's choice, and
    a wrong one is reported rather than silently replaced by another database.
    """
    named = os.environ.get(WORDNET_ENV)
    for folder in candidate_folders():
        if all((folder / name).is_file() for name in REQUIRED_FILES):
            return folder
        if named and folder == Path(named):
            return None
    return None


def wordnet_available() -> str | None:
    """``None`` when WordNet can be read, else a message saying what is missing and how to install it."""
    folder = find_wordnet()
    if folder is None:
        return _missing_message()
    try:
        _reader(str(folder))
    except Exception as exc:  # a damaged or unreadable database: its reason is the message
        return f"WordNet in {folder} cannot be read ({type(exc).__name__}: {exc})"
    return None


def require_wordnet() -> None:
    """Raise :class:`WordNetMissing` unless WordNet can be read (called when a synonym step is compiled)."""
    message = wordnet_available()
    if message is not None:
        raise WordNetMissing(message)


def _missing_message() -> str:
    named = os.environ.get(WORDNET_ENV)
    where = (
        f"{WORDNET_ENV}={named} holds no WordNet database"
        if named
        else f"no WordNet database in {SYSTEM_WORDNET}"
    )
    return (
        f"Synonym operations (synonym replacement, random insertion) need WordNet, and {where} (files {', '.join(REQUIRED_FILES[:2])}, …). "
        "Install it with: apt-get install wordnet-base — or set "
        f"{WORDNET_ENV} to a folder with the WordNet 3.0 database files. The other text operations work without it."
    )


_lock = threading.Lock()


@lru_cache(maxsize=4)
def _reader(folder: str) -> object:
    """nltk's WordNet reader over ``folder`` (built once per folder: reading the indexes takes about a second)."""
    import nltk  # late: nltk takes about a second to import, and only synonym steps need it
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):
        def open(self, fileid: str):  # noqa: ANN202 - nltk's stream type
            if fileid == "lexnames" and not os.path.isfile(os.path.join(folder, "lexnames")):
                lines = (
                    f"{i:02d}\t{name}\t{_LEXNAME_POS[name.split('.')[0]]}\n"
                    for i, name in enumerate(LEXNAMES)
                )
                return io.StringIO("".join(lines))
            return super().open(fileid)

        def map_wn(self, version: str = "wordnet") -> None:
            # The mapping to another WordNet version serves the multilingual (OMW) data, which is not used; nltk
            # would look for its own downloaded copy of WordNet to build it.
            return None

    if folder not in nltk.data.path:
        nltk.data.path.append(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": none are used
        return _Reader(folder, None)


def synonyms(word: str) -> tuple[str, ...]:
    """WordNet synonyms of ``word`` (any case; looked up in lower case), sorted; empty when it has none.

    Raises :class:`WordNetMissing` when WordNet cannot be read.
    """
    return _synonyms(word.lower())


@lru_cache(maxsize=200_000)
def _synonyms(word: str) -> tuple[str, ...]:
    folder = find_wordnet()
    if folder is None:
        raise WordNetMissing(_missing_message())
    reader = _reader(str(folder))
    with _lock:  # the reader seeks in shared open files: one lookup at a time
        synsets = reader.synsets(word)
        names = {lemma.replace("_", " ") for synset in synsets for lemma in synset.lemma_names()}
    names.discard(word)
    return tuple(sorted(name for name in names if name.lower() != word))


def clear_synonym_cache() -> None:
    """Forget every word looked up (for measuring the first lookups; WordNet's reader stays open)."""
    _synonyms.cache_clear()
