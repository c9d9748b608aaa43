from __future__ import annotations

from collections.abc import Callable

import pytest

from livelens.analysis import Pipeline, Turn


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        (
            "Hi, I'm calling because I was charged twice for my subscription.",
            "I'm calling because I was charged twice for my subscription",
        ),
        (
            "Hello there! My internet has not been working since yesterday.",
            "My internet has not been working since yesterday",
        ),
        ("I need to change my flight to Friday.", "I need to change my flight to Friday"),
        ("Good morning. How are you? I still haven't received my refund.", "I still haven't received my refund"),
        ("why is my card being declined", "why is my card being declined"),
    ],
)
def test_issue_span_in_customer_turn(pipeline: Pipeline, make_turn: Callable[..., Turn], text: str, issue: str) -> None:
    issues = pipeline.analyze(make_turn(text)).issues
    assert len(issues) == 1
    found = issues[0]
    assert text[found.begin : found.end] == found.text == issue


@pytest.mark.parametrize(
    "text",
    [
        "Hi, how are you doing today?",
        "Thanks so much, have a great evening!",
        "Okay, sounds good.",
        "Yes, that's correct.",
        "Bye!",
    ],
)
def test_no_issue_in_greetings_and_small_talk(pipeline: Pipeline, make_turn: Callable[..., Turn], text: str) -> None:
    assert pipeline.analyze(make_turn(text)).issues == []


def test_issues_only_on_customer_turns(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    text = "I was charged twice for my order and I want a refund."
    assert pipeline.analyze(make_turn(text, role="CUSTOMER")).issues
    assert pipeline.analyze(make_turn(text, role="AGENT")).issues == []
