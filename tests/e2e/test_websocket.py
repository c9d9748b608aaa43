"""The participant websocket, used as Amazon Connect chat clients use it.

CreateParticipantConnection with both connection types, connect to the URL,
subscribe to aws/chat, and receive the other participant's messages and the
chat's events as they happen; the socket closes after the chat has ended.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.e2e.conftest import Server


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
