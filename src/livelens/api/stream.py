"""``GET /livelens/v1/instances/{InstanceId}/contacts/{ContactId}/stream``: a contact's segments, pushed.

The answer is ``text/event-stream``. Each event is one segment exactly as the
list operations return it (V2 for CHAT, V1 for VOICE: the same JSON, the same
redaction, the same errors before the stream starts), in log order::

    id: <cursor>
    event: segment
    data: {"Transcript": {...}}

A segment's ``id`` is a NextToken for the same list request that resumes
right after that segment: tamper-evident (HMAC) and bound to the contact,
OutputType and SegmentTypes, so ``Last-Event-ID`` (header, or the
``LastEventId`` query parameter) resumes with no gap and no duplicate and
cannot be pointed at another contact. Before the segments of a log read
whose ``{"Channel", "Status"}`` differ from the last ones sent, an
``event: status`` carries them (what a V2 page read at that moment shows).
When the analysis is COMPLETED or
FAILED and every segment has been sent, a last ``event: end`` carries
``{"Channel", "Status"}`` and the response closes.

Segments are appended by worker processes, so waking comes through the
database: one :class:`LogWatcher` per server process reads, every
``stream_poll_interval`` seconds, the last segment seq and analysis status of
every contact some stream waits on (one query for all of them), and wakes the
streams whose contact changed; only those read their log. ``: ping`` comments
go out after ``stream_heartbeat_seconds`` of silence. For a VOICE contact whose audio
streams into this server (``/audio``), ``event: partial`` events carry the
utterance being spoken, re-decoded as it goes on (``{"Utterance": {"Id",
"ParticipantId", "ParticipantRole", "PartialContent", "BeginOffsetMillis",
"EndOffsetMillis"}}``, redacted under a redacting policy); they have no ``id``
and are not in the log. When the server shuts
down it closes open streams (without an ``end`` event), so clients reconnect
with ``Last-Event-ID`` to another node or after the restart.

Authentication is SigV4: an ``Authorization`` header, or a presigned query
string (``X-Amz-Algorithm`` … ``X-Amz-Signature``, botocore's
``SigV4QueryAuth``), service ``connect``. The caller's policy must allow
``ListRealtimeContactAnalysisSegmentsV2`` (a read) on the instance.

Errors before the first byte are the AWS JSON errors the wire endpoint
answers: 403 ``InvalidSignatureException`` / ``AccessDeniedException`` /
…; 400 ``InvalidRequestException``; 404 ``ResourceNotFoundException``;
``OutputTypeNotFoundException``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from livelens.api.auth import AuthError, Caller, SigV4Verifier
from livelens.api.authz import Authorizer
from livelens.api.serialize import error_body, error_status
from livelens.contacts.segment_log import V2_KINDS, Page, SegmentLog
from livelens.errors import InvalidRequestException, LivelensError
from livelens.storage.base import Storage
from livelens.voice.partials import PartialHub

PATH = "/livelens/v1/instances/{InstanceId}/contacts/{ContactId}/stream"
OPERATION = "ListRealtimeContactAnalysisSegmentsV2"
PAGE_SIZE = 100
OUTPUT_TYPES = ("Raw", "Redacted")
log = logging.getLogger("livelens.stream")


async def event_log_head(storage: Storage) -> int:
    """The instance event log's newest position: on the event loop where that read never waits (one
    index lookup, microseconds: cheaper than the hop to a thread), else in a thread."""
    def read() -> int:
        with storage.read() as tx:
            return tx.last_instance_event()

    return read() if storage.reads_without_waiting else await run_in_threadpool(read)


class LogWatcher:
    """Wakes waiting streams when their contact's segment log grows or its analysis ends.

    A stream clears its event *before* it reads the log, and the watcher sets it on every change it
    sees after that (the first sight of a contact counts as a change), so no commit is missed.

    Each tick first reads the instance event log's newest position (one index lookup): every
    appended segment and every end of analysis adds an event in the transaction that writes it, so
    while that position stands still no contact's marks can have moved and the marks query is
    skipped. That keeps a short ``interval`` cheap when nothing happens.
    """

    def __init__(self, storage: Storage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._marks: dict[str, tuple[int, str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._head = -1  # the event log's newest position at the last marks read

    def wake_all(self) -> None:
        """Wake every waiting stream; callable from any thread (a signal handler)."""
        def wake() -> None:
            for events in self._waiting.values():
                for event in events:
                    event.set()

        if self._loop is not None:
            self._loop.call_soon_threadsafe(wake)

    def watch(self, contact_id: str) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._waiting.setdefault(contact_id, set()).add(event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="livelens-stream-watcher")
        return event

    def unwatch(self, contact_id: str, event: asyncio.Event) -> None:
        events = self._waiting.get(contact_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiting[contact_id]
                self._marks.pop(contact_id, None)

    def _read(self, contact_ids: list[str]) -> dict[str, tuple[int, str]]:
        with self.storage.read() as tx:
            head = tx.last_instance_event()  # in the same snapshot as the marks
            marks = tx.segment_marks(contact_ids)
        self._head = head
        return marks

    async def _run(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.interval)
            contact_ids = list(self._waiting)
            try:
                if await event_log_head(self.storage) == self._head and all(c in self._marks for c in contact_ids):
                    continue  # nothing was appended or ended anywhere, and every contact has been seen
                marks = await run_in_threadpool(self._read, contact_ids)
            except Exception as exc:  # a busy or closed database: wake everyone, they read and report
                log.warning("reading segment marks failed (%s)", exc)
                marks = {}
            for contact_id in contact_ids:
                mark = marks.get(contact_id)
                if mark is None or mark != self._marks.get(contact_id):
                    if mark is not None:
                        self._marks[contact_id] = mark
                    for event in self._waiting.get(contact_id, ()):
                        event.set()


class SegmentStream:
    """The stream endpoint over the segment log."""

    def __init__(
        self,
        segments: SegmentLog,
        verifier: SigV4Verifier,
        authorizer: Authorizer | None,
        *,
        poll_interval: float,
        heartbeat_seconds: float,
        base_url: Callable[[Request], str],
        partials: PartialHub | None = None,
    ) -> None:
        self.segments = segments
        self.verifier = verifier
        self.authorizer = authorizer
        self.poll_interval = poll_interval
        self.heartbeat_seconds = heartbeat_seconds
        self.base_url = base_url
        self.partials = partials  # partial transcripts of live audio (voice/partials.py), never in the log
        self.watcher = LogWatcher(segments.center.storage, poll_interval)
        self.closing = False

    def close(self) -> None:
        """The server is shutting down: end every open stream (clients reconnect with ``Last-Event-ID``)."""
        self.closing = True
        self.watcher.wake_all()

    def _authenticate(self, request: Request) -> Caller:
        return self.verifier.verify_connection(request, self.base_url(request))

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        instance_id = str(request.path_params["InstanceId"])
        contact_id = str(request.path_params["ContactId"])
        try:
            caller = self._authenticate(request)
            if self.authorizer is not None:
                self.authorizer.check(caller.access_key, caller.region, "connect", OPERATION,
                                      {"InstanceId": instance_id})
        except AuthError as exc:
            return self._error(request_id, exc.code, 403, exc.message)
        except LivelensError as exc:
            return self._error(request_id, exc.code, error_status(None, exc.code), exc.message)
        return await self.serve(request, instance_id, contact_id, request_id)

    async def serve(self, request: Request, instance_id: str, contact_id: str, request_id: str) -> Response:
        """The stream of a caller already authenticated and authorized (by SigV4 here, or by the
        dashboard's session cookie)."""
        try:
            fetch = self._fetcher(request, instance_id, contact_id)
            cursor = request.headers.get("last-event-id") or request.query_params.get("LastEventId") or None
            first = await run_in_threadpool(fetch, cursor)
        except LivelensError as exc:
            return self._error(request_id, exc.code, error_status(None, exc.code), exc.message)
        return StreamingResponse(
            self._events(fetch, first, cursor, contact_id),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", "x-amzn-RequestId": request_id},
        )

    def _fetcher(self, request: Request, instance_id: str, contact_id: str) -> Callable[[str | None], Page]:
        """Validate the query like the list operations do; a page reader from a cursor."""
        query = request.query_params
        output_type = query.get("OutputType")
        raw_types = query.getlist("SegmentTypes")
        segment_types = [t for value in raw_types for t in value.split(",") if t]
        for kind in segment_types:
            if kind not in V2_KINDS:
                raise InvalidRequestException(
                    f"1 validation error detected: Value '{kind}' at 'SegmentTypes' failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(V2_KINDS)}]"
                )
        if output_type is not None and output_type not in OUTPUT_TYPES:
            raise InvalidRequestException(
                f"1 validation error detected: Value '{output_type}' at 'OutputType' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(OUTPUT_TYPES)}]"
            )
        contact = self.segments.center.describe_contact(instance_id, contact_id)
        if contact.channel == "VOICE":
            if segment_types or output_type is not None:
                raise InvalidRequestException(
                    f"Contact {contact.id} is a VOICE contact: its stream has the V1 shape "
                    "(ListRealtimeContactAnalysisSegments), without OutputType or SegmentTypes."
                )
            return lambda cursor: self.segments.list_v1(instance_id, contact_id, PAGE_SIZE, cursor,
                                                        with_cursors=True)
        if output_type is None:
            raise InvalidRequestException("OutputType is required for a CHAT contact's stream: Raw or Redacted.")
        return lambda cursor: self.segments.list_v2(instance_id, contact_id, output_type, segment_types, PAGE_SIZE,
                                                    cursor, with_cursors=True)

    async def _events(self, fetch: Callable[[str | None], Page], page: Page, cursor: str | None,
                      contact_id: str) -> AsyncIterator[str]:
        changed = self.watcher.watch(contact_id)
        partials = (self.partials.subscribe(contact_id)
                    if self.partials is not None and page.contact.channel == "VOICE" else None)
        try:
            async for text in self._pages(fetch, page, cursor, changed, partials):
                yield text
        finally:
            self.watcher.unwatch(contact_id, changed)
            if partials is not None and self.partials is not None:
                self.partials.unsubscribe(contact_id, partials)

    async def _pages(self, fetch: Callable[[str | None], Page], page: Page, cursor: str | None,
                     changed: asyncio.Event,
                     partials: asyncio.Queue[dict[str, Any]] | None = None) -> AsyncIterator[str]:
        last_sent = time.monotonic()
        status: dict[str, str] = {}
        while True:
            parts: list[str] = []  # what one read found goes out as ONE chunk (one send), not one per event
            snapshot = {"Channel": page.contact.channel, "Status": page.contact.analysis_status}
            if snapshot != status and page.segments:
                status = snapshot
                parts.append(f"event: status\ndata: {json.dumps(status)}\n\n")
            for segment, segment_cursor in zip(page.segments, page.cursors, strict=True):
                parts.append(f"id: {segment_cursor}\nevent: segment\ndata: {segment}\n\n")
                cursor = segment_cursor
            if page.next_token is None:
                end = {"Channel": page.contact.channel, "Status": page.contact.analysis_status}
                parts.append(f"event: end\ndata: {json.dumps(end)}\n\n")
                yield "".join(parts)
                return
            if parts:
                yield "".join(parts)
                if page.segments:
                    last_sent = time.monotonic()
            if len(page.segments) < PAGE_SIZE:
                idle = self.heartbeat_seconds - (time.monotonic() - last_sent)
                while True:
                    partial = await self._wait(changed, partials, max(0.0, idle))
                    if partial is None:
                        break
                    yield f"event: partial\ndata: {json.dumps(partial)}\n\n"  # no id: never in the log
                    last_sent = time.monotonic()
                    idle = self.heartbeat_seconds
                if not changed.is_set():
                    yield ": ping\n\n"
                    last_sent = time.monotonic()
            if self.closing:
                return
            changed.clear()  # before the read: a change committed after it sets the event again
            try:
                page = await run_in_threadpool(fetch, cursor)
            except LivelensError as exc:  # e.g. the contact's instance was deleted mid-stream
                yield f"event: error\ndata: {json.dumps({'__type': exc.code, 'Message': exc.message})}\n\n"
                return

    @staticmethod
    async def _wait(changed: asyncio.Event, partials: asyncio.Queue[dict[str, Any]] | None,
                    timeout: float) -> dict[str, Any] | None:
        """Until the log changed (``None``), a partial arrived (it), or ``timeout`` (``None``)."""
        if partials is not None and not partials.empty():
            return partials.get_nowait()
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(changed.wait())}
        getter = asyncio.ensure_future(partials.get()) if partials is not None else None
        if getter is not None:
            waiters.add(getter)
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if getter is not None and getter.done() and not getter.cancelled():
            result: dict[str, Any] = getter.result()
            return result
        return None

    @staticmethod
    def _error(request_id: str, code: str, status: int, message: str) -> Response:
        return Response(error_body(code, message), status, media_type="application/json",
                        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id})

