"""The audio path's pure parts, and what a server without the voice extra answers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

import livelens.voice
from livelens.app import create_app
from livelens.config import Settings
from livelens.errors import InvalidRequestException
from livelens.voice.audio import AudioFormat, WavError, read_wav, split_channels, to_model_rate
from livelens.voice.client import presigned_audio_url
from livelens.voice.stream import parse_request

KEY, SECRET = "LLIAVOICE00000000001", "voice-secret"


def _without_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "faster_whisper" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_without_the_extra_the_reason_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_extra(monkeypatch)
    reason = livelens.voice.unavailable_reason()
    assert reason is not None and "faster_whisper" in reason and "pip install 'livelens[voice]'" in reason


def test_without_the_extra_the_audio_socket_answers_an_error_naming_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(f"{KEY} {SECRET}\n")
    client = TestClient(create_app(Settings(db=str(tmp_path / "v.db"), credentials=str(credentials),
                                            analysis_workers="0")))
    _without_extra(monkeypatch)
    url = presigned_audio_url("http://testserver", "i", "c", {}, KEY, SECRET)
    with pytest.raises(WebSocketDenialResponse) as excinfo:
        with client.websocket_connect(url.replace("ws://testserver", "")):
            pass
    response = excinfo.value
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["__type"] == "ServiceUnavailableException" and "livelens[voice]" in body["Message"]


@pytest.mark.parametrize(("query", "field"), [
    ({"sample-rate": "44100"}, "sample-rate"),
    ({"sample-rate": "fast"}, "sample-rate"),
    ({"media-encoding": "flac"}, "media-encoding"),
    ({"number-of-channels": "3"}, "number-of-channels"),
    ({"participant-role": "BOT"}, "participant-role"),
    ({"number-of-channels": "2", "channel-roles": "AGENT"}, "channel-roles"),
    ({"number-of-channels": "2", "participant-role": "AGENT"}, "participant-role"),
    ({"channel-roles": "AGENT,CUSTOMER"}, "channel-roles"),
    ({"start-offset-millis": "-5"}, "start-offset-millis"),
])
def test_bad_parameters_are_named(query: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidRequestException) as excinfo:
        parse_request("i", "c", query)
    assert field in excinfo.value.message


def test_parameters_default_to_mono_16k_customer() -> None:
    request = parse_request("i", "c", {})
    assert (request.fmt, request.roles, request.start_offset_ms) == (AudioFormat(16000, 1), ("CUSTOMER",), None)
    stereo = parse_request("i", "c", {"number-of-channels": "2", "sample-rate": "8000",
                                      "channel-roles": "CUSTOMER,AGENT", "start-offset-millis": "250"})
    assert (stereo.fmt, stereo.roles, stereo.start_offset_ms) == (AudioFormat(8000, 2), ("CUSTOMER", "AGENT"), 250)


def test_stereo_pcm_splits_into_channels_at_16k() -> None:
    left = (np.arange(800) % 100).astype("<i2")
    right = -left
    interleaved = np.stack([left, right], axis=1).astype("<i2").tobytes()
    channels = split_channels(interleaved, AudioFormat(8000, 2))
    assert [len(c) for c in channels] == [1600, 1600]
    assert np.allclose(channels[0], -channels[1])
    assert channels[0][0] == 0 and abs(channels[0][2] - left[1] / 32768) < 1e-6
    assert to_model_rate(np.zeros(0, np.float32), 8000).size == 0


def test_wav_that_is_not_16_bit_pcm_is_refused(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(16000)
        wav.writeframes(b"\x80" * 160)
    with pytest.raises(WavError, match="16-bit PCM"):
        read_wav(path)
    (tmp_path / "b.wav").write_bytes(b"not a wav")
    with pytest.raises(WavError, match="not a PCM WAV"):
        read_wav(tmp_path / "b.wav")


def test_repetition_loops_are_told_from_spoken_digits() -> None:
    from livelens.voice.decoder import has_repetition_loop
    from livelens.voice.recognizer import without_trailing_hallucination

    loop = "I'm going to show you a little bit of a little bit of a little bit of a little bit.".split()
    assert has_repetition_loop(loop)
    assert not has_repetition_loop("my card is four one one one one one one one one one one one".split())
    assert not has_repetition_loop("It was the best of times, it was the worst of times, it was the age".split())
    words = [(" Try", 0.9), (" again.", 0.98), (" Thank", 0.02), (" you.", 0.98)]
    assert without_trailing_hallucination(words) == 2
    assert without_trailing_hallucination([(" Thank", 0.9), (" you.", 0.9), (" Bye.", 0.5)]) == 3
