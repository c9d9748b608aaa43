"""A whole voice contact: utterances through the native API, segments through V1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    assert_client_error,
    kind_of,
    list_v1_all,
    signed_request,
    unique,
    utterances_path,
    wait_for,
    wait_v1_completed,
)


def _voice_contact(connect: Any, instance_id: str, **attributes: str) -> str:
    created = connect.create_contact(
        InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND", Attributes=attributes
    )
    assert created["ContactArn"].endswith(created["ContactId"])
    return str(created["ContactId"])


def _utterance(role: str, content: str, begin: int, end: int) -> dict[str, Any]:
    return {"ParticipantId": role, "ParticipantRole": role, "Content": content,
            "BeginOffsetMillis": begin, "EndOffsetMillis": end}


def test_whole_voice_contact(server: Server, connect: Any, contact_lens: Any, instance_id: str) -> None:
    contact_id = _voice_contact(connect, instance_id, **{"livelens:redaction": "None"})
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    path = utterances_path(instance_id, contact_id)

    single = endpoint.signed_post(path, _utterance("CUSTOMER", "My internet keeps dropping every evening.", 0, 2500))
    assert set(single) == {"Id", "Ids"} and single["Ids"] == [single["Id"]]

    batch_body = {
        "ClientToken": unique(),
        "Utterances": [
            _utterance("AGENT", "I am sorry to hear that, let me check your line.", 2600, 5200),
            _utterance("CUSTOMER", "Thank you, that would be great.", 5300, 7000),
        ],
    }
    batch = endpoint.signed_post(path, batch_body)
    assert "Id" not in batch and len(batch["Ids"]) == 2 and len(set(batch["Ids"])) == 2
    again = endpoint.signed_post(path, batch_body)  # same ClientToken: the same items, nothing new
    assert again["Ids"] == batch["Ids"]

    single_token = unique()
    last_body = {**_utterance("AGENT", "The line looks fine now, please try again.", 7100, 9000),
                 "ClientToken": single_token}
    last = endpoint.signed_post(path, last_body)
    assert endpoint.signed_post(path, last_body)["Id"] == last["Id"]

    expected_ids = [single["Id"], *batch["Ids"], last["Id"]]

    def analysed() -> list[dict[str, Any]] | None:
        segments, page = list_v1_all(contact_lens, instance_id, contact_id)
        assert page.get("NextToken"), "an IN_PROGRESS contact must always hand out a NextToken"
        return segments if len(segments) >= 4 else None

    wait_for(analysed, timeout=60)

    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    segments = wait_v1_completed(contact_lens, instance_id, contact_id)
    kinds = [kind_of(s) for s in segments]
    assert [k for k in kinds if k != "Categories"] == ["Transcript"] * 4 + ["PostContactSummary"]
    assert kinds[-1] == "PostContactSummary"
    transcripts = [s["Transcript"] for s in segments if kind_of(s) == "Transcript"]
    assert [t["Id"] for t in transcripts] == expected_ids
    assert [(t["BeginOffsetMillis"], t["EndOffsetMillis"]) for t in transcripts] == [
        (0, 2500), (2600, 5200), (5300, 7000), (7100, 9000)
    ]
    assert [t["ParticipantRole"] for t in transcripts] == ["CUSTOMER", "AGENT", "CUSTOMER", "AGENT"]
    assert [t["ParticipantId"] for t in transcripts] == ["CUSTOMER", "AGENT", "CUSTOMER", "AGENT"]
    assert transcripts[0]["Content"] == "My internet keeps dropping every evening."
    assert all(t["Sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE") for t in transcripts)
    summary = segments[-1]["PostContactSummary"]
    assert summary["Status"] == "COMPLETED", summary
    assert 0 < len(summary["Content"]) <= 1762

    # Drained and COMPLETED: the last page has no NextToken, also when paging one by one.
    page = contact_lens.list_realtime_contact_analysis_segments(
        InstanceId=instance_id, ContactId=contact_id, MaxResults=len(segments)
    )
    assert page["Segments"] == segments and "NextToken" not in page

    described = connect.describe_contact(InstanceId=instance_id, ContactId=contact_id)["Contact"]
    assert described["Channel"] == "VOICE" and described["DisconnectTimestamp"]

    # Utterances after the end are refused.
    answer = signed_request(server, "POST", path, _utterance("CUSTOMER", "hello?", 9100, 9500))
    assert answer.status_code in (400, 404, 409, 410), answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ContactNotFoundException"


def test_voice_default_policy_redacts_v1(server: Server, connect: Any, contact_lens: Any, instance_id: str) -> None:
    contact_id = _voice_contact(connect, instance_id)
    email = f"voice.{unique()}@example.com"
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    endpoint.signed_post(utterances_path(instance_id, contact_id),
                         _utterance("CUSTOMER", f"You can write to {email} anytime.", 0, 3000))
    segments = wait_for(lambda: list_v1_all(contact_lens, instance_id, contact_id)[0], timeout=60)
    content = segments[0]["Transcript"]["Content"]
    assert email not in content and "[PII]" in content


@pytest.mark.parametrize(
    "body, field",
    [
        ({"ParticipantRole": "CUSTOMER", "Content": "hi", "BeginOffsetMillis": 0, "EndOffsetMillis": 1},
         "ParticipantId"),
        (_utterance("CUSTOMER", "hi", 5, 1), "EndOffsetMillis"),
        (_utterance("CUSTOMER", "hi", -1, 1), "BeginOffsetMillis"),
        (_utterance("JANITOR", "hi", 0, 1), "ParticipantRole"),
        (_utterance("CUSTOMER", "   ", 0, 1), "Content"),
        ({"Utterances": []}, "Utterances"),
        ({"Utterances": [_utterance("CUSTOMER", "ok", 0, 1), {"Content": "x"}]}, "Utterances.2"),
    ],
)
def test_bad_utterances(server: Server, connect: Any, instance_id: str, body: dict[str, Any], field: str,
                        voice_contact: str) -> None:
    answer = signed_request(server, "POST", utterances_path(instance_id, voice_contact), body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert field in json.loads(answer.text)["Message"]


def test_utterances_for_unknown_or_chat_contact(server: Server, connect: Any, participant: Any,
                                                instance_id: str) -> None:
    answer = signed_request(server, "POST", utterances_path(instance_id, "no-such-contact"),
                            _utterance("CUSTOMER", "hi", 0, 1))
    assert answer.status_code == 404 and answer.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="f",
                                         ParticipantDetails={"DisplayName": "C"})
    answer = signed_request(server, "POST", utterances_path(instance_id, started["ContactId"]),
                            _utterance("CUSTOMER", "hi", 0, 1))
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "InvalidRequestException"


def test_voice_contact_stop_twice(connect: Any, instance_id: str) -> None:
    contact_id = _voice_contact(connect, instance_id)
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    with pytest.raises(ClientError) as again:
        connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    assert_client_error(again, "ContactNotFoundException")


@pytest.fixture(scope="module")
def voice_contact(connect: Any, instance_id: str) -> str:
    return _voice_contact(connect, instance_id)


def test_redacted_only_voice_uses_the_agents_question(
    server: Server, connect: Any, contact_lens: Any, instance_id: str
) -> None:
    """A name given in reply to "may I have your name?" never reaches the database, in one batch or the next."""
    contact_id = _voice_contact(connect, instance_id, **{"livelens:redaction": "RedactedOnly"})
    letters = str.maketrans("0123456789", "ghijklmnop")
    first, second = (f"{stem}{unique()[:6].translate(letters)}" for stem in ("zorvath", "quillan"))
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    path = utterances_path(instance_id, contact_id)
    endpoint.signed_post(path, {"Utterances": [
        _utterance("AGENT", "thanks for calling, may I have your first name please", 0, 2000),
        _utterance("CUSTOMER", first, 2100, 2600),
        _utterance("AGENT", "and your surname?", 2700, 3200),
    ]})
    endpoint.signed_post(path, _utterance("CUSTOMER", f"it's {second}", 3300, 3900))
    segments = wait_for(lambda: (s := list_v1_all(contact_lens, instance_id, contact_id)[0]) and len(s) >= 4 and s,
                        timeout=60)
    contents = [s["Transcript"]["Content"] for s in segments if "Transcript" in s]
    assert "[PII]" in contents[1] and "it's [PII]" in contents
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        db = server.db.with_name(server.db.name + suffix)
        if db.exists():
            data += db.read_bytes()
    assert first.encode() not in data and second.encode() not in data


def test_default_policy_worker_redaction_uses_the_agents_question(
    server: Server, connect: Any, contact_lens: Any, instance_id: str
) -> None:
    """Under the default policy the analysis worker redacts, with the same conversation context."""
    contact_id = _voice_contact(connect, instance_id)
    name = "veltrano" + unique()[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    path = utterances_path(instance_id, contact_id)
    endpoint.signed_post(path, _utterance("AGENT", "could I have your last name please", 0, 2000))
    endpoint.signed_post(path, _utterance("CUSTOMER", name, 2100, 2600))
    segments = wait_for(lambda: (s := list_v1_all(contact_lens, instance_id, contact_id)[0]) and len(s) >= 2 and s,
                        timeout=60)
    contents = [s["Transcript"]["Content"] for s in segments if "Transcript" in s]
    assert contents[1] == "[PII]" and name not in " ".join(contents)
