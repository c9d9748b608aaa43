"""One MiniLM run per batch: the issue detector's sentences ride with the turns; short texts are cached."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from livelens.analysis import Pipeline, Turn
from livelens.analysis.embeddings import CACHE_MAX_CHARS, Embedder, load_embedder
from livelens.analysis.issues import DEFAULT_CUE_WEIGHT, DEFAULT_THRESHOLD, is_routine_sentence, load_issue_detector

MULTI = [
    "Hi there. I was charged twice for my order last week and I need a refund. Thank you!",
    "My internet has been down since yesterday. I work from home. How long will it take?",
    "The order number is 7916676427. The parcel never arrived and tracking shows nothing.",
]


@pytest.fixture
def model_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The batch sizes of the ONNX runs the embedder makes while the test runs (cache emptied first)."""
    embedder = load_embedder()
    embedder.clear_cache()
    runs: list[int] = []
    real = Embedder._embed_batch

    def counted(self: Embedder, texts: list[str]) -> np.ndarray:
        runs.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(Embedder, "_embed_batch", counted)
    yield runs
    embedder.clear_cache()


def test_batch_embeds_turns_and_issue_sentences_in_one_run(
    pipeline: Pipeline, make_turn: Callable[..., Turn], model_runs: list[int]
) -> None:
    turns = [make_turn(text) for text in MULTI] + [make_turn("Thanks, I'll check.", "AGENT")]
    analyses = pipeline.analyze_many(turns)
    assert len(model_runs) == 1, model_runs  # turns and sentences together; nothing embedded again later
    detector = load_issue_detector()
    sentences = {piece for turn in turns[:3] for piece in detector.embedding_texts(turn.content)}
    assert model_runs[0] == len(turns) + len(sentences)
    assert [bool(a.issues) for a in analyses] == [True, True, True, False]


def test_routine_sentences_are_not_embedded() -> None:
    detector = load_issue_detector()
    text = MULTI[0]
    pieces = detector.embedding_texts(text)
    assert pieces and not any(is_routine_sentence(p) for p in pieces)
    assert "Thank you" not in pieces
    assert detector.embedding_texts("My card was declined at the shop.") == []  # the turn's own vector serves


def test_detect_with_precomputed_vectors_matches_detect_alone() -> None:
    detector = load_issue_detector()
    embedder = load_embedder()
    for text in MULTI:
        pieces = detector.embedding_texts(text)
        known = dict(zip(pieces, embedder.embed(pieces), strict=True))
        alone = detector.detect(text, DEFAULT_THRESHOLD, DEFAULT_CUE_WEIGHT)
        assert detector.detect(text, DEFAULT_THRESHOLD, DEFAULT_CUE_WEIGHT, known=known) == alone
        assert alone, text


def test_short_texts_come_from_the_cache(model_runs: list[int]) -> None:
    embedder = load_embedder()
    long_text = "x" * (CACHE_MAX_CHARS + 1)
    first = embedder.embed(["ok", "Thank you!", long_text])
    assert model_runs == [3]
    again = embedder.embed(["Thank you!", "ok", long_text])
    assert model_runs == [3, 1]  # only the long text ran again
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[1], first[0])
    assert np.allclose(again[2], first[2], atol=2e-3)
    embedder.clear_cache()
    embedder.embed(["ok"])
    assert model_runs == [3, 1, 1]
