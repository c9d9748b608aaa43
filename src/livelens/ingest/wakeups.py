"""Wake the participant websockets of one node when their contact gets a new item.

The server's notifier calls :meth:`ItemWakeups.notify` for every item this node accepts; on PostgreSQL
a ``LISTEN`` thread (:class:`livelens.worker.pg_notify.ItemListener`) calls it for items any node
accepted. A socket waits on its contact's event for at most its poll interval, so a lost wake-up costs
one poll, never an item.
"""

from __future__ import annotations

import asyncio
import threading


class ItemWakeups:
    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def watch(self, contact_id: str) -> asyncio.Event:
        """An event set whenever ``contact_id`` gets an item (call from the event loop)."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        with self._lock:
            self._events.setdefault(contact_id, set()).add(event)
        return event

    def unwatch(self, contact_id: str, event: asyncio.Event) -> None:
        with self._lock:
            events = self._events.get(contact_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._events[contact_id]

    def notify(self, contact_id: str = "") -> None:
        """``contact_id`` got an item (safe from any thread)."""
        with self._lock:
            events = list(self._events.get(contact_id, ()))
        if events and self._loop is not None:
            for event in events:
                self._loop.call_soon_threadsafe(event.set)
