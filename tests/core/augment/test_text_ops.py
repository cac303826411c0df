"""Text operations: identity at rate 0, determinism, EDA's invariants, typos' edit counts and the marked changes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.augment.recipe import Recipe, Step
from dmtl_studio.core.augment.registry import get_operation, operations
from dmtl_studio.core.augment.text_ops import STOP_WORDS, change_count
from dmtl_studio.core.augment.text_recipe import CompiledTextRecipe
from dmtl_studio.core.augment.text_tokens import Tokens
from dmtl_studio.core.augment.wordnet import SYSTEM_WORDNET, synonyms

needs_wordnet = pytest.mark.skipif(
    not (SYSTEM_WORDNET / "data.noun").is_file(), reason="Debian's wordnet-base is not installed"
)

TEXT_OPS = [op.name for op in operations("text") if op.family != "mixing"]
WORD = re.compile(r"\w+(?:['’-]\w+)*")


def _fortunes() -> list[str]:
    path = Path("/usr/share/games/fortunes/fortunes")
    if path.is_file():
        return [t for t in path.read_text(encoding="utf-8").split("\n%\n") if t.strip()][:120]
    return []


SAMPLES = [
    "The quick brown fox jumps over the lazy dog.",
    "  Hello,   world!\n\nA second paragraph — with “quotes”, don't-stop words and 42 numbers.  ",
    "Word",
    "",
    "?!",
    "Café au lait, s'il vous plaît.",
    "Incident 17: the pump failed twice; operator restarted it at 03:40.\tSee log.",
    *_fortunes(),
]


def _compile(operation: str, probability: float = 1.0, **params: float) -> CompiledTextRecipe:
    compiled = Recipe((Step.of(operation, probability, **params),), kind="text").compile()
    assert isinstance(compiled, CompiledTextRecipe)
    return compiled


def osa_distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def test_text_operations_are_registered_apart_from_image_operations() -> None:
    text = {op.name for op in operations("text")}
    assert text == {
        "synonym_replacement",
        "random_insertion",
        "random_swap",
        "random_deletion",
        "keyboard_typos",
        "embedding_mixup",
    }
    assert not text & {op.name for op in operations()}  # the image list (the default) has none of them
    assert [op.family for op in operations("text")] == sorted(
        (op.family for op in operations("text")), key=("words", "characters", "mixing").index
    )


@needs_wordnet
@pytest.mark.parametrize("name", TEXT_OPS)
def test_rate_zero_is_the_identity(name: str) -> None:
    compiled = _compile(name, 1.0, rate=0.0)
    for seed, text in enumerate(SAMPLES):
        assert compiled(text, np.random.default_rng(seed)) == text
        assert compiled.preview(text, np.random.default_rng(seed)).changes == ()


@needs_wordnet
@pytest.mark.parametrize("name", TEXT_OPS)
def test_probability_zero_is_the_identity(name: str) -> None:
    compiled = _compile(name, 0.0, rate=0.3)
    assert all(compiled(text, np.random.default_rng(seed)) == text for seed, text in enumerate(SAMPLES))


@needs_wordnet
@pytest.mark.parametrize("name", TEXT_OPS)
def test_same_seed_same_text_and_seeds_differ(name: str) -> None:
    compiled = _compile(name, 1.0, rate=0.2)
    text = SAMPLES[0]
    runs = [compiled(text, np.random.default_rng(7)) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0] != text
    assert len({compiled(text, np.random.default_rng(seed)) for seed in range(20)}) > 3
    # The preview is the training's augmentation, with the same draws.
    assert compiled.preview(text, np.random.default_rng(7)).text == runs[0]


def test_deletion_never_empties_the_text() -> None:
    everything = get_operation("random_deletion").build({"rate": 1.0})
    for seed, text in enumerate(SAMPLES):
        tokens = Tokens(text)
        had = len(tokens)
        everything(tokens, np.random.default_rng(seed))
        assert len(tokens) == min(had, 1)
        assert len(WORD.findall(tokens.render())) == min(had, 1)
    compiled = _compile("random_deletion", 1.0, rate=0.5)
    for seed in range(200):
        assert WORD.search(compiled("Two words", np.random.default_rng(seed)))


@needs_wordnet
def test_synonyms_come_from_wordnet() -> None:
    assert {"rapidly", "speedily"} <= set(synonyms("quickly"))
    assert "automobile" in synonyms("car")
    assert "car" not in synonyms("car") and "Car" not in synonyms("Car")
    assert synonyms("the") == () and synonyms("xyzzyq") == ()
    assert "hot dog" in synonyms("frankfurter")  # multiword lemmas are written with spaces


@needs_wordnet
def test_acronyms_and_words_of_two_letters_keep_their_meaning() -> None:
    """Their WordNet senses are other abbreviations: "CO leak" became "COBALT leak", "OK" "SOONER STATE"."""
    kept = {"CO", "IT", "OK", "x", "US", "PPE"}
    assert all(synonyms(word) for word in ("CO", "OK", "x", "US"))  # WordNet would have replaced them
    text = "CO leak near the IT desk, OK said x; US plant needs PPE checks"
    for name in ("synonym_replacement", "random_insertion"):
        compiled = _compile(name, 1.0, rate=0.5)
        for seed in range(40):
            result = compiled.preview(text, np.random.default_rng(seed))
            assert not {c.before for c in result.changes} & kept
            inserted = {result.text[c.start : c.end] for c in result.changes if not c.before}
            assert not inserted & ({s for word in kept for s in synonyms(word)} - set(synonyms("leak")))


@needs_wordnet
def test_synonym_replacement_replaces_words_by_their_synonyms() -> None:
    compiled = _compile("synonym_replacement", 1.0, rate=0.5)
    text = "The doctor quickly examined the injured patient in the small hospital."
    for seed in range(30):
        result = compiled.preview(text, np.random.default_rng(seed))
        assert result.changes, "each sentence has words with synonyms"
        assert len(result.changes) <= change_count(0.5, len(WORD.findall(text)))
        for change in result.changes:
            new = result.text[change.start : change.end]
            assert change.kind == "synonym" and new != change.before
            assert change.before.lower() not in STOP_WORDS
            assert new.lower() in {s.lower() for s in synonyms(change.before)}
            # A capitalised word's replacement is capitalised; others are written as WordNet writes them.
            assert new[0].isupper() or not change.before[0].isupper()


@needs_wordnet
def test_names_inside_a_sentence_keep_their_name_and_give_no_synonym() -> None:
    """Support tickets: "Windows" gave "Windowpane", "Slack" "Abate", "Excel" "Surpass" (h32). A capitalised
    word inside a sentence is a name; the first word of a sentence is capitalised for that reason alone."""
    replace = _compile("synonym_replacement", 1.0, rate=1.0)
    insert = _compile("random_insertion", 1.0, rate=1.0)
    text = "Paste the invoice into Excel. Slack crashes after the Windows update! Quickly restart Outlook"
    names = {"Excel", "Windows", "Outlook"}  # "Slack" and "Quickly" begin sentences: ordinary words there
    for seed in range(30):
        result = replace.preview(text, np.random.default_rng(seed))
        assert not names & {c.before for c in result.changes}, result.text
        assert names <= set(WORD.findall(result.text))
        inserted = {
            result.text[c.start : c.end].lower()
            for c in insert.preview(text, np.random.default_rng(seed)).changes
        }
        assert not inserted & {s.lower() for name in names for s in synonyms(name)} - {
            s.lower() for word in WORD.findall(text) if word not in names for s in synonyms(word)
        }
    assert any(
        "Slack" in {c.before for c in replace.preview(text, np.random.default_rng(seed)).changes}
        for seed in range(30)
    )


@needs_wordnet
def test_random_insertion_inserts_synonyms_of_the_texts_words() -> None:
    compiled = _compile("random_insertion", 1.0, rate=0.3)
    text = "The doctor examined the injured patient."
    words = WORD.findall(text)
    for seed in range(20):
        result = compiled.preview(text, np.random.default_rng(seed))
        inserted = [result.text[c.start : c.end] for c in result.changes]
        assert {c.kind for c in result.changes} == {"inserted"}
        assert len(inserted) == change_count(0.3, len(words))
        assert all(any(new in synonyms(word) for word in words) for new in inserted)
        kept = result.text
        for change in reversed(result.changes):
            kept = kept[: change.start] + kept[change.end :]
        assert WORD.findall(kept) == words  # the original words, in order, around the insertions


@pytest.mark.parametrize("name", ["random_swap", "keyboard_typos"])
def test_changes_mark_exactly_the_changed_words(name: str) -> None:
    compiled = _compile(name, 1.0, rate=0.25)
    for seed, text in enumerate(SAMPLES):
        result = compiled.preview(text, np.random.default_rng(seed))
        # Putting back what each marked span replaced gives the original text: nothing outside them changed.
        restored = result.text
        for change in reversed(result.changes):
            assert result.text[change.start : change.end] != change.before
            restored = restored[: change.start] + change.before + restored[change.end :]
        assert restored == text


def test_deletions_are_marked_where_the_words_were() -> None:
    compiled = _compile("random_deletion", 1.0, rate=0.3)
    for seed, text in enumerate(SAMPLES):
        result = compiled.preview(text, np.random.default_rng(seed))
        events = [(m.start(), 1, m.group()) for m in WORD.finditer(result.text)]
        for change in result.changes:
            assert change.kind == "deleted" and change.start == change.end
            events += [(change.start, 0, word) for word in change.before.split(" ")]
        assert [word for _, _, word in sorted(events, key=lambda e: (e[0], e[1]))] == WORD.findall(text)


def test_swap_and_deletion_keep_punctuation_and_spacing() -> None:
    text = "First, second; third!\n\nFourth (fifth) sixth."
    swapped = _compile("random_swap", 1.0, rate=0.5)(text, np.random.default_rng(3))
    assert re.sub(r"\w+", "", swapped) == re.sub(r"\w+", "", text)
    assert sorted(WORD.findall(swapped)) == sorted(WORD.findall(text))
    assert _compile("random_deletion", 1.0, rate=0.5)(text, np.random.default_rng(1)).count("\n\n") == 1


def test_one_typo_is_one_edit_and_several_are_bounded() -> None:
    one = _compile("keyboard_typos", 1.0, rate=0.01)
    many = _compile("keyboard_typos", 1.0, rate=0.1)
    for seed, text in enumerate(SAMPLES):
        letters = sum(len(w) for w in WORD.findall(text))
        if letters < 2:
            continue
        assert osa_distance(text, one(text, np.random.default_rng(seed))) == 1
        changed = many(text, np.random.default_rng(seed))
        # Each slip is one edit (a transposition two single-character ones); no character outside words moves.
        assert 0 < osa_distance(text, changed) <= 2 * change_count(0.1, letters)
        assert re.sub(r"\w", "", changed).replace("'", "").replace("-", "") == re.sub(
            r"\w", "", text
        ).replace("'", "").replace("-", "")


def test_typos_keep_letters_among_letters_and_case() -> None:
    compiled = _compile("keyboard_typos", 1.0, rate=0.3)
    for seed in range(50):
        out = compiled("HELLO WORLD", np.random.default_rng(seed))
        assert out.isupper() and not any(ch.isdigit() for ch in out)


CHINESE = "服务器从今天早上开始宕机，所有用户都无法登录"


def test_chinese_is_one_word_per_character_and_keyboard_typos_leave_it_alone() -> None:
    tokens = Tokens(f"{CHINESE} (VPN down)")
    assert tokens.words[:3] == ["服", "务", "器"] and tokens.words[-2:] == ["VPN", "down"]
    assert len(tokens.words) == 21 + 2 and tokens.render() == f"{CHINESE} (VPN down)"
    typos = _compile("keyboard_typos", 1.0, rate=0.3)
    swap = _compile("random_swap", 1.0, rate=0.5)
    for seed in range(30):
        typed = typos(f"{CHINESE} VPN", np.random.default_rng(seed))
        assert typed.startswith(CHINESE) and typed != f"{CHINESE} VPN"  # only the Latin word is hit
        swapped = swap(CHINESE, np.random.default_rng(seed))
        assert sorted(swapped) == sorted(CHINESE)  # characters moved, none lost or made
    assert any(swap(CHINESE, np.random.default_rng(seed)) != CHINESE for seed in range(30))
    assert typos(CHINESE, np.random.default_rng(0)) == CHINESE  # nothing a keyboard slip can hit


def test_embedding_mixup_draws_weights_for_the_training() -> None:
    compiled = Recipe(
        (Step.of("random_swap", 1.0), Step.of("embedding_mixup", 1.0, alpha=0.4)), kind="text"
    ).compile()
    assert isinstance(compiled, CompiledTextRecipe) and len(compiled.mixers) == 1
    samples = [compiled.draw_mix(np.random.default_rng(seed)) for seed in range(50)]
    assert all(s is not None and s.box is None and 0.0 <= s.lam <= 1.0 for s in samples)
    assert len({s.lam for s in samples}) == 50
    from dmtl_studio.core.augment.text_preview import TextSample

    def caption(lam: float) -> str:
        return TextSample("t", (), (("your text", lam), ("outage", 1 - lam)), mixed=True).caption

    # Beta(0.2, 0.2) puts most weights near 0 or 1: "0.00 your text + 1.00 outage" read as another text (h25).
    assert caption(0.003) == "embedding mixed in training: <1% your text + >99% outage"
    assert caption(0.8) == "embedding mixed in training: 80% your text + 20% outage"
    assert caption(0.005) == "embedding mixed in training: <1% your text + >99% outage"  # not "0% … 100%"
    quiet = Recipe((Step.of("embedding_mixup", 0.0),), kind="text").compile()
    assert quiet.draw_mix(np.random.default_rng(0)) is None
    # The text itself is not mixed: mixing steps act on embeddings only.
    assert Recipe((Step.of("embedding_mixup", 1.0),), kind="text").compile()(
        "a b c", np.random.default_rng(0)
    ) == ("a b c")


def test_the_training_mixes_sentence_embeddings_with_a_text_recipe() -> None:
    torch = pytest.importorskip("torch")
    from dmtl_studio.core.training.mixing import mix_batch

    compiled = Recipe((Step.of("embedding_mixup", 1.0, alpha=0.4),), kind="text").compile()
    embeddings = torch.randn(6, 384)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    mixed, soft = mix_batch(embeddings, targets, 3, compiled, np.random.default_rng(0))
    lam = compiled.draw_mix(np.random.default_rng(0))
    assert soft is not None and lam is not None
    assert torch.allclose(mixed, lam.lam * embeddings + (1 - lam.lam) * embeddings.roll(1, 0), atol=1e-6)
    assert torch.allclose(soft.sum(dim=1), torch.ones(6))


def test_the_preview_says_an_embedding_is_mixed_in_training_and_leaves_its_text_alone() -> None:
    from dmtl_studio.core.augment.text_preview import text_samples

    compiled = Recipe((Step.of("embedding_mixup", 1.0, alpha=0.4),), kind="text").compile()
    samples = text_samples(compiled, "the printer jams", "hardware", ("network",), count=4)
    for sample in samples:
        assert sample.mixed and sample.text == "the printer jams" and not sample.changes
        (own, lam), (other, rest) = sample.weights
        assert (own, other) == ("hardware", "network") and lam + rest == pytest.approx(1.0)
        assert (
            sample.caption.startswith("embedding mixed in training: ") and "% hardware + " in sample.caption
        )
        assert sample.caption.endswith("% network")
    from dmtl_studio.core.augment.text_preview import TextSample

    def caption(lam: float) -> str:
        return TextSample("t", (), (("your text", lam), ("outage", 1 - lam)), mixed=True).caption

    # Beta(0.2, 0.2) puts most weights near 0 or 1: "0.00 your text + 1.00 outage" read as another text (h25).
    assert caption(0.003) == "embedding mixed in training: <1% your text + >99% outage"
    assert caption(0.8) == "embedding mixed in training: 80% your text + 20% outage"
    assert caption(0.005) == "embedding mixed in training: <1% your text + >99% outage"  # not "0% … 100%"
    quiet = Recipe((Step.of("embedding_mixup", 0.0),), kind="text").compile()
    assert not any(s.mixed or s.caption for s in text_samples(quiet, "the printer jams", "hardware"))
    # An unlabelled text is never mixed in training, nor is it a partner (h28's "1.00 unlabell…" on images).
    assert not any(
        s.mixed or s.caption for s in text_samples(compiled, "the printer jams", None, ("network",))
    )
    solo = text_samples(compiled, "the printer jams", "hardware", (None,), count=2)
    assert all(s.mixed and [label for label, _ in s.weights] == ["hardware"] for s in solo)
    from dmtl_studio.core.augment.text_preview import TextPreviewRequest, render_text_preview

    request = TextPreviewRequest(
        1, Recipe((Step.of("embedding_mixup", 1.0),), kind="text"), (("jams", None),)
    )
    assert render_text_preview(request).note.endswith("this unlabelled text is shown unmixed")


def test_an_accent_written_as_its_own_character_stays_with_its_letter() -> None:
    """ "été" as "e" + U+0301 + "te" + U+0301 (decomposed, as macOS and some editors write it) is one word: a swap
    or a deletion moves or drops it whole, never leaving an accent on its own."""
    import unicodedata

    text = unicodedata.normalize("NFD", "été chaud à la plage")
    recipe = Recipe(
        (Step.of("random_swap", 1.0, rate=0.5), Step.of("random_deletion", 1.0, rate=0.3)), "t", "text"
    ).compile()
    for seed in range(30):
        out = recipe(text, np.random.default_rng(seed))
        words = out.split()
        assert all(unicodedata.category(word[0]) != "Mn" for word in words), out
        assert {unicodedata.normalize("NFC", w) for w in words} <= {"été", "chaud", "à", "la", "plage"}, out


def test_explain_and_the_viewer_count_chinese_words_by_character() -> None:
    from dmtl_studio.core.augment.text_tokens import count_words
    from dmtl_studio.core.evaluation.text_attribution import word_spans

    spans = word_spans(f"{CHINESE}，ok")
    assert [word for _, _, word in spans][:2] == ["服", "务"] and spans[-1][2] == "ok"
    assert count_words(CHINESE) == 21 and count_words("don't re-use it") == 3
