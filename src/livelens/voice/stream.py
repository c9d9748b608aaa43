"""``GET /livelens/v1/instances/{InstanceId}/contacts/{ContactId}/audio`` (WebSocket): a voice
contact's audio, transcribed as it is spoken.

Authentication is a SigV4 presigned URL (service ``connect``, as botocore's ``SigV4QueryAuth`` makes
it, the way Amazon Transcribe streaming's WebSocket is signed); a missing, forged or expired signature
is refused with 403 before the upgrade. The caller's policy must allow ``PutUtterances`` (the
audio ends up as utterances). Query parameters (Transcribe's names where it has one):

``sample-rate``            8000 or 16000 (default 16000)
``media-encoding``         ``pcm`` (16-bit signed little-endian; the only one)
``number-of-channels``     1 (default) or 2, interleaved
``participant-role``       mono: the speaker's role, AGENT or CUSTOMER (default CUSTOMER)
``channel-roles``          stereo: the role of channel 0 and 1, default ``AGENT,CUSTOMER``
``start-offset-millis``    the offset of the first sample from the start of the call (default: the time
                           since the contact's InitiationTimestamp when the socket opened)

Binary frames carry the PCM (any length; a sample split across frames is joined). An empty binary
frame, or the text frame ``{"message-type": "event", "event": "end"}``, ends the audio: the speech in
progress is transcribed, and the socket closes (1000) after the last transcript was sent. Closing the
socket does the same, without the answers.

Voice activity detection per channel (``vad.py``) cuts utterances; each is decoded in the decoding
thread pool (never in the event loop: CTranslate2 releases the GIL, so the pool's threads decode side
by side while the loop keeps receiving audio) and stored through :class:`VoiceIngest`, exactly as a
text utterance posted to ``/utterances``: durable once stored, analysed, rule-checked and redacted by
the workers. For each one the socket answers a text frame shaped like Transcribe's
``TranscriptEvent`` (the text redacted under RedactedOnly; the original under RedactedAndOriginal)::

    {"Transcript": {"Results": [{"ResultId": "<segment id>", "StartTime": 1.23, "EndTime": 2.5,
      "IsPartial": false, "ChannelId": "ch_0", "ParticipantRole": "AGENT",
      "Alternatives": [{"Transcript": "..."}]}]}}

Errors after the upgrade are one text frame ``{"__type": ..., "Message": ...}`` and a close (1008).

When the contact records the socket's roles (``livelens:recording``), the session also feeds a
:class:`~livelens.voice.recording.Recorder`, holding audio in memory until the utterances that can contain
it are redacted (voice/recording.py). ``voice/transcribe.py`` serves the same session behind Amazon
Transcribe's own framing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from livelens.analysis.types import Turn
from livelens.api.auth import AuthError, SigV4Verifier
from livelens.api.authz import Authorizer
from livelens.api.serialize import error_body, error_status
from livelens.contacts.models import Contact
from livelens.errors import ContactNotFoundException, InvalidRequestException, LivelensError
from livelens.ingest.voice import VoiceIngest
from livelens.voice import unavailable_reason
from livelens.voice.audio import MODEL_RATE, SAMPLE_RATES, AudioFormat, split_channels
from livelens.voice.partials import PartialHub
from livelens.voice.recording import Recorder, RecordingStore, new_record, pii_time_ranges

PATH = "/livelens/v1/instances/{InstanceId}/contacts/{ContactId}/audio"
OPERATION = "PutUtterances"
ROLES = ("AGENT", "CUSTOMER")
POLICY_VIOLATION = 1008
log = logging.getLogger("livelens.voice")


@dataclass(frozen=True)
class StreamRequest:
    instance_id: str
    contact_id: str
    fmt: AudioFormat
    roles: tuple[str, ...]
    start_offset_ms: int | None


def parse_request(instance_id: str, contact_id: str, query: Any) -> StreamRequest:
    """Validate the query parameters (errors name the parameter)."""
    def integer(name: str, default: int | None) -> int | None:
        raw = query.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise InvalidRequestException(f"{name} must be an integer, not '{raw}'.") from None

    rate = integer("sample-rate", 16000)
    if rate not in SAMPLE_RATES:
        raise InvalidRequestException(f"sample-rate must be 8000 or 16000, not {rate}.")
    encoding = query.get("media-encoding", "pcm")
    if encoding != "pcm":
        raise InvalidRequestException(f"media-encoding must be pcm (16-bit signed little-endian), not '{encoding}'.")
    channels = integer("number-of-channels", 1)
    if channels not in (1, 2):
        raise InvalidRequestException(f"number-of-channels must be 1 or 2, not {channels}.")
    if channels == 1:
        if "channel-roles" in query:
            raise InvalidRequestException("channel-roles is for number-of-channels=2; use participant-role.")
        roles: tuple[str, ...] = (query.get("participant-role", "CUSTOMER"),)
    else:
        if "participant-role" in query:
            raise InvalidRequestException("participant-role is for mono audio; use channel-roles for 2 channels.")
        roles = tuple(query.get("channel-roles", "AGENT,CUSTOMER").split(","))
        if len(roles) != 2:
            raise InvalidRequestException("channel-roles must name 2 roles, channel 0 first: AGENT,CUSTOMER.")
    for role in roles:
        if role not in ROLES:
            name = "participant-role" if channels == 1 else "channel-roles"
            raise InvalidRequestException(f"{name}: '{role}' is not one of {', '.join(ROLES)}.")
    start = integer("start-offset-millis", None)
    if start is not None and start < 0:
        raise InvalidRequestException("start-offset-millis must not be negative.")
    assert rate is not None and channels is not None
    return StreamRequest(instance_id, contact_id, AudioFormat(rate, channels), roles, start)


def _audio_end_ms(utterance: Any) -> int:
    """Where an utterance's samples (padding included) end, in ms from the start of the channel."""
    return int(utterance.audio_start_ms + len(utterance.samples) * 1000 // MODEL_RATE)


def offset_since_start(contact: Contact) -> int:
    try:
        started = datetime.fromisoformat(contact.initiation_timestamp.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(0, int((datetime.now(UTC) - started).total_seconds() * 1000))


def socket_base_url(websocket: WebSocket) -> str:
    """The scheme and host an audio socket's presigned URL was signed for (clients sign ``http://`` + Host)."""
    return f"http://{websocket.headers.get('host', '')}"


def live_voice_contact(contact: Contact) -> Contact:
    """``contact``, if audio may stream into it: a VOICE contact that has not ended."""
    if contact.channel != "VOICE":
        raise InvalidRequestException(f"Contact {contact.id} is a {contact.channel} contact; audio is for "
                                      "VOICE contacts.")
    if contact.ended:
        raise ContactNotFoundException(f"Contact {contact.id} has ended.")
    return contact


class AudioStream:
    """The audio WebSocket endpoint (one instance per server)."""

    def __init__(self, voice: VoiceIngest, verifier: SigV4Verifier, authorizer: Authorizer | None, *,
                 decoder: Executor, decode_threads: int, base_url: Callable[[Request], str],
                 partials: PartialHub | None = None, partial_seconds: float = 0.0,
                 recordings: RecordingStore | None = None) -> None:
        self.voice = voice
        self.recordings = recordings
        self.verifier = verifier
        self.authorizer = authorizer
        self.decoder = decoder
        self.decode_threads = decode_threads
        self.partials = partials
        self.partial_ms = int(partial_seconds * 1000)
        self.base_url = base_url

    def _open(self, websocket: WebSocket) -> tuple[StreamRequest, Contact]:
        instance_id = str(websocket.path_params["InstanceId"])
        contact_id = str(websocket.path_params["ContactId"])
        caller = self.verifier.verify_connection(websocket, socket_base_url(websocket), presigned_only=True)
        if self.authorizer is not None:
            self.authorizer.check(caller.access_key, caller.region, "livelens", OPERATION,
                                  {"InstanceId": instance_id})
        request = parse_request(instance_id, contact_id, websocket.query_params)
        return request, live_voice_contact(self.voice.center.describe_contact(instance_id, contact_id))

    async def handle(self, websocket: WebSocket) -> None:
        reason = unavailable_reason()
        if reason is not None:
            await self.deny(websocket, "ServiceUnavailableException", 503, reason)
            return
        try:
            request, contact = await run_in_threadpool(self._open, websocket)
        except AuthError as exc:
            await self.deny(websocket, exc.code, 403, exc.message)
            return
        except LivelensError as exc:
            await self.deny(websocket, exc.code, error_status(None, exc.code), exc.message)
            return
        start = request.start_offset_ms if request.start_offset_ms is not None else offset_since_start(contact)
        recorder = await run_in_threadpool(self.start_recording, request, contact, start)
        await websocket.accept()
        await AudioSession(self, websocket, request, contact, start, recorder).run()

    def start_recording(self, request: StreamRequest, contact: Contact, start_ms: int) -> Recorder | None:
        """The socket's recorder, when the contact records one of its roles (voice/recording.py)."""
        if self.recordings is None or not set(contact.recording) & set(request.roles):
            return None
        record = new_record(request.instance_id, request.contact_id, request.fmt, request.roles, contact.recording,
                            start_ms, contact.redacts)
        self.recordings.start(self.voice.center.storage, record)
        return Recorder(self.recordings, self.voice.center.storage, record)

    @staticmethod
    async def deny(websocket: WebSocket, code: str, status: int, message: str) -> None:
        """Refuse the upgrade with the AWS JSON error (or a bare 403 where the server cannot send one)."""
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(Response(
                error_body(code, message), status, media_type="application/json",
                headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())}))
        else:
            await websocket.close(code=POLICY_VIOLATION)


class AudioSession:
    """One open audio socket: receive → VAD (thread) → decode queue → decode (pool) → ingest (thread)."""

    def __init__(self, endpoint: AudioStream, websocket: WebSocket, request: StreamRequest, contact: Contact,
                 start_ms: int, recorder: Recorder | None = None) -> None:
        from livelens.voice.vad import ChannelCutter

        self.endpoint = endpoint
        self.websocket = websocket
        self.request = request
        self.contact = contact
        self.start_ms = start_ms
        self.id = uuid.uuid4().hex[:12]
        self.finals = [0] * len(request.roles)  # utterances cut per channel
        self.partial_marks = [0] * len(request.roles)  # end (ms) of the audio of the last partial per channel
        self.partial_task: asyncio.Task[None] | None = None
        self.decoding_final = False  # partials wait while a final decodes: finals come first
        self.cutters = [ChannelCutter() for _ in request.roles]
        self.remainder = b""
        self.queue: asyncio.Queue[tuple[int, Any] | None] = asyncio.Queue()
        self.connected = True
        # The recording (voice/recording.py): under a redacting policy, audio is held until every utterance
        # that can hold it is redacted; ``unsettled`` has each channel's utterances cut and not yet released
        # ((audio start, audio end) ms). ``lock`` makes cutting and registering one step for the writer.
        self.recorder = recorder
        self.lock = threading.Lock()
        self.unsettled: list[deque[tuple[int, int]]] = [deque() for _ in request.roles]
        self.flushed = False

    async def run(self) -> None:
        decoding = asyncio.create_task(self._decode_all())
        try:
            await self._receive_all()
            flushed = await run_in_threadpool(self._flush)
            for item in flushed:
                self.queue.put_nowait(item)
        finally:
            if self.partial_task is not None:
                self.partial_task.cancel()
            self.queue.put_nowait(None)
            await decoding
            if self.recorder is not None:
                await run_in_threadpool(self._finish_recording)
        if self.connected:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self.websocket.close(code=1000)

    async def _next_audio(self) -> bytes | None:
        """The next piece of PCM; ``None`` at the end of the audio (or when the client went away)."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.connected = False
                return None
            data = message.get("bytes")
            if data is None:
                text = message.get("text") or ""
                with contextlib.suppress(ValueError):
                    if json.loads(text).get("event") == "end":
                        return None
                continue
            return data or None

    async def _receive_all(self) -> None:
        while (data := await self._next_audio()) is not None:
            finals, partial = await run_in_threadpool(self._feed, data)
            for item in finals:
                self.queue.put_nowait(item)
            idle = self.queue.empty() and not self.decoding_final
            if partial is not None and idle and (self.partial_task is None or self.partial_task.done()):
                self.partial_task = asyncio.create_task(self._partial(*partial))

    def _feed(self, data: bytes) -> tuple[list[tuple[int, Any]], tuple[int, int, Any] | None]:
        """The utterances that ended in ``data``, and an utterance in progress due for a partial."""
        pcm = self.remainder + data
        usable = len(pcm) - len(pcm) % self.request.fmt.frame_bytes
        pcm, self.remainder = pcm[:usable], pcm[usable:]
        found: list[tuple[int, Any]] = []
        partial = None
        with self.lock:
            if self.recorder is not None:
                self.recorder.add(pcm)
            for channel, samples in enumerate(split_channels(pcm, self.request.fmt)):
                ended = self.cutters[channel].feed(samples)
                found.extend((channel, u) for u in ended)
                self.unsettled[channel].extend((u.audio_start_ms, _audio_end_ms(u)) for u in ended)
            self._settle()
        for channel, cutter in enumerate(self.cutters):
            ended = [u for c, u in found if c == channel]
            if ended:
                self.finals[channel] += len(ended)
                self.partial_marks[channel] = 0
            if self.endpoint.partial_ms <= 0 or partial is not None:
                continue
            ongoing = cutter.in_progress()
            if ongoing is not None and ongoing.end_ms - max(self.partial_marks[channel], ongoing.begin_ms) \
                    >= self.endpoint.partial_ms:
                self.partial_marks[channel] = ongoing.end_ms
                partial = (channel, self.finals[channel], ongoing)
        return found, partial

    async def _partial(self, channel: int, number: int, utterance: Any) -> None:
        """Decode the utterance heard so far; push it to the contact's segment streams and this socket."""
        from livelens.voice.recognizer import load_recognizer

        if self.contact.redacts:
            # A half-spoken card or phone number is not yet recognisable as PII: under a redacting policy
            # only finals (redacted whole) leave the server.
            return
        loop = asyncio.get_running_loop()
        try:
            recognizer = await loop.run_in_executor(self.endpoint.decoder, load_recognizer,
                                                    self.endpoint.decode_threads)
            text = (await loop.run_in_executor(self.endpoint.decoder, recognizer.transcribe_partial,
                                               np.asarray(utterance.samples))).text
        except Exception:  # a partial is best effort: the final follows
            log.debug("a partial transcript failed", exc_info=True)
            return
        if not text or self.finals[channel] != number:  # nothing heard, or the final is out already
            return
        role = self.request.roles[channel]
        shown = text
        utterance_id = f"{self.id}-{channel}-{number}"
        begin, end = self.start_ms + utterance.begin_ms, self.start_ms + utterance.end_ms
        if self.endpoint.partials is not None:
            self.endpoint.partials.publish(self.request.contact_id, {"Utterance": {
                "Id": utterance_id, "ParticipantId": role, "ParticipantRole": role, "PartialContent": shown,
                "BeginOffsetMillis": begin, "EndOffsetMillis": end}})
        await self._send({"Transcript": {"Results": [{
            "ResultId": utterance_id, "StartTime": begin / 1000, "EndTime": end / 1000, "IsPartial": True,
            "ChannelId": f"ch_{channel}", "ParticipantRole": role, "Alternatives": [{"Transcript": shown}],
        }]}})

    def _flush(self) -> list[tuple[int, Any]]:
        with self.lock:
            found = [(channel, u) for channel, cutter in enumerate(self.cutters) for u in cutter.flush()]
            for channel, u in found:
                self.unsettled[channel].append((u.audio_start_ms, _audio_end_ms(u)))
            self.flushed = True
            return found

    # the recording ------------------------------------------------------------
    def _settle(self) -> None:
        """Write what no utterance still being transcribed can hold (call with ``lock`` held)."""
        if self.recorder is None:
            return
        until = None
        if self.contact.redacts:
            until = min(min([cutter.held_from_ms()] + [start for start, _ in pending])
                        for cutter, pending in zip(self.cutters, self.unsettled, strict=True))
        self.recorder.settle(until)

    def _release(self, channel: int, ranges: list[tuple[int, int]] | None) -> None:
        """The channel's oldest utterance is done: silence its PII ``ranges`` (ms from its audio start;
        ``None``: all of it) under a redacting policy, and write what settled."""
        if self.recorder is None:
            return
        with self.lock:
            start, end = self.unsettled[channel].popleft()
            if self.contact.redacts:
                for begin, stop in ranges if ranges is not None else [(0, end - start)]:
                    self.recorder.silence(channel, start + begin, start + stop)
            self._settle()

    def _finish_recording(self) -> None:
        """Write the rest. Fail closed under a redacting policy: utterances never released (decoding
        cancelled) and speech never cut (the socket failed before the flush) are silenced."""
        assert self.recorder is not None
        with self.lock:
            if self.contact.redacts:
                for channel, pending in enumerate(self.unsettled):
                    for start, end in pending:
                        self.recorder.silence(channel, start, end)
                    if not self.flushed:
                        self.recorder.silence(channel, self.cutters[channel].held_from_ms(), 1 << 40)
            self.recorder.finish()

    async def _decode_all(self) -> None:
        from livelens.voice.recognizer import load_recognizer

        loop = asyncio.get_running_loop()
        failed = False
        while (item := await self.queue.get()) is not None:
            channel, utterance = item
            silenced: list[tuple[int, int]] | None = None  # the PII's time ranges; None: the whole utterance
            if failed:
                await run_in_threadpool(self._release, channel, None)
                continue
            self.decoding_final = True
            try:
                recognizer = await loop.run_in_executor(self.endpoint.decoder, load_recognizer,
                                                        self.endpoint.decode_threads)
                transcription = await loop.run_in_executor(self.endpoint.decoder, recognizer.transcribe,
                                                           np.asarray(utterance.samples))
                if not transcription.text.strip():
                    silenced = []
                    continue
                event, silenced = await run_in_threadpool(self._store, channel, utterance, transcription)
            except LivelensError as exc:  # e.g. the contact ended meanwhile
                failed = True
                await self._send({"__type": exc.code, "Message": exc.message}, close=True)
                continue
            except Exception:
                log.exception("transcribing an utterance of contact %s failed", self.request.contact_id)
                failed = True
                await self._send({"__type": "InternalServiceException",
                                  "Message": "Transcribing the audio failed; see the server log."}, close=True)
                continue
            finally:
                self.decoding_final = False
                await run_in_threadpool(self._release, channel, silenced)
            await self._send(event)

    def _store(self, channel: int, utterance: Any, transcription: Any
               ) -> tuple[dict[str, Any], list[tuple[int, int]] | None]:
        """Store the utterance; its transcript event, and (for the recording) its PII's time ranges."""
        text = transcription.text
        role = self.request.roles[channel]
        begin, end = self.start_ms + utterance.begin_ms, self.start_ms + utterance.end_ms
        answer = self.endpoint.voice.add_utterances(self.request.instance_id, self.request.contact_id, {
            "ParticipantId": role, "ParticipantRole": role, "Content": text,
            "BeginOffsetMillis": begin, "EndOffsetMillis": end,
        })
        item_id = answer["Id"]
        with self.endpoint.voice.center.storage.read() as tx:
            item = tx.find_item(self.request.contact_id, item_id=item_id) or {}
        shown = (item.get("redaction") or {}).get("content") or item.get("content") or ""
        ranges: list[tuple[int, int]] | None = []
        if self.recorder is not None and self.contact.redacts:
            ranges = pii_time_ranges(transcription.words, self._pii_spans(item_id, role, text, item),
                                     _audio_end_ms(utterance) - utterance.audio_start_ms)
        return {"Transcript": {"Results": [{
            "ResultId": item_id, "StartTime": begin / 1000, "EndTime": end / 1000, "IsPartial": False,
            "ChannelId": f"ch_{channel}", "ParticipantRole": role,
            "Alternatives": [{"Transcript": shown}],
        }]}}, ranges

    def _pii_spans(self, item_id: str, role: str, text: str, item: dict[str, Any]) -> list[tuple[int, int]] | None:
        """Where the redactor finds PII in ``text`` (character spans); ``None`` if it could not tell.
        Under RedactedOnly that is the stored redaction; otherwise the redactor runs here, as the
        analysis worker will, with the turn it answers."""
        record = item.get("redaction")
        if record is None:
            center = self.endpoint.voice.center
            if center.redactor is None:
                return None
            with center.storage.read() as tx:
                preceding = center.preceding_text(tx, self.request.contact_id, role)
            turn = Turn(id=item_id, contact_id=self.request.contact_id, channel="VOICE", participant_id=role,
                        participant_role=role, content=text, language=self.contact.language, preceding=preceding)
            try:
                redaction = center.redactor(self.contact, turn)
            except Exception:
                log.exception("redacting an utterance for the recording failed; it is silenced whole")
                return None
            return [(span.begin, span.end) for span in redaction.original_spans]
        if any(entity[2] == "UNKNOWN" for entity in record.get("entities", ())):  # fail-closed whole-turn mask
            return None
        return [(begin, end) for begin, end in record["original"]]

    async def _send(self, message: dict[str, Any], close: bool = False) -> None:
        if not self.connected:
            return
        try:
            await self.websocket.send_text(json.dumps(message))
            if close:
                self.connected = False
                await self.websocket.close(code=POLICY_VIOLATION)
        except (RuntimeError, WebSocketDisconnect):
            self.connected = False
