from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from livelens.analysis import AnalysedTurn, Pipeline, Turn, TurnAnalysis, load_pipeline, sentiment_trend
from livelens.analysis.sentiment import LABELS, TunedVader, lexical_features, load_linear_model


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm not happy with this at all.", "NEGATIVE"),
        ("This is not what I paid for, I'm really disappointed.", "NEGATIVE"),
        ("I've been on hold for forty minutes and nobody can help me.", "NEGATIVE"),
        ("You charged me twice for the same order!", "NEGATIVE"),
        ("Thank you so much, you've been incredibly helpful!", "POSITIVE"),
        ("Perfect, that worked. I really appreciate it.", "POSITIVE"),
        ("I'd like to update the address on my account, please.", "NEUTRAL"),
        ("Could you tell me when my order will ship?", "NEUTRAL"),
        ("My account number ends in four two.", "NEUTRAL"),
    ],
)
def test_hand_picked_turns(pipeline: Pipeline, make_turn: Callable[..., Turn], text: str, expected: str) -> None:
    analysis = pipeline.analyze(make_turn(text))
    assert analysis.sentiment == expected, analysis.extras
    score = analysis.extras["sentiment_score"]
    assert isinstance(score, float) and -1 <= score <= 1


def test_tuned_vader_reads_like_as_a_verb_and_support_phrases() -> None:
    assert "like" not in TunedVader.rewrite("I would like to cancel")
    vader = TunedVader()
    assert vader.scores("I would like to cancel my plan")["compound"] == pytest.approx(0.0, abs=0.2)
    assert vader.scores("I was on hold for an hour")["compound"] < -0.2
    assert vader.scores("I was charged twice")["compound"] < -0.2


def test_vader_model_can_be_chosen(make_turn: Callable[..., Turn]) -> None:
    p = load_pipeline(("sentiment",), {"sentiment": {"model": "vader"}})
    analysis = p.analyze(make_turn("Thanks a lot, that is great"))
    assert analysis.sentiment == "POSITIVE"
    assert "sentiment_probabilities" not in analysis.extras


def test_shipped_weights_have_the_expected_shape() -> None:
    model = load_linear_model()
    assert model.weights.shape == (3, 384 + 4 + 1)
    assert tuple(model.meta["labels"]) == LABELS
    probs = model.probabilities(np.zeros(388, dtype=np.float32), 0.0, "")
    assert probs.shape == (3,) and probs.sum() == pytest.approx(1.0)
    assert model.lexical is not None and model.lexical.shape == (model.meta["hashed_ngrams"]["buckets"], 3)
    with_text = model.probabilities(np.zeros((2, 388), dtype=np.float32), np.zeros(2), ["great, thanks!", "awful"])
    assert with_text.shape == (2, 3) and with_text[0, 2] > with_text[1, 2]


def test_lexical_features_are_stable_hashed_ngrams() -> None:
    idx, val = lexical_features("I’m NOT happy!! @jo http://x.y", 65536)
    again = lexical_features("i'm not happy!! @someone https://z", 65536)
    assert np.array_equal(idx, again[0]) and np.allclose(val, again[1])
    assert idx.dtype == np.int64 and (idx >= 0).all() and (idx < 65536).all()
    assert float((val**2).sum()) == pytest.approx(2.0)  # word block and character block, each of unit norm
    assert lexical_features("", 65536)[0].size == 0


def test_non_english_turns_skip_sentiment_and_issues(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    analysis = pipeline.analyze(make_turn("Je suis très content, merci", language="fr-FR"))
    assert analysis.sentiment is None and analysis.issues == []
    assert analysis.extras["skipped"] == ["sentiment", "issues"]
    assert analysis.redaction is not None


def _analysed(role: str, label: str | None, score: float | None, **kwargs: object) -> AnalysedTurn:
    turn = Turn(
        id=f"{role}-{kwargs.get('begin_offset_millis', kwargs.get('absolute_time'))}",
        contact_id="c",
        channel="VOICE",
        participant_id=role,
        participant_role=role,
        content="x",
        **kwargs,
    )  # type: ignore[arg-type]
    extras: dict[str, object] = {} if score is None else {"sentiment_score": score}
    return AnalysedTurn(turn, TurnAnalysis(sentiment=label, extras=extras))  # type: ignore[arg-type]


def test_sentiment_trend_per_participant_over_time() -> None:
    turns = [
        _analysed("CUSTOMER", "NEGATIVE", -0.8, begin_offset_millis=0),
        _analysed("AGENT", "NEUTRAL", 0.1, begin_offset_millis=3000),
        _analysed("CUSTOMER", "POSITIVE", 0.6, begin_offset_millis=6000),
        _analysed("CUSTOMER", "POSITIVE", None, begin_offset_millis=9000),
        _analysed("CUSTOMER", None, None, begin_offset_millis=12000),
    ]
    trend = sentiment_trend(turns, alpha=0.5)
    assert set(trend) == {"CUSTOMER", "AGENT"}
    customer = trend["CUSTOMER"]
    assert [p.at for p in customer] == [0.0, 6000.0, 9000.0]
    assert [p.score for p in customer] == [-0.8, 0.6, 1.0]
    assert customer[1].smoothed == pytest.approx(-0.1)
    assert customer[2].smoothed == pytest.approx(0.45)


def test_sentiment_trend_uses_chat_timestamps() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    turns = [
        _analysed("CUSTOMER", "NEUTRAL", 0.0, absolute_time=start),
        _analysed("CUSTOMER", "NEGATIVE", -1.0, absolute_time=start + timedelta(seconds=2)),
    ]
    assert [p.at for p in sentiment_trend(turns)["CUSTOMER"]] == [0.0, 2000.0]
    with pytest.raises(ValueError):
        sentiment_trend(turns, alpha=0)
