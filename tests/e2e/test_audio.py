"""Voice calls from audio: PCM over the presigned audio WebSocket, transcribed by the voice extra,
analysed and redacted like text utterances, read back with boto3 (V1 segments)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from livelens.voice.audio import AudioFormat, read_wav
from livelens.voice.client import presigned_audio_url, stream_pcm
from tests.e2e.conftest import (
    ACCESS_KEY,
    LIVELENS,
    REGION,
    SECRET_KEY,
    Server,
    card_number_leaks,
    list_v1_all,
    start_server,
    wait_for,
)
from tests.speech import mono

# Left out of make test's PostgreSQL pass: speech decoding; its utterances take the ingestion path test_voice.py
# checks on both backends.
pytestmark = pytest.mark.storage_independent

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "call.wav"


def _voice_contact(connect: Any, instance_id: str, redaction: str) -> str:
    created = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                     Attributes={"livelens:redaction": redaction})
    return str(created["ContactId"])


def _url(server: Server, instance_id: str, contact_id: str, secret: str = SECRET_KEY, expires: int = 300,
         **params: str) -> str:
    return presigned_audio_url(server.url, instance_id, contact_id, params, ACCESS_KEY, secret, REGION,
                               expires=expires)


def _speech_spans(channel: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Where a synthesised channel is not silent (its silence is exact zeros), in ms."""
    voiced = np.flatnonzero(np.abs(channel) > 50)
    spans: list[list[int]] = []
    for index in voiced:
        if spans and index - spans[-1][1] < rate // 2:
            spans[-1][1] = int(index)
        else:
            spans.append([int(index), int(index)])
    return [(a * 1000 // rate, b * 1000 // rate) for a, b in spans]


def _transcripts(contact_lens: Any, instance_id: str, contact_id: str, count: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]] | None:
        segments, _ = list_v1_all(contact_lens, instance_id, contact_id)
        found = [s["Transcript"] for s in segments if "Transcript" in s]
        return found if len(found) >= count and all("Sentiment" in t for t in found) else None

    found: list[dict[str, Any]] = wait_for(ready, timeout=120, interval=0.3)
    return found


def test_stereo_call_becomes_an_analysed_transcript(server: Server, connect: Any, contact_lens: Any,
                                                    instance_id: str) -> None:
    contact_id = _voice_contact(connect, instance_id, "None")
    fmt, pcm = read_wav(EXAMPLE)
    assert (fmt.sample_rate, fmt.channels) == (8000, 2)
    url = _url(server, instance_id, contact_id, **{"sample-rate": "8000", "number-of-channels": "2",
                                                   "channel-roles": "AGENT,CUSTOMER", "start-offset-millis": "0"})
    events = stream_pcm(url, fmt, pcm, speed=None)

    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)
    expected = sorted([(b, e, "AGENT") for b, e in _speech_spans(samples[:, 0], 8000)]
                      + [(b, e, "CUSTOMER") for b, e in _speech_spans(samples[:, 1], 8000)])
    assert len(expected) == 4
    results = [r for event in events for r in event["Transcript"]["Results"] if not r["IsPartial"]]
    assert [r["ParticipantRole"] for r in results] == [role for _, _, role in expected]
    assert [r["ChannelId"] for r in results] == ["ch_0", "ch_1", "ch_0", "ch_1"]

    transcripts = _transcripts(contact_lens, instance_id, contact_id, 4)
    assert [t["Id"] for t in transcripts] == [r["ResultId"] for r in results]
    for transcript, (begin, end, role) in zip(transcripts, expected, strict=True):
        assert transcript["ParticipantRole"] == role
        # VAD offsets from the start of the call, within a couple of 32 ms windows (+ padding) of the speech
        assert abs(transcript["BeginOffsetMillis"] - begin) <= 250, (transcript, begin)
        assert abs(transcript["EndOffsetMillis"] - end) <= 400, (transcript, end)
    complaint = transcripts[1]["Content"].lower()
    assert "internet" in complaint and "frustrated" in complaint
    assert transcripts[1]["Sentiment"] == "NEGATIVE" and transcripts[1].get("IssuesDetected")
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: the shared one holds other tests' deliberately unredacted text (e.g. the same
    e-mail address under a policy that keeps the original), which a grep of its database would find."""
    running = start_server(tmp_path_factory.mktemp("audio-privacy"))
    yield running
    running.stop()


def test_spoken_pii_is_redacted_and_never_stored(private_server: Server) -> None:
    server = private_server
    connect, contact_lens = server.client("connect"), server.client("connect-contact-lens")
    instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias="audio-privacy",
                                          InboundCallsEnabled=True, OutboundCallsEnabled=True)["Id"]
    contact_id = _voice_contact(connect, instance_id, "RedactedOnly")
    pcm = (mono("Sure, my email is jane dot doe at example dot com.", 16000)
           + mono("My card number is four five three nine, one four eight eight, zero three four three, "
                  "six four six seven.", 16000))
    fmt = AudioFormat(16000, 1)
    url = _url(server, instance_id, contact_id, **{"participant-role": "CUSTOMER", "start-offset-millis": "1000"})
    events = stream_pcm(url, fmt, pcm, speed=None)
    shown = [event["Transcript"]["Results"][0]["Alternatives"][0]["Transcript"] for event in events]
    transcripts = _transcripts(contact_lens, instance_id, contact_id, 2)
    contents = [t["Content"] for t in transcripts]
    assert shown == contents
    assert contents[0].startswith("Sure, my email is") and "[PII]" in contents[0]
    assert contents[1].startswith("My card number is") and "[PII]" in contents[1]
    assert transcripts[0]["BeginOffsetMillis"] >= 1000
    text = " ".join(contents).lower()
    for secret in ("jane", "doe", "example", "4539", "six four six seven"):
        assert secret not in text
    stored = server.stored_bytes()
    assert b"My card number is" in stored, "the grep cannot find the stored transcript at all"
    for secret in (b"jane dot doe", b"jane.doe", b"four five three nine"):
        assert secret not in stored
    assert card_number_leaks(b"My card number is 4539 [PII]"), "the card grep finds nothing"
    assert not card_number_leaks(stored)


def _refused(url: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as excinfo:
        with ws_connect(url, open_timeout=30):
            pass
    response = excinfo.value.response
    return response.status_code, json.loads(response.body or b"{}")


def test_audio_socket_refuses_bad_signatures_and_parameters(server: Server, connect: Any,
                                                           instance_id: str) -> None:
    contact_id = _voice_contact(connect, instance_id, "None")
    status, body = _refused(_url(server, instance_id, contact_id, secret="not-the-secret"))
    assert status == 403 and body["__type"] == "InvalidSignatureException"

    expiring = _url(server, instance_id, contact_id, expires=1)
    time.sleep(2.1)
    status, body = _refused(expiring)
    assert status == 403 and "expired" in body["Message"]

    unsigned = server.url.replace("http", "ws", 1) + f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/audio"
    status, body = _refused(unsigned)
    assert status == 403

    status, body = _refused(_url(server, instance_id, contact_id, **{"sample-rate": "44100"}))
    assert status == 400 and body["__type"] == "InvalidRequestException" and "sample-rate" in body["Message"]
    status, body = _refused(_url(server, instance_id, contact_id, **{"number-of-channels": "2",
                                                                     "channel-roles": "AGENT,BOT"}))
    assert status == 400 and "channel-roles" in body["Message"]
    status, body = _refused(_url(server, instance_id, "no-such-contact"))
    assert status == 404 and body["__type"] == "ResourceNotFoundException"

    chat = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="flow",
                                      ParticipantDetails={"DisplayName": "Pat"})["ContactId"]
    status, body = _refused(_url(server, instance_id, chat))
    assert status == 400 and "VOICE" in body["Message"]


def test_replay_a_recording_and_read_it_with_the_aws_cli(server: Server, instance_id: str) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    played = subprocess.run([LIVELENS, "replay", str(EXAMPLE), "--speed", "4", "--instance-id", instance_id,
                             "--endpoint-url", server.url], capture_output=True, text=True, env=env, timeout=180)
    assert played.returncode == 0, played.stderr
    contact_id = played.stdout.split(" as contact ")[1].split()[0]
    assert "CUSTOMER: My internet keeps dropping" in played.stdout and f"Contact {contact_id} stopped." in played.stdout

    def analysed() -> list[dict[str, Any]] | None:
        listed = json.loads(server.aws("connect-contact-lens", "list-realtime-contact-analysis-segments",
                                       "--instance-id", instance_id, "--contact-id", contact_id).stdout)
        transcripts = [s["Transcript"] for s in listed["Segments"] if "Transcript" in s]
        return transcripts if len(transcripts) == 4 and all("Sentiment" in t for t in transcripts) else None

    transcripts = wait_for(analysed, timeout=120, interval=0.5)
    assert [t["ParticipantRole"] for t in transcripts] == ["AGENT", "CUSTOMER", "AGENT", "CUSTOMER"]
    assert transcripts[0]["BeginOffsetMillis"] < 1000 and transcripts[3]["EndOffsetMillis"] <= 15600


def test_transcribe_prints_a_recordings_transcript_offline() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([LIVELENS, "transcribe", str(EXAMPLE), "--json"], capture_output=True, text=True,
                            env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["ParticipantRole"] for line in lines] == ["AGENT", "CUSTOMER", "AGENT", "CUSTOMER"]
    assert "internet" in lines[1]["Content"].lower()
    assert all(line["BeginOffsetMillis"] < line["EndOffsetMillis"] for line in lines)


def test_partials_reach_the_segment_stream_but_never_the_log(server: Server, connect: Any, contact_lens: Any,
                                                            instance_id: str) -> None:
    from tests.e2e.test_stream import Event, read_stream

    contact_id = _voice_contact(connect, instance_id, "None")
    collected: list[Event] = []
    reader = threading.Thread(target=read_stream, args=(server, instance_id, contact_id, ""),
                              kwargs={"collected": collected}, daemon=True)
    reader.start()
    time.sleep(1.0)  # the stream is open before the audio starts
    pcm = mono("My internet connection keeps dropping every single evening, and the router lights are blinking "
               "orange all the time.", 16000)
    url = _url(server, instance_id, contact_id, **{"start-offset-millis": "0"})
    events = stream_pcm(url, AudioFormat(16000, 1), pcm, speed=1.0)
    partial_results = [r for e in events for r in e["Transcript"]["Results"] if r["IsPartial"]]
    finals = [r for e in events for r in e["Transcript"]["Results"] if not r["IsPartial"]]
    assert len(finals) == 1 and partial_results, events
    assert all(r["StartTime"] == finals[0]["StartTime"] and r["EndTime"] <= finals[0]["EndTime"] + 0.6
               for r in partial_results)
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    reader.join(timeout=120)
    partials = [json.loads(e.data)["Utterance"] for e in collected if e.event == "partial"]
    assert partials and all(e.id is None for e in collected if e.event == "partial")
    assert all(p["PartialContent"] and p["ParticipantRole"] == "CUSTOMER" for p in partials)
    assert [p["Id"] for p in partials] == [r["ResultId"] for r in partial_results][:len(partials)]
    segments, _ = list_v1_all(contact_lens, instance_id, contact_id)
    transcripts = [s["Transcript"] for s in segments if "Transcript" in s]
    assert [t["Id"] for t in transcripts] == [finals[0]["ResultId"]]
    assert not any("Utterance" in s for s in segments)
