"""Extraction definitions and EXTRACT_INFORMATION with boto3: CRUD, ClientToken, names, segments in V1 and V2."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import (
    Server,
    assert_client_error,
    signed_request,
    start_chat,
    unique,
    utterances_path,
    wait_v1_completed,
    wait_v2_completed,
)
from tests.e2e.test_rules import CHAT, VOICE, new_instance, say

ALL_V2 = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary", "ExtractedInformation"]


def _definition(connect: Any, instance: str, name: str, hint: str, label: str | None = None, **extra: Any) -> str:
    display = {"Display": {"Label": label}} if label else {}
    return str(connect.create_extraction_definition(
        InstanceId=instance, Name=name, ExtractionConfiguration={"PromptHint": hint, **extra}, **display
    )["ExtractionDefinitionId"])


def _extract_rule(connect: Any, instance: str, name: str, function: str, definitions: list[str],
                  trigger: dict[str, str] = CHAT) -> str:
    action = {"ActionType": "EXTRACT_INFORMATION",
              "ExtractInformationAction": {"RulesExtractionDefinitions": [{"Identifier": d} for d in definitions]}}
    return str(connect.create_rule(InstanceId=instance, Name=name, TriggerEventSource=trigger, Function=function,
                                   Actions=[action], PublishStatus="PUBLISHED")["RuleId"])


def test_extraction_definitions_crud(connect: Any) -> None:
    instance = new_instance(connect)
    token = unique()
    request = {"InstanceId": instance, "Name": "order-number", "ClientToken": token,
               "ExtractionConfiguration": {
                   "PromptHint": "The customer's order number",
                   "NotFoundBehavior": {"Behavior": "USE_DEFAULT_VALUE", "DefaultValue": "none"},
               },
               "Display": {"Label": "Order"}, "Tags": {"team": "orders"}}
    created = connect.create_extraction_definition(**request)
    assert connect.create_extraction_definition(**request)["ExtractionDefinitionId"] == created[
        "ExtractionDefinitionId"]  # same ClientToken, same answer
    definition_id = created["ExtractionDefinitionId"]
    assert created["ExtractionDefinitionArn"].endswith(f"/extraction-definition/{definition_id}")
    described = connect.describe_extraction_definition(InstanceId=instance, ExtractionDefinitionId=definition_id)[
        "ExtractionDefinition"]
    assert described["Name"] == "order-number" and described["Display"] == {"Label": "Order"}
    assert described["ExtractionConfiguration"]["NotFoundBehavior"]["DefaultValue"] == "none"
    assert described["Tags"] == {"team": "orders"} and described["CreatedTime"] and described["LastUpdatedBy"]
    assert connect.list_tags_for_resource(resourceArn=created["ExtractionDefinitionArn"])["tags"] == {"team": "orders"}

    with pytest.raises(ClientError) as excinfo:  # name unique per instance
        connect.create_extraction_definition(InstanceId=instance, Name="order-number",
                                             ExtractionConfiguration={"PromptHint": "x"})
    assert_client_error(excinfo, "ResourceConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        connect.create_extraction_definition(InstanceId=instance, Name="bad", ExtractionConfiguration={
            "PromptHint": "x", "NotFoundBehavior": {"Behavior": "USE_DEFAULT_VALUE"}})
    assert_client_error(excinfo, "InvalidRequestException", 400, "DefaultValue")
    with pytest.raises(ClientError) as excinfo:
        connect.create_extraction_definition(**{**request, "Name": "other"})  # token reused with other parameters
    assert excinfo.value.response["Error"]["Code"] == "IdempotencyException"

    second = _definition(connect, instance, "email", "The customer's e-mail address")
    page = connect.list_extraction_definitions(InstanceId=instance, MaxResults=1)
    assert len(page["ExtractionDefinitionSummaryList"]) == 1 and page["NextToken"]
    rest = connect.list_extraction_definitions(InstanceId=instance, NextToken=page["NextToken"])
    names = [s["Name"] for s in page["ExtractionDefinitionSummaryList"] + rest["ExtractionDefinitionSummaryList"]]
    assert names == ["order-number", "email"] and "NextToken" not in rest

    connect.update_extraction_definition(InstanceId=instance, ExtractionDefinitionId=second, Name="e-mail",
                                         ExtractionConfiguration={"PromptHint": "E-mail address"})
    with pytest.raises(ClientError) as excinfo:
        connect.update_extraction_definition(InstanceId=instance, ExtractionDefinitionId=second, Name="order-number",
                                             ExtractionConfiguration={"PromptHint": "x"})
    assert_client_error(excinfo, "ResourceConflictException", 409)

    rule = _extract_rule(connect, instance, "uses-email", 'customer said "email"', [second])
    with pytest.raises(ClientError) as excinfo:
        connect.delete_extraction_definition(InstanceId=instance, ExtractionDefinitionId=second)
    assert_client_error(excinfo, "InvalidRequestException", 400, "uses-email")
    connect.delete_rule(InstanceId=instance, RuleId=rule)
    connect.delete_extraction_definition(InstanceId=instance, ExtractionDefinitionId=second)
    with pytest.raises(ClientError) as excinfo:
        connect.describe_extraction_definition(InstanceId=instance, ExtractionDefinitionId=second)
    assert_client_error(excinfo, "ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        _extract_rule(connect, instance, "missing", 'customer said "x"', [second])
    assert_client_error(excinfo, "ResourceNotFoundException", 404, second)


def _extracted(segments: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["ExtractedInformation"]["ExtractionDefinitionName"]: s["ExtractedInformation"]
            for s in segments if "ExtractedInformation" in s}


def test_extract_information_on_a_chat_raw_and_redacted(server: Server, connect: Any, participant: Any) -> None:
    instance = new_instance(connect)
    city = _definition(connect, instance, "city", "City where the customer is moving to")
    email = _definition(connect, instance, "email", "The customer's e-mail address")
    missing = _definition(connect, instance, "order", "The order number",
                          NotFoundBehavior={"Behavior": "USE_DEFAULT_VALUE", "DefaultValue": "unknown"})
    omitted = _definition(connect, instance, "amount", "The amount of the refund",
                          NotFoundBehavior={"Behavior": "OMIT"})
    _extract_rule(connect, instance, "moving", 'customer said "thanks"', [city, email, missing, omitted])
    chat = start_chat(connect, participant, instance)
    say(participant, chat.customer, "Hi, I am moving to Seattle next month.")
    say(participant, chat.agent, "Sure, what is your e-mail?")
    say(participant, chat.customer, "It is jane.doe@example.com, thanks")
    connect.stop_contact(InstanceId=instance, ContactId=chat.contact_id)
    raw = wait_v2_completed(connect, instance, chat.contact_id, segment_types=ALL_V2)
    found = _extracted(raw)
    assert found["city"]["ExtractedValues"][0]["Content"] == "Seattle"
    transcript = {s["Transcript"]["Id"]: s["Transcript"]["Content"] for s in raw if "Transcript" in s}
    (point,) = found["city"]["ExtractedValues"][0]["PointsOfInterest"]
    offsets = point["CharacterOffsets"]
    assert transcript[point["Id"]][offsets["BeginOffsetChar"] : offsets["EndOffsetChar"]] == "Seattle"
    assert found["email"]["ExtractedValues"][0]["Content"] == "jane.doe@example.com"
    assert found["order"]["ExtractedValues"] == [{"Content": "unknown", "PointsOfInterest": []}]
    assert found["amount"].get("ExtractedValues", []) == []
    redacted = _extracted(wait_v2_completed(connect, instance, chat.contact_id, segment_types=ALL_V2,
                                            output_type="Redacted"))
    assert "jane.doe@example.com" not in str(redacted)
    # Redacted output is extracted from the redacted text: a place the redactor hid reads as its placeholder.
    assert redacted["city"]["ExtractedValues"][0]["Content"] in ("Seattle", "[PII]")
    assert redacted["email"]["ExtractedValues"][0]["Content"] == "[PII]"
    only = connect.list_realtime_contact_analysis_segments_v2(
        InstanceId=instance, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["ExtractedInformation"])
    assert {next(iter(s)) for s in only["Segments"]} == {"ExtractedInformation"}


def test_extract_information_on_a_call_in_v1(server: Server, connect: Any, contact_lens: Any) -> None:
    instance = new_instance(connect)
    date = _definition(connect, instance, "date", "Date of the appointment", "Appointment")
    _extract_rule(connect, instance, "booking", 'agent said "booked"', [date], VOICE)
    contact = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    turns = [("CUSTOMER", "Can I come in on March 3rd please?", 0, 2000), ("AGENT", "Yes, you are booked.", 2100, 3500)]
    body = {"Utterances": [{"ParticipantId": r, "ParticipantRole": r, "Content": c, "BeginOffsetMillis": b,
                            "EndOffsetMillis": e} for r, c, b, e in turns]}
    assert signed_request(server, "POST", utterances_path(instance, contact), body).status_code == 200
    connect.stop_contact(InstanceId=instance, ContactId=contact)
    found = _extracted(wait_v1_completed(contact_lens, instance, contact))
    assert found["date"]["ExtractionDefinitionDisplayLabel"] == "Appointment"
    assert found["date"]["ExtractedValues"] == [
        {"Content": "March 3rd", "PointsOfInterest": [{"BeginOffsetMillis": 0, "EndOffsetMillis": 2000}]}
    ]
