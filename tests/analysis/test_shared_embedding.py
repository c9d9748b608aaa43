"""One MiniLM embedding call per batch: the issue detector's sentences ride with the turns (cut into
ONNX runs of similar lengths); short texts are cached."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from livelens.analysis import Pipeline, Turn
from livelens.analysis.embeddings import CACHE_MAX_CHARS, Embedder, load_embedder, plan_runs, rows_per_run
from livelens.analysis.issues import DEFAULT_CUE_WEIGHT, DEFAULT_THRESHOLD, is_routine_sentence, load_issue_detector

MULTI = [
    "Hi there. I was charged twice for my order last week and I need a refund. Thank you!",
    "My internet has been down since yesterday. I work from home. How long will it take?",
    "The order number is 7916676427. The parcel never arrived and tracking shows nothing.",
]


@pytest.fixture
def model_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many texts each call into the model embeds while the test runs (cache emptied first)."""
    embedder = load_embedder()
    embedder.clear_cache()
    runs: list[int] = []
    real = Embedder._embed_runs

    def counted(self: Embedder, texts: list[str], batch_size: int) -> np.ndarray:
        runs.append(len(texts))
        return real(self, texts, batch_size)

    monkeypatch.setattr(Embedder, "_embed_runs", counted)
    yield runs
    embedder.clear_cache()


def test_batch_embeds_turns_and_issue_sentences_in_one_call(
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


def test_runs_group_similar_lengths() -> None:
    assert plan_runs([12] * 8, 16, 32) == [8]  # equal lengths: one run
    # seven short texts and a long one: the long one runs alone instead of padding the others to its length
    assert plan_runs([5, 5, 6, 6, 7, 7, 8, 60], 16, 32) == [7, 8]
    assert plan_runs([5, 5, 6, 6, 7, 7, 8, 60], 1000, 32) == [8]  # runs so dear that one is cheapest
    ends = plan_runs([9] * 70, 16, 32)
    assert len(ends) == 3 and ends[-1] == 70  # never more rows than the batch size
    assert all(0 < b - a <= 32 for a, b in zip([0, *ends], ends, strict=False))
    assert plan_runs([], 16, 32) == []


def test_vectors_do_not_depend_on_how_texts_are_grouped(model_runs: list[int]) -> None:
    embedder = load_embedder()
    texts = ["ok then", "Hello there", "My internet has been down since yesterday evening and I work from home, "
             "so I have lost a whole day of work and I would like a credit on my next bill please."]
    together = embedder.embed(texts)
    embedder.clear_cache()
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_rows_per_run_read_from_the_model_metadata() -> None:
    assert rows_per_run({}) == 0
    assert rows_per_run({"livelens.rows_per_run": "1"}) == 1
    with pytest.raises(RuntimeError, match="not a number"):
        rows_per_run({"livelens.rows_per_run": "one"})


def test_the_shipped_model_is_run_one_text_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped integer-arithmetic build quantises activations per run (its metadata says
    ``rows_per_run=1``): every run holds one text, whatever the batch, so a vector never depends on
    its batch-mates; run several to a run, the same model gives other vectors."""
    embedder = load_embedder()
    assert embedder.rows_per_run == 1
    rows: list[int] = []
    real = Embedder._run

    def spied(self: Embedder, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rows.append(ids.shape[0])
        return real(self, ids, mask)

    monkeypatch.setattr(Embedder, "_run", spied)
    embedder.clear_cache()
    texts = [f"{phrase} number {i}" for i, phrase in enumerate(["my card was declined", "thanks a lot", "ok"] * 3)]
    batched = embedder.embed(texts)
    assert rows == [1] * len(texts)
    embedder.clear_cache()
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    assert np.array_equal(batched, alone)
    monkeypatch.setattr(embedder, "rows_per_run", 0)
    embedder.clear_cache()
    shared_runs = embedder.embed(texts)
    embedder.clear_cache()
    assert len(rows) < 3 * len(texts)  # rows_per_run 0: the same texts share runs
    assert not np.allclose(shared_runs, alone, atol=1e-6)
