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
right after it with no gap and no duplicate.

Query parameters: ``StartPosition`` LATEST (default: what happens from now)
or TRIM_HORIZON (the whole log); ``OutputType`` Redacted (default) or Raw for
CHAT segments; ``EventTypes``, ``Channels``, ``SegmentTypes`` (comma-separated
filters).

Waking comes through the database: one :class:`Tails` per process reads the
log's newest position every ``stream_poll_interval`` seconds (one index lookup
for all instance streams, on the event loop where that never waits); when it
moved, it reads each followed instance's new rows once and wakes that
instance's streams, which render them from memory (streams at the same place
with the same filters share the encoded bytes) and send what one wake-up found
as one chunk. The same tick wakes the streams whose
heartbeat is due: a waiting stream holds no timer.
A stream further behind than memory reaches reads storage until it catches up.
When filters drop events, the cursor still moves: a heartbeat then carries it
as ``event: position`` (data ``{}``) instead of a ``: ping``.

Authentication and authorization are the per-contact stream's
(:class:`livelens.api.stream.SegmentStream`): SigV4 headers or presigned
query; the policy must allow ``ListRealtimeContactAnalysisSegmentsV2`` on the
instance. Errors before the first byte are AWS JSON errors (403, 400 for a bad
parameter or cursor, 404 for an unknown instance).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from livelens.api.auth import AuthError
from livelens.api.serialize import error_status
from livelens.api.stream import OPERATION, SegmentStream, event_log_head
from livelens.contacts.instance_events import (
    CHANNELS,
    EVENT_TYPES,
    OUTPUT_TYPES,
    SEGMENT_TYPES,
    Batch,
    ContactInfo,
    EventFilter,
    InstanceEvent,
    parse_list,
    read_events,
    remember_contacts,
    render,
)
from livelens.contacts.service import ContactCenter
from livelens.errors import InvalidRequestException, LivelensError
from livelens.storage.base import Record

PATH = "/livelens/v1/instances/{InstanceId}/stream"
PAGE_ROWS = 500
TAIL_ROWS = 2000  # rows of the log one tick reads per followed instance
TAIL_CHUNKS = 600  # ticks kept in memory per instance (a minute at 0.1 s)
START_POSITIONS = ("LATEST", "TRIM_HORIZON")
log = logging.getLogger("livelens.stream")


def cursor_scope(instance_id: str) -> str:
    return f"instance-events|{instance_id}"


@dataclass
class Chunk:
    """Rows of one instance's event log read in one tick: positions ``after`` < seq <= ``last``."""

    after: int
    last: int
    rows: list[Record]
    texts: dict[EventFilter, tuple[bytes, int]] = field(default_factory=dict)  # SSE bytes, last event position


class Listener:
    """One stream waiting on a :class:`Tail`: woken when the instance's log grew, or when its
    heartbeat is ``due`` (a monotonic time). The tick that reads the log checks every listener's
    deadline, so a waiting stream holds no timer of its own."""

    __slots__ = ("event", "due")

    def __init__(self, due: float) -> None:
        self.event = asyncio.Event()
        self.due = due


class Tail:
    """The newest rows of one instance's event log, read once per tick for all its streams."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.chunks: collections.deque[Chunk] = collections.deque(maxlen=TAIL_CHUNKS)
        self.contacts: dict[str, ContactInfo | None] = {}
        self.waiting: set[Listener] = set()

    def covers(self, position: int) -> bool:
        oldest = self.chunks[0].after if self.chunks else self.position
        return position >= oldest


class Tails:
    """Per process: one :class:`Tail` per instance some stream follows. Every ``interval`` seconds it
    reads the log's newest position (one query for all instances); when it moved, each followed
    instance's new rows are read once, kept in memory, and its streams are woken. A stream catches up
    from storage when it is behind what memory holds."""

    def __init__(self, center: ContactCenter, interval: float) -> None:
        self.center = center
        self.interval = interval
        self.tails: dict[str, Tail] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.head = -1

    def wake_all(self) -> None:
        def wake() -> None:
            for tail in self.tails.values():
                for listener in tail.waiting:
                    listener.event.set()

        if self._loop is not None:
            self._loop.call_soon_threadsafe(wake)

    def follow(self, instance_id: str, head: int, due: float) -> tuple[Tail, Listener]:
        """Wake the caller when ``instance_id`` has new rows or at ``due``; ``head``: the log's end, read
        just before."""
        self._loop = asyncio.get_running_loop()
        tail = self.tails.get(instance_id)
        if tail is None:
            tail = self.tails[instance_id] = Tail(head)
            self.head = -1  # read it at the next tick even if the log's end does not move again
        listener = Listener(due)
        tail.waiting.add(listener)
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run(), name="livelens-instance-stream-tails")
        return tail, listener

    def leave(self, instance_id: str, listener: Listener) -> None:
        tail = self.tails.get(instance_id)
        if tail is not None:
            tail.waiting.discard(listener)
            if not tail.waiting:
                del self.tails[instance_id]

    def _read(self, reads: list[tuple[str, int, dict[str, ContactInfo | None]]]) -> tuple[int, dict[str, list[Record]]]:
        with self.center.storage.read() as tx:
            head = tx.last_instance_event()
            found: dict[str, list[Record]] = {}
            if head != self.head:
                for instance_id, after, contacts in reads:
                    rows = tx.list_instance_events(instance_id, after=after, limit=TAIL_ROWS)
                    remember_contacts(tx, rows, contacts)
                    found[instance_id] = rows
            return head, found

    async def _run(self) -> None:
        while self.tails:
            await asyncio.sleep(self.interval)
            tails = dict(self.tails)
            found: dict[str, list[Record]]
            try:
                if await event_log_head(self.center.storage) == self.head:
                    head, found = self.head, {}  # nothing new anywhere: only heartbeats may be due
                else:
                    head, found = await run_in_threadpool(
                        self._read, [(i, t.position, t.contacts) for i, t in tails.items()])
            except Exception as exc:  # a busy database: wake everyone, they read storage and report
                log.warning("reading the instance event log failed (%s)", exc)
                head, found = -1, {}
                for tail in tails.values():
                    tail.chunks.clear()
            for instance_id, rows in found.items():
                tail = tails[instance_id]
                if rows and self.tails.get(instance_id) is tail:
                    tail.chunks.append(Chunk(tail.position, int(rows[-1]["seq"]), rows))
                    tail.position = int(rows[-1]["seq"])
            if len(max(found.values(), key=len, default=[])) < TAIL_ROWS:
                self.head = head  # else: read the rest at the next tick
            now = time.monotonic()
            for instance_id, tail in tails.items():
                if found.get(instance_id) or head < 0:  # new rows (or a failed read)
                    for listener in tail.waiting:
                        listener.event.set()
                else:  # only the streams whose heartbeat is due
                    for listener in tail.waiting:
                        if listener.due <= now:
                            listener.event.set()


class InstanceStream:
    """The instance stream endpoint; shares authentication with the per-contact stream."""

    def __init__(self, contacts: SegmentStream) -> None:
        self.contacts = contacts
        self.center: ContactCenter = contacts.segments.center
        self.tails = Tails(self.center, contacts.poll_interval)
        self.closing = False
        # one object per distinct filter: streams looking up a tick's shared bytes compare by identity
        self.filters: weakref.WeakValueDictionary[EventFilter, EventFilter] = weakref.WeakValueDictionary()

    def close(self) -> None:
        self.closing = True
        self.tails.wake_all()

    def _start(self, request: Request, instance_id: str) -> tuple[int, int, EventFilter]:
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
            head = tx.last_instance_event()
            if cursor is not None:
                position = self.center.next_tokens.decode(cursor, cursor_scope(instance_id), "Last-Event-ID")
            elif start == "TRIM_HORIZON":
                position = 0
            else:
                position = head
        return position, head, self.filters.setdefault(wanted, wanted)

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        instance_id = str(request.path_params["InstanceId"])
        try:
            caller = self.contacts._authenticate(request)
            if self.contacts.authorizer is not None:
                self.contacts.authorizer.check(caller.access_key, caller.region, "connect", OPERATION,
                                               {"InstanceId": instance_id})
            position, head, wanted = await run_in_threadpool(self._start, request, instance_id)
        except AuthError as exc:
            return SegmentStream._error(request_id, exc.code, 403, exc.message)
        except LivelensError as exc:
            return SegmentStream._error(request_id, exc.code, error_status(None, exc.code), exc.message)
        return StreamingResponse(
            self._events(instance_id, position, head, wanted),
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

    def _text(self, instance_id: str, events: list[InstanceEvent]) -> str:
        return "".join(f"id: {self._id(instance_id, e.position)}\nevent: {e.event_type}\ndata: {e.data}\n\n"
                       for e in events)

    def _from_memory(self, instance_id: str, tail: Tail, position: int,
                     wanted: EventFilter) -> tuple[bytes, int, int] | None:
        """SSE bytes of the events after ``position`` held in memory, the position of its last event and
        the position read up to; None when memory does not reach back to ``position``. Streams at the
        same place with the same filters share the encoded bytes (rendered and encoded once a tick)."""
        if not tail.covers(position):
            return None
        newer: list[Chunk] = []
        for chunk in reversed(tail.chunks):  # a stream at the head looks at one or two chunks, not all
            if chunk.last <= position:
                break
            newer.append(chunk)
        parts: list[bytes] = []
        last_event = position
        for chunk in reversed(newer):
            if chunk.after == position and wanted in chunk.texts:
                data, event_position = chunk.texts[wanted]
            else:
                rows = [r for r in chunk.rows if int(r["seq"]) > position]
                events = render(rows, None, self.center.account_id, instance_id, wanted, tail.contacts)
                data = self._text(instance_id, events).encode()
                event_position = events[-1].position if events else position
                if chunk.after == position:
                    chunk.texts[wanted] = (data, event_position)  # the next stream at this place reuses it
            if data:
                parts.append(data)
                last_event = event_position
            position = chunk.last
        return parts[0] if len(parts) == 1 else b"".join(parts), last_event, position

    async def _events(self, instance_id: str, position: int, head: int,
                      wanted: EventFilter) -> AsyncIterator[bytes]:
        """The stream's body: everything ready at one wake-up goes out as ONE chunk (one ``send``).

        Memory per stream is bounded: a stream waits in ``send`` while its connection's write buffer
        is full (uvicorn's flow control), so a slow client holds at most that buffer plus one chunk;
        what it has not read yet stays in the shared tail (``TAIL_CHUNKS`` ticks per instance), and
        once it falls behind that it reads storage, ``PAGE_ROWS`` rows at a time."""
        heartbeat = self.contacts.heartbeat_seconds
        tail, listener = self.tails.follow(instance_id, head, time.monotonic() + heartbeat)
        changed = listener.event
        cache: dict[str, object] = {}
        try:
            opened = json.dumps({"InstanceId": instance_id})
            yield f"id: {self._id(instance_id, position)}\nevent: open\ndata: {opened}\n\n".encode()
            sent_position = position
            while not self.closing:
                changed.clear()  # before the read: a commit after it sets the event again
                held = self._from_memory(instance_id, tail, position, wanted)
                if held is not None:
                    data, event_position, position = held
                    more = False
                else:  # behind what memory holds: catch up from storage
                    try:
                        batch = await run_in_threadpool(self._read, instance_id, position, wanted, cache)
                    except LivelensError as exc:  # e.g. the instance was deleted mid-stream
                        error = json.dumps({"__type": exc.code, "Message": exc.message})
                        yield f"event: error\ndata: {error}\n\n".encode()
                        return
                    data = self._text(instance_id, batch.events).encode()
                    event_position = batch.events[-1].position if batch.events else position
                    position, more = batch.position, batch.more
                if data:
                    yield data
                    sent_position = event_position
                    listener.due = time.monotonic() + heartbeat
                elif time.monotonic() >= listener.due:
                    if position != sent_position:  # filters dropped what was read: move the client's cursor
                        yield f"id: {self._id(instance_id, position)}\nevent: position\ndata: {{}}\n\n".encode()
                        sent_position = position
                    else:
                        yield b": ping\n\n"
                    listener.due = time.monotonic() + heartbeat
                if more:
                    continue
                await changed.wait()  # the tails' tick sets it: new rows, the heartbeat due, or closing
        finally:
            self.tails.leave(instance_id, listener)
