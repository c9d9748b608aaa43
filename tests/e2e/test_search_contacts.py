"""SearchContacts with boto3: time range, channels, transcript criteria by role, attributes, sort, paging, redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, assert_client_error, start_chat, wait_v2_completed
from tests.e2e.test_rules import new_instance, say


@pytest.fixture(scope="module")
def searchable(server: Server, connect: Any, participant: Any) -> tuple[str, dict[str, str]]:
    instance = new_instance(connect)
    scripts = {
        "refund": (("customer", "I want a refund for my broken router."), ("agent", "I have issued the refund.")),
        "upgrade": (("customer", "Can I upgrade my plan?"), ("agent", "Yes, a refund is not needed.")),
        "email": (("customer", "My email is jane.doe@example.com please write to me"), ("agent", "Noted.")),
    }
    ids: dict[str, str] = {}
    for name, turns in scripts.items():
        chat = start_chat(connect, participant, instance, topic=name,
                          **({"livelens:redaction": "RedactedOnly"} if name == "email" else {}))
        for role, text in turns:
            say(participant, chat.customer if role == "customer" else chat.agent, text)
        connect.stop_contact(InstanceId=instance, ContactId=chat.contact_id)
        output = "Redacted" if name == "email" else "Raw"
        wait_v2_completed(connect, instance, chat.contact_id, output_type=output)
        ids[name] = chat.contact_id
    return instance, ids


NOW = datetime.now(UTC)  # one time range for the module: a NextToken is bound to the whole request


def _search(connect: Any, instance: str, **criteria: Any) -> dict[str, Any]:
    now = NOW
    extra = {k: criteria.pop(k) for k in ("Sort", "MaxResults", "NextToken") if k in criteria}
    return dict(connect.search_contacts(
        InstanceId=instance,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": now - timedelta(hours=1),
                   "EndTime": now + timedelta(hours=1)},
        SearchCriteria=criteria, **extra,
    ))


def _transcript(role: str, *texts: str, match: str = "MATCH_ANY") -> dict[str, Any]:
    return {"Transcript": {"Criteria": [{"ParticipantRole": role, "SearchText": list(texts), "MatchType": match}]}}


def test_transcript_criteria_by_role_and_match_type(connect: Any, searchable: tuple[str, dict[str, str]]) -> None:
    instance, ids = searchable

    def found(**criteria: Any) -> set[str]:
        return {c["Id"] for c in _search(connect, instance, **criteria)["Contacts"]}

    assert found(ContactAnalysis=_transcript("CUSTOMER", "refund")) == {ids["refund"]}
    assert found(ContactAnalysis=_transcript("AGENT", "refund")) == {ids["refund"], ids["upgrade"]}
    either = _transcript("CUSTOMER", "REFUND", "upgrade my plan")
    assert found(ContactAnalysis=either) == {ids["refund"], ids["upgrade"]}
    assert found(ContactAnalysis=_transcript("CUSTOMER", "refund", "router", match="MATCH_ALL")) == {ids["refund"]}
    assert found(ContactAnalysis=_transcript("CUSTOMER", "plan upgrade", match="MATCH_EXACT")) == set()
    none = _transcript("CUSTOMER", "refund", match="MATCH_NONE")
    assert found(ContactAnalysis=none) == {ids["upgrade"], ids["email"]}
    both = {"Transcript": {"MatchType": "MATCH_ALL", "Criteria": [
        {"ParticipantRole": "CUSTOMER", "SearchText": ["upgrade"], "MatchType": "MATCH_ANY"},
        {"ParticipantRole": "AGENT", "SearchText": ["refund"], "MatchType": "MATCH_ANY"}]}}
    assert found(ContactAnalysis=both) == {ids["upgrade"]}


def test_a_search_never_matches_what_redaction_hides(connect: Any, searchable: tuple[str, dict[str, str]]) -> None:
    instance, ids = searchable
    for hidden in ("jane.doe@example.com", "jane doe", "example com"):
        result = _search(connect, instance, ContactAnalysis=_transcript("CUSTOMER", hidden))
        assert result["Contacts"] == [] and result["TotalCount"] == 0, hidden
    visible = _search(connect, instance, ContactAnalysis=_transcript("CUSTOMER", "write to me"))
    assert [c["Id"] for c in visible["Contacts"]] == [ids["email"]]


def test_channels_attributes_sort_paging_and_errors(connect: Any, searchable: tuple[str, dict[str, str]]) -> None:
    instance, ids = searchable
    assert _search(connect, instance, Channels=["VOICE"])["Contacts"] == []
    everything = _search(connect, instance, Channels=["CHAT"])
    assert everything["TotalCount"] == 3
    assert [c["Id"] for c in everything["Contacts"]] == [ids["email"], ids["upgrade"], ids["refund"]]  # newest first
    oldest = _search(connect, instance, Sort={"FieldName": "INITIATION_TIMESTAMP", "Order": "ASCENDING"})
    assert [c["Id"] for c in oldest["Contacts"]] == [ids["refund"], ids["upgrade"], ids["email"]]
    summary = oldest["Contacts"][0]
    assert summary["Channel"] == "CHAT" and summary["InitiationMethod"] == "API" and summary["Arn"].endswith(
        ids["refund"]) and isinstance(summary["InitiationTimestamp"], datetime)
    attributes = {"Criteria": [{"Key": "topic", "Values": ["upgrade", "email"]}], "MatchType": "MATCH_ANY"}
    assert {c["Id"] for c in _search(connect, instance, SearchableContactAttributes=attributes)["Contacts"]} == {
        ids["upgrade"], ids["email"]}

    first = _search(connect, instance, MaxResults=2)
    assert len(first["Contacts"]) == 2 and first["TotalCount"] == 3 and first["NextToken"]
    second = _search(connect, instance, MaxResults=2, NextToken=first["NextToken"])
    assert len(second["Contacts"]) == 1 and "NextToken" not in second
    with pytest.raises(ClientError) as excinfo:  # a token from another search
        _search(connect, instance, Channels=["CHAT"], MaxResults=2, NextToken=first["NextToken"])
    assert_client_error(excinfo, "InvalidRequestException", 400, "NextToken")
    with pytest.raises(ClientError) as excinfo:
        _search(connect, instance, QueueIds=["q1"])
    assert_client_error(excinfo, "InvalidRequestException", 400, "QueueIds")
