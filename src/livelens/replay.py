"""Playing a recorded conversation into a livelens server, as a live contact.

The player uses the same APIs a real client does: connect StartChatContact,
CreateParticipant and connectparticipant SendMessage for chat; connect
CreateContact and the native utterance API for voice; StopContact at the end.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


@dataclass(frozen=True)
class Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, service: str) -> Any:
        session = botocore.session.get_session()
        return session.create_client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(retries={"max_attempts": 2}),
        )

    def signed_post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to livelens' native API, SigV4-signed like a connect call."""
        body = json.dumps(payload).encode()
        request = AWSRequest("POST", self.url + path, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(self.access_key, self.secret_key), "connect", self.region).add_auth(request)
        http = urllib.request.Request(self.url + path, data=body, headers=dict(request.headers), method="POST")
        with urllib.request.urlopen(http, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer


def load_conversation(path: Path) -> dict[str, Any]:
    conversation: dict[str, Any] = json.loads(path.read_text())
    return conversation


def ensure_instance(endpoint: Endpoint, alias: str) -> str:
    connect = endpoint.client("connect")
    for page in connect.get_paginator("list_instances").paginate():
        for summary in page["InstanceSummaryList"]:
            if summary.get("InstanceAlias") == alias:
                return str(summary["Id"])
    created = connect.create_instance(
        ClientToken=f"livelens-{alias}",
        IdentityManagementType="CONNECT_MANAGED",
        InstanceAlias=alias,
        InboundCallsEnabled=True,
        OutboundCallsEnabled=True,
    )
    return str(created["Id"])


Sleep = Callable[[float], None]


def play_chat(endpoint: Endpoint, instance_id: str, conversation: dict[str, Any], speed: float = 1.0,
              sleep: Sleep = time.sleep, on_start: Callable[[str], None] = lambda contact_id: None) -> str:
    connect = endpoint.client("connect")
    participant_api = endpoint.client("connectparticipant")
    turns = conversation["turns"]
    customer_name = next((t.get("name") for t in turns if t["role"] == "CUSTOMER"), None) or "Customer"
    started = connect.start_chat_contact(
        InstanceId=instance_id, ContactFlowId="livelens-demo-flow", ParticipantDetails={"DisplayName": customer_name}
    )
    contact_id = started["ContactId"]
    on_start(contact_id)
    tokens = {"CUSTOMER": started["ParticipantToken"]}
    for role in sorted({t["role"] for t in turns} - {"CUSTOMER"}):
        name = next((t.get("name") for t in turns if t["role"] == role), None) or role.title()
        created = connect.create_participant(
            InstanceId=instance_id, ContactId=contact_id,
            ParticipantDetails={"ParticipantRole": role, "DisplayName": name},
        )
        tokens[role] = created["ParticipantCredentials"]["ParticipantToken"]
    connections = {
        role: participant_api.create_participant_connection(Type=["CONNECTION_CREDENTIALS"], ParticipantToken=token)[
            "ConnectionCredentials"
        ]["ConnectionToken"]
        for role, token in tokens.items()
    }
    previous = 0.0
    for turn in turns:
        sleep(max(0.0, (turn.get("at", previous) - previous) / speed))
        previous = turn.get("at", previous)
        participant_api.send_message(ContentType="text/plain", Content=turn["text"], ConnectionToken=connections[turn["role"]])
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    return str(contact_id)


def play_voice(endpoint: Endpoint, instance_id: str, conversation: dict[str, Any], speed: float = 1.0,
               sleep: Sleep = time.sleep, on_start: Callable[[str], None] = lambda contact_id: None) -> str:
    connect = endpoint.client("connect")
    created = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")
    contact_id = created["ContactId"]
    on_start(contact_id)
    previous = 0
    path = f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/utterances"
    for turn in conversation["turns"]:
        end = turn.get("end", turn["at"] + 1000)
        sleep(max(0.0, (end - previous) / 1000 / speed))
        previous = end
        endpoint.signed_post(path, {
            "ParticipantId": turn["role"], "ParticipantRole": turn["role"], "Content": turn["text"],
            "BeginOffsetMillis": turn["at"], "EndOffsetMillis": end,
        })
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    return str(contact_id)


def play(endpoint: Endpoint, instance_id: str, conversation: dict[str, Any], **options: Any) -> str:
    player = play_voice if conversation.get("channel") == "voice" else play_chat
    return player(endpoint, instance_id, conversation, **options)
