"""``GET /stream-transcription-websocket`` (WebSocket): Amazon Transcribe streaming's own protocol, so that
existing Transcribe streaming clients (the AWS SDKs' WebSocket handlers, hand-written ones following the
Transcribe docs) can stream a call into livelens unchanged but for the endpoint.

**Which contact.** A Transcribe stream carries no contact, but it has a session id (``session-id``,
``SessionId`` in the SDKs: a UUID the client may choose), and livelens contact ids are UUIDs: the
``session-id`` must be the id of a live VOICE contact (from CreateContact). The contact's instance is
the one the caller's policy must reach with ``PutUtterances``.

**The request**, as the SDKs send it: a presigned URL (SigV4 query, signing name ``transcribe``, any
region; missing, forged or expired → 403 before the upgrade), with ``language-code`` (English only:
``en-US``, ``en-GB`` …: the recogniser is Whisper tiny.en), ``media-encoding=pcm``, ``sample-rate`` 8000
or 16000, and optionally ``enable-channel-identification=true`` with ``number-of-channels=2`` (channel
0 the agent, 1 the customer, as Contact Lens lays out a call). Mono audio is the customer's; the
livelens parameter ``participant-role=AGENT`` says otherwise. Other Transcribe parameters are ignored.

**Frames.** Binary WebSocket frames of AWS event-stream messages (voice/eventstream.py): ``AudioEvent``
messages (``:message-type`` event, ``:event-type`` AudioEvent) carrying 16-bit PCM; an empty
``AudioEvent`` ends the audio. Messages wrapped as the SDKs sign them (``:date`` and ``:chunk-signature``
headers around the encoded event, each signature chained from the previous one, the first from the
URL's ``X-Amz-Signature``) have their signature checked; unsigned ones are accepted (the presigned URL
authenticated the connection, as for Transcribe's hand-written clients). An empty signed message also
ends the audio.

**Answers.** ``TranscriptEvent`` messages (``:event-type`` TranscriptEvent, JSON payload
``{"Transcript": {"Results": [{"ResultId", "StartTime", "EndTime", "IsPartial", "ChannelId",
"Alternatives": [{"Transcript"}]}]}}``), partial and final, exactly as on the native audio socket (the
final's ``ResultId`` is the stored segment's Id; redacted text under a redacting policy). Errors are
event-stream ``exception`` messages (``:exception-type`` BadRequestException, InternalFailureException,
…, payload ``{"Message"}``), then the socket closes. Everything else (VAD, decoding, ingestion, the
recording) is the native audio socket's (voice/stream.py).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from livelens.api.auth import AuthError, Caller
from livelens.contacts.models import Contact
from livelens.errors import AccessDeniedException, LivelensError
from livelens.voice import unavailable_reason
from livelens.voice.audio import SAMPLE_RATES, AudioFormat
from livelens.voice.eventstream import Decoder, FramingError, event, exception
from livelens.voice.stream import (
    OPERATION,
    POLICY_VIOLATION,
    ROLES,
    AudioSession,
    AudioStream,
    StreamRequest,
    live_voice_contact,
    offset_since_start,
    socket_base_url,
)

PATH = "/stream-transcription-websocket"
SIGNING_NAME = "transcribe"
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
#: livelens' errors as the Transcribe exception types clients know.
EXCEPTION_TYPES = {"InternalServiceException": "InternalFailureException",
                   "ServiceUnavailableException": "ServiceUnavailableException",
                   "LimitExceededException": "LimitExceededException"}


class BadRequest(LivelensError):
    code = "BadRequestException"


def parse_transcribe_request(query: Any) -> tuple[str, AudioFormat, tuple[str, ...]]:
    """The contact id, audio format and channel roles of a Transcribe stream request (errors name the
    parameter, as Transcribe's BadRequestException does)."""
    language = query.get("language-code")
    if not language or not language.lower().startswith("en-"):
        raise BadRequest(f"language-code '{language or ''}' is not supported: livelens transcribes English "
                         "(en-US, en-GB, en-AU …) with Whisper tiny.en.")
    if query.get("media-encoding", "pcm") != "pcm":
        raise BadRequest(f"media-encoding must be pcm, not '{query.get('media-encoding')}'.")
    try:
        rate = int(query.get("sample-rate", ""))
    except ValueError:
        raise BadRequest("sample-rate must be 8000 or 16000.") from None
    if rate not in SAMPLE_RATES:
        raise BadRequest(f"sample-rate must be 8000 or 16000, not {rate}.")
    channels = query.get("number-of-channels", "1")
    identified = query.get("enable-channel-identification", "false").lower() == "true"
    if channels not in ("1", "2") or (channels == "2") != identified:
        raise BadRequest("number-of-channels=2 needs enable-channel-identification=true (mono: neither).")
    if channels == "2":
        roles: tuple[str, ...] = ("AGENT", "CUSTOMER")
    else:
        roles = (query.get("participant-role", "CUSTOMER"),)
        if roles[0] not in ROLES:
            raise BadRequest(f"participant-role must be AGENT or CUSTOMER, not '{roles[0]}'.")
    session = query.get("session-id")
    if not session:
        raise BadRequest("session-id must be the ContactId of a live livelens VOICE contact (CreateContact).")
    return session, AudioFormat(rate, int(channels)), roles


class TranscribeStream:
    """The Transcribe-protocol endpoint, over the native audio socket's machinery."""

    def __init__(self, audio: AudioStream) -> None:
        self.audio = audio

    def _authenticate(self, websocket: WebSocket) -> tuple[Caller, str]:
        caller = self.audio.verifier.verify_connection(websocket, socket_base_url(websocket), service=SIGNING_NAME,
                                                       presigned_only=True)
        return caller, str(websocket.query_params.get("X-Amz-Signature", ""))

    def _contact(self, caller: Caller, contact_id: str) -> Contact:
        center = self.audio.voice.center
        with center.storage.read() as tx:
            record = tx.get_contact(contact_id)
        if record is None:
            raise BadRequest(f"session-id {contact_id} is not a livelens contact; create a VOICE contact and "
                             "stream with its ContactId as the session id.")
        if self.audio.authorizer is not None:
            self.audio.authorizer.check(caller.access_key, caller.region, "livelens", OPERATION,
                                        {"InstanceId": record["instance_id"]})
        return live_voice_contact(center.describe_contact(record["instance_id"], contact_id))

    async def handle(self, websocket: WebSocket) -> None:
        reason = unavailable_reason()
        if reason is not None:
            await AudioStream.deny(websocket, "ServiceUnavailableException", 503, reason)
            return
        try:
            caller, seed = await run_in_threadpool(self._authenticate, websocket)
        except AuthError as exc:
            await AudioStream.deny(websocket, exc.code, 403, exc.message)
            return
        try:
            contact_id, fmt, roles = parse_transcribe_request(websocket.query_params)
            contact = await run_in_threadpool(self._contact, caller, contact_id)
        except AccessDeniedException as exc:
            await AudioStream.deny(websocket, exc.code, 403, exc.message)
            return
        except LivelensError as exc:  # after the upgrade, as an exception message the SDKs raise
            await websocket.accept()
            await _close_with(websocket, exception("BadRequestException", exc.message))
            return
        request = StreamRequest(contact.instance_id, contact.id, fmt, roles, None)
        start = offset_since_start(contact)
        recorder = await run_in_threadpool(self.audio.start_recording, request, contact, start)
        await websocket.accept()
        secret = self.audio.verifier.credentials.get(caller.access_key, "")
        signer = ChunkSignatures(secret, caller.region, seed)
        await TranscribeSession(self.audio, websocket, request, contact, start, recorder, signer).run()


async def _close_with(websocket: WebSocket, message: bytes) -> None:
    try:
        await websocket.send_bytes(message)
        await websocket.close(code=POLICY_VIOLATION)
    except (RuntimeError, WebSocketDisconnect):
        pass


class ChunkSignatures:
    """The chain of event signatures the AWS SDKs put on each message of a stream (SigV4 for event streams:
    ``AWS4-HMAC-SHA256-PAYLOAD``, the date, the scope, the previous signature, and the SHA-256 of the
    ``:date`` header's encoding and of the payload)."""

    def __init__(self, secret: str, region: str, seed: str) -> None:
        self.secret = secret
        self.region = region
        self.prior = seed

    def check(self, date_ms: int, signature: bytes, payload: bytes) -> bool:
        moment = datetime.fromtimestamp(date_ms / 1000, UTC)
        day, stamp = moment.strftime("%Y%m%d"), moment.strftime("%Y%m%dT%H%M%SZ")
        scope = f"{day}/{self.region}/{SIGNING_NAME}/aws4_request"
        date_header = struct.pack(">B", 5) + b":date" + struct.pack(">Bq", 8, date_ms)
        to_sign = "\n".join([CHUNK_ALGORITHM, stamp, scope, self.prior, hashlib.sha256(date_header).hexdigest(),
                             hashlib.sha256(payload).hexdigest()])
        key = ("AWS4" + self.secret).encode()
        for part in (day, self.region, SIGNING_NAME, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            return False
        self.prior = expected.hex()
        return True


class TranscribeSession(AudioSession):
    """An audio session whose frames are event-stream ``AudioEvent``s and whose answers are
    ``TranscriptEvent`` / exception messages."""

    def __init__(self, endpoint: AudioStream, websocket: WebSocket, request: StreamRequest, contact: Contact,
                 start_ms: int, recorder: Any, signatures: ChunkSignatures) -> None:
        super().__init__(endpoint, websocket, request, contact, start_ms, recorder)
        self.decoder = Decoder()
        self.signatures = signatures
        self.ended = False

    async def _next_audio(self) -> bytes | None:
        while not self.ended:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.connected = False
                return None
            data = message.get("bytes")
            if data is None:
                continue
            try:
                audio = self._audio_of(data)
            except FramingError as exc:
                await self._send({"__type": "BadRequestException", "Message": str(exc)}, close=True)
                return None
            if audio:
                return audio
        return None

    def _audio_of(self, data: bytes) -> bytes:
        """The PCM in the messages of one frame; sets ``ended`` at the end-of-audio message."""
        pcm = b""
        for message in self.decoder.feed(data):
            headers = message.headers
            if ":chunk-signature" in headers:
                date, signature = headers.get(":date"), headers[":chunk-signature"]
                if not isinstance(date, int) or not isinstance(signature, bytes) or \
                        not self.signatures.check(date, signature, message.payload):
                    raise FramingError("The event's :chunk-signature does not match (signed with another key, "
                                       "or a message was lost or altered).")
                if not message.payload:
                    self.ended = True
                    return pcm
                inner = list(Decoder().feed(message.payload))
                if len(inner) != 1:
                    raise FramingError("A signed event must carry exactly one event-stream message.")
                headers, payload = inner[0].headers, inner[0].payload
            else:
                payload = message.payload
            if headers.get(":message-type") != "event":
                raise FramingError(f"Expected an event message, not :message-type {headers.get(':message-type')!r}.")
            kind = headers.get(":event-type")
            if kind == "AudioEvent":
                if not payload:
                    self.ended = True
                    return pcm
                pcm += payload
            elif kind != "ConfigurationEvent":  # channel definitions and post-call settings: not used here
                raise FramingError(f"Unknown :event-type {kind!r}; send AudioEvent messages.")
        return pcm

    async def _send(self, message: dict[str, Any], close: bool = False) -> None:
        if not self.connected:
            return
        if "__type" in message:
            code = EXCEPTION_TYPES.get(message["__type"], "BadRequestException")
            frame = exception(code, message["Message"])
        else:
            frame = event("TranscriptEvent", message)
        try:
            await self.websocket.send_bytes(frame)
            if close:
                self.connected = False
                await self.websocket.close(code=POLICY_VIOLATION)
        except (RuntimeError, WebSocketDisconnect):
            self.connected = False
