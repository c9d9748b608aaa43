"""The participant websocket, used as Amazon Connect chat clients use it.

CreateParticipantConnection with both connection types, connect to the URL,
subscribe to aws/chat, and receive the other participant's messages and the
chat's events as they happen; the socket closes after the chat has ended.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from livelens.api.routing import load_service_models
from livelens.api.validate import WireValidator
from tests.e2e.conftest import Server, start_server


def _chat_items(socket: Any, count: int) -> list[dict[str, Any]]:
    items = []
    while len(items) < count:
        frame = json.loads(socket.recv(timeout=20))
        if frame.get("topic") == "aws/chat":
            assert frame["contentType"] == "application/json"
            items.append(json.loads(frame["content"]))
    return items


def test_a_chat_client_reads_the_chat_over_the_websocket(server: Server, connect: Any, participant: Any,
                                                         instance_id: str) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="flow",
                                         ParticipantDetails={"DisplayName": "Customer"})
    customer = participant.create_participant_connection(
        Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )
    assert customer["ConnectionCredentials"]["ConnectionToken"]
    url = customer["Websocket"]["Url"]
    assert url.startswith("ws://") and customer["Websocket"]["ConnectionExpiry"]

    with ws_connect(url) as socket:
        socket.send(json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}))
        assert json.loads(socket.recv(timeout=10))["content"]["status"] == "success"
        socket.send(json.dumps({"topic": "aws/heartbeat"}))
        assert json.loads(socket.recv(timeout=10)) == {"topic": "aws/heartbeat"}

        agent = connect.create_participant(InstanceId=instance_id, ContactId=started["ContactId"],
                                           ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Sam"})
        agent_token = participant.create_participant_connection(
            Type=["CONNECTION_CREDENTIALS"], ParticipantToken=agent["ParticipantCredentials"]["ParticipantToken"]
        )["ConnectionCredentials"]["ConnectionToken"]
        sent = participant.send_message(ConnectionToken=agent_token, ContentType="text/plain",
                                        Content="Hi, I'm Sam. How can I help?")
        joined, message = _chat_items(socket, 2)
        assert joined["Type"] == "EVENT" and joined["ParticipantRole"] == "AGENT"
        assert joined["ContentType"].endswith("participant.joined")
        assert message["Id"] == sent["Id"] and message["Type"] == "MESSAGE"
        assert message["Content"] == "Hi, I'm Sam. How can I help?" and message["DisplayName"] == "Sam"

        connect.stop_contact(InstanceId=instance_id, ContactId=started["ContactId"])
        (ended,) = _chat_items(socket, 1)
        assert ended["ContentType"].endswith("chat.ended")
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)


def test_a_forged_websocket_token_is_refused(server: Server) -> None:
    url = server.url.replace("http://", "ws://") + "/livelens/v1/participant/websocket?token=C1.Zm9v.bad"
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        with ws_connect(url) as socket:
            socket.recv(timeout=5)


TYPING = "application/vnd.amazonaws.connect.event.typing"
READ = "application/vnd.amazonaws.connect.event.message.read"
DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered"


def _subscribe(socket: Any) -> None:
    socket.send(json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}))
    assert json.loads(socket.recv(timeout=10))["content"]["status"] == "success"


def test_deep_heartbeat_typing_receipts_and_attachments_are_pushed_once_in_order(
    server: Server, connect: Any, participant: Any, instance_id: str
) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="flow",
                                         ParticipantDetails={"DisplayName": "Customer"})
    customer = participant.create_participant_connection(
        Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )
    customer_token = customer["ConnectionCredentials"]["ConnectionToken"]
    agent = connect.create_participant(InstanceId=instance_id, ContactId=started["ContactId"],
                                       ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Sam"})
    agent_token = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=agent["ParticipantCredentials"]["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    with ws_connect(customer["Websocket"]["Url"]) as socket:
        _subscribe(socket)
        socket.send(json.dumps({"topic": "aws/ping"}))  # amazon-connect-chatjs' deep heartbeat
        assert json.loads(socket.recv(timeout=10)) == {"topic": "aws/ping", "statusCode": 200}

        typing = participant.send_event(ConnectionToken=agent_token, ContentType=TYPING)
        sent = participant.send_message(ConnectionToken=customer_token, ContentType="text/plain", Content="Hello?")
        for content_type in (DELIVERED, READ, READ):  # the repeated read receipt is recorded and pushed once
            participant.send_event(ConnectionToken=agent_token, ContentType=content_type,
                                   Content=json.dumps({"messageId": sent["Id"]}))
        data = b"a small text attachment"
        upload = participant.start_attachment_upload(
            ConnectionToken=customer_token, ContentType="text/plain", AttachmentSizeInBytes=len(data),
            AttachmentName="note.txt", ClientToken=f"upload-{started['ContactId']}",
        )
        meta = upload["UploadMetadata"]
        put = requests.put(meta["Url"], data=data, headers=meta["HeadersToInclude"], timeout=10)
        assert put.status_code in (200, 204)
        participant.complete_attachment_upload(ConnectionToken=customer_token, AttachmentIds=[upload["AttachmentId"]],
                                               ClientToken=f"complete-{started['ContactId']}")
        # typing and receipts are pushed, never part of the transcript (the receipts sit on their message)
        transcript = participant.get_transcript(ConnectionToken=agent_token, ScanDirection="FORWARD")["Transcript"]
        assert "MESSAGEMETADATA" not in [i["Type"] for i in transcript]
        assert not any(i.get("ContentType") == TYPING for i in transcript)
        (message,) = [i for i in transcript if i["Id"] == sent["Id"]]
        (receipt,) = message["MessageMetadata"]["Receipts"]
        assert set(receipt) == {"DeliveredTimestamp", "ReadTimestamp", "RecipientParticipantId"}
        connect.stop_contact(InstanceId=instance_id, ContactId=started["ContactId"])

        items = []
        with pytest.raises(ConnectionClosed):
            while True:
                frame = json.loads(socket.recv(timeout=20))
                if frame.get("topic") == "aws/chat":
                    items.append(json.loads(frame["content"]))

    # Each item is a connectparticipant Item, strictly; MESSAGEMETADATA is the Type Amazon Connect pushes
    # receipts with (and chatjs reads) although the model's ChatItemType enum does not list it.
    item_shape = load_service_models()["connectparticipant"].shape_for("Item")
    for item in items:
        problems = WireValidator(dotall=True).errors(item_shape, item)
        assert problems == ([] if item["Type"] != "MESSAGEMETADATA" else [
            "Value 'MESSAGEMETADATA' at 'Type' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(item_shape.members['Type'].metadata['enum'])}]"
        ]), problems
    kinds = [i["ContentType"].rsplit(".", 1)[-1] if i["Type"] == "EVENT" else i["Type"] for i in items]
    assert kinds == ["typing", "MESSAGE", "MESSAGEMETADATA", "MESSAGEMETADATA", "ATTACHMENT", "ended"]
    assert len({i["Id"] for i in items}) == len(items)
    assert items[0]["Id"] == typing["Id"] and items[0]["ParticipantRole"] == "AGENT"
    delivered, read = items[2]["MessageMetadata"], items[3]["MessageMetadata"]
    assert delivered["MessageId"] == read["MessageId"] == sent["Id"]
    assert list(delivered["Receipts"][0]) == ["DeliveredTimestamp", "RecipientParticipantId"]
    assert list(read["Receipts"][0]) == ["ReadTimestamp", "RecipientParticipantId"]
    assert read["Receipts"][0]["RecipientParticipantId"] == agent["ParticipantId"]
    assert items[4]["Attachments"][0]["ContentType"] == "text/plain"
    assert items[4]["Attachments"][0]["AttachmentName"] == "note.txt"


def test_the_websocket_url_is_one_chatjs_accepts_when_asked_on_localhost(server: Server, instance_id: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    connect = server.client("connect", endpoint_url=f"http://localhost:{port}")
    participant = server.client("connectparticipant", endpoint_url=f"http://localhost:{port}")
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="flow",
                                         ParticipantDetails={"DisplayName": "Customer"})
    url = participant.create_participant_connection(
        Type=["WEBSOCKET"], ParticipantToken=started["ParticipantToken"]
    )["Websocket"]["Url"]
    assert url.startswith(f"ws://127.0.0.1:{port}/livelens/v1/participant/websocket?token=")
    with ws_connect(url) as socket:
        _subscribe(socket)
        socket.send(json.dumps({"topic": "aws/heartbeat"}))
        assert json.loads(socket.recv(timeout=10)) == {"topic": "aws/heartbeat"}


def test_the_urls_handed_out_follow_the_public_url_setting(tmp_path: Any) -> None:
    proxied = start_server(tmp_path, env={"LIVELENS_PUBLIC_URL": "https://chat.example.com/lens"})
    try:
        connect, participant = proxied.client("connect"), proxied.client("connectparticipant")
        instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                           OutboundCallsEnabled=True)["Id"]
        started = connect.start_chat_contact(InstanceId=instance, ContactFlowId="flow",
                                             ParticipantDetails={"DisplayName": "Customer"})
        answer = participant.create_participant_connection(Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"],
                                                           ParticipantToken=started["ParticipantToken"])
        assert answer["Websocket"]["Url"].startswith(
            "wss://chat.example.com/lens/livelens/v1/participant/websocket?token="
        )
        upload = participant.start_attachment_upload(
            ConnectionToken=answer["ConnectionCredentials"]["ConnectionToken"], ContentType="text/plain",
            AttachmentSizeInBytes=3, AttachmentName="a.txt", ClientToken="public-url",
        )
        assert upload["UploadMetadata"]["Url"].startswith("https://chat.example.com/lens/livelens/v1/attachments/")
    finally:
        proxied.stop()
