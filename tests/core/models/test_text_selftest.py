"""The self-test's text-encoder check: its stored reference is what sentence-transformers computes, it passes on
this installation, and an embedding that differs from the reference fails it."""

from __future__ import annotations

import pytest
import torch

from dmtl_studio.core.models import selftest
from dmtl_studio.core.models.selftest import SelfTestFailure, check_text_encoder
from dmtl_studio.core.models.text_catalog import bundled_encoder_folder


def test_the_stored_reference_is_the_reference_implementations_embedding() -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    model = sentence_transformers.SentenceTransformer(str(bundled_encoder_folder()), device="cpu")
    embedding = model.encode([selftest._TEXT_SENTENCE], convert_to_tensor=True)[0]
    reference = torch.tensor(selftest._TEXT_REFERENCE)
    assert embedding.shape == (384,)
    assert torch.allclose(embedding[: len(reference)], reference, atol=1e-6)


def test_the_check_passes_and_says_what_it_read() -> None:
    detail = check_text_encoder()
    assert "384-d unit embedding" in detail
    assert str(bundled_encoder_folder()) in detail


def test_an_embedding_unlike_the_reference_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    changed = (selftest._TEXT_REFERENCE[0] + 3e-4, *selftest._TEXT_REFERENCE[1:])
    monkeypatch.setattr(selftest, "_TEXT_REFERENCE", changed)
    with pytest.raises(SelfTestFailure, match="max difference"):
        check_text_encoder()
