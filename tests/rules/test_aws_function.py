"""AWS's Rules Function language (JSON): translated from the reference's examples, evaluated, converted back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from livelens.rules.aws_function import AwsFunctionError, parse_function, to_aws, to_readable
from livelens.rules.engine import CompiledRule, Evaluation, TurnFacts
from livelens.rules.parser import parse

CALL = "$.ContactLens.RealTimeCall"
CHAT = "$.ContactLens.RealTimeChat"

# The example of the AWS reference ("Example rule function in Amazon Connect Rule Function language"),
# with a contact attribute in place of the queue (livelens has no queues).
REFERENCE_EXAMPLE: dict[str, Any] = {
    "Version": "2022-11-25",
    "RuleFunction": {
        "Operator": "AND",
        "Operands": [
            {
                "Operator": "CONTAINS_ANY",
                "Operands": ["refund"],
                "ComparisonValue": f"{CALL}.ExactMatch.Transcript",
                "FilterClause": {"LogicOperator": "AND", "Filters": [{"Type": "ParticipantRole", "Data": "CUSTOMER"}]},
                "Negate": False,
            },
            {
                "Operator": "EQUALS",
                "Operands": ["billing"],
                "ComparisonValue": f"{CALL}.ContactAttribute.queue",
                "Negate": False,
            },
        ],
    },
}


def _fires(source: str, turns: list[tuple[str, str, str | None]], attributes: dict[str, str] | None = None,
           channel: str = "VOICE") -> bool:
    rule = CompiledRule("r1", "rule", parse_function(source, channel), ({"ActionType": "ASSIGN_CONTACT_CATEGORY"},))
    evaluation = Evaluation([rule], {}, attributes=attributes or {})
    fired = False
    for i, (role, text, sentiment) in enumerate(turns):
        ms = (i * 1000, i * 1000 + 900)
        facts = TurnFacts(id=f"t{i}", role=role, text=text, sentiment=sentiment, begin_ms=ms[0], end_ms=ms[1])
        fired |= bool(evaluation.on_turn(facts))
    return fired or bool(evaluation.on_end())


def test_the_reference_example_translates_and_fires_only_when_both_conditions_hold() -> None:
    source = json.dumps(REFERENCE_EXAMPLE)
    assert to_readable(source, "VOICE") == 'customer said any ("refund") and attribute "queue" = "billing"'
    assert _fires(source, [("CUSTOMER", "I want a refund please", None)], {"queue": "billing"})
    assert not _fires(source, [("CUSTOMER", "I want a refund please", None)], {"queue": "sales"})
    assert not _fires(source, [("AGENT", "A refund is possible", None)], {"queue": "billing"})


def test_negate_sentiment_period_and_or() -> None:
    function = {
        "Version": "2022-11-25",
        "RuleFunction": {
            "Operator": "OR",
            "Operands": [
                {
                    "Operator": "EQUALS",
                    "Operands": ["NEGATIVE"],
                    "ComparisonValue": f"{CALL}.Sentiment.State",
                    "FilterClause": {
                        "LogicOperator": "AND",
                        "Filters": [
                            {"Type": "ParticipantRole", "Data": "CUSTOMER"},
                            {"Type": "RealTimeCallContactPeriodSeconds", "Data": {"Past": 60}},
                        ],
                    },
                    "Negate": False,
                },
                {
                    "Operator": "EQUALS",
                    "Operands": ["gold"],
                    "ComparisonValue": f"{CALL}.ContactAttribute.tier",
                    "Negate": True,
                },
            ],
        },
    }
    source = json.dumps(function)
    assert to_readable(source) == (
        'customer sentiment is NEGATIVE in last 60 seconds or not (attribute "tier" = "gold")'
    )
    assert _fires(source, [("CUSTOMER", "This is awful", "NEGATIVE")], {"tier": "gold"})
    assert _fires(source, [("CUSTOMER", "Fine", "NEUTRAL")], {"tier": "silver"})
    assert not _fires(source, [("CUSTOMER", "Fine", "NEUTRAL")], {"tier": "gold"})


def test_pattern_match_plain_and_list_objects_spell_phrases() -> None:
    function = {
        "Version": "2022-11-25",
        "RuleFunction": {
            "Operator": "AND",
            "Operands": [
                {
                    "Operator": "CONTAINS_ANY",
                    "Operands": [[
                        {"Type": "PLAIN", "Value": "cancel"},
                        {"Type": "LIST", "Value": [{"Type": "PLAIN", "Value": "subscription"},
                                                   {"Type": "PLAIN", "Value": "account"}]},
                    ]],
                    "ComparisonValue": f"{CHAT}.PatternMatch.Transcript",
                    "FilterClause": {"LogicOperator": "AND", "Filters": [
                        {"Type": "ParticipantRole", "Data": "ANY"}, {"Type": "PatternMatchLanguageFilter", "Data": "EN"}
                    ]},
                    "Negate": False,
                }
            ],
        },
    }
    source = json.dumps(function)
    assert to_readable(source, "CHAT") == 'anyone said any ("cancel subscription", "cancel account")'
    assert _fires(source, [("CUSTOMER", "please cancel account now", None)], channel="CHAT")
    assert not _fires(source, [("CUSTOMER", "please cancel the order", None)], channel="CHAT")


@pytest.mark.parametrize(
    "condition, mentions",
    [
        ({"Operator": "CONTAINS_ANY", "Operands": ["q"], "ComparisonValue": f"{CALL}.Queue.QueueId"}, "Queue.QueueId"),
        ({"Operator": "CONTAINS_ANY", "Operands": ["a"], "ComparisonValue": f"{CALL}.Agent.AgentId"}, "Agent.AgentId"),
        ({"Operator": "CONTAINS_ANY", "Operands": [[{"Type": "PROXIMITY", "Value": {"Distance": 2, "IsWithin": True}}]],
          "ComparisonValue": f"{CALL}.PatternMatch.Transcript"}, "PROXIMITY"),
        ({"Operator": "CONTAINS_ANY", "Operands": ["x"],
          "ComparisonValue": "$.ContactLens.PostCall.ExactMatch.Transcript"}, "PostCall"),
        ({"Operator": "EQUALS", "Operands": ["ANGRY"], "ComparisonValue": f"{CALL}.Sentiment.State"}, "POSITIVE"),
        ({"Operator": "CONTAINS_ANY", "Operands": ["x"], "ComparisonValue": f"{CALL}.ContactAttribute.k"}, "EQUALS"),
    ],
)
def test_conditions_livelens_cannot_evaluate_are_named(condition: dict[str, Any], mentions: str) -> None:
    source = json.dumps({"Version": "2022-11-25", "RuleFunction": {"Operator": "AND", "Operands": [condition]}})
    with pytest.raises(AwsFunctionError, match=mentions.replace(".", r"\.")):
        to_readable(source, "VOICE")


def test_version_and_channel_are_checked() -> None:
    bad_version = {**REFERENCE_EXAMPLE, "Version": "2020-01-01"}
    with pytest.raises(AwsFunctionError, match="Version"):
        to_readable(json.dumps(bad_version))
    with pytest.raises(AwsFunctionError, match="OnRealTimeChatAnalysisAvailable"):
        to_readable(json.dumps(REFERENCE_EXAMPLE), "CHAT")


def test_readable_to_aws_round_trips_and_names_what_has_no_json_form() -> None:
    readable = 'customer said any ("refund", "money back") and not agent said all ("sorry", "thanks") ' \
               'and attribute "tier" != "gold"'
    document = to_aws(parse(readable), "CHAT")
    back = parse_function(json.dumps(document), "CHAT")
    turns = [("CUSTOMER", "I want my money back", None), ("AGENT", "sorry about that", None)]
    assert _fires(readable, turns, {"tier": "silver"}, "CHAT") == _fires(json.dumps(document), turns,
                                                                           {"tier": "silver"}, "CHAT") is True
    assert back.root is not None
    with pytest.raises(AwsFunctionError, match="means"):
        to_aws(parse('customer means "I want to cancel"'), "CHAT")
    with pytest.raises(AwsFunctionError, match="in first 3 turns"):
        to_aws(parse('customer said "hello" in first 3 turns'), "CHAT")
