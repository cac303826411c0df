"""Which words made a text run decide as it did: occlusion of each word (Zeiler & Fergus 2014, applied to words).

For a text and a target class (the predicted one by default), each word is removed in turn and the text scored
again; a word's score is how much the class's log-odds fall without it,
``log-odds(target | text) - log-odds(target | text without the word)`` with ``log-odds(c) = log p_c - log(1 - p_c)``
(computed from the logits, so it does not saturate): positive where the word supports the class, negative where
it argues against it. A difference of probabilities read nothing on a confident text (0.9999 to 0.9998 for the
word the class rests on), and shown against the largest such difference, noise looked like a reason; on the
log-odds the word that moves the odds by a factor of 3 scores 1.1 however sure the model is (the weight of
evidence of Robnik-Šikonja & Kononenko, 2008, "Explaining classifications for individual instances"). The occluded variants are scored in batches (one model
pass per :data:`ATTRIBUTION_BATCH` variants). Occlusion needs no gradients and works with any model that scores
texts (the run's encoder, fine-tuned or frozen, and its head); for a text of ``n`` words it costs ``n + 1``
forward passes of short texts. Words are runs of letters and digits (with inner apostrophes and hyphens);
punctuation is not scored. Words past the encoder's maximum length are never read by the model: the text is cut
where its tokenizer stops before the variants are made (a text of a megabyte costs what its first few hundred words
cost), and those words score 0 and are counted (:attr:`TextExplanation.unread`).

The result is plain data (offsets into the text, the word, its score), so the window draws it without torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from dmtl_studio.core.augment.text_tokens import WORD
from dmtl_studio.core.evaluation.text_inference import text_logits
from dmtl_studio.core.models.checkpoint import LoadedModel, load_checkpoint

#: Occluded variants scored per model pass.
ATTRIBUTION_BATCH = 32
#: At most this many words are scored (the rest score 0): an encoder reads at most a few hundred tokens.
MAX_WORDS = 400


@dataclass(frozen=True)
class TextExplanation:
    """A text's word attributions for one class.

    ``words`` are ``(start, end, word, score)`` with ``text[start:end] == word``; ``probability`` is the class's
    probability for the whole text; ``classes`` the run's class names and ``target`` the explained class's index.
    """

    text: str
    target: int
    classes: tuple[str, ...]
    probability: float
    words: tuple[tuple[int, int, str, float], ...]
    #: Words past what the model reads (its maximum length in tokens): never scored.
    unread: int = 0

    @property
    def target_name(self) -> str:
        return self.classes[self.target]


class NothingToExplain(ValueError):
    """A text with no word (emoji or punctuation only): no word can be taken out of it."""


def read_length(loaded: LoadedModel, text: str) -> int:
    """How many characters of ``text`` the run's encoder reads: all of them, or up to where its maximum length in
    tokens cuts it (from the tokenizer's character offsets; all of them when it gives none)."""
    encoder = loaded.model.backbone
    tokenizer, limit = getattr(encoder, "tokenizer", None), getattr(encoder, "max_length", None)
    if tokenizer is None or limit is None or not getattr(tokenizer, "is_fast", False):
        return len(text)
    window = text[: 64 * int(limit)]  # a token is rarely over 64 characters: the rest cannot be read anyway
    offsets = tokenizer(window, truncation=True, max_length=int(limit), return_offsets_mapping=True)[
        "offset_mapping"
    ]
    ends = [end for start, end in offsets if end > start]
    if not ends or (len(offsets) < int(limit) and len(window) == len(text)):
        return len(text)
    return max(ends)


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, word)`` of each word of ``text``, in order."""
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]


def _logits(loaded: LoadedModel, texts: list[str]) -> np.ndarray:
    out = [
        text_logits(loaded, texts[start : start + ATTRIBUTION_BATCH]).astype(np.float64)
        for start in range(0, len(texts), ATTRIBUTION_BATCH)
    ]
    return np.concatenate(out) if out else np.zeros((0, len(loaded.classes)))


def log_odds(logits: np.ndarray, target: int) -> np.ndarray:
    """``(N,)`` log-odds of class ``target`` from ``(N, C)`` logits: ``log p_t - log(1 - p_t)``, computed as the
    target's logit less the log-sum-exp of the others' (exact where ``p_t`` rounds to 1)."""
    others = np.delete(logits, target, axis=1)
    return logits[:, target] - torch.logsumexp(torch.from_numpy(others), dim=1).numpy()


def explain_text(
    model: LoadedModel | str | os.PathLike[str], text: str, target: int | str | None = None
) -> TextExplanation:
    """Word-level occlusion attributions of ``text`` for ``target`` (a class index or name; default: predicted).

    Parameters
    ----------
    model
        A loaded text run, or its run folder.

    Raises
    ------
    NothingToExplain
        ``text`` has no word.
    ValueError
        The run is not a text run, or ``target`` is not one of its classes.
    """
    loaded = model if isinstance(model, LoadedModel) else load_checkpoint(model)
    if loaded.sidecar.get("kind") != "text":
        raise ValueError("word attributions need a text run; image runs are explained with Grad-CAM")
    spans = word_spans(text)
    if not spans:
        what = "is empty" if not text.strip() else "has no word (only symbols or punctuation)"
        raise NothingToExplain(f"nothing to explain: the text {what}")
    read = read_length(loaded, text)
    scored = [span for span in spans if span[1] <= read][:MAX_WORDS]
    cut = text[:read]
    variants = [cut] + [cut[:start] + cut[end:] for start, end, _ in scored]
    logits = _logits(loaded, variants)
    if target is None:
        index = int(np.argmax(logits[0]))
    elif isinstance(target, str):
        if target not in loaded.classes:
            raise ValueError(f"{target!r} is not a class of the run ({', '.join(loaded.classes)})")
        index = loaded.classes.index(target)
    else:
        index = int(target)
        if not 0 <= index < len(loaded.classes):
            raise ValueError(f"class index {index} is out of range for {len(loaded.classes)} classes")
    full = float(torch.from_numpy(logits[0]).softmax(0)[index])
    odds = log_odds(logits, index)
    scores = [float(odds[0] - o) for o in odds[1:]] + [0.0] * (len(spans) - len(scored))
    words = tuple((s, e, w, score) for (s, e, w), score in zip(spans, scores, strict=True))
    unread = sum(1 for span in spans if span[1] > read)
    return TextExplanation(text, index, tuple(loaded.classes), full, words, unread)


def word_attributions(
    model: LoadedModel | str | os.PathLike[str], text: str, target: int | str | None = None
) -> list[tuple[int, int, str, float]]:
    """``[(start, end, word, score)]`` of ``text`` (see :func:`explain_text`): one score per word."""
    return list(explain_text(model, text, target).words)
