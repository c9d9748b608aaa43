"""livelens replay: each supported format, --channel, --speed, and unreadable files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from livelens.replay import ConversationError, load_conversation, play_chat, play_voice
from tests.cli.conftest import EXAMPLES, Run, replay, v1_args, v2_args, wait_completed


def transcript(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["Transcript"]["ParticipantRole"], s["Transcript"]["Content"]) for s in answer["Segments"]
            if "Transcript" in s]


def expected(file: Path) -> list[tuple[str, str]]:
    return [(t["role"], t["text"]) for t in load_conversation(file)["turns"]]


def same_turns(shown: list[tuple[str, str]], recorded: list[tuple[str, str]]) -> bool:
    """Same roles and texts, where the server may have redacted spans as [PII] (V1 shows redacted text)."""
    if len(shown) != len(recorded):
        return False
    for (role, text), (want_role, want_text) in zip(shown, recorded, strict=True):
        pattern = re.escape(text).replace(re.escape("[PII]"), ".+?")
        if role != want_role or not re.fullmatch(pattern, want_text):
            return False
    return True


@pytest.mark.parametrize("name", ["chat_delivery.json", "connect_chat_transcript.json"])
def test_replay_chat_formats(livelens: Run, aws: Run, instance_id: str, name: str) -> None:
    contact_id = replay(livelens, instance_id, EXAMPLES / name)
    answer = wait_completed(aws, v2_args(instance_id, contact_id))
    assert same_turns(transcript(answer), expected(EXAMPLES / name))
    assert answer["Channel"] == "CHAT"


def test_replay_voice_jsonl(livelens: Run, aws: Run, instance_id: str) -> None:
    file = EXAMPLES / "voice_cancellation.jsonl"
    contact_id = replay(livelens, instance_id, file)
    answer = wait_completed(aws, v1_args(instance_id, contact_id))
    assert same_turns(transcript(answer), expected(file))
    offsets = [(s["Transcript"]["BeginOffsetMillis"], s["Transcript"]["EndOffsetMillis"]) for s in answer["Segments"]
               if "Transcript" in s]
    assert offsets[:2] == [(0, 3900), (4500, 9200)]  # the recording's own timing


def test_replay_chat_transcript_as_voice(livelens: Run, aws: Run, instance_id: str) -> None:
    file = EXAMPLES / "connect_chat_transcript.json"
    contact_id = replay(livelens, instance_id, file, "--channel", "voice")
    answer = wait_completed(aws, v1_args(instance_id, contact_id))  # V1 serves it: a VOICE contact
    assert same_turns(transcript(answer), expected(file))


def test_formats_load_the_same_conversation(tmp_path: Path) -> None:
    turns = [{"role": "CUSTOMER", "name": "Ann", "text": "Hi, my router is broken.", "at": 0},
             {"role": "AGENT", "name": "Bo", "text": "Sorry to hear that, let me help.", "at": 3.5}]
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps(turns))
    as_object = tmp_path / "object.json"
    as_object.write_text(json.dumps({"channel": "chat", "title": "Router", "turns": turns}))
    as_lines = tmp_path / "lines.jsonl"
    as_lines.write_text("\n".join(json.dumps(t) for t in turns) + "\n")
    connect_format = tmp_path / "connect.json"
    connect_format.write_text(json.dumps({"Version": "2019-08-26", "Transcript": [
        {"AbsoluteTime": "2024-01-01T10:00:00.000Z", "Type": "EVENT",
         "ContentType": "application/vnd.amazonaws.connect.event.participant.joined", "ParticipantRole": "CUSTOMER"},
        {"AbsoluteTime": "2024-01-01T10:00:01.000Z", "Type": "MESSAGE", "ContentType": "text/plain",
         "ParticipantId": "p1", "DisplayName": "Ann", "ParticipantRole": "CUSTOMER", "Content": turns[0]["text"]},
        {"AbsoluteTime": "2024-01-01T10:00:04.500Z", "Type": "MESSAGE", "ContentType": "text/plain",
         "ParticipantId": "p2", "DisplayName": "Bo", "ParticipantRole": "AGENT", "Content": turns[1]["text"]},
    ]}))
    loaded = [load_conversation(f) for f in (as_list, as_object, as_lines)]
    for conversation in loaded:
        assert [(t["role"], t["text"], t["start"]) for t in conversation["turns"]] == [
            ("CUSTOMER", turns[0]["text"], 0.0), ("AGENT", turns[1]["text"], 3.5)]
    from_connect = load_conversation(connect_format)
    assert [(t["role"], t["text"], t["start"]) for t in from_connect["turns"]] == [
        ("CUSTOMER", turns[0]["text"], 1.0), ("AGENT", turns[1]["text"], 4.5)]
    assert load_conversation(as_lines, channel="voice")["channel"] == "voice"
    # The demo files keep their meaning: chat in seconds, voice in milliseconds.
    demo = Path(__file__).parents[2] / "src" / "livelens" / "demo"
    assert load_conversation(demo / "internet_voice.json")["turns"][1]["start"] == 4.8
    assert load_conversation(demo / "billing_chat.json")["turns"][1]["start"] == 4.0


@pytest.mark.parametrize("content", ["not json at all", '{"turns": [{"role": "CUSTOMER"}]}',
                                     '{"turns": [{"role": "BOSS", "text": "hi"}]}', "[]",
                                     '{"Transcript": [{"Type": "EVENT"}]}'])
def test_bad_files_are_one_line_errors(livelens: Run, tmp_path: Path, content: str) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content)
    with pytest.raises(ConversationError):
        load_conversation(file)
    result = livelens("replay", str(file))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and str(file) in result.stderr


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def client(self, service: str) -> Any:
        recorder = self

        class Client:
            def __getattr__(self, name: str) -> Any:
                def call(**kwargs: Any) -> Any:
                    recorder.calls.append((name, kwargs))
                    return {"ContactId": "c1", "ParticipantToken": "t", "ParticipantCredentials":
                            {"ParticipantToken": "t2"}, "ConnectionCredentials": {"ConnectionToken": "k"}}
                return call

        return Client()

    def signed_post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("utterance", payload))
        return {}


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_speed_scales_the_original_timing(speed: float) -> None:
    chat = load_conversation(EXAMPLES / "chat_delivery.json")
    waits: list[float] = []
    play_chat(Recorder(), "i", chat, speed=speed, sleep=waits.append)  # type: ignore[arg-type]
    assert sum(waits) == pytest.approx(58 / speed)
    assert waits[:3] == pytest.approx([0, 6 / speed, 8 / speed])
    voice = load_conversation(EXAMPLES / "voice_cancellation.jsonl")
    waits = []
    recorder = Recorder()
    play_voice(recorder, "i", voice, speed=speed, sleep=waits.append)  # type: ignore[arg-type]
    assert sum(waits) == pytest.approx(47.6 / speed)  # each utterance is posted when it ends
    assert [c[0] for c in recorder.calls][-1] == "stop_contact"
