"""A batch gives each turn what the turn alone gives (analyze_many vs analyze)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from livelens.analysis import Pipeline, Turn

TEXTS = [
    ("CUSTOMER", "Hi, I was charged twice for my order and I need a refund. My email is dana.w@example.com."),
    ("AGENT", "I'm sorry about that, Dana. Can you confirm your phone number?"),
    ("CUSTOMER", "Sure, it's 415-555-0142. I live at 1427 Birchwood Lane, Springfield."),
    ("CUSTOMER", "ok"),
    ("AGENT", "Thanks, the refund is on its way; anything else?"),
    ("CUSTOMER", "This is the second time and it is really frustrating. My card 4111 1111 1111 1111 was used."),
    ("CUSTOMER", ""),
]


def test_analyze_many_matches_analyze(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    turns = [make_turn(text, role) for role, text in TEXTS]
    stages: list[str] = []
    batch = pipeline.analyze_many(turns, None, lambda name, seconds: stages.append(name))
    for turn, together in zip(turns, batch, strict=True):
        alone = pipeline.analyze(turn)
        assert together.sentiment == alone.sentiment, turn.content
        assert together.issues == alone.issues, turn.content
        assert together.redaction == alone.redaction, turn.content
        if turn.content:
            assert np.allclose(together.extras["embedding"], pipeline_embedding(turn), atol=2e-3)
    assert {"embedding", "redaction", "sentiment", "issues"} <= set(stages)


def pipeline_embedding(turn: Turn) -> np.ndarray:
    from livelens.analysis.embeddings import load_embedder

    vector: np.ndarray = load_embedder().embed_one(turn.content)
    return vector
