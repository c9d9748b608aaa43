"""The live wall's feed: every live and recently ended contact of an instance, as cards, pushed.

Segments are appended by analysis worker processes, so the feed is woken
through the database, like the segment stream's ``LogWatcher``: one feed per
instance that some dashboard watches reads, every ``interval`` seconds, the
instance's live contacts, those ended in the last ``recent_minutes``, and
their segment marks (last seq, analysis status), all in one read
transaction; only contacts whose mark changed have their new segments read
(through :class:`~livelens.contacts.segment_log.SegmentLog`, with the
contact's NextToken, so the wall shows exactly what the list operations
would: the Redacted output whenever the contact redacts) and folded into
their :class:`~livelens.dashboard.cards.Card`. Subscribers get the whole
wall once, then only the cards that changed and the ids that left (one
text per refresh, shared by every subscriber; what is queued for a subscriber
goes out as one chunk). A subscriber that reads slower than the wall changes
holds at most ``BACKLOG`` updates: beyond, they are dropped and it gets the
whole wall again at the next refresh (the page replaces its cards with it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from livelens.contacts.models import Contact, iso
from livelens.contacts.segment_log import Page, SegmentLog
from livelens.dashboard.cards import Card

PAGE_SIZE = 100
#: How often a feed looks for contacts of its instance that ended without it seeing them live.
RESCAN_SECONDS = 30.0
BACKLOG = 20  # updates a slow subscriber may hold unread; beyond, it is sent the whole wall instead
log = logging.getLogger("livelens.dashboard")


def read_page(segments: SegmentLog, contact: Contact, cursor: str | None) -> Page:
    """A page of the contact's log as a supervisor sees it: V1 for VOICE; V2 Redacted when it redacts."""
    if contact.channel == "VOICE":
        return segments.list_v1(contact.instance_id, contact.id, PAGE_SIZE, cursor)
    output = "Redacted" if contact.redacts else "Raw"
    return segments.list_v2(contact.instance_id, contact.id, output, [], PAGE_SIZE, cursor)


def fold(segments: SegmentLog, contact: Contact, card: Card, cursor: str | None) -> str | None:
    """Read the contact's segments after ``cursor`` into ``card``; the cursor to resume from."""
    while True:
        page = read_page(segments, contact, cursor)
        for text in page.segments:
            card.apply(json.loads(text))
        card.status = page.contact.analysis_status
        if page.next_token is None or len(page.segments) < PAGE_SIZE:
            return page.next_token or cursor
        cursor = page.next_token


def card_of(segments: SegmentLog, contact: Contact) -> Card:
    """A contact's whole card (for search results)."""
    card = Card(contact.id, contact.channel, contact.initiation_timestamp)
    fold(segments, contact, card, None)
    card.ended, card.disconnect = contact.ended, contact.disconnect_timestamp
    return card


@dataclass
class _Tracked:
    card: Card
    cursor: str | None = None
    mark: tuple[int, str] | None = None
    ended: bool = False
    seen: bool = False
    contact: Contact | None = None


@dataclass
class _Subscriber:
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    fresh: bool = True  # gets the whole wall at the next refresh


class InstanceFeed:
    def __init__(self, segments: SegmentLog, instance_id: str, interval: float, recent_minutes: float) -> None:
        self.segments = segments
        self.instance_id = instance_id
        self.interval = interval
        self.recent = timedelta(minutes=recent_minutes)
        self.tracked: dict[str, _Tracked] = {}
        self.subscribers: list[_Subscriber] = []
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.scanned_at = -RESCAN_SECONDS

    def refresh(self) -> tuple[list[dict[str, Any]], list[str]]:
        """One look at the database: the cards that changed and the contacts that left the wall.

        Live contacts come from one query; ended ones are those this feed saw end (re-read by id once)
        plus, every ``RESCAN_SECONDS`` and at the start, the instance's contacts ended within the window.
        """
        now = datetime.now(UTC)
        oldest = iso(now - self.recent)
        storage = self.segments.center.storage
        with storage.read() as tx:
            contacts = {c.id: c for c in (Contact.from_record(r) for r, _ in tx.live_contacts(self.instance_id))}
            for contact_id, tracked in self.tracked.items():
                if contact_id in contacts:
                    continue
                if tracked.contact is not None and tracked.contact.ended:
                    contacts[contact_id] = tracked.contact
                else:  # it has just ended (or was deleted)
                    record = tx.get_contact(contact_id)
                    if record is not None:
                        contacts[contact_id] = Contact.from_record(record)
            if time.monotonic() - self.scanned_at >= RESCAN_SECONDS:
                self.scanned_at = time.monotonic()
                for record in tx.list_instance_contacts(self.instance_id, oldest, iso(now + timedelta(days=1)),
                                                        "disconnect_timestamp"):
                    contacts.setdefault(record["id"], Contact.from_record(record))
            contacts = {i: c for i, c in contacts.items()
                        if not c.ended or (c.disconnect_timestamp or "") >= oldest}
            marks = tx.segment_marks(list(contacts))
        changed = []
        for contact_id, contact in contacts.items():
            known = self.tracked.get(contact_id)
            if known is None:
                tracked = self.tracked[contact_id] = _Tracked(
                    Card(contact.id, contact.channel, contact.initiation_timestamp))
            else:
                tracked = known
            mark = marks.get(contact_id)
            if tracked.seen and mark == tracked.mark and contact.ended == tracked.ended:
                continue
            try:
                tracked.cursor = fold(self.segments, contact, tracked.card, tracked.cursor)
            except Exception as exc:  # e.g. deleted meanwhile: it leaves the wall at the next look
                log.warning("reading contact %s for the wall failed (%s)", contact_id, exc)
                continue
            tracked.mark, tracked.ended, tracked.seen, tracked.contact = mark, contact.ended, True, contact
            tracked.card.ended, tracked.card.disconnect = contact.ended, contact.disconnect_timestamp
            changed.append(tracked.card.to_json())
        gone = [contact_id for contact_id in self.tracked if contact_id not in contacts]
        for contact_id in gone:
            del self.tracked[contact_id]
        return changed, gone

    async def run(self) -> None:
        while self.subscribers:
            try:
                changed, gone = await run_in_threadpool(self.refresh)
            except Exception as exc:  # a busy database: try again at the next look
                log.warning("refreshing the wall of %s failed (%s)", self.instance_id, exc)
                changed, gone = [], []
            whole = update = None
            for subscriber in self.subscribers:
                if not subscriber.fresh and subscriber.queue.qsize() >= BACKLOG:
                    # a reader this far behind gets the whole wall instead of what it has not read
                    while not subscriber.queue.empty():
                        subscriber.queue.get_nowait()
                    subscriber.fresh = True
                if subscriber.fresh:
                    whole = whole or json.dumps({"Cards": [t.card.to_json() for t in self.tracked.values()]})
                    subscriber.queue.put_nowait(f"event: snapshot\ndata: {whole}\n\n")
                    subscriber.fresh = False
                elif changed or gone:
                    update = update or f"event: update\ndata: {json.dumps({'Cards': changed, 'Removed': gone})}\n\n"
                    subscriber.queue.put_nowait(update)  # one text for every subscriber
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass


class Wall:
    """The feeds of the instances dashboards watch (one per instance, shared by its subscribers)."""

    def __init__(self, segments: SegmentLog, interval: float, recent_minutes: float,
                 heartbeat_seconds: float) -> None:
        self.segments = segments
        self.interval = interval
        self.recent_minutes = recent_minutes
        self.heartbeat = heartbeat_seconds
        self.feeds: dict[str, InstanceFeed] = {}
        self.closing = False

    async def events(self, instance_id: str) -> AsyncIterator[str]:
        feed = self.feeds.get(instance_id)
        if feed is None:
            feed = self.feeds[instance_id] = InstanceFeed(self.segments, instance_id, self.interval,
                                                          self.recent_minutes)
        subscriber = _Subscriber()
        feed.subscribers.append(subscriber)
        if feed.task is None or feed.task.done():
            feed.task = asyncio.get_running_loop().create_task(feed.run(), name=f"livelens-wall-{instance_id}")
        else:
            feed.wake.set()
        try:
            yield "retry: 1000\n\n"
            while not self.closing:
                try:
                    text = await asyncio.wait_for(subscriber.queue.get(), timeout=self.heartbeat)
                    while not subscriber.queue.empty():  # all that is ready goes out as one chunk
                        text += subscriber.queue.get_nowait()
                    yield text
                except TimeoutError:
                    yield ": ping\n\n"
        finally:
            feed.subscribers.remove(subscriber)
            if not feed.subscribers:
                self.feeds.pop(instance_id, None)

    def close(self) -> None:
        self.closing = True
        for feed in self.feeds.values():
            for subscriber in feed.subscribers:
                subscriber.queue.put_nowait(": closing\n\n")
