"""Paging: live contacts one segment at a time, NextToken integrity, ListInstances."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    V2_TYPES,
    Server,
    assert_client_error,
    kind_of,
    list_v1_all,
    list_v2_all,
    start_chat,
    unique,
    utterances_path,
    wait_for,
)

TURNS = [
    ("CUSTOMER", "Hi, my order has not arrived yet."),
    ("AGENT", "Sorry about that, let me look it up."),
    ("CUSTOMER", "It was supposed to come on Monday."),
    ("AGENT", "I see it was delayed at the warehouse."),
    ("CUSTOMER", "This is really frustrating."),
    ("AGENT", "I will send a replacement right away."),
]


class V2Pager:
    def __init__(self, connect: Any, instance_id: str, contact_id: str) -> None:
        self.connect, self.instance_id, self.contact_id = connect, instance_id, contact_id
        self.token: str | None = None
        self.collected: list[dict[str, Any]] = []
        self.empty_pages_with_token = 0
        self.last: dict[str, Any] = {}

    def page(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"InstanceId": self.instance_id, "ContactId": self.contact_id,
                                  "OutputType": "Raw", "SegmentTypes": V2_TYPES, "MaxResults": 1}
        if self.token:
            kwargs["NextToken"] = self.token
        answer: dict[str, Any] = self.connect.list_realtime_contact_analysis_segments_v2(**kwargs)
        assert len(answer["Segments"]) <= 1
        if answer["Status"] == "IN_PROGRESS":
            assert answer.get("NextToken"), "IN_PROGRESS page without NextToken"
            if not answer["Segments"]:
                self.empty_pages_with_token += 1
        self.collected.extend(answer["Segments"])
        self.token = answer.get("NextToken")
        self.last = answer
        return answer

    def catch_up(self, count: int) -> None:
        """Page until ``count`` segments of kind Transcript have been collected."""
        wait_for(lambda: self.page() and sum(kind_of(s) == "Transcript" for s in self.collected) >= count,
                 timeout=60, interval=0.05)


def test_v2_paging_one_by_one_through_a_live_chat(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    pager = V2Pager(connect, instance_id, chat.contact_id)
    pager.page()
    for number, (role, text) in enumerate(TURNS, 1):
        participant.send_message(ContentType="text/plain", Content=text,
                                 ConnectionToken=chat.customer if role == "CUSTOMER" else chat.agent)
        pager.page()  # page while the turn is being analysed
        pager.catch_up(number)
    # Caught up: one more page is empty but still carries a NextToken.
    before = len(pager.collected)
    for _ in range(3):
        answer = pager.page()
        if not answer["Segments"]:
            break
    assert pager.empty_pages_with_token >= 1
    assert answer["Status"] == "IN_PROGRESS" and answer["NextToken"]
    assert len(pager.collected) >= before

    connect.stop_contact(InstanceId=instance_id, ContactId=chat.contact_id)
    wait_for(lambda: pager.page() and pager.token is None, timeout=60, interval=0.05)
    assert pager.last["Status"] == "COMPLETED"
    assert kind_of(pager.collected[-1]) == "PostContactSummary"

    full, final = list_v2_all(connect, instance_id, chat.contact_id, "Raw", V2_TYPES)
    assert final["Status"] == "COMPLETED" and "NextToken" not in final
    assert pager.collected == full  # no duplicate, no gap, same order
    assert kind_of(full[-1]) == "PostContactSummary"
    transcripts = [s["Transcript"]["Content"] for s in full if kind_of(s) == "Transcript"]
    assert transcripts == [text for _, text in TURNS]


def test_v1_paging_one_by_one_through_a_live_voice_contact(server: Server, connect: Any, contact_lens: Any,
                                                           instance_id: str) -> None:
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "None"})["ContactId"]
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    collected: list[dict[str, Any]] = []
    token: str | None = None
    empty_with_token = 0

    def page() -> dict[str, Any]:
        nonlocal token, empty_with_token
        kwargs: dict[str, Any] = {"InstanceId": instance_id, "ContactId": contact_id, "MaxResults": 1}
        if token:
            kwargs["NextToken"] = token
        answer: dict[str, Any] = contact_lens.list_realtime_contact_analysis_segments(**kwargs)
        assert len(answer["Segments"]) <= 1
        collected.extend(answer["Segments"])
        if not answer["Segments"] and answer.get("NextToken"):
            empty_with_token += 1
        token = answer.get("NextToken")
        return answer

    first = page()
    assert first["Segments"] == [] and first["NextToken"]
    for number, (role, text) in enumerate(TURNS, 1):
        begin = number * 3000
        endpoint.signed_post(utterances_path(instance_id, contact_id), {
            "ParticipantId": role, "ParticipantRole": role, "Content": text,
            "BeginOffsetMillis": begin, "EndOffsetMillis": begin + 2500,
        })
        page()
        assert token, "a live contact's page must carry a NextToken"

        def caught_up(number: int = number) -> bool:
            page()
            assert token
            return sum(kind_of(s) == "Transcript" for s in collected) >= number

        wait_for(caught_up, timeout=60, interval=0.05)
    assert page()["Segments"] == [] and token
    assert empty_with_token >= 2

    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    wait_for(lambda: page() is not None and token is None, timeout=60, interval=0.05)

    full, final = list_v1_all(contact_lens, instance_id, contact_id)
    assert "NextToken" not in final
    assert collected == full
    assert kind_of(full[-1]) == "PostContactSummary"
    transcripts = [s["Transcript"] for s in full if kind_of(s) == "Transcript"]
    assert [t["Content"] for t in transcripts] == [text for _, text in TURNS]
    begins = [t["BeginOffsetMillis"] for t in transcripts]
    assert begins == sorted(begins)


# NextToken integrity -----------------------------------------------------------


@pytest.fixture(scope="module")
def two_chats(connect: Any, participant: Any, instance_id: str) -> tuple[str, str, str]:
    """Two chat contacts with segments, and a NextToken issued for the first (Raw, all types)."""
    first = start_chat(connect, participant, instance_id)
    second = start_chat(connect, participant, instance_id)
    page = connect.list_realtime_contact_analysis_segments_v2(
        InstanceId=instance_id, ContactId=first.contact_id, OutputType="Raw", SegmentTypes=V2_TYPES, MaxResults=1
    )
    assert page["NextToken"]
    return first.contact_id, second.contact_id, page["NextToken"]


def _forge(token: str) -> str:
    body, _, mac = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = 0 if payload.get("p") else 1
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


@pytest.mark.parametrize(
    "make_token, contact, output_type, segment_types",
    [
        pytest.param(lambda t: _forge(t), 0, "Raw", V2_TYPES, id="forged"),
        pytest.param(lambda t: t[: len(t) // 2], 0, "Raw", V2_TYPES, id="truncated"),
        pytest.param(lambda t: t[:-3], 0, "Raw", V2_TYPES, id="truncated-mac"),
        pytest.param(lambda t: "bm90IGEgdG9rZW4", 0, "Raw", V2_TYPES, id="random"),
        pytest.param(lambda t: "!!!.???", 0, "Raw", V2_TYPES, id="garbage"),
        pytest.param(lambda t: "a" * 5000, 0, "Raw", V2_TYPES, id="long"),
        pytest.param(lambda t: t, 1, "Raw", V2_TYPES, id="other-contact"),
        pytest.param(lambda t: t, 0, "Redacted", V2_TYPES, id="other-output-type"),
        pytest.param(lambda t: t, 0, "Raw", ["Transcript"], id="other-segment-types"),
    ],
)
def test_bad_next_token_v2(connect: Any, instance_id: str, two_chats: tuple[str, str, str], make_token: Any,
                           contact: int, output_type: str, segment_types: list[str]) -> None:
    contact_id = two_chats[contact]
    with pytest.raises(ClientError) as error:
        connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=contact_id, OutputType=output_type, SegmentTypes=segment_types,
            NextToken=make_token(two_chats[2]),
        )
    assert_client_error(error, "InvalidRequestException", 400, mentions="NextToken")


def test_good_next_token_still_works(connect: Any, instance_id: str, two_chats: tuple[str, str, str]) -> None:
    page = connect.list_realtime_contact_analysis_segments_v2(
        InstanceId=instance_id, ContactId=two_chats[0], OutputType="Raw", SegmentTypes=V2_TYPES,
        NextToken=two_chats[2],
    )
    assert page["Status"] == "IN_PROGRESS" and page["NextToken"]
    # Segment types given in another order are the same filter.
    connect.list_realtime_contact_analysis_segments_v2(
        InstanceId=instance_id, ContactId=two_chats[0], OutputType="Raw", SegmentTypes=list(reversed(V2_TYPES)),
        NextToken=two_chats[2],
    )


def test_bad_next_token_v1(connect: Any, contact_lens: Any, instance_id: str,
                           two_chats: tuple[str, str, str]) -> None:
    voice = [connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
             for _ in range(2)]
    token = contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=voice[0],
                                                                 MaxResults=1)["NextToken"]
    for contact_id, bad in [(voice[1], token), (voice[0], _forge(token)), (voice[0], token[:-1]),
                            (voice[0], "x"), (voice[0], two_chats[2])]:
        with pytest.raises(ClientError) as error:
            contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=contact_id,
                                                                 NextToken=bad)
        assert_client_error(error, "InvalidRequestException", 400, mentions="NextToken")
    page = contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=voice[0],
                                                                NextToken=token)
    assert page["NextToken"]


def test_bad_next_token_list_instances_and_transcript(connect: Any, participant: Any, instance_id: str) -> None:
    with pytest.raises(ClientError) as error:
        connect.list_instances(NextToken="not-a-token")
    assert_client_error(error, "InvalidRequestException", 400, mentions="NextToken")
    chat = start_chat(connect, participant, instance_id)
    with pytest.raises(ClientError) as error:
        participant.get_transcript(ConnectionToken=chat.customer, NextToken="not-a-token")
    assert_client_error(error, "ValidationException", 400, mentions="NextToken")


# V1 is for voice, V2 for chat ---------------------------------------------------


def test_v1_refuses_chat_and_v2_refuses_voice(connect: Any, contact_lens: Any, participant: Any,
                                              instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    with pytest.raises(ClientError) as error:
        contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=chat.contact_id)
    assert_client_error(error, "InvalidRequestException", 400, mentions="V2")
    voice = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    with pytest.raises(ClientError) as error:
        connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=voice, OutputType="Raw", SegmentTypes=["Transcript"]
        )
    assert_client_error(error, "InvalidRequestException", 400, mentions="VOICE")


# ListInstances -------------------------------------------------------------------


def test_list_instances_paging_and_delete(connect: Any) -> None:
    alias = f"page-{unique()}"
    created = [
        connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias=f"{alias}-{n}",
                                InboundCallsEnabled=True, OutboundCallsEnabled=False)["Id"]
        for n in range(3)
    ]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 1}
        if token:
            kwargs["NextToken"] = token
        page = connect.list_instances(**kwargs)
        pages += 1
        assert len(page["InstanceSummaryList"]) == 1
        seen.extend(summary["Id"] for summary in page["InstanceSummaryList"])
        token = page.get("NextToken")
        if not token:
            break
        assert pages < 1000
    assert len(seen) == len(set(seen)) == pages
    assert set(created) <= set(seen)
    everything = [s for p in connect.get_paginator("list_instances").paginate() for s in p["InstanceSummaryList"]]
    assert [s["Id"] for s in everything] == seen
    summary = next(s for s in everything if s["Id"] == created[1])
    assert summary["InstanceAlias"] == f"{alias}-1"
    assert summary["InboundCallsEnabled"] is True and summary["OutboundCallsEnabled"] is False
    assert summary["Arn"].endswith(created[1])

    described = connect.describe_instance(InstanceId=created[1])["Instance"]
    assert described["Id"] == created[1] and described["InstanceStatus"] == "ACTIVE"
    connect.delete_instance(InstanceId=created[1])
    with pytest.raises(ClientError) as error:
        connect.describe_instance(InstanceId=created[1])
    assert_client_error(error, "ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as error:
        connect.delete_instance(InstanceId=created[1])
    assert_client_error(error, "ResourceNotFoundException", 404)
    after = [s["Id"] for p in connect.get_paginator("list_instances").paginate(PaginationConfig={"PageSize": 2})
             for s in p["InstanceSummaryList"]]
    assert after == [i for i in seen if i != created[1]]
    with pytest.raises(ClientError) as error:
        connect.list_instances(MaxResults=11)
    assert_client_error(error, "InvalidRequestException", 400, mentions="MaxResults")
