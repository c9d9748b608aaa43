"""Authentication: SigV4 for connect and connect-contact-lens, tokens for connectparticipant."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import (
    ACCESS_KEY,
    BACKEND,
    SECRET_KEY,
    Server,
    assert_client_error,
    signed_request,
    start_chat,
    start_server,
    utterances_path,
)


def _v2_path(instance_id: str, contact_id: str) -> str:
    return f"/contact/list-real-time-analysis-segments-v2/{instance_id}/{contact_id}"


def test_unsigned_request_is_refused(server: Server, instance_id: str) -> None:
    for method, path in [
        ("POST", _v2_path(instance_id, "c")),
        ("PUT", "/instance"),
        ("GET", f"/instance/{instance_id}"),
        ("POST", "/realtime-contact-analysis/analysis-segments"),
        ("POST", utterances_path(instance_id, "c")),
    ]:
        answer = signed_request(server, method, path, {"OutputType": "Raw", "SegmentTypes": ["Transcript"]},
                                sign=False)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert answer.json()  # a JSON error body


def test_unknown_access_key(server: Server) -> None:
    client = server.client("connect", aws_access_key_id="LLIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as error:
        client.list_instances()
    assert_client_error(error, "UnrecognizedClientException", 403)
    lens = server.client("connect-contact-lens", aws_access_key_id="LLIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as error:
        lens.list_realtime_contact_analysis_segments(InstanceId="i", ContactId="c")
    assert_client_error(error, "UnrecognizedClientException", 403)


def test_wrong_secret(server: Server, instance_id: str) -> None:
    client = server.client("connect", aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as error:
        client.describe_instance(InstanceId=instance_id)
    assert_client_error(error, "InvalidSignatureException", 403)
    answer = signed_request(server, "POST", utterances_path(instance_id, "c"), {}, secret_key="nope")
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_tampered_body_after_signing(server: Server, instance_id: str) -> None:
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = server.url + "/instance"
    request = AWSRequest("PUT", url, data=b'{"IdentityManagementType":"CONNECT_MANAGED"}',
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "connect", "us-east-1").add_auth(request)
    answer = requests.put(url, data=b'{"IdentityManagementType":"SAML"}', headers=dict(request.headers), timeout=30)
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_signature_for_another_service(server: Server) -> None:
    answer = signed_request(server, "GET", "/instance/x", None, service="s3")
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


# connectparticipant tokens ---------------------------------------------------------


def test_forged_participant_tokens(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    kind, middle, mac = chat.customer.split(".")
    forged = [
        "garbage",
        "",
        "C1.x.y",
        f"{kind}.{middle}.{mac[:-2]}AA",
        f"P1.{middle}.{mac}",  # a connection token's parts under the participant kind
        chat.customer + "x",
        "a" * 1000,
    ]
    for token in forged:
        if not token:
            continue
        with pytest.raises(ClientError) as error:
            participant.send_message(ContentType="text/plain", Content="hi", ConnectionToken=token)
        assert_client_error(error, "AccessDeniedException", 403)
        with pytest.raises(ClientError) as error:
            participant.get_transcript(ConnectionToken=token)
        assert_client_error(error, "AccessDeniedException", 403)
        with pytest.raises(ClientError) as error:
            participant.create_participant_connection(Type=["CONNECTION_CREDENTIALS"], ParticipantToken=token)
        assert_client_error(error, "AccessDeniedException", 403)
    # A connection token is not a participant token (and the other way round).
    with pytest.raises(ClientError) as error:
        participant.create_participant_connection(Type=["CONNECTION_CREDENTIALS"], ParticipantToken=chat.customer)
    assert_client_error(error, "AccessDeniedException", 403)


def test_participant_token_cannot_send(connect: Any, participant: Any, instance_id: str) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="f",
                                         ParticipantDetails={"DisplayName": "C"})
    with pytest.raises(ClientError) as error:
        participant.send_message(ContentType="text/plain", Content="hi", ConnectionToken=started["ParticipantToken"])
    assert_client_error(error, "AccessDeniedException", 403)


def test_tokens_after_disconnect(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="hello", ConnectionToken=chat.agent)
    participant.disconnect_participant(ConnectionToken=chat.agent)
    calls: list[Callable[[], Any]] = [
        lambda: participant.send_message(ContentType="text/plain", Content="again", ConnectionToken=chat.agent),
        lambda: participant.get_transcript(ConnectionToken=chat.agent),
        lambda: participant.disconnect_participant(ConnectionToken=chat.agent),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert_client_error(error, "AccessDeniedException", 403)
    # The agent left, the contact goes on: the customer still talks.
    participant.send_message(ContentType="text/plain", Content="still here", ConnectionToken=chat.customer)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    with pytest.raises(ClientError) as error:
        participant.send_message(ContentType="text/plain", Content="bye", ConnectionToken=chat.customer)
    assert_client_error(error, "AccessDeniedException", 403)
    # No new participants on an ended contact.
    with pytest.raises(ClientError) as error:
        connect.create_participant(InstanceId=instance_id, ContactId=chat.contact_id,
                                   ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Late"})
    assert error.value.response["Error"]["Code"] in ("ContactNotFoundException", "InvalidRequestException")


def test_stop_contact_revokes_participant_tokens(connect: Any, participant: Any, instance_id: str) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="f",
                                         ParticipantDetails={"DisplayName": "C"})
    connect.stop_contact(InstanceId=instance_id, ContactId=started["ContactId"])
    with pytest.raises(ClientError) as error:
        participant.create_participant_connection(Type=["CONNECTION_CREDENTIALS"],
                                                  ParticipantToken=started["ParticipantToken"])
    assert_client_error(error, "AccessDeniedException", 403)


def test_participant_api_needs_no_sigv4(server: Server, connect: Any, participant: Any, instance_id: str) -> None:
    """connectparticipant calls are unsigned in AWS too (the token is the credential)."""
    chat = start_chat(connect, participant, instance_id)
    answer = signed_request(server, "POST", "/participant/message", {"ContentType": "text/plain", "Content": "x"},
                            sign=False, headers={"X-Amz-Bearer": chat.customer})
    assert answer.status_code == 200, answer.text
    assert answer.json()["Id"]


# generated credentials ----------------------------------------------------------------


def test_server_without_credentials_generates_a_pair(tmp_path: Path) -> None:
    first = start_server(tmp_path / "gen", credentials=False)
    generated = first.db.parent / "livelens-credentials"
    try:
        printed = "".join(first.output)
        if BACKEND == "sqlite":
            assert generated.is_file()
            assert stat.S_IMODE(generated.stat().st_mode) == 0o600
            access_key, secret_key = generated.read_text().split()
        else:  # kept in the database, so that every node accepts it: nothing beside a URL
            found = re.search(r"aws_access_key_id\s+= (\S+)\n\s+aws_secret_access_key = (\S+)", printed)
            assert found and "stored in the database" in printed and not generated.exists(), printed
            access_key, secret_key = found.groups()
        assert access_key in printed and secret_key in printed
        assert re.fullmatch(r"[A-Z0-9]{16,128}", access_key)
        assert len(secret_key) >= 30
        client = first.client("connect", aws_access_key_id=access_key, aws_secret_access_key=secret_key)
        assert client.list_instances()["InstanceSummaryList"] == []
        with pytest.raises(ClientError) as error:
            first.client("connect").list_instances()  # the test suite's key is unknown here
        assert_client_error(error, "UnrecognizedClientException", 403)
    finally:
        first.stop()
    # A second start on the same database reuses the stored pair.
    second = start_server(tmp_path / "gen", credentials=False)
    try:
        if BACKEND == "sqlite":
            assert generated.read_text().split() == [access_key, secret_key]
        else:
            assert "Generated credentials" not in "".join(second.output)
        client = second.client("connect", aws_access_key_id=access_key, aws_secret_access_key=secret_key)
        assert client.list_instances()["InstanceSummaryList"] == []
    finally:
        second.stop()
    assert "Traceback" not in "".join(first.output + second.output)
    if BACKEND == "sqlite":
        assert ACCESS_KEY not in generated.read_text() and SECRET_KEY not in generated.read_text()
        assert os.stat(generated).st_mode & 0o077 == 0


def test_listening_means_accepting(tmp_path: Path) -> None:
    """Once ``serve`` prints "listening on URL", a client may connect to URL at once."""
    import socket
    from urllib.parse import urlsplit

    started = start_server(tmp_path / "ready", wait_ready=False)
    try:
        address = urlsplit(started.url)
        socket.create_connection((address.hostname, address.port), timeout=5).close()
        assert started.client("connect").list_instances()["InstanceSummaryList"] == []
    finally:
        started.stop()


@pytest.mark.parametrize("minutes, accepted", [(-10, False), (10, False), (-2, True), (2, True)])
def test_clock_skew(server: Server, minutes: int, accepted: bool) -> None:
    from datetime import datetime, timedelta
    from unittest import mock

    moment = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes)
    with mock.patch("botocore.auth.get_current_datetime", lambda: moment):
        answer = signed_request(server, "GET", "/instance?maxResults=1")
    if accepted:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
