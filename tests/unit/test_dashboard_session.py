"""Dashboard session cookies and CSRF tokens (livelens.dashboard.session), and the wall's card fold."""

from __future__ import annotations

from livelens.dashboard.cards import Card, trend
from livelens.dashboard.session import SessionSigner

KEY = bytes(range(32))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_round_trips_until_it_expires() -> None:
    clock = Clock()
    signer = SessionSigner(KEY, 3600, clock)
    cookie, session = signer.issue("LLIAKEY")
    assert signer.verify(cookie) == session and session.access_key == "LLIAKEY"
    assert session.expires == 1_000_000 + 3600
    clock.now += 3599
    assert signer.verify(cookie) == session
    clock.now += 1
    assert signer.verify(cookie) is None


def test_forged_or_foreign_cookies_are_refused() -> None:
    signer = SessionSigner(KEY, 3600)
    cookie, _ = signer.issue("LLIAKEY")
    payload, mac = cookie.split(".")
    other, _ = signer.issue("LLIAOTHER")
    assert signer.verify(f"{other.split('.')[0]}.{mac}") is None  # another payload under this mac
    assert signer.verify(f"{payload}.{mac[:-1]}A" if not mac.endswith("A") else f"{payload}.{mac[:-1]}B") is None
    assert SessionSigner(bytes(32), 3600).verify(cookie) is None  # another server key
    for junk in (None, "", "abc", "a.b.c", "!!.??", f"{payload}."):
        assert signer.verify(junk) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    signer = SessionSigner(KEY, 3600)
    _, session = signer.issue("LLIAKEY")
    _, other = signer.issue("LLIAKEY")
    token = signer.csrf_token(session)
    assert signer.check_csrf(session, token)
    assert not signer.check_csrf(other, token)
    assert not signer.check_csrf(session, None) and not signer.check_csrf(session, "")
    nonce, form_token = signer.signin_nonce()
    assert signer.check_signin(nonce, form_token)
    assert not signer.check_signin(nonce + "x", form_token) and not signer.check_signin(None, form_token)


def test_a_card_folds_v2_segments() -> None:
    card = Card("c1", "CHAT", "2026-01-01T00:00:00Z")
    turn = {"Id": "t1", "ParticipantRole": "CUSTOMER", "DisplayName": "Customer", "Content": "I want a refund now",
            "Sentiment": "NEGATIVE", "Time": {"AbsoluteTime": "2026-01-01T00:00:01.000Z"}}
    card.apply({"Transcript": turn})
    card.apply({"Issues": {"IssuesDetected": [{"TranscriptItems": [
        {"Id": "t1", "Content": "a refund", "CharacterOffsets": {"BeginOffsetChar": 7, "EndOffsetChar": 15}}]}]}})
    card.apply({"Categories": {"MatchedDetails": {"refund": {"PointsOfInterest": [
        {"TranscriptItems": [{"Id": "t1", "CharacterOffsets": {"BeginOffsetChar": 9, "EndOffsetChar": 15}}]}]}}}})
    card.apply({"Transcript": {**turn, "Id": "t2", "Content": "Thanks, great", "Sentiment": "POSITIVE"}})
    shown = card.to_json()
    assert shown["Issue"] == "a refund" and shown["Categories"] == ["refund"]
    assert shown["Alerts"] == [{"Rule": "refund", "Matched": ["refund"]}]
    assert shown["Sentiment"] == "POSITIVE" and shown["Trend"] == "up" and shown["Turns"] == 2


def test_a_card_folds_v1_voice_segments() -> None:
    card = Card("c2", "VOICE", "2026-01-01T00:00:00Z")
    card.apply({"Transcript": {"Id": "u1", "ParticipantRole": "CUSTOMER", "Content": "my line is down",
                               "BeginOffsetMillis": 0, "EndOffsetMillis": 1500, "Sentiment": "NEGATIVE",
                               "IssuesDetected": [{"CharacterOffsets": {"BeginOffsetChar": 3, "EndOffsetChar": 15}}]}})
    card.apply({"Categories": {"MatchedCategories": ["outage"], "MatchedDetails": {"outage": {
        "PointsOfInterest": [{"BeginOffsetMillis": 100, "EndOffsetMillis": 900}]}}}})
    shown = card.to_json()
    assert shown["Issue"] == "line is down" and shown["Alerts"] == [{"Rule": "outage", "Matched": ["my line is down"]}]


def test_trend() -> None:
    assert trend([]) == "flat" and trend([1.0]) == "flat"
    assert trend([-1.0, -1.0, 1.0]) == "up" and trend([1.0, 1.0, -1.0]) == "down" and trend([0.0, 0.0]) == "flat"
