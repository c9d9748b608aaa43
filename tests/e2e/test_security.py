"""Security hardening, probed on the shared server: bad strings, SigV4 payload binding, sessions, files."""

from __future__ import annotations

import json
import stat
import time
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    assert_client_error,
    signed_request,
    sqlite_only,
    start_chat,
    utterances_path,
)

# --- never a 500 for bad input -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\\ud800", "a\\udfffb", "nul\\u0000here"])
def test_unstorable_strings_are_validation_errors_naming_the_field(
    server: Server, connect: Any, participant: Any, instance_id: str, bad: str
) -> None:
    chat = start_chat(connect, participant, instance_id)
    body = f'{{"ContentType": "text/plain", "Content": "{bad}"}}'.encode()
    answer = requests.post(server.url + "/participant/message", data=body,
                           headers={"X-Amz-Bearer": chat.customer, "Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "'Content'" in answer.json()["Message"]
    # in a nested member and a map key, on a SigV4 route
    attributes = f'{{"InstanceId": "{instance_id}", "ContactFlowId": "f", "ParticipantDetails": ' \
                 f'{{"DisplayName": "x"}}, "Attributes": {{"k": "{bad}"}}}}'
    answer = signed_request(server, "PUT", "/contact/chat", attributes.encode())
    assert answer.status_code == 400 and "'Attributes.k'" in answer.json()["Message"], answer.text
    answer = signed_request(server, "PUT", "/contact/chat", attributes.replace('"k"', f'"{bad}"').encode())
    assert answer.status_code == 400 and "'Attributes'" in answer.json()["Message"], answer.text


def test_test_rule_attributes_that_are_not_an_object(server: Server, instance_id: str) -> None:
    for attributes in (["a"], "text", 5):
        answer = signed_request(server, "POST", f"/livelens/v1/instances/{instance_id}/rules/test",
                                {"Function": "$.Attributes.x = 'y'", "Transcript": [], "Attributes": attributes})
        assert answer.status_code == 400, answer.text
        assert "Attributes" in answer.json()["Message"]


def test_get_transcript_start_position_members_set_to_null(
    server: Server, connect: Any, participant: Any, instance_id: str
) -> None:
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain", Content="hello")
    for start in ({"Id": None}, {"AbsoluteTime": None}, {"MostRecent": None}, {"Id": None, "AbsoluteTime": None}):
        answer = requests.post(server.url + "/participant/transcript", json={"StartPosition": start},
                               headers={"X-Amz-Bearer": chat.customer}, timeout=30)
        assert answer.status_code in (200, 400), (start, answer.text)


# --- SigV4: the body is bound to the signature --------------------------------------------------


def _signed_with_hash(url: str, body: bytes, claimed: str) -> dict[str, str]:
    request = AWSRequest("PUT", url, data=body,
                         headers={"Content-Type": "application/json", "X-Amz-Content-SHA256": claimed})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "connect", "us-east-1").add_auth(request)
    return dict(request.headers)


def test_a_claimed_payload_hash_must_match_the_body(server: Server) -> None:
    url = server.url + "/instance"
    signed_body = b'{"IdentityManagementType":"CONNECT_MANAGED","InboundCallsEnabled":true,' \
                  b'"OutboundCallsEnabled":true}'
    import hashlib

    headers = _signed_with_hash(url, signed_body, hashlib.sha256(signed_body).hexdigest())
    swapped = signed_body.replace(b"CONNECT_MANAGED", b"SAML")
    answer = requests.put(url, data=swapped, headers=headers, timeout=30)
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert requests.put(url, data=signed_body, headers=headers, timeout=30).status_code == 200


def test_unsigned_payload_is_refused(server: Server) -> None:
    url = server.url + "/instance"
    body = b'{"IdentityManagementType":"SAML","InboundCallsEnabled":true,"OutboundCallsEnabled":true}'
    answer = requests.put(url, data=body, headers=_signed_with_hash(url, body, "UNSIGNED-PAYLOAD"), timeout=30)
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "UNSIGNED-PAYLOAD" in answer.json()["Message"]


# --- participant sessions --------------------------------------------------------------------------


def test_every_create_participant_connection_gives_a_fresh_token(
    connect: Any, participant: Any, instance_id: str
) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="f",
                                         ParticipantDetails={"DisplayName": "Customer"})
    tokens = [participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"] for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:  # every one works until revoked, as in Amazon Connect
        participant.send_message(ConnectionToken=token, ContentType="text/plain", Content="hi")
    participant.disconnect_participant(ConnectionToken=tokens[0])
    for token in tokens:
        with pytest.raises(ClientError) as error:
            participant.get_transcript(ConnectionToken=token)
        assert_client_error(error, "AccessDeniedException", 403)


def test_disconnect_participant_closes_its_websockets_at_once(
    connect: Any, participant: Any, instance_id: str
) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="f",
                                         ParticipantDetails={"DisplayName": "Customer"})
    agent = connect.create_participant(InstanceId=instance_id, ContactId=started["ContactId"],
                                       ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Sam"})
    agent_connection = participant.create_participant_connection(
        Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"],
        ParticipantToken=agent["ParticipantCredentials"]["ParticipantToken"],
    )
    customer = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    with ws_connect(agent_connection["Websocket"]["Url"]) as socket:
        socket.send(json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}))
        assert json.loads(socket.recv(timeout=10))["content"]["status"] == "success"
        participant.disconnect_participant(ConnectionToken=agent_connection["ConnectionCredentials"]["ConnectionToken"])
        started_at = time.monotonic()
        # The customer keeps chatting (a card number): none of it may reach the disconnected agent.
        participant.send_message(ConnectionToken=customer, ContentType="text/plain",
                                 Content="my card is 4111 1111 1111 1111")
        received = []
        with pytest.raises(ConnectionClosed):
            while True:
                received.append(socket.recv(timeout=5))
        assert time.monotonic() - started_at < 3
        assert not any("4111" in frame for frame in received), received


# --- files are private ----------------------------------------------------------------------------


@sqlite_only
def test_database_wal_shm_and_uploads_are_private(
    server: Server, connect: Any, participant: Any, instance_id: str
) -> None:
    chat = start_chat(connect, participant, instance_id)
    upload = participant.start_attachment_upload(
        ContentType="text/plain", AttachmentSizeInBytes=5, AttachmentName="note.txt",
        ClientToken="private-files", ConnectionToken=chat.customer,
    )
    answer = requests.put(upload["UploadMetadata"]["Url"], data=b"hello",
                          headers=upload["UploadMetadata"]["HeadersToInclude"], timeout=30)
    assert answer.status_code == 200, answer.text
    directory = server.db.parent
    files = [server.db, *(server.db.with_name(server.db.name + s) for s in ("-wal", "-shm"))]
    uploads = directory / "uploads"
    files += list(uploads.iterdir())
    assert len(files) >= 4
    for path in files:
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))
    assert stat.S_IMODE(uploads.stat().st_mode) == 0o700


def test_voice_utterances_refuse_unstorable_strings(server: Server, connect: Any, instance_id: str) -> None:
    contact = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")
    body = (b'{"ParticipantId": "c", "ParticipantRole": "CUSTOMER", "Content": "x\\ud800", '
            b'"BeginOffsetMillis": 0, "EndOffsetMillis": 10}')
    answer = signed_request(server, "POST", utterances_path(instance_id, contact["ContactId"]), body)
    assert answer.status_code == 400 and "'Content'" in answer.json()["Message"], answer.text


# --- attachments ------------------------------------------------------------------------------------


def _upload(participant: Any, token: str, body: bytes, content_type: str, name: str = "note.txt") -> Any:
    return participant.start_attachment_upload(
        ContentType=content_type, AttachmentSizeInBytes=len(body), AttachmentName=name,
        ClientToken=name + content_type + str(len(body)) + token[-8:], ConnectionToken=token,
    )


def test_upload_urls_are_signed_and_single_use(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    upload = _upload(participant, chat.customer, b"hello", "text/plain")
    url, headers = upload["UploadMetadata"]["Url"], upload["UploadMetadata"]["HeadersToInclude"]
    unsigned = url.split("?")[0]
    answer = requests.put(unsigned, data=b"hello", headers=headers, timeout=30)
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert requests.put(forged, data=b"hello", headers=headers, timeout=30).status_code == 403
    other = _upload(participant, chat.customer, b"other", "text/plain", "other.txt")
    swapped = unsigned + "?" + other["UploadMetadata"]["Url"].split("?")[1]  # another attachment's signature
    assert requests.put(swapped, data=b"hello", headers=headers, timeout=30).status_code == 403
    assert requests.put(url, data=b"hello", headers=headers, timeout=30).status_code == 200
    second = requests.put(url, data=b"HELLO", headers=headers, timeout=30)
    assert second.status_code == 409 and second.headers["x-amzn-ErrorType"] == "ConflictException"
    participant.complete_attachment_upload(AttachmentIds=[upload["AttachmentId"]], ClientToken="done",
                                           ConnectionToken=chat.customer)


@pytest.mark.parametrize("declared, sent_type, body, mentions", [
    ("text/plain", "text/html", b"hello", "Content-Type"),
    ("image/png", "image/png", b"<html><script>x</script></html>", "not image/png"),
    ("application/pdf", "application/pdf", b"MZ\x90\x00\x03\x00\x00\x00", "not application/pdf"),
    ("text/plain", "text/plain", b"\x00\x01\x02binary", "not text/plain"),
])
def test_upload_type_and_bytes_are_checked(
    connect: Any, participant: Any, instance_id: str, declared: str, sent_type: str, body: bytes, mentions: str
) -> None:
    chat = start_chat(connect, participant, instance_id)
    upload = _upload(participant, chat.customer, body, declared, "file.bin")
    answer = requests.put(upload["UploadMetadata"]["Url"], data=body, headers={"Content-Type": sent_type}, timeout=30)
    assert answer.status_code == 400 and mentions in answer.json()["Message"], answer.text


def test_attachment_names_are_sanitised(server: Server, connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    upload = _upload(participant, chat.customer, b"x", "text/plain", "../../../../tmp/x.html")
    requests.put(upload["UploadMetadata"]["Url"], data=b"x",
                 headers=upload["UploadMetadata"]["HeadersToInclude"], timeout=30)
    participant.complete_attachment_upload(AttachmentIds=[upload["AttachmentId"]], ClientToken="c",
                                           ConnectionToken=chat.customer)
    transcript = participant.get_transcript(ConnectionToken=chat.customer, MaxResults=100)["Transcript"]
    (item,) = [t for t in transcript if t["Type"] == "ATTACHMENT"]
    assert item["Attachments"][0]["AttachmentName"] == "x.html"
    assert not (server.db.parent / "tmp").exists()


def test_send_message_client_token_reused_with_other_content(
    connect: Any, participant: Any, instance_id: str
) -> None:
    chat = start_chat(connect, participant, instance_id)
    first = participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain", Content="one",
                                     ClientToken="reused")
    again = participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain", Content="one",
                                     ClientToken="reused")
    assert again["Id"] == first["Id"]
    with pytest.raises(ClientError) as error:
        participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain", Content="two",
                                 ClientToken="reused")
    assert_client_error(error, "ValidationException", 400, mentions="ClientToken")


def test_put_utterances_client_token_reused_with_other_content(
    server: Server, connect: Any, instance_id: str
) -> None:
    contact = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")
    path = utterances_path(instance_id, contact["ContactId"])

    def put(content: str) -> Any:
        return signed_request(server, "POST", path, {
            "ClientToken": "voice-reused", "Utterances": [{"ParticipantId": "c", "ParticipantRole": "CUSTOMER",
                                                           "Content": content, "BeginOffsetMillis": 0,
                                                           "EndOffsetMillis": 900}]})

    first, again = put("I want to cancel"), put("I want to cancel")
    assert first.status_code == again.status_code == 200 and first.json()["Ids"] == again.json()["Ids"]
    other = put("Something else entirely")
    assert other.status_code == 409 and other.headers["x-amzn-ErrorType"] == "IdempotencyException", other.text
