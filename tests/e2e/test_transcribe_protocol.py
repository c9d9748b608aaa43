"""Amazon Transcribe streaming's own WebSocket protocol (``/stream-transcription-websocket``): the AWS SDK for
JavaScript v3 (client-transcribe-streaming + middleware-websocket) against livelens, and a hand-written
client (event-stream messages encoded here, decoded by botocore) for the unsigned framing and the errors."""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from livelens.voice.audio import read_wav
from livelens.voice.eventstream import encode
from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, list_v1_all, wait_for
from tests.e2e.test_js_clients import node, run_node  # noqa: F401  (the fixture)
from tests.speech import mono

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "call.wav"
SPEECH = ["My internet keeps dropping and I am really frustrated.",
          "You can call me back at four one five, five five five, zero one nine nine."]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("transcribe") / "speech.pcm"
    path.write_bytes(b"".join(mono(line, 16000) for line in SPEECH))
    return path


def _contact(server: Server) -> tuple[str, str]:
    connect = server.client("connect")
    instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                          OutboundCallsEnabled=True)["Id"]
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "RedactedOnly"})["ContactId"]
    return instance_id, contact_id


def _transcripts(server: Server, instance_id: str, contact_id: str, count: int) -> list[dict[str, Any]]:
    contact_lens = server.client("connect-contact-lens")

    def ready() -> list[dict[str, Any]] | None:
        segments, _ = list_v1_all(contact_lens, instance_id, contact_id)
        found = [s["Transcript"] for s in segments if "Transcript" in s]
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = wait_for(ready, timeout=120, interval=0.3)
    return found


def test_the_js_sdks_transcribe_streaming_client_streams_into_a_contact(node: str, server: Server,  # noqa: F811
                                                                          speech: Path) -> None:
    instance_id, contact_id = _contact(server)
    run_node(node, server, "transcribe.test.mjs", LIVELENS_TRANSCRIBE_PCM=str(speech),
             LIVELENS_TRANSCRIBE_CONTACT_ID=contact_id, LIVELENS_TRANSCRIBE_UTTERANCES=str(len(SPEECH)))
    transcripts = _transcripts(server, instance_id, contact_id, 2)
    assert [t["ParticipantRole"] for t in transcripts] == ["CUSTOMER", "CUSTOMER"]
    assert "internet" in transcripts[0]["Content"].lower() and "[PII]" in transcripts[1]["Content"]


def _url(server: Server, secret: str = SECRET_KEY, service: str = "transcribe", **params: str) -> str:
    query = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000", **params}
    request = AWSRequest("GET", f"{server.url}/stream-transcription-websocket?{urlencode(query)}")
    SigV4QueryAuth(Credentials(ACCESS_KEY, secret), service, REGION, expires=300).add_auth(request)
    return "ws" + str(request.url)[4:]


def _audio_event(pcm: bytes) -> bytes:
    return encode({":message-type": "event", ":event-type": "AudioEvent",
                   ":content-type": "application/octet-stream"}, pcm)


def _messages(socket: Any, timeout: float = 120) -> Iterator[tuple[dict[str, Any], Any]]:
    buffer = EventStreamBuffer()
    try:
        while True:
            buffer.add_data(socket.recv(timeout=timeout))
            for message in buffer:
                yield message.headers, json.loads(message.payload)
    except ConnectionClosed:
        return


def test_a_hand_written_client_with_unsigned_audio_events(server: Server, speech: Path) -> None:
    instance_id, contact_id = _contact(server)
    pcm = speech.read_bytes()
    with ws_connect(_url(server, **{"session-id": contact_id}), open_timeout=30, max_size=None) as socket:
        for at in range(0, len(pcm), 3200):
            socket.send(_audio_event(pcm[at:at + 3200]))
        socket.send(_audio_event(b""))  # the end of the audio
        received = list(_messages(socket))
    assert all(headers[":message-type"] == "event" and headers[":event-type"] == "TranscriptEvent"
               for headers, _ in received)
    finals = [r for _, body in received for r in body["Transcript"]["Results"] if not r["IsPartial"]]
    transcripts = _transcripts(server, instance_id, contact_id, 2)
    assert [r["ResultId"] for r in finals] == [t["Id"] for t in transcripts]
    assert [r["Alternatives"][0]["Transcript"] for r in finals][1].count("[PII]") >= 1


def _exception(url: str, frames: list[bytes]) -> tuple[str, str]:
    with ws_connect(url, open_timeout=30) as socket:
        for frame in frames:
            socket.send(frame)
        received = list(_messages(socket, timeout=30))
    assert len(received) == 1 and received[0][0][":message-type"] == "exception", received
    return received[0][0][":exception-type"], received[0][1]["Message"]


def test_errors_are_transcribe_exception_messages_or_403(server: Server) -> None:
    _, contact_id = _contact(server)
    kind, message = _exception(_url(server, **{"session-id": contact_id, "sample-rate": "44100"}), [])
    assert kind == "BadRequestException" and "sample-rate" in message
    kind, message = _exception(_url(server, **{"session-id": "7d1f6f2e-0000-4000-8000-000000000000"}), [])
    assert kind == "BadRequestException" and "session-id" in message
    kind, message = _exception(_url(server), [])
    assert kind == "BadRequestException" and "session-id" in message
    garbage = bytearray(_audio_event(b"\x00\x01" * 100))
    garbage[-1] ^= 0xFF  # a broken message CRC
    kind, message = _exception(_url(server, **{"session-id": contact_id}), [bytes(garbage)])
    assert kind == "BadRequestException" and "Checksum" in message

    # An SDK-style signed envelope whose signature is not the chain's next one (say, a replayed or forged event).
    headers = (b"\x05:date\x08" + struct.pack(">q", int(time.time() * 1000))
               + b"\x10:chunk-signature\x06" + struct.pack(">H", 32) + bytes(32))
    inner = _audio_event(b"\x00\x01" * 100)
    prelude = struct.pack(">II", 12 + len(headers) + len(inner) + 4, len(headers))
    envelope = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + inner
    envelope += struct.pack(">I", zlib.crc32(envelope))
    kind, message = _exception(_url(server, **{"session-id": contact_id}), [envelope])
    assert kind == "BadRequestException" and ":chunk-signature" in message

    for url in (_url(server, secret="not-the-secret", **{"session-id": contact_id}),
                _url(server, service="connect", **{"session-id": contact_id})):
        with pytest.raises(InvalidStatus) as excinfo:
            with ws_connect(url, open_timeout=30):
                pass
        assert excinfo.value.response.status_code == 403
        assert json.loads(excinfo.value.response.body or b"{}")["__type"] == "InvalidSignatureException"


def test_channel_identification_maps_channel_0_to_the_agent(server: Server) -> None:
    instance_id, contact_id = _contact(server)
    fmt, pcm = read_wav(EXAMPLE)  # 8 kHz stereo: left agent, right customer
    url = _url(server, **{"session-id": contact_id, "sample-rate": "8000", "number-of-channels": "2",
                          "enable-channel-identification": "true"})
    with ws_connect(url, open_timeout=30, max_size=None) as socket:
        step = fmt.sample_rate * fmt.frame_bytes // 10
        for at in range(0, len(pcm), step):
            socket.send(_audio_event(pcm[at:at + step]))
        socket.send(_audio_event(b""))
        received = list(_messages(socket))
    finals = [r for _, body in received for r in body["Transcript"]["Results"] if not r["IsPartial"]]
    assert [r["ChannelId"] for r in finals] == ["ch_0", "ch_1", "ch_0", "ch_1"]
    transcripts = _transcripts(server, instance_id, contact_id, 4)
    assert [t["ParticipantRole"] for t in transcripts] == ["AGENT", "CUSTOMER", "AGENT", "CUSTOMER"]
