"""``GET /livelens/v1/instances/{InstanceId}/stream``: every contact's events of an instance, pushed.

The answer is ``text/event-stream``; each event is one record of Amazon
Connect's real-time contact analysis segment stream (STARTED, SEGMENTS,
COMPLETED, FAILED; voice and chat shapes, see
:mod:`livelens.contacts.instance_events`) or a rule ``ALERT``::

    id: <cursor>
    event: SEGMENTS
    data: {"Version":"2.0.0","Channel":"CHAT",...,"Segments":[...]}

The stream first sends ``event: open`` with the starting cursor as its ``id``,
then every event after it, and never ends by itself. An ``id`` is an
HMAC-signed position in the instance's event log, bound to the instance;
``Last-Event-ID`` (header, or the ``LastEventId`` query parameter) resumes
right after it with no gap and no duplicate. Heartbeats (``: ping``) carry no
id; when filters drop events the stream still moves its cursor forward with
an ``event: position`` (data ``{}``) so a reconnect does not read them again.

Query parameters: ``StartPosition`` LATEST (default: what happens from now)
or TRIM_HORIZON (the whole log); ``OutputType`` Redacted (default) or Raw for
CHAT segments; ``EventTypes``, ``Channels``, ``SegmentTypes`` (comma-separated
filters).

Waking comes through the database: one :class:`HeadWatcher` per process reads
the log's newest position every ``stream_poll_interval`` seconds (one query
for all instance streams) and wakes them when it moved.

Authentication and authorization are the per-contact stream's
(:class:`livelens.api.stream.SegmentStream`): SigV4 headers or presigned
query; the policy must allow ``ListRealtimeContactAnalysisSegmentsV2`` on the
instance. Errors before the first byte are AWS JSON errors (403, 400 for a bad
parameter or cursor, 404 for an unknown instance).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from livelens.api.auth import AuthError
from livelens.api.serialize import error_status
from livelens.api.stream import OPERATION, SegmentStream
from livelens.contacts.instance_events import (
    CHANNELS,
    EVENT_TYPES,
    OUTPUT_TYPES,
    SEGMENT_TYPES,
    Batch,
    EventFilter,
    parse_list,
    read_events,
)
from livelens.contacts.service import ContactCenter
from livelens.errors import InvalidRequestException, LivelensError

PATH = "/livelens/v1/instances/{InstanceId}/stream"
PAGE_ROWS = 500
START_POSITIONS = ("LATEST", "TRIM_HORIZON")
log = logging.getLogger("livelens.stream")


def cursor_scope(instance_id: str) -> str:
    return f"instance-events|{instance_id}"


class HeadWatcher:
    """Wakes every waiting instance stream when the event log's newest position moves."""

    def __init__(self, center: ContactCenter, interval: float) -> None:
        self.center = center
        self.interval = interval
        self._waiting: set[asyncio.Event] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.head = -1

    def wake_all(self) -> None:
        def wake() -> None:
            for event in self._waiting:
                event.set()

        if self._loop is not None:
            self._loop.call_soon_threadsafe(wake)

    def watch(self) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._waiting.add(event)
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run(), name="livelens-instance-stream-watcher")
        return event

    def unwatch(self, event: asyncio.Event) -> None:
        self._waiting.discard(event)

    def _read(self) -> int:
        with self.center.storage.read() as tx:
            return tx.last_instance_event()

    async def _run(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.interval)
            try:
                head = await run_in_threadpool(self._read)
            except Exception as exc:  # a busy database: wake everyone, they read and report
                log.warning("reading the instance event log failed (%s)", exc)
                head = -1
            if head != self.head or head < 0:
                self.head = head
                for event in self._waiting:
                    event.set()


class InstanceStream:
    """The instance stream endpoint; shares authentication with the per-contact stream."""

    def __init__(self, contacts: SegmentStream) -> None:
        self.contacts = contacts
        self.center: ContactCenter = contacts.segments.center
        self.watcher = HeadWatcher(self.center, contacts.poll_interval)
        self.closing = False

    def close(self) -> None:
        self.closing = True
        self.watcher.wake_all()

    def _start(self, request: Request, instance_id: str) -> tuple[int, EventFilter]:
        query = request.query_params
        output_type = query.get("OutputType", "Redacted")
        if output_type not in OUTPUT_TYPES:
            raise InvalidRequestException(
                f"1 validation error detected: Value '{output_type}' at 'OutputType' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(OUTPUT_TYPES)}]"
            )
        start = query.get("StartPosition", "LATEST")
        if start not in START_POSITIONS:
            raise InvalidRequestException(
                f"1 validation error detected: Value '{start}' at 'StartPosition' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(START_POSITIONS)}]"
            )
        wanted = EventFilter(
            output_type=output_type,
            event_types=parse_list(query.getlist("EventTypes"), EVENT_TYPES, "EventTypes") or frozenset(EVENT_TYPES),
            channels=parse_list(query.getlist("Channels"), CHANNELS, "Channels") or frozenset(CHANNELS),
            segment_types=parse_list(query.getlist("SegmentTypes"), SEGMENT_TYPES, "SegmentTypes"),
        )
        cursor = request.headers.get("last-event-id") or query.get("LastEventId") or None
        with self.center.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            if cursor is not None:
                position = self.center.next_tokens.decode(cursor, cursor_scope(instance_id), "Last-Event-ID")
            elif start == "TRIM_HORIZON":
                position = 0
            else:
                position = tx.last_instance_event()
        return position, wanted

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        instance_id = str(request.path_params["InstanceId"])
        try:
            caller = self.contacts._authenticate(request)
            if self.contacts.authorizer is not None:
                self.contacts.authorizer.check(caller.access_key, caller.region, "connect", OPERATION,
                                               {"InstanceId": instance_id})
            position, wanted = await run_in_threadpool(self._start, request, instance_id)
        except AuthError as exc:
            return SegmentStream._error(request_id, exc.code, 403, exc.message)
        except LivelensError as exc:
            return SegmentStream._error(request_id, exc.code, error_status(None, exc.code), exc.message)
        return StreamingResponse(
            self._events(instance_id, position, wanted),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", "x-amzn-RequestId": request_id},
        )

    def _read(self, instance_id: str, after: int, wanted: EventFilter,
              cache: dict[str, object]) -> Batch:
        with self.center.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            return read_events(tx, self.center.account_id, instance_id, after, PAGE_ROWS, wanted,
                               cache)  # type: ignore[arg-type]

    def _id(self, instance_id: str, position: int) -> str:
        return self.center.next_tokens.encode(cursor_scope(instance_id), position)

    async def _events(self, instance_id: str, position: int, wanted: EventFilter) -> AsyncIterator[str]:
        changed = self.watcher.watch()
        cache: dict[str, object] = {}
        try:
            opened = json.dumps({"InstanceId": instance_id})
            yield f"id: {self._id(instance_id, position)}\nevent: open\ndata: {opened}\n\n"
            sent_position = position
            last_sent = time.monotonic()
            while not self.closing:
                changed.clear()  # before the read: a commit after it sets the event again
                try:
                    batch = await run_in_threadpool(self._read, instance_id, position, wanted, cache)
                except LivelensError as exc:  # e.g. the instance was deleted mid-stream
                    yield f"event: error\ndata: {json.dumps({'__type': exc.code, 'Message': exc.message})}\n\n"
                    return
                for event in batch.events:
                    yield f"id: {self._id(instance_id, event.position)}\nevent: {event.event_type}\ndata: {event.data}\n\n"
                    sent_position = event.position
                    last_sent = time.monotonic()
                position = batch.position
                if batch.more:
                    continue
                if position != sent_position:  # filters dropped the tail: move the client's cursor past it
                    yield f"id: {self._id(instance_id, position)}\nevent: position\ndata: {{}}\n\n"
                    sent_position = position
                    last_sent = time.monotonic()
                idle = self.contacts.heartbeat_seconds - (time.monotonic() - last_sent)
                try:
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, idle))
                except TimeoutError:
                    yield ": ping\n\n"
                    last_sent = time.monotonic()
        finally:
            self.watcher.unwatch(changed)
