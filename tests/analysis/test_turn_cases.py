"""The turn-level mistakes a supervisor notices at once (the dev cases; the test cases are only scored)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from livelens.analysis import Pipeline, Turn
from livelens.analysis.issues import is_routine_sentence
from livelens.contacts.service import preceding_text

CASES = Path(__file__).resolve().parent.parent / "data" / "turn_cases"


def _cases(split: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (CASES / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("case", _cases("dev"), ids=lambda c: c["text"][:40])
def test_dev_turn_cases(case: dict[str, str], pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    analysis = pipeline.analyze(make_turn(case["text"], role=case["role"]))
    if "sentiment" in case:
        assert analysis.sentiment == case["sentiment"]
    else:
        assert bool(analysis.issues) == case["issue"], [i.text for i in analysis.issues]


def test_test_cases_meet_the_false_issue_goal(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    """Detail-only and closing turns of the held-out cases: at most 5 % reported as issues."""
    routine = [c for c in _cases("test") if c["kind"] in ("detail", "closing")]
    fired = [c["text"] for c in routine if pipeline.analyze(make_turn(c["text"], role=c["role"])).issues]
    assert len(fired) <= 0.05 * len(routine), fired


def test_routine_sentences() -> None:
    assert is_routine_sentence("Thank you, that fixed it!")
    assert is_routine_sentence("Order 55120-884, postcode is NW1 6XE")
    assert not is_routine_sentence("Thanks for changing my flight, delaying that flight, then losing my bags.")
    assert not is_routine_sentence("Close my account.")
    assert not is_routine_sentence("I wanted to top up my account and it doesn't look like it worked")


def test_preceding_text_is_the_latest_turn_of_another_role() -> None:
    items = [
        {"kind": "MESSAGE", "role": "AGENT", "content": "may I have your name?"},
        {"kind": "MESSAGE", "role": "CUSTOMER", "content": "Username: cminh730"},
        {"kind": "EVENT", "role": "AGENT"},
    ]
    assert preceding_text(items, "CUSTOMER") == "may I have your name?"
    assert preceding_text(items, "AGENT") == "Username: cminh730"
    stored_redacted = [
        {"kind": "UTTERANCE", "role": "AGENT", "redaction": {"content": "thanks [PII], and your email?"}}
    ]
    assert preceding_text(stored_redacted, "CUSTOMER") == "thanks [PII], and your email?"
    assert preceding_text([], "CUSTOMER") is None
