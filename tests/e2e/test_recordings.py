"""Call recordings: a voice contact's audio kept when ``livelens:recording`` is on, its spoken PII silenced
under a redacting policy, downloaded from the signed native endpoint (both storage backends)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from livelens.voice.audio import AudioFormat
from livelens.voice.client import presigned_audio_url, stream_pcm
from tests.e2e.conftest import (
    ACCESS_KEY,
    BACKEND,
    LIVELENS,
    REGION,
    SECRET_KEY,
    Server,
    card_number_leaks,
    signed_request,
    start_server,
    wait_for,
)
from tests.speech import speak

RATE = 16000
OTHER = ("LLIAOTHERACCOUNT0001", "other-secret-0000000000000000000000001")
CARD = "four five three nine, one four eight eight, zero three four three, six four six seven."
WINDOW = RATE // 20  # 50 ms


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (its stored bytes are grepped for the PII), with a second key that owns nothing
    of the first's."""
    directory = tmp_path_factory.mktemp("recordings")
    credentials = directory / "keys"
    credentials.write_text(f"{ACCESS_KEY} {SECRET_KEY}\n{OTHER[0]} {OTHER[1]}\n")
    running = start_server(directory, "--credentials", str(credentials), credentials=False)
    yield running
    running.stop()
    assert "Traceback" not in "".join(running.output)


def _call() -> tuple[bytes, tuple[int, int], tuple[int, int]]:
    """Mono 16 kHz: "My card number is <card>." then a sentence without PII. The PCM, the card number's
    sample range and the second sentence's."""
    def voiced(samples: np.ndarray) -> tuple[int, int]:
        loud = np.flatnonzero(np.abs(samples) > 50)
        return int(loud[0]), int(loud[-1]) + 1

    gap = np.zeros(int(0.8 * RATE), np.int16)
    intro, card = speak("My card number is", RATE), speak(CARD, RATE)
    plain = speak("My internet keeps dropping and I am really frustrated.", RATE)
    lead = np.zeros(int(0.5 * RATE), np.int16)
    pcm = np.concatenate([lead, intro, card, gap, plain, gap])
    card_at = len(lead) + len(intro)
    plain_at = card_at + len(card) + len(gap)
    card_span = tuple(card_at + i for i in voiced(card))
    plain_span = tuple(plain_at + i for i in voiced(plain))
    return pcm.astype("<i2").tobytes(), card_span, plain_span  # type: ignore[return-value]


def _presigned(server: Server, path: str, secret: str = SECRET_KEY, expires: int = 300,
               access_key: str = ACCESS_KEY) -> str:
    request = AWSRequest("GET", server.url + path)
    SigV4QueryAuth(Credentials(access_key, secret), "connect", REGION, expires=expires).add_auth(request)
    return str(request.url)


def _recordings(server: Server, instance_id: str, contact_id: str) -> list[dict[str, Any]]:
    path = f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/recordings"
    response = signed_request(server, "GET", path)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["Recordings"]
    return found


def _wav(server: Server, instance_id: str, contact_id: str, recording_id: str) -> tuple[int, int, np.ndarray]:
    path = f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/recordings/{recording_id}"
    response = requests.get(_presigned(server, path), timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        return wav.getframerate(), wav.getnchannels(), np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


def _stream(server: Server, instance_id: str, contact_id: str, pcm: bytes) -> list[dict[str, Any]]:
    url = presigned_audio_url(server.url, instance_id, contact_id,
                              {"participant-role": "CUSTOMER", "start-offset-millis": "0"},
                              ACCESS_KEY, SECRET_KEY, REGION)
    return stream_pcm(url, AudioFormat(RATE, 1), pcm, speed=None)


def _completed(server: Server, instance_id: str, contact_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = _recordings(server, instance_id, contact_id)
        return found[0] if found and found[0]["Status"] == "COMPLETED" else None

    record: dict[str, Any] = wait_for(done, timeout=30, interval=0.2)
    return record


def test_redacted_recording_silences_the_spoken_card_number_only(recorder: Server) -> None:
    server = recorder
    connect = server.client("connect")
    instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                          OutboundCallsEnabled=True, Tags={"livelens:recording": "AGENT,CUSTOMER"}
                                          )["Id"]
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "RedactedOnly"})["ContactId"]
    pcm, (card_from, card_to), (plain_from, plain_to) = _call()
    events = _stream(server, instance_id, contact_id, pcm)
    shown = [e["Transcript"]["Results"][0]["Alternatives"][0]["Transcript"] for e in events]
    assert len(shown) == 2 and "[PII]" in shown[0] and "4539" not in shown[0], shown

    record = _completed(server, instance_id, contact_id)
    assert record["PiiSilenced"] is True and record["ChannelRoles"] == ["CUSTOMER"]
    assert (record["SampleRate"], record["Channels"], record["StartOffsetMillis"]) == (RATE, 1, 0)
    rate, channels, recorded = _wav(server, instance_id, contact_id, record["RecordingId"])
    sent = np.frombuffer(pcm, "<i2")
    assert (rate, channels, len(recorded)) == (RATE, 1, len(sent))

    # Silent over the whole spoken card number, window by window ...
    assert not recorded[card_from:card_to].any(), "spoken card number audible in the recording"
    # ... and nowhere else: the words before it and the sentence after it are kept as they were said.
    intro_end = card_from - int(0.4 * RATE)
    assert np.array_equal(recorded[:intro_end], sent[:intro_end])
    windows = sent[:intro_end - intro_end % WINDOW].reshape(-1, WINDOW)
    assert (np.abs(windows).max(axis=1) > 50).sum() >= 10  # the kept part holds speech
    assert np.array_equal(recorded[plain_from:plain_to], sent[plain_from:plain_to])
    assert np.array_equal(recorded[card_to + int(0.4 * RATE):], sent[card_to + int(0.4 * RATE):])

    # No unredacted audio nor text on disk: the database (a data dump on PostgreSQL) and the recordings folder.
    # Recordings are append-only (file appends, inserted chunks, never rewritten), so what is there now is
    # everything that was ever written during the call.
    folder = server.db.parent / "recordings"
    stored = server.stored_bytes() + b"".join(p.read_bytes() for p in folder.glob("*")) if folder.exists() \
        else server.stored_bytes()
    pieces = [pcm[2 * at:2 * at + 1600] for at in range(card_from, card_to - 800, RATE // 4)]
    kept = [pcm[2 * at:2 * at + 1600] for at in range(plain_from, plain_to - 800, RATE // 4)]

    def on_disk(piece: bytes) -> bool:
        return piece in stored or piece.hex().encode() in stored
    assert any(on_disk(piece) for piece in kept), "the grep cannot find the recording's audio at all"
    assert not any(on_disk(piece) for piece in pieces), "the spoken card number's audio reached disk"
    # The card's words and digits as text: in the database, but for the recorded audio itself (on PostgreSQL
    # its chunks dump as hex, where the digits turn up by chance; on SQLite the audio is in the folder, not the file).
    text = server.stored_bytes(without_tables=("recording_chunks",))
    word = max(shown[1].split(), key=len).strip(".,!?").encode()
    assert word in text, "the grep cannot find the stored transcript at all"
    for secret in (b"four five three nine", b"six four six seven"):
        assert secret not in text
    assert not card_number_leaks(text)


def test_recording_download_is_signed_and_scoped(recorder: Server, tmp_path: Path) -> None:
    server = recorder
    connect = server.client("connect")
    instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                          OutboundCallsEnabled=True)["Id"]
    unrecorded = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "None"})["ContactId"]
    recorded = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                      Attributes={"livelens:redaction": "None", "livelens:recording": "Customer"}
                                      )["ContactId"]
    pcm = np.concatenate([np.zeros(RATE // 2, np.int16), speak("Hello, I need some help please.", RATE),
                          np.zeros(RATE, np.int16)]).astype("<i2").tobytes()
    _stream(server, instance_id, unrecorded, pcm)
    _stream(server, instance_id, recorded, pcm)
    assert _recordings(server, instance_id, unrecorded) == []
    record = _completed(server, instance_id, recorded)
    assert record["PiiSilenced"] is False and record["DurationMillis"] == len(pcm) // 2 * 1000 // RATE
    _, _, audio = _wav(server, instance_id, recorded, record["RecordingId"])
    assert audio.tobytes() == pcm  # no redacting policy: exactly what was sent

    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    cli = [LIVELENS, "recording", "--instance-id", instance_id, "--contact-id", recorded, "--endpoint-url", server.url]
    listed = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=60, check=True)
    assert json.loads(listed.stdout)["Recordings"] == [record]
    target = tmp_path / "call.wav"
    subprocess.run([*cli, "--recording-id", record["RecordingId"], "-o", str(target)], capture_output=True,
                   env=env, timeout=60, check=True)
    with wave.open(str(target)) as wav:
        assert wav.readframes(wav.getnframes()) == pcm
    missing = subprocess.run([*cli, "--recording-id", "no-such-recording"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr

    path = f"/livelens/v1/instances/{instance_id}/contacts/{recorded}/recordings/{record['RecordingId']}"
    forged = requests.get(_presigned(server, path, secret="not-the-secret"), timeout=30)
    assert forged.status_code == 403 and forged.json()["__type"] == "InvalidSignatureException"
    expired = _presigned(server, path, expires=1)
    wait_for(lambda: requests.get(expired, timeout=30).status_code == 403, timeout=10, interval=0.5)
    assert "expired" in requests.get(expired, timeout=30).json()["Message"]
    assert requests.get(server.url + path, timeout=30).status_code == 403  # unsigned
    foreign = requests.get(_presigned(server, path, access_key=OTHER[0], secret=OTHER[1]), timeout=30)
    assert foreign.status_code == 403 and foreign.json()["__type"] == "AccessDeniedException"
    listing = signed_request(server, "GET", path.rsplit("/", 1)[0], access_key=OTHER[0], secret_key=OTHER[1])
    assert listing.status_code == 403

    for missing in (path.rsplit("/", 1)[0] + "/no-such-recording",
                    path.replace(recorded, unrecorded),  # another contact's recording
                    path.replace(recorded, "no-such-contact")):
        response = signed_request(server, "GET", missing)
        assert response.status_code == 404 and response.json()["__type"] == "ResourceNotFoundException", missing

    bad = connect.create_contact  # a bad livelens:recording value is refused, naming the attribute
    with pytest.raises(Exception) as excinfo:
        bad(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
            Attributes={"livelens:recording": "everyone"})
    assert "livelens:recording" in str(excinfo.value)


def test_recordings_folder_is_private(recorder: Server) -> None:
    folder = recorder.db.parent / "recordings"
    if BACKEND == "postgres":  # kept in the database, so any node serves them: nothing on the node's disk
        assert not folder.exists()
        return
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in folder.iterdir())
    assert not list(Path(folder).glob("*.part"))
