"""The Function language: what parses, and errors that point at the offending position."""

import pytest

from livelens.rules.parser import (
    And,
    Attribute,
    Means,
    Not,
    Or,
    RuleSyntaxError,
    Said,
    SentimentChange,
    SentimentRun,
    parse,
)
from livelens.rules.text import find, stem, words


def test_said_with_quantifier_speaker_and_window() -> None:
    function = parse('customer said any("cancel", "close my account") in first 60 seconds')
    leaf = function.root
    assert isinstance(leaf, Said)
    assert leaf.speaker == "CUSTOMER" and leaf.quantifier == "any"
    assert leaf.phrases == ("cancel", "close my account")
    assert leaf.window is not None and (leaf.window.edge, leaf.window.amount, leaf.window.unit) == (
        "first",
        60,
        "seconds",
    )


def test_never_said_and_none_are_not_said() -> None:
    for source in (
        'agent never said "thank you for calling"',
        'agent did not say "thank you for calling"',
        'agent said none "thank you for calling"',
    ):
        root = parse(source).root
        assert isinstance(root, Not) and isinstance(root.child, Said), source


def test_sentiment_forms() -> None:
    run = parse("customer sentiment NEGATIVE for 3 consecutive turns in a row in first 10 turns").root
    assert isinstance(run, SentimentRun) and run.count == 3 and run.level == "NEGATIVE"
    assert run.window is not None and run.window.unit == "turns"
    change = parse("customer sentiment from negative to positive").root
    assert isinstance(change, SentimentChange) and (change.before, change.after) == ("NEGATIVE", "POSITIVE")


def test_precedence_not_and_or() -> None:
    root = parse('not agent said "a" or attribute "queue" = "billing" and customer means ("b") threshold 0.7').root
    assert isinstance(root, Or)
    assert isinstance(root.children[0], Not)
    second = root.children[1]
    assert isinstance(second, And)
    assert isinstance(second.children[0], Attribute) and isinstance(second.children[1], Means)
    assert second.children[1].threshold == 0.7


def test_leaves_are_numbered_and_keep_their_source() -> None:
    function = parse('(customer said "a") and (agent said "b")')
    assert [leaf.index for leaf in function.leaves] == [0, 1]
    assert [function.text_of(leaf) for leaf in function.leaves] == ['customer said "a"', 'agent said "b"']


@pytest.mark.parametrize(
    ("source", "position", "mentions"),
    [
        ('customer sed "x"', 9, "expected 'said'"),
        ('customer said "x" in first 60 minutes', 30, "'seconds' or 'turns'"),
        ('customer said ("x", )', 20, "quoted phrase"),
        ('customer said "x" and', 21, "a condition"),
        ('customer said "unterminated', 14, "unterminated string"),
        ('customer means "x" threshold 2', 29, "threshold"),
        ('customer said "x" "y"', 18, "'and', 'or' or the end"),
        ("", 0, "a condition"),
        ('customer said "x" in first 0 turns', 27, "between 1"),
        ("customer sentiment from NEGATIVE to NEGATIVE", 36, "two different"),
        ('customer said "!!!"', 14, "at least one word"),
        ('customer said "x" $', 18, "unexpected character"),
    ],
)
def test_errors_point_at_the_offending_position(source: str, position: int, mentions: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse(source)
    error = caught.value
    assert error.position == position, str(error)
    assert mentions in str(error)
    # The message shows the source and a caret under the position.
    lines = str(error).splitlines()
    assert lines[-1].index("^") - 2 == position


def test_inflection_and_word_boundaries() -> None:
    for word in ("refund", "refunds", "refunded", "refunding", "Refunded"):
        assert stem(word) == stem("refund"), word
    for word in ("cancel", "cancels", "cancelled", "cancelling", "cancellation", "canceled"):
        assert stem(word) == stem("cancel"), word
    text = "They prefunded it, then REFUNDED me."
    span = find(("refund",), words(text))
    assert span is not None and text[span[0] : span[1]] == "REFUNDED"
    assert find(("fund",), words(text)) is None  # never inside a word
    text = "Please close my   Account now"
    span = find(tuple(stem(w) for w in ("close", "my", "account")), words(text))
    assert span is not None and text[span[0] : span[1]] == "close my   Account"
