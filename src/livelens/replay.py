"""Playing a recorded conversation into a livelens server, as a live contact.

The player uses the same APIs a real client does: connect StartChatContact,
CreateParticipant and connectparticipant SendMessage for chat; connect
CreateContact and the native utterance API for voice; StopContact at the end.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
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
    session_token: str | None = None

    def client(self, service: str) -> Any:
        session = botocore.session.get_session()
        return session.create_client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.session_token,
            config=Config(retries={"max_attempts": 2}),
        )

    def signed_post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to livelens' native API, SigV4-signed like a connect call."""
        body = json.dumps(payload).encode()
        request = AWSRequest("POST", self.url + path, data=body, headers={"Content-Type": "application/json"})
        credentials = Credentials(self.access_key, self.secret_key, self.session_token)
        SigV4Auth(credentials, "connect", self.region).add_auth(request)
        http = urllib.request.Request(self.url + path, data=body, headers=dict(request.headers), method="POST")
        with urllib.request.urlopen(http, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer


ROLES = ("AGENT", "CUSTOMER", "SUPERVISOR", "CUSTOM_BOT", "SYSTEM")
CHAT_CONTENT_TYPES = ("text/plain", "text/markdown")


class ConversationError(ValueError):
    """A conversation file livelens cannot read (the message says where and why)."""


def load_conversation(path: Path, channel: str | None = None) -> dict[str, Any]:
    """Read a recorded conversation into the player's form.

    Accepted formats (detected from the content):

    * the simple turn list, JSON: ``{"channel": "chat"|"voice", "title": ..., "units": "s"|"ms",
      "turns": [{"role": "CUSTOMER", "name": ..., "text": ..., "at": 0, "end": ...}, ...]}`` or just
      the list of turns;
    * the same turns as JSON Lines, one turn per line, optionally after a header line without
      ``text`` (``{"channel": "voice", "title": ..., "units": "ms"}``);
    * an Amazon Connect chat transcript (``{"Version": "2019-08-26", "Participants": [...],
      "Transcript": [{"AbsoluteTime": ..., "Type": "MESSAGE", "ParticipantRole": ..., "Content": ...}]}``),
      as Amazon Connect stores it in S3, or a GetTranscript answer.

    ``at`` / ``end`` are offsets from the start of the conversation, in seconds unless ``units`` says
    ``ms``; without ``units`` a voice conversation counts in milliseconds and a chat one in seconds
    (the demo files' convention). ``channel`` overrides the file's channel.

    The result: ``{"channel", "title", "turns": [{"role", "name", "speaker", "text", "start", "end"}]}``
    with ``start`` / ``end`` in seconds.
    """
    text = path.read_text(encoding="utf-8")
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError:
        document = _json_lines(text, path)
    if isinstance(document, dict) and isinstance(document.get("Transcript"), list):
        conversation = _from_connect_transcript(document, path)
    else:
        conversation = _from_turn_list(document, path)
    if channel is not None:
        conversation["channel"] = channel
    if conversation["channel"] not in ("chat", "voice"):
        raise ConversationError(f"{path}: channel must be chat or voice, not {conversation['channel']!r}")
    if not conversation["turns"]:
        raise ConversationError(f"{path}: no turns to replay")
    return conversation


def _json_lines(text: str, path: Path) -> Any:
    header: dict[str, Any] = {}
    turns: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConversationError(f"{path}:{number}: not JSON or JSON Lines ({exc.msg})") from None
        if isinstance(item, dict) and "text" not in item and not turns:
            header = item
        else:
            turns.append(item)
    return {**header, "turns": turns}


def _from_turn_list(document: Any, path: Path) -> dict[str, Any]:
    if isinstance(document, list):
        document = {"turns": document}
    if not isinstance(document, dict) or not isinstance(document.get("turns"), list):
        raise ConversationError(f"{path}: expected a turn list, JSON Lines turns or an Amazon Connect transcript")
    channel = str(document.get("channel", "chat")).lower()
    units = document.get("units") or ("ms" if channel == "voice" else "s")
    if units not in ("s", "ms"):
        raise ConversationError(f"{path}: units must be s or ms, not {units!r}")
    scale = 1000.0 if units == "ms" else 1.0
    turns: list[dict[str, Any]] = []
    previous_end = 0.0
    for number, raw in enumerate(document["turns"], start=1):
        if not isinstance(raw, dict) or not str(raw.get("text", "")).strip():
            raise ConversationError(f"{path}: turn {number} needs a non-empty text")
        role = str(raw.get("role", "CUSTOMER")).upper()
        if role not in ROLES:
            raise ConversationError(f"{path}: turn {number} has role {role!r}; use one of {', '.join(ROLES)}")
        try:
            start = float(raw["at"]) / scale if "at" in raw else previous_end
            end = float(raw["end"]) / scale if "end" in raw else start + _speaking_time(str(raw["text"]))
        except (TypeError, ValueError):
            raise ConversationError(f"{path}: turn {number} has a non-numeric at/end") from None
        if start < 0 or end < start:
            raise ConversationError(f"{path}: turn {number} must have 0 <= at <= end")
        name = raw.get("name")
        turns.append({"role": role, "name": name, "speaker": str(raw.get("speaker") or name or role),
                      "text": str(raw["text"]), "start": start, "end": end})
        previous_end = end
    return {"channel": channel, "title": str(document.get("title") or path.stem), "turns": turns}


def _speaking_time(text: str) -> float:
    """Seconds it takes to say ``text`` at about 150 words a minute (at least one second)."""
    return max(1.0, round(len(text.split()) * 0.4, 1))


def _parse_time(value: Any) -> float | None:
    from datetime import datetime

    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _from_connect_transcript(document: dict[str, Any], path: Path) -> dict[str, Any]:
    items = [item for item in document["Transcript"] if isinstance(item, dict)]
    times = [t for t in (_parse_time(item.get("AbsoluteTime")) for item in items) if t is not None]
    origin = min(times) if times else 0.0
    turns: list[dict[str, Any]] = []
    previous = 0.0
    for item in items:
        if item.get("Type") != "MESSAGE" or item.get("ContentType", "text/plain") not in CHAT_CONTENT_TYPES:
            continue
        content = str(item.get("Content", "")).strip()
        if not content:
            continue
        role = str(item.get("ParticipantRole", "CUSTOMER")).upper()
        if role not in ROLES:
            role = "CUSTOMER"
        moment = _parse_time(item.get("AbsoluteTime"))
        start = max(previous, moment - origin) if moment is not None else previous
        name = item.get("DisplayName")
        turns.append({"role": role, "name": name, "speaker": str(item.get("ParticipantId") or name or role),
                      "text": content, "start": start, "end": start + _speaking_time(content)})
        previous = start
    if not turns:
        raise ConversationError(f"{path}: the transcript has no text messages to replay")
    title = str(document.get("ContactId") or document.get("InitialContactId") or path.stem)
    return {"channel": "chat", "title": f"Amazon Connect chat {title}", "turns": turns}


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


def _chat_role(role: str) -> str:
    # Flow (SYSTEM) messages of a Connect transcript come from a bot participant in a replay.
    return "CUSTOM_BOT" if role == "SYSTEM" else role


def play_chat(endpoint: Endpoint, instance_id: str, conversation: dict[str, Any], speed: float = 1.0,
              sleep: Sleep = time.sleep, on_start: Callable[[str], None] = lambda contact_id: None,
              on_turn: Callable[[dict[str, Any]], None] = lambda turn: None) -> str:
    """StartChatContact, a participant per speaker, SendMessage per turn at its time, then StopContact."""
    connect = endpoint.client("connect")
    participant_api = endpoint.client("connectparticipant")
    turns = conversation["turns"]
    speakers: dict[str, tuple[str, str]] = {}  # speaker -> (role, display name)
    for turn in turns:
        speakers.setdefault(turn["speaker"], (_chat_role(turn["role"]), turn.get("name") or turn["role"].title()))
    customer = next((s for s, (role, _) in speakers.items() if role == "CUSTOMER"), None)
    customer_name = speakers[customer][1] if customer else "Customer"
    started = connect.start_chat_contact(
        InstanceId=instance_id, ContactFlowId="livelens-replay-flow",
        ParticipantDetails={"DisplayName": customer_name[:256]},
    )
    contact_id = started["ContactId"]
    on_start(contact_id)
    tokens = {customer or "__customer__": started["ParticipantToken"]}
    for speaker, (role, name) in speakers.items():
        if speaker == customer:
            continue
        if role == "CUSTOMER":  # a second customer voice: only one CUSTOMER per chat
            role = "CUSTOM_BOT"
        created = connect.create_participant(
            InstanceId=instance_id, ContactId=contact_id,
            ParticipantDetails={"ParticipantRole": role, "DisplayName": name[:256]},
        )
        tokens[speaker] = created["ParticipantCredentials"]["ParticipantToken"]
    connections = {
        speaker: participant_api.create_participant_connection(Type=["CONNECTION_CREDENTIALS"], ParticipantToken=token)[
            "ConnectionCredentials"
        ]["ConnectionToken"]
        for speaker, token in tokens.items()
    }
    previous = 0.0
    with stopped_at_end(connect, instance_id, contact_id):
        for turn in turns:
            sleep(max(0.0, (turn["start"] - previous) / speed))
            previous = turn["start"]
            participant_api.send_message(ContentType="text/plain", Content=turn["text"],
                                         ConnectionToken=connections[turn["speaker"]])
            on_turn(turn)
    return str(contact_id)


def play_voice(endpoint: Endpoint, instance_id: str, conversation: dict[str, Any], speed: float = 1.0,
               sleep: Sleep = time.sleep, on_start: Callable[[str], None] = lambda contact_id: None,
               on_turn: Callable[[dict[str, Any]], None] = lambda turn: None) -> str:
    """CreateContact (VOICE), each utterance posted when it ends (as a live transcriber would), StopContact."""
    connect = endpoint.client("connect")
    created = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")
    contact_id = created["ContactId"]
    on_start(contact_id)
    previous = 0.0
    path = f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/utterances"
    with stopped_at_end(connect, instance_id, contact_id):
        for turn in conversation["turns"]:
            sleep(max(0.0, (turn["end"] - previous) / speed))
            previous = max(previous, turn["end"])
            role = turn["role"]
            endpoint.signed_post(path, {
                "ParticipantId": role if turn["speaker"] in (role, turn.get("name")) else turn["speaker"][:256],
                "ParticipantRole": role, "Content": turn["text"],
                "BeginOffsetMillis": int(round(turn["start"] * 1000)),
                "EndOffsetMillis": int(round(turn["end"] * 1000)),
            })
            on_turn(turn)
    return str(contact_id)


def load_call_audio(call: Path | None, agent: Path | None, customer: Path | None) -> tuple[Any, bytes]:
    """A call's audio as (format, interleaved PCM): one WAV (stereo: left agent, right customer), or an agent
    and a customer mono WAV joined into two channels (the shorter padded with silence)."""
    import numpy as np

    from livelens.voice.audio import AudioFormat, WavError, read_wav

    if call is not None:
        try:
            return read_wav(call)
        except WavError as exc:
            raise ConversationError(str(exc)) from None
    if agent is None or customer is None:
        raise ConversationError("give a call recording, or both --agent and --customer")
    try:
        (agent_fmt, agent_pcm), (customer_fmt, customer_pcm) = read_wav(agent), read_wav(customer)
    except WavError as exc:
        raise ConversationError(str(exc)) from None
    if agent_fmt != customer_fmt or agent_fmt.channels != 1:
        raise ConversationError("--agent and --customer must both be mono WAV files at the same sample rate")
    left, right = np.frombuffer(agent_pcm, "<i2"), np.frombuffer(customer_pcm, "<i2")
    both = np.zeros((max(len(left), len(right)), 2), dtype="<i2")
    both[:len(left), 0], both[:len(right), 1] = left, right
    return AudioFormat(agent_fmt.sample_rate, 2), both.tobytes()


def play_audio(endpoint: Endpoint, instance_id: str, fmt: Any, pcm: bytes, speed: float = 1.0,
               on_start: Callable[[str], None] = lambda contact_id: None,
               on_event: Callable[[dict[str, Any]], None] = lambda event: None) -> str:
    """CreateContact (VOICE), the audio streamed at ``speed`` × real time to its audio WebSocket
    (stereo: channel 0 agent, 1 customer; mono: the customer), StopContact."""
    from livelens.voice.client import presigned_audio_url, stream_pcm

    connect = endpoint.client("connect")
    contact_id = str(connect.create_contact(InstanceId=instance_id, Channel="VOICE",
                                            InitiationMethod="INBOUND")["ContactId"])
    on_start(contact_id)
    params = {"sample-rate": str(fmt.sample_rate), "number-of-channels": str(fmt.channels),
              "start-offset-millis": "0"}
    params.update({"channel-roles": "AGENT,CUSTOMER"} if fmt.channels == 2 else {"participant-role": "CUSTOMER"})
    with stopped_at_end(connect, instance_id, contact_id):
        url = presigned_audio_url(endpoint.url, instance_id, contact_id, params, endpoint.access_key,
                                  endpoint.secret_key, endpoint.region, endpoint.session_token)
        stream_pcm(url, fmt, pcm, speed=speed, on_event=on_event)
    return contact_id


@contextlib.contextmanager
def stopped_at_end(connect: Any, instance_id: str, contact_id: str) -> Iterator[None]:
    """StopContact when the block ends, also when it is interrupted (Ctrl-C) or fails.

    A replay cut short still ends its contact, which then gets its summary and
    COMPLETED instead of staying IN_PROGRESS.
    """
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
        raise
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)


def play(endpoint: Endpoint, instance_id: str, conversation: dict[str, Any], **options: Any) -> str:
    """Play ``conversation`` (from :func:`load_conversation`) as a live contact; its contact id."""
    if options.get("speed", 1.0) <= 0:
        raise ValueError("speed must be greater than 0")
    player = play_voice if conversation.get("channel") == "voice" else play_chat
    return player(endpoint, instance_id, conversation, **options)
