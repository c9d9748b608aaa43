"""The current Contact Lens surface with boto3: ListFilter, tags, and AWS's Rules Function language."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import (
    Server,
    assert_client_error,
    list_v1_all,
    signed_request,
    start_chat,
    unique,
    utterances_path,
    wait_v1_completed,
    wait_v2_completed,
)
from tests.e2e.test_rules import CATEGORY, CHAT, VOICE, new_instance, say

ALL_V2 = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary"]


def _rule(connect: Any, instance: str, name: str, function: str, tags: dict[str, str], trigger: dict[str, str] = CHAT
          ) -> str:
    extra = {"Tags": tags} if tags else {}  # the model's TagMap has at least one entry
    return str(connect.create_rule(InstanceId=instance, Name=name, TriggerEventSource=trigger, Function=function,
                                   Actions=CATEGORY, PublishStatus="PUBLISHED", **extra)["RuleId"])


def _names(segments: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for segment in segments:
        if "Categories" in segment:
            details = segment["Categories"]["MatchedDetails"]
            assert details, "a Categories segment without categories"
            found.extend(details)
    return sorted(found)


def _v2(connect: Any, instance: str, contact: str, list_filter: dict[str, Any] | None, max_results: int = 100
        ) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"InstanceId": instance, "ContactId": contact, "OutputType": "Raw",
                              "SegmentTypes": ALL_V2, "MaxResults": max_results}
    if list_filter is not None:
        kwargs["ListFilter"] = list_filter
    segments: list[dict[str, Any]] = []
    while True:
        page = connect.list_realtime_contact_analysis_segments_v2(**kwargs)
        segments.extend(page["Segments"])
        if not page.get("NextToken"):
            return segments
        kwargs["NextToken"] = page["NextToken"]


def tag(key: str, value: str | None = None) -> dict[str, Any]:
    condition = {"TagKey": key}
    if value is not None:
        condition["TagValue"] = value
    return {"CategoriesAttributeFilter": {"TagCondition": condition}}


@pytest.fixture(scope="module")
def tagged_chat(server: Server, connect: Any, participant: Any) -> tuple[str, str, dict[str, str]]:
    instance = new_instance(connect)
    rules = {
        "billing": _rule(connect, instance, "billing", 'customer said "refund"', {"team": "billing", "tier": "gold"}),
        "sales": _rule(connect, instance, "sales", 'customer said "upgrade"', {"team": "sales"}),
        "untagged": _rule(connect, instance, "untagged", 'customer said "hello"', {}),
    }
    chat = start_chat(connect, participant, instance)
    say(participant, chat.customer, "Hello, I want a refund.")
    say(participant, chat.agent, "Sure.")
    say(participant, chat.customer, "And maybe an upgrade later.")
    connect.stop_contact(InstanceId=instance, ContactId=chat.contact_id)
    wait_v2_completed(connect, instance, chat.contact_id)
    return instance, chat.contact_id, rules


def test_v2_list_filter_keeps_only_categories_whose_rules_carry_the_tags(
    connect: Any, tagged_chat: tuple[str, str, dict[str, str]]
) -> None:
    instance, contact, _ = tagged_chat
    everything = _v2(connect, instance, contact, None)
    assert _names(everything) == ["billing", "sales", "untagged"]
    assert _names(_v2(connect, instance, contact, tag("team", "billing"))) == ["billing"]
    assert _names(_v2(connect, instance, contact, tag("team"))) == ["billing", "sales"]
    both = {"TagConditions": [{"TagKey": "team", "TagValue": "billing"}, {"TagKey": "tier", "TagValue": "gold"}]}
    assert _names(_v2(connect, instance, contact, {"CategoriesAttributeFilter": {"AndCondition": both}})) == [
        "billing"
    ]
    either = [{"TagConditions": [{"TagKey": "team", "TagValue": "sales"}]}, both]
    assert _names(_v2(connect, instance, contact, {"CategoriesAttributeFilter": {"OrConditions": either}})) == [
        "billing",
        "sales",
    ]
    # Other segments are untouched, and paging one by one sees the same.
    filtered = _v2(connect, instance, contact, tag("team", "sales"), max_results=1)
    assert _names(filtered) == ["sales"]
    assert [s for s in filtered if "Categories" not in s] == [s for s in everything if "Categories" not in s]


def test_v2_next_token_is_bound_to_the_filter(connect: Any, tagged_chat: tuple[str, str, dict[str, str]]) -> None:
    instance, contact, _ = tagged_chat
    base = {"InstanceId": instance, "ContactId": contact, "OutputType": "Raw", "SegmentTypes": ALL_V2,
            "MaxResults": 1}
    page = connect.list_realtime_contact_analysis_segments_v2(**base, ListFilter=tag("team", "billing"))
    assert page["NextToken"]
    for other in (tag("team", "sales"), None):
        kwargs = {**base, "NextToken": page["NextToken"], **({"ListFilter": other} if other else {})}
        with pytest.raises(ClientError) as excinfo:
            connect.list_realtime_contact_analysis_segments_v2(**kwargs)
        assert_client_error(excinfo, "InvalidRequestException", 400, "NextToken")
    with pytest.raises(ClientError) as excinfo:
        connect.list_realtime_contact_analysis_segments_v2(**base, ListFilter={"CategoriesAttributeFilter": {}})
    assert_client_error(excinfo, "InvalidRequestException", 400, "CategoriesAttributeFilter")


def test_tags_on_rules_drive_the_filter_and_round_trip(
    connect: Any, tagged_chat: tuple[str, str, dict[str, str]]
) -> None:
    instance, contact, rules = tagged_chat
    arn = connect.describe_rule(InstanceId=instance, RuleId=rules["untagged"])["Rule"]["RuleArn"]
    assert connect.list_tags_for_resource(resourceArn=arn).get("tags", {}) == {}
    connect.tag_resource(resourceArn=arn, tags={"team": "billing", "note": "x"})
    assert connect.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "billing", "note": "x"}
    assert connect.describe_rule(InstanceId=instance, RuleId=rules["untagged"])["Rule"]["Tags"]["team"] == "billing"
    assert _names(_v2(connect, instance, contact, tag("team", "billing"))) == ["billing", "untagged"]
    connect.untag_resource(resourceArn=arn, tagKeys=["team", "note"])
    assert connect.list_tags_for_resource(resourceArn=arn).get("tags", {}) == {}
    assert _names(_v2(connect, instance, contact, tag("team", "billing"))) == ["billing"]


def test_instance_tags_and_tag_errors(server: Server, connect: Any) -> None:
    instance = new_instance(connect)
    arn = connect.describe_instance(InstanceId=instance)["Instance"]["Arn"]
    connect.tag_resource(resourceArn=arn, tags={"env": "test"})
    assert connect.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}
    assert connect.describe_instance(InstanceId=instance)["Instance"]["Tags"] == {"env": "test"}
    # A livelens setting tag is validated like at CreateInstance.
    with pytest.raises(ClientError) as excinfo:
        connect.tag_resource(resourceArn=arn, tags={"livelens:redaction": "Sometimes"})
    assert_client_error(excinfo, "InvalidRequestException", 400, "livelens:redaction")

    cases = [
        ("not-an-arn", {"k": "v"}, "InvalidParameterException", 400),
        (f"{arn}/queue/q1", {"k": "v"}, "InvalidParameterException", 400),
        (f"{arn}/rule/no-such-rule", {"k": "v"}, "ResourceNotFoundException", 404),
        (arn.replace(instance, "no-such-instance"), {"k": "v"}, "ResourceNotFoundException", 404),
        (arn, {"aws:reserved": "v"}, "InvalidRequestException", 400),
    ]
    for resource, tags, code, status in cases:
        with pytest.raises(ClientError) as excinfo:
            connect.tag_resource(resourceArn=resource, tags=tags)
        assert_client_error(excinfo, code, status)
    with pytest.raises(ClientError) as excinfo:
        connect.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})  # 51 with env
    assert_client_error(excinfo, "InvalidRequestException", 400, "50")
    assert connect.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}  # nothing half-applied
    with pytest.raises(ClientError) as excinfo:
        connect.create_rule(InstanceId=instance, Name="bad-tags", TriggerEventSource=CHAT, Function='said "x"',
                            Actions=CATEGORY, PublishStatus="DRAFT", Tags={"aws:x": "y"})
    assert_client_error(excinfo, "InvalidRequestException", 400, "aws:")


def test_v1_list_filter_on_a_voice_contact(server: Server, connect: Any, contact_lens: Any) -> None:
    instance = new_instance(connect)
    _rule(connect, instance, "cancel", 'customer said "cancel"', {"team": "retention"}, VOICE)
    _rule(connect, instance, "thanks", 'agent said "thanks"', {"team": "quality"}, VOICE)
    contact = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    turns = [("CUSTOMER", "I want to cancel my plan.", 0, 2000), ("AGENT", "Okay, thanks for calling.", 2100, 4000)]
    body = {"Utterances": [{"ParticipantId": r, "ParticipantRole": r, "Content": c, "BeginOffsetMillis": b,
                            "EndOffsetMillis": e} for r, c, b, e in turns]}
    assert signed_request(server, "POST", utterances_path(instance, contact), body).status_code == 200
    connect.stop_contact(InstanceId=instance, ContactId=contact)
    everything = wait_v1_completed(contact_lens, instance, contact)
    assert _names(everything) == ["cancel", "thanks"]
    not_quality = {"TagKey": "team", "TagValue": "quality", "ComparisonType": "NOT_EQUALS"}
    kwargs = {"InstanceId": instance, "ContactId": contact, "ListFilter": {"CategoriesAttributeFilter": {
        "TagCondition": not_quality}}}
    page = contact_lens.list_realtime_contact_analysis_segments(**kwargs)
    assert _names(page["Segments"]) == ["cancel"]
    for segment in page["Segments"]:
        if "Categories" in segment:
            assert segment["Categories"]["MatchedCategories"] == ["cancel"]
            assert segment["Categories"]["MatchedDetails"]["cancel"]["RuleId"]
    assert [s for s in page["Segments"] if "Categories" not in s] == [s for s in everything if "Categories" not in s]
    first = contact_lens.list_realtime_contact_analysis_segments(**kwargs, MaxResults=1)
    with pytest.raises(ClientError) as excinfo:
        contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance, ContactId=contact,
                                                             NextToken=first["NextToken"])
    assert_client_error(excinfo, "InvalidRequestException", 400, "NextToken")
    assert list_v1_all(contact_lens, instance, contact)[0] == everything


AWS_FUNCTION = {
    "Version": "2022-11-25",
    "RuleFunction": {
        "Operator": "AND",
        "Operands": [
            {
                "Operator": "CONTAINS_ANY",
                "Operands": ["refund", "money back"],
                "ComparisonValue": "$.ContactLens.RealTimeChat.ExactMatch.Transcript",
                "FilterClause": {"LogicOperator": "AND", "Filters": [{"Type": "ParticipantRole", "Data": "CUSTOMER"}]},
                "Negate": False,
            },
            {
                "Operator": "EQUALS",
                "Operands": ["billing"],
                "ComparisonValue": "$.ContactLens.RealTimeChat.ContactAttribute.queue",
                "Negate": False,
            },
        ],
    },
}


def test_rules_in_aws_json_language_are_stored_as_given_and_fire(
    server: Server, connect: Any, participant: Any
) -> None:
    instance = new_instance(connect)
    source = json.dumps(AWS_FUNCTION, indent=2)  # as `aws connect describe-rule` prints it
    rule_id = _rule(connect, instance, "refund-json", source, {})
    assert connect.describe_rule(InstanceId=instance, RuleId=rule_id)["Rule"]["Function"] == source
    billing = start_chat(connect, participant, instance, queue="billing")
    sales = start_chat(connect, participant, instance, queue="sales")
    for chat in (billing, sales):
        say(participant, chat.customer, "I would like my money back.")
        connect.stop_contact(InstanceId=instance, ContactId=chat.contact_id)
    assert _names(wait_v2_completed(connect, instance, billing.contact_id)) == ["refund-json"]
    assert _names(wait_v2_completed(connect, instance, sales.contact_id)) == []

    queue = {"Operator": "CONTAINS_ANY", "Operands": ["q-1"],
             "ComparisonValue": "$.ContactLens.RealTimeChat.Queue.QueueId"}
    bad = {"Version": "2022-11-25", "RuleFunction": {"Operator": "AND", "Operands": [queue]}}
    with pytest.raises(ClientError) as excinfo:
        _rule(connect, instance, f"queue-{unique()}", json.dumps(bad), {})
    assert_client_error(excinfo, "InvalidRequestException", 400, "Queue.QueueId")
    with pytest.raises(ClientError) as excinfo:  # a call condition on a chat rule
        _rule(connect, instance, f"call-{unique()}", source.replace("RealTimeChat", "RealTimeCall"), {})
    assert_client_error(excinfo, "InvalidRequestException", 400, "OnRealTimeChatAnalysisAvailable")
    connect.update_rule(InstanceId=instance, RuleId=rule_id, Name="refund-json", Function='customer said "refund"',
                        Actions=CATEGORY, PublishStatus="PUBLISHED")
    assert connect.describe_rule(InstanceId=instance, RuleId=rule_id)["Rule"]["Function"] == 'customer said "refund"'
