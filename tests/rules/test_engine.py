"""The incremental evaluator: each condition kind, fire-once, state that stays small."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from livelens.analysis.types import CharSpan, PiiSpan, Redaction
from livelens.rules.engine import CONTEXT, CompiledRule, Evaluation, TurnFacts


def rule(source: str, name: str = "r") -> CompiledRule:
    return CompiledRule.from_source(name, name, source)


def turn(
    i: int, role: str, text: str, sentiment: str | None = "NEUTRAL", at: int | None = None, **kw: Any
) -> TurnFacts:
    begin = at if at is not None else i * 5000
    return TurnFacts(f"t{i}", role, text, sentiment, begin, begin + 4000, **kw)


def run(
    source: str, turns: list[TurnFacts], *, end: bool = True, **kw: Any
) -> list[tuple[int | str, list[dict[str, Any]]]]:
    """(turn number or "end", points) for every firing."""
    evaluation = Evaluation([rule(source)], **kw)
    fired: list[tuple[int | str, list[dict[str, Any]]]] = []
    for n, t in enumerate(turns, 1):
        fired += [(n, f.points) for f in evaluation.on_turn(t)]
    if end:
        fired += [("end", f.points) for f in evaluation.on_end()]
    return fired


CALL = [
    turn(0, "AGENT", "Thank you for calling, how can I help?"),
    turn(1, "CUSTOMER", "I was charged twice and I want a refund.", "NEGATIVE"),
    turn(2, "AGENT", "I'm sorry to hear that."),
    turn(3, "CUSTOMER", "This keeps happening, it's ridiculous.", "NEGATIVE"),
    turn(4, "CUSTOMER", "I'm thinking of cancelling my account.", "NEGATIVE"),
    turn(5, "AGENT", "I have refunded the duplicate charge."),
    turn(6, "CUSTOMER", "Great, thank you so much!", "POSITIVE"),
]


def test_said_fires_once_on_the_turn_with_offsets() -> None:
    fired = run('customer said "refund"', CALL)
    assert [n for n, _ in fired] == [2]
    (p,) = fired[0][1]
    assert p["item"] == "t1" and p["text"] == "refund" and p["raw"] == [33, 39] and p["ms"] == [5000, 9000]


def test_speaker_matters_and_inflection() -> None:
    assert [n for n, _ in run('agent said "refund"', CALL)] == [6]  # "refunded", by the agent
    assert [n for n, _ in run('anyone said "cancel"', CALL)] == [5]  # "cancelling"


def test_all_quantifier_collects_across_turns() -> None:
    fired = run('customer said all("charged", "cancel")', CALL)
    assert [n for n, _ in fired] == [5]
    assert [p["item"] for p in fired[0][1]] == ["t1", "t4"]


def test_first_window_in_seconds_and_turns() -> None:
    assert run('customer said "cancel" in first 20 seconds', CALL) == []  # said at 20 s: outside
    assert [n for n, _ in run('customer said "cancel" in first 21 seconds', CALL)] == [5]
    assert [n for n, _ in run('customer said "refund" in first 2 turns', CALL)] == [2]
    assert run('customer said "cancel" in first 4 turns', CALL) == []


def test_last_window_is_decided_at_end() -> None:
    assert [n for n, _ in run('agent said "refund" in last 2 turns', CALL)] == ["end"]
    assert run('agent said "sorry" in last 2 turns', CALL) == []
    assert [n for n, _ in run("customer sentiment NEGATIVE for 2 turns in last 10 seconds", CALL)] == []
    assert [n for n, _ in run("customer sentiment NEGATIVE for 2 turns in last 17 seconds", CALL)] == ["end"]


def test_negative_streak_counts_the_speakers_turns() -> None:
    fired = run("customer sentiment NEGATIVE for 3 turns", CALL)
    assert [n for n, _ in fired] == [5]
    assert [p["item"] for p in fired[0][1]] == ["t1", "t3", "t4"]
    assert run("customer sentiment NEGATIVE for 4 turns", CALL) == []
    broken = CALL[:4] + [turn(4, "CUSTOMER", "ok", "NEUTRAL"), turn(5, "CUSTOMER", "no", "NEGATIVE")]
    assert run("customer sentiment NEGATIVE for 3 turns", broken) == []


def test_sentiment_turning() -> None:
    fired = run("customer sentiment from NEGATIVE to POSITIVE", CALL)
    assert [n for n, _ in fired] == [7]
    assert [p["item"] for p in fired[0][1]] == ["t4", "t6"]
    assert run("customer sentiment from POSITIVE to NEGATIVE", CALL) == []


def test_not_said_is_decided_at_end_or_when_the_window_closes() -> None:
    assert [n for n, _ in run('agent never said "have a nice day"', CALL)] == ["end"]
    assert run('agent never said "thank you for calling"', CALL) == []
    assert run('agent never said "have a nice day"', CALL, end=False) == []  # undecided while live
    # A closed "first N" window decides "not said" on the spot.
    assert [n for n, _ in run('agent never said "my name is" in first 2 turns', CALL, end=False)] == [2]


def test_and_or_not_attributes() -> None:
    source = 'attribute "queue" = "billing" and customer said "refund" and not agent said "sorry"'
    assert run(source, CALL, attributes={"queue": "billing"}) == []  # the agent apologised
    source = 'attribute "queue" = "billing" and (customer said "refund" or customer said "manager")'
    assert [n for n, _ in run(source, CALL, attributes={"queue": "billing"})] == [2]
    assert run(source, CALL, attributes={"queue": "sales"}) == []
    assert [n for n, _ in run('attribute "vip" != "true"', CALL)] == [1]


def test_semantic_match_embeds_each_turn_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: Any) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[1.0, 0.0] if "manager" in t or "supervisor" in t else [0.0, 1.0] for t in texts])

    turns = [turn(0, "CUSTOMER", "hello"), turn(1, "CUSTOMER", "get me your supervisor")]
    rules = [
        rule('customer means "I want a manager"', "a"),
        rule('customer means "I want a manager" threshold 0.9', "b"),
    ]
    evaluation = Evaluation(rules, embed=embed)
    assert evaluation.on_turn(turns[0]) == []
    fired = evaluation.on_turn(turns[1])
    assert sorted(f.rule.name for f in fired) == ["a", "b"]
    assert fired[0].points[0]["score"] == 1.0
    turn_calls = [c for c in calls if c != ["I want a manager"]]
    assert turn_calls == [["hello"], ["get me your supervisor"]]  # one embedding per turn, shared by the rules


def test_redacted_offsets_and_text() -> None:
    text = "My email is ann@example.com and I want a refund"
    redacted = "My email is [PII] and I want a refund"
    redaction = Redaction(redacted, (PiiSpan(12, 27, "EMAIL"),), (CharSpan(12, 27),), (CharSpan(12, 17),))
    fired = run('customer said all("email", "refund")', [turn(0, "CUSTOMER", text, redaction=redaction)])
    points = fired[0][1]
    assert points[1]["raw"] == [41, 47] and points[1]["redacted"] == [31, 37] and points[1]["text"] == "refund"
    # A match on the whole turn carries the redacted text only.
    fired = run("customer sentiment NEUTRAL", [turn(0, "CUSTOMER", text, redaction=redaction)])
    assert fired[0][1][0]["text"] == redacted
    # Under RedactedOnly the rules see only the redacted text: no raw offsets at all.
    fired = run('customer said "refund"', [turn(0, "CUSTOMER", redacted, text_is_redacted=True)])
    assert fired[0][1][0]["raw"] is None and fired[0][1][0]["redacted"] == [31, 37]


def test_state_survives_serialisation_mid_contact() -> None:
    rules = [
        rule("customer sentiment NEGATIVE for 3 turns", "neg"),
        rule('customer said all("charged", "cancel")', "all"),
        rule('agent never said "goodbye"', "bye"),
    ]
    straight = Evaluation(rules)
    expected = [[f.rule.name for f in straight.on_turn(t)] for t in CALL] + [[f.rule.name for f in straight.on_end()]]
    states: dict[str, Any] = {}
    got = []
    for t in CALL:  # a fresh Evaluation per turn, as the worker does, from JSON
        evaluation = Evaluation(rules, json.loads(json.dumps(states)))
        got.append([f.rule.name for f in evaluation.on_turn(t)])
        states.update(evaluation.changed)
    evaluation = Evaluation(rules, json.loads(json.dumps(states)))
    got.append([f.rule.name for f in evaluation.on_end()])
    assert got == expected
    assert expected[4] == ["neg", "all"] and expected[-1] == ["bye"]


def _bag_of_words(texts: list[str]) -> np.ndarray:
    """A stand-in sentence embedding: hashed words, normalised (deterministic, no model)."""
    out = np.zeros((len(texts), 64))
    for row, text in enumerate(texts):
        for word in text.lower().replace(",", " ").replace(".", " ").split():
            out[row, sum(map(ord, word)) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


EVERY_KIND = [
    rule('customer said "refund"', "said"),
    rule('customer said all("charged", "cancel")', "all"),
    rule('agent said "sorry" in first 3 turns', "first-turns"),
    rule('customer said "cancel" in first 30 seconds', "first-seconds"),
    rule('agent said "refund" in last 2 turns', "last-turns"),
    rule('agent never said "goodbye"', "never"),
    rule('agent never said "my name is" in first 2 turns', "never-first"),
    rule("customer sentiment NEGATIVE for 3 turns", "run"),
    rule("customer sentiment NEGATIVE for 2 turns in last 17 seconds", "run-last"),
    rule("customer sentiment from NEGATIVE to POSITIVE", "change"),
    rule("anyone sentiment from NEUTRAL to NEGATIVE", "change-neutral"),
    rule('customer means ("I want my money back") threshold 0.3', "means"),
    rule('attribute "queue" = "billing" and not agent said "manager"', "attribute"),
    rule('customer said "nothing like this" or customer sentiment POSITIVE for 2 turns', "or"),
]


def test_only_what_a_turn_changed_is_persisted_and_that_is_enough() -> None:
    """Each turn persists only the states it changed; a fresh Evaluation per turn from those
    (as the worker runs, through JSON) fires exactly what one long-lived Evaluation fires."""
    kw: dict[str, Any] = {"attributes": {"queue": "billing"}, "embed": _bag_of_words}
    calls = [CALL, CALL[::-1], [t for t in CALL if t.role == "CUSTOMER"] + CALL, CALL + CALL]
    for turns in calls:
        straight = Evaluation(EVERY_KIND, **kw)
        expected = [[f.rule.name for f in straight.on_turn(t)] for t in turns] + [
            [f.rule.name for f in straight.on_end()]]
        stored: dict[str, str] = {}
        got, written = [], []
        for t in turns:
            evaluation = Evaluation(EVERY_KIND, {k: json.loads(v) for k, v in stored.items()}, **kw)
            got.append([f.rule.name for f in evaluation.on_turn(t)])
            written.append(set(evaluation.changed))
            stored.update({k: json.dumps(v) for k, v in evaluation.changed.items()})
        evaluation = Evaluation(EVERY_KIND, {k: json.loads(v) for k, v in stored.items()}, **kw)
        got.append([f.rule.name for f in evaluation.on_end()])
        stored.update({k: json.dumps(v) for k, v in evaluation.changed.items()})
        assert got == expected
        # Nothing changed went unwritten; a rule with nothing stored is in the state it starts from.
        restored = Evaluation(EVERY_KIND, {k: json.loads(v) for k, v in stored.items()}, **kw)
        assert {r.id: restored.state_of(r) for r in EVERY_KIND} == {r.id: straight.states[r.id] for r in EVERY_KIND}
        assert json.loads(stored[CONTEXT]) == straight.states[CONTEXT]
        assert sum(map(len, written)) < len(written) * (len(EVERY_KIND) + 1)  # and not everything every turn
    # A turn that matches nothing writes the turn counter only, even at a rule's first sight: a fresh
    # state that no turn moved is what the next evaluation starts from anyway.
    evaluation = Evaluation([rule('customer said "refund"', "c"), rule('agent said "refund"', "a")])
    evaluation.on_turn(turn(0, "CUSTOMER", "hello"))
    assert set(evaluation.changed) == {CONTEXT}
    again = Evaluation(evaluation.rules, json.loads(json.dumps(evaluation.changed)))
    assert [f.rule.id for f in again.on_turn(turn(1, "CUSTOMER", "a refund please"))] == ["c"]
    assert set(again.changed) == {CONTEXT, "c"}


def test_a_changed_function_starts_afresh_but_a_fired_rule_stays_fired() -> None:
    evaluation = Evaluation([rule('customer said "refund"', "r")])
    for t in CALL[:2]:
        evaluation.on_turn(t)
    states = evaluation.states
    again = Evaluation([rule('customer said "refund" or customer said "x"', "r")], states)
    assert all(again.on_turn(t) == [] for t in CALL)  # fired once for this contact: never again


def test_cost_per_turn_does_not_grow_with_the_contact() -> None:
    rules = [
        rule(
            f'customer said "word{i}" and customer sentiment NEGATIVE for 3 turns and agent never said "bye{i}"',
            f"r{i}",
        )
        for i in range(50)
    ]
    states: dict[str, Any] = {}
    work, sizes = [], []
    for i in range(2000):
        evaluation = Evaluation(rules, states)
        evaluation.on_turn(turn(i, "CUSTOMER" if i % 2 else "AGENT", f"turn number {i} with some words", "NEGATIVE"))
        states.update(evaluation.changed)
        work.append(evaluation.work)
        sizes.append(len(json.dumps(states)))
    # One step per open condition (3 per rule until the sentiment run holds, then 2), whatever the turn number.
    assert max(work) == 150 and max(work[10:]) == min(work[10:]) == 100
    assert sizes[-1] - sizes[10] < 50  # only the turn counter's digits grow
